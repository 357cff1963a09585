"""Directory manifests: the object that stands for a directory of files (pure; no I/O).

A manifest lists every file of a directory, sorted by path, one per line::

    gitml-manifest 1 sha256
    <hex> <size> <relative/path>

It is itself an object, named by the hash of these bytes, and is written to a
store only after every file it lists, so "manifest present" implies "files
present". Parsing treats the bytes as hostile: every path goes through the
shared validator, hashes and sizes are checked, and duplicates are refused.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from gitml.artifacts.hashing import ALGORITHM, hash_bytes, is_oid
from gitml.exceptions import GitMLError, IntegrityError
from gitml.paths import check_relpath

__all__ = ["HEADER", "FileEntry", "Manifest", "parse_manifest"]

HEADER = f"gitml-manifest 1 {ALGORITHM}"


@dataclass(frozen=True, slots=True)
class FileEntry:
    path: str
    oid: str
    size: int


@dataclass(frozen=True)
class Manifest:
    files: tuple[FileEntry, ...]

    @classmethod
    def build(cls, entries: Iterable[FileEntry]) -> Manifest:
        files = sorted(entries, key=lambda e: e.path)
        for a, b in itertools.pairwise(files):
            if a.path == b.path:
                raise IntegrityError(f"manifest lists {a.path!r} twice")
        return cls(tuple(files))

    def dumps(self) -> bytes:
        lines = [HEADER]
        lines.extend(f"{f.oid} {f.size} {f.path}" for f in self.files)
        return ("\n".join(lines) + "\n").encode("utf-8")

    @property
    def oid(self) -> str:
        return hash_bytes(self.dumps())

    @property
    def size(self) -> int:
        return sum(f.size for f in self.files)

    def under(self, prefix: str) -> Iterator[FileEntry]:
        """Files at or below ``prefix`` ('' for all)."""
        if not prefix:
            yield from self.files
            return
        head = prefix + "/"
        for f in self.files:
            if f.path == prefix or f.path.startswith(head):
                yield f


def parse_manifest(data: bytes, *, where: str = "manifest") -> Manifest:
    """Parse and validate manifest bytes; IntegrityError names what is wrong."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise IntegrityError(f"{where} is not UTF-8 text") from exc
    lines = text.split("\n")
    if not lines or lines[0] != HEADER:
        raise IntegrityError(f"{where} is not a gitml manifest (first line {lines[0][:40]!r})")
    if lines[-1] != "":
        raise IntegrityError(f"{where} is truncated (no final newline)")
    files: list[FileEntry] = []
    previous = ""
    for number, line in enumerate(lines[1:-1], start=2):
        oid, _, rest = line.partition(" ")
        size_text, _, path = rest.partition(" ")
        if not is_oid(oid) or not (size_text.isascii() and size_text.isdigit()) or not path:
            raise IntegrityError(f"{where} line {number} is malformed: {line[:80]!r}")
        try:
            check_relpath(path, what=f"{where} path")
        except GitMLError as exc:
            raise IntegrityError(exc.message) from exc
        if path <= previous:
            raise IntegrityError(f"{where} line {number}: paths are not sorted and unique ({path!r})")
        previous = path
        files.append(FileEntry(path, oid, int(size_text)))
    return Manifest(tuple(files))
