"""Object storage: where artifact bytes live, named by content hash (the only place that knows fsspec/s3fs).

``open_store(spec)`` turns a remote's configuration into an :class:`ObjectStore`:
a :class:`~gitml.store.local.LocalStore` for a folder (``/path`` or ``file://``),
an :class:`~gitml.store.remote.FsspecStore` for ``s3://`` and any other fsspec
protocol. :class:`~gitml.store.memory.MemoryStore` is the in-memory fake for tests.
"""

from gitml.store.base import ObjectStore, RemoteSpec, StoredObject, object_key, open_store

__all__ = ["ObjectStore", "RemoteSpec", "StoredObject", "object_key", "open_store"]
