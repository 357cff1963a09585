"""A folder as object store: the embedded default remote (``/path`` or ``file:///path``).

Objects are written to ``<root>/tmp/`` while being hashed, checked, made
read-only and renamed into place, so a reader (or a killed writer) never sees a
partial object under its final name; two writers of the same object both
succeed, the last rename wins with identical bytes.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import BinaryIO

from gitml._fs import new_file, remove_older_than
from gitml.artifacts.hashing import ALGORITHM, copy_hashing, is_oid
from gitml.exceptions import GitMLError, ObjectMissingError, StoreError
from gitml.store.base import (
    ObjectStore,
    OnDone,
    Progress,
    StoredObject,
    Transfer,
    TransferFailure,
    object_key,
)
from gitml.store.verify import corrupt

__all__ = ["LocalStore", "copy_fd", "copy_verified", "run_parallel"]


def run_parallel(
    items: Sequence[Transfer],
    one: Callable[[Transfer], None],
    *,
    jobs: int,
    progress: Progress | None,
    on_done: OnDone | None = None,
) -> list[TransferFailure]:
    """Apply ``one`` (then ``on_done``) to each item on ``jobs`` threads; collect GitMLErrors as failures."""
    failures: list[TransferFailure] = []
    lock = threading.Lock()

    def work(item: Transfer) -> None:
        try:
            one(item)
            if on_done is not None:
                on_done(item)
        except GitMLError as exc:
            with lock:
                failures.append(TransferFailure(item.oid, exc))
            return
        if progress is not None:
            progress(item.size, 1)

    if jobs <= 1 or len(items) <= 1:
        for item in items:
            work(item)
    else:
        with ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="gitml-transfer") as pool:
            for _ in pool.map(work, items):
                pass
    return failures


#: copy_file_range errors that mean "not here" (another filesystem, an old kernel): fall back.
_NO_COPY_RANGE = frozenset({errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP, errno.EPERM})


def copy_fd(src_fd: int, dst_fd: int, size: int) -> None:
    """Copy ``size`` bytes from the position of ``src_fd`` to ``dst_fd`` in the kernel.

    copy_file_range, else sendfile: the bytes never pass through Python. Fewer bytes than
    ``size`` (a file truncated under us) is an OSError, so no short file is taken for a good one.
    """
    done = 0
    use_range = hasattr(os, "copy_file_range")
    while done < size:
        if use_range:
            try:
                n = os.copy_file_range(src_fd, dst_fd, size - done)
            except OSError as exc:
                if exc.errno not in _NO_COPY_RANGE or done:
                    raise
                use_range = False
                continue
        else:
            n = os.sendfile(dst_fd, src_fd, None, size - done)
        if n == 0:
            raise OSError(errno.EIO, f"short copy: {done} of {size} bytes")
        done += n


def copy_verified(src: Path, dst_tmp: Path, *, oid: str, size: int, what: str) -> None:
    """Copy ``src`` to ``dst_tmp`` while hashing; remove it and raise IntegrityError on a mismatch."""
    try:
        src_fd = os.open(src, os.O_RDONLY)
    except FileNotFoundError as exc:
        raise ObjectMissingError(f"{what}: object {oid[:12]} is missing") from exc
    try:
        # new_file removes only a file it created (one that already exists is not ours), and does
        # so when the copy fails or the bytes do not match their name.
        with new_file(dst_tmp) as dst_fd:
            got, got_size = copy_hashing(src_fd, dst_fd)
            if got != oid or got_size != size:
                raise corrupt(what, oid, size, got, got_size)
    finally:
        os.close(src_fd)


class LocalStore(ObjectStore):
    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.url = str(self.root)
        self.tmp = self.root / "tmp"
        self.default_jobs = min(8, 2 * (os.cpu_count() or 2))

    def path(self, oid: str) -> Path:
        return self.root / object_key(oid)

    def _ensure_root(self) -> None:
        try:
            self.tmp.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"{self.url}: cannot create the remote folder: {exc.strerror}") from exc

    def listing(self, *, prefix: str = "") -> Iterator[StoredObject]:
        base = self.root / ALGORITHM
        try:
            dirs = sorted(os.scandir(base), key=lambda e: e.name)
        except FileNotFoundError:
            return
        except OSError as exc:
            raise StoreError(f"{self.url}: cannot read the remote folder: {exc.strerror}") from exc
        for d in dirs:
            if len(d.name) != 2 or not d.name.startswith(prefix[:2]) or not d.is_dir(follow_symlinks=False):
                continue
            for f in os.scandir(d.path):
                oid = d.name + f.name
                if not oid.startswith(prefix) or not is_oid(oid) or not f.is_file(follow_symlinks=False):
                    continue
                st = f.stat(follow_symlinks=False)
                yield StoredObject(oid, st.st_size, st.st_mtime)

    def stat(self, oids: Sequence[str], *, jobs: int) -> dict[str, int | None]:
        out: dict[str, int | None] = {}
        for oid in oids:
            try:
                out[oid] = self.path(oid).stat().st_size
            except FileNotFoundError:
                out[oid] = None
            except OSError as exc:
                raise StoreError(f"{self.url}: cannot read the remote folder: {exc.strerror}") from exc
        return out

    def _put(self, item: Transfer) -> None:
        final = self.path(item.oid)
        tmp = self.tmp / f"{item.oid}.{os.getpid()}.{secrets.token_hex(4)}"
        try:
            copy_verified(item.path, tmp, oid=item.oid, size=item.size, what="cache")
            os.chmod(tmp, 0o444)
            final.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp, final)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise StoreError(f"{self.url}: cannot write object {item.oid[:12]}: {exc.strerror}") from exc

    def upload(
        self, items: Sequence[Transfer], *, jobs: int, progress: Progress | None = None
    ) -> list[TransferFailure]:
        self._ensure_root()
        return run_parallel(items, self._put, jobs=jobs, progress=progress)

    def _get(self, item: Transfer) -> None:
        try:
            copy_verified(self.path(item.oid), item.path, oid=item.oid, size=item.size, what=self.url)
        except OSError as exc:
            if exc.errno == errno.ENOSPC:
                raise StoreError(f"no space left writing {item.path}") from exc
            raise StoreError(f"{self.url}: cannot read object {item.oid[:12]}: {exc.strerror}") from exc

    def download(
        self,
        items: Sequence[Transfer],
        *,
        jobs: int,
        progress: Progress | None = None,
        on_done: OnDone | None = None,
    ) -> list[TransferFailure]:
        return run_parallel(items, self._get, jobs=jobs, progress=progress, on_done=on_done)

    def read(self, oid: str) -> bytes:
        try:
            return self.path(oid).read_bytes()
        except FileNotFoundError as exc:
            raise ObjectMissingError(f"{self.url}: object {oid[:12]} is missing") from exc

    def open(self, oid: str) -> BinaryIO:
        try:
            return open(self.path(oid), "rb")
        except FileNotFoundError as exc:
            raise ObjectMissingError(f"{self.url}: object {oid[:12]} is missing") from exc

    def delete(self, oids: Iterable[str]) -> None:
        for oid in oids:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.path(oid))

    def clean_tmp(self, *, older_than: float) -> None:
        """Remove temp files left by killed writers (older than ``older_than`` seconds)."""
        remove_older_than(self.tmp, older_than)
