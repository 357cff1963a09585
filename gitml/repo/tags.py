"""Annotated tags in a local repository: list them cheaply, read one, create one as ``git tag -a`` does.

Listing reads ref *names* first (the loose ``refs/tags`` folder and ``packed-refs``)
and the values only of the names asked for, so a question about one model costs
the same with 20 tags or 20,000. Tag objects are read one at a time, on demand.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dulwich.objects import Tag

from gitml.exceptions import ConflictError, GitError
from gitml.repo.worktree import GitRepo, tzoffset

__all__ = ["LocalTags", "TagInfo", "TagRef"]

_TAGS = b"refs/tags/"


@dataclass(frozen=True)
class TagRef:
    """A tag ref's value: the object it names and, when known for free, the commit it peels to.

    ``peeled`` is the commit for an annotated tag, ``sha`` itself for a lightweight
    tag known to be one, or None when finding out would mean reading the object.
    """

    sha: str
    peeled: str | None = None


@dataclass(frozen=True)
class TagInfo:
    """An annotated tag object: what it points at, who made it and when, its message."""

    name: str
    sha: str
    target: str
    target_type: str
    tagger: str
    time: int
    tz_offset: int
    message: str


def tag_info_of(obj: Any, name: str) -> TagInfo:
    target_cls, target = obj.object
    return TagInfo(
        name=name,
        sha=obj.id.decode("ascii"),
        target=target.decode("ascii"),
        target_type=target_cls.type_name.decode("ascii"),
        tagger=(obj.tagger or b"").decode("utf-8", "replace"),
        time=int(obj.tag_time or 0),
        tz_offset=int(obj.tag_timezone or 0),
        message=(obj.message or b"").decode("utf-8", "replace"),
    )


class LocalTags:
    """The tags of a local repository (a :class:`GitRepo`)."""

    def __init__(self, repo: GitRepo) -> None:
        self.repo = repo
        self._raw: Any = repo._repo
        self._packed: dict[bytes, bytes] | None = None
        self._peeled: dict[bytes, bytes] | None = None
        self._loose: set[str] | None = None

    # -- names and values ---------------------------------------------------------------------

    def _packed_refs(self) -> tuple[dict[bytes, bytes], dict[bytes, bytes] | None]:
        """``packed-refs`` as (ref -> sha, ref -> peeled commit); the second is None when the
        file does not record peeled values (then a missing entry says nothing)."""
        if self._packed is None:
            packed: dict[bytes, bytes] = {}
            peeled: dict[bytes, bytes] | None = None
            try:
                data = (Path(self._raw.controldir()) / "packed-refs").read_bytes()
            except FileNotFoundError:
                data = b""
            last: bytes | None = None
            for line in data.splitlines():
                if line.startswith(b"#"):
                    if b" peeled" in line:
                        peeled = {}
                    continue
                if line.startswith(b"^"):
                    if last is not None and peeled is not None:
                        peeled[last] = line[1:41]
                    continue
                sha, _, ref = line.partition(b" ")
                if len(sha) == 40 and ref:
                    packed[ref] = sha
                    last = ref
            self._packed, self._peeled = packed, peeled
        return self._packed, self._peeled

    def _loose_names(self) -> set[str]:
        """Names of the loose tag refs (one scan of ``refs/tags``, cached)."""
        if self._loose is None:
            base = Path(self._raw.controldir()) / "refs" / "tags"
            found: set[str] = set()
            stack = [""]
            while stack:
                rel = stack.pop()
                try:
                    entries = list(os.scandir(base / rel if rel else base))
                except (FileNotFoundError, NotADirectoryError):
                    continue
                for entry in entries:
                    name = f"{rel}/{entry.name}" if rel else entry.name
                    if entry.is_dir(follow_symlinks=False):
                        stack.append(name)
                    elif not entry.name.endswith(".lock"):
                        found.add(name)
            self._loose = found
        return self._loose

    def names(self, *, prefix: str = "") -> list[str]:
        """Tag names starting with ``prefix`` (without ``refs/tags/``), loose and packed."""
        packed, _ = self._packed_refs()
        want = _TAGS + prefix.encode("utf-8")
        out = {ref[len(_TAGS) :].decode("utf-8", "replace") for ref in packed if ref.startswith(want)}
        out.update(n for n in self._loose_names() if n.startswith(prefix))
        return sorted(out)

    def ref(self, name: str) -> TagRef | None:
        """The value of ``refs/tags/<name>`` (loose first, then packed), None if absent."""
        ref = _TAGS + name.encode("utf-8")
        sha = self._read_loose(ref) if name in self._loose_names() else None
        if sha is not None:
            return TagRef(sha.decode("ascii"))
        packed, peeled = self._packed_refs()
        sha = packed.get(ref)
        if sha is None:
            return None
        if peeled is None:
            return TagRef(sha.decode("ascii"))
        # A peeled packed-refs file: no peel line means the ref names a commit directly (lightweight).
        return TagRef(sha.decode("ascii"), peeled.get(ref, sha).decode("ascii"))

    def _read_loose(self, ref: bytes) -> bytes | None:
        path = Path(self._raw.controldir()) / ref.decode("utf-8")
        try:
            data = path.read_bytes().strip()
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            return None
        if data.startswith(b"ref: "):  # a symbolic tag: follow it the slow way
            value: bytes | None = self._raw.refs[ref]
            return value
        return data if len(data) == 40 else None

    # -- objects ------------------------------------------------------------------------------

    def info(self, name: str, sha: str) -> TagInfo | None:
        """The annotated tag object ``sha`` (named ``name``), or None if it is not a tag object."""
        try:
            obj = self._raw[sha.encode("ascii")]
        except KeyError:
            return None
        if obj.type_name != b"tag":
            return None
        return tag_info_of(obj, name)

    def peel(self, sha: str) -> str | None:
        """The commit an object (tag chain) points at; None if missing or not a commit."""
        try:
            obj = self._raw[sha.encode("ascii")]
            while obj.type_name == b"tag":
                obj = self._raw[obj.object[1]]
        except KeyError:
            return None
        return obj.id.decode("ascii") if obj.type_name == b"commit" else None

    def read_path(self, commit: str, path: str) -> bytes | None:
        """A file's bytes at ``commit`` (None if absent)."""
        from dulwich.object_store import tree_lookup_path

        try:
            tree = self._raw[commit.encode("ascii")].tree
            _mode, sha = tree_lookup_path(self._raw.__getitem__, tree, path.encode("utf-8"))
            data: bytes = self._raw[sha].as_raw_string()
        except KeyError:
            return None
        return data

    # -- writing ------------------------------------------------------------------------------

    def create(
        self,
        name: str,
        *,
        commit: str,
        message: str,
        tagger: bytes | None = None,
        now: Callable[[], float] = time.time,
    ) -> TagInfo:
        """Create the annotated tag ``name`` on ``commit``, exactly as ``git tag -a -m`` would.

        Refuses (ConflictError) when the name is taken; a tag is never moved.
        """
        if self.ref(name) is not None:
            raise ConflictError(f"tag {name} already exists", refs=(name,))
        try:
            target_cls = self._raw[commit.encode("ascii")].__class__
        except KeyError as exc:
            raise GitError(f"cannot tag {commit[:12]}: no such object in this repository") from exc
        ident = tagger or self.repo.identity()
        stamp = int(now())
        tag: Any = Tag()
        tag.tagger = ident
        tag.tag_time = stamp
        tag.tag_timezone = tzoffset(stamp)
        tag.name = name.encode("utf-8")
        tag.object = (target_cls, commit.encode("ascii"))
        tag.message = message.encode("utf-8") if message.endswith("\n") else (message + "\n").encode()
        self._raw.object_store.add_object(tag)
        ref = _TAGS + name.encode("utf-8")
        try:
            ok = self._raw.refs.add_if_new(ref, tag.id)
        except OSError as exc:
            raise GitError(f"could not write tag {name}: {exc}") from exc
        if not ok:
            raise ConflictError(f"tag {name} already exists", refs=(name,))
        self._packed = self._loose = None
        return tag_info_of(tag, name)

    def delete_unpublished(self, name: str, sha: str) -> None:
        """Remove a tag this process just created and failed to publish (only if it is still ``sha``)."""
        ref = _TAGS + name.encode("utf-8")
        self._raw.refs.remove_if_equals(ref, sha.encode("ascii"))
        self._packed = self._loose = None
