"""An in-memory :class:`~gitml.registry.state.TagSource`: the fake beside the git seam, for fast unit tests.

:class:`MemoryTags` holds tag names, their values and annotated tag objects in
dicts, the way :class:`~gitml.repo.tags.LocalTags` reads them from a repository.
It counts what is read (``names_calls``, with the prefixes asked for in
``names_asked``; ``ref_calls``; ``info_calls``, with the tags whose objects were
read in ``info_read``), so tests can check that a question about one model
never reads another model's tag objects.

With ``peeled=False`` (the default) :meth:`MemoryTags.ref` answers like a loose
ref: the sha only, so telling an annotated tag from a lightweight one means
reading the object. With ``peeled=True`` it answers like ``packed-refs`` or a
remote's ref advertisement: the commit each tag peels to, known for free.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace

from gitml.exceptions import ConflictError
from gitml.repo.tags import TagInfo, TagRef

__all__ = ["MemoryTags", "fake_sha"]


def fake_sha(seed: str) -> str:
    """A 40-hex object id derived from ``seed`` (stands in for a commit or tag object)."""
    return hashlib.sha1(seed.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class _Entry:
    sha: str
    commit: str  # what the tag peels to
    info: TagInfo | None  # None: a lightweight tag


class MemoryTags:
    """Tags in dicts. ``add`` makes an annotated tag, ``add_lightweight`` a lightweight one."""

    def __init__(self, *, peeled: bool = False) -> None:
        self.peeled = peeled
        self._tags: dict[str, _Entry] = {}
        self.names_calls = 0
        self.names_asked: list[str] = []
        self.ref_calls = 0
        self.info_calls = 0
        self.info_read: list[str] = []

    # -- building -----------------------------------------------------------------------------

    def add(
        self,
        name: str,
        *,
        commit: str,
        message: str = "",
        tagger: str = "A <a@x>",
        time: int = 0,
        tz_offset: int = 0,
        target_type: str = "commit",
    ) -> TagInfo:
        """Create the annotated tag ``name`` on ``commit``; ConflictError if the name is taken (as git)."""
        self._check_new(name)
        sha = fake_sha(f"tag {name}\0{target_type} {commit}\0{tagger} {time} {tz_offset}\0{message}")
        info = TagInfo(
            name=name,
            sha=sha,
            target=commit,
            target_type=target_type,
            tagger=tagger,
            time=time,
            tz_offset=tz_offset,
            message=message,
        )
        self._tags[name] = _Entry(sha, commit, info)
        return info

    def add_lightweight(self, name: str, commit: str) -> None:
        """Create the lightweight tag ``name``: the ref names ``commit`` directly, there is no tag object."""
        self._check_new(name)
        self._tags[name] = _Entry(commit, commit, None)

    def _check_new(self, name: str) -> None:
        if name in self._tags:
            raise ConflictError(f"tag {name} already exists", refs=(name,))

    def reset_counts(self) -> None:
        """Forget what was read so far (to count the reads of one question)."""
        self.names_calls = self.ref_calls = self.info_calls = 0
        self.names_asked = []
        self.info_read = []

    # -- the TagSource protocol -----------------------------------------------------------------

    def names(self, *, prefix: str = "") -> list[str]:
        self.names_calls += 1
        self.names_asked.append(prefix)
        return sorted(n for n in self._tags if n.startswith(prefix))

    def ref(self, name: str) -> TagRef | None:
        self.ref_calls += 1
        entry = self._tags.get(name)
        if entry is None:
            return None
        return TagRef(entry.sha, entry.commit if self.peeled else None)

    def info(self, name: str, sha: str) -> TagInfo | None:
        self.info_calls += 1
        self.info_read.append(name)
        for entry in self._tags.values():
            if entry.sha == sha and entry.info is not None:
                return replace(entry.info, name=name)
        return None
