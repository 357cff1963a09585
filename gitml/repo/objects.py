"""Git's object format, for the few places that need it faster than building dulwich objects (pure).

``tree_sha_of_dir`` hashes a folder as git would store it, so a work-tree copy
of a run folder can be compared with the folder at a revision by one sha;
``tree_entries`` reads the raw bytes of a tree object.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator

from gitml._types import StrPath

__all__ = ["EMPTY_TREE", "blob_sha", "dir_signature", "tree_entries", "tree_sha", "tree_sha_of_dir"]

EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"


def blob_sha(data: bytes) -> bytes:
    """The 20-byte id git gives a file with these bytes."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).digest()


def tree_sha(entries: list[tuple[bytes, int, bytes]]) -> str:
    """The id of a tree of (name, mode, 20-byte id) entries, sorted the way git sorts them."""

    def order(entry: tuple[bytes, int, bytes]) -> bytes:
        name, mode, _sha = entry
        return name + b"/" if mode == 0o40000 else name

    body = b"".join(b"%o %s\0%s" % (mode, name, sha) for name, mode, sha in sorted(entries, key=order))
    return hashlib.sha1(b"tree %d\0" % len(body) + body).hexdigest()


def tree_entries(raw: bytes) -> Iterator[tuple[int, bytes, bytes]]:
    """(mode, name, 20-byte id) of each entry in a raw tree object's bytes."""
    pos, end = 0, len(raw)
    while pos < end:
        space = raw.index(b" ", pos)
        nul = raw.index(b"\0", space)
        yield int(raw[pos:space], 8), raw[space + 1 : nul], raw[nul + 1 : nul + 21]
        pos = nul + 21


def dir_signature(directory: StrPath) -> str | None:
    """What a flat folder's tree sha depends on (each file's name, size, mtime, inode and mode bits).

    None when the folder is missing or holds a sub-folder or a symlink (hash those each time).
    """
    parts = []
    try:
        with os.scandir(directory) as it:
            for entry in it:
                if not entry.is_file(follow_symlinks=False):
                    return None
                st = entry.stat(follow_symlinks=False)
                parts.append(f"{entry.name}:{st.st_size}:{st.st_mtime_ns}:{st.st_ino}:{st.st_mode & 0o100}")
    except (FileNotFoundError, NotADirectoryError):
        return None
    return "|".join(sorted(parts))


def tree_sha_of_dir(directory: StrPath) -> str | None:
    """The sha git would give ``directory``'s tree if it were committed as it is (None if absent).

    Empty sub-folders are left out, as git leaves them out; a symlink is stored as its target.
    """
    try:
        entries = list(os.scandir(directory))
    except (FileNotFoundError, NotADirectoryError):
        return None
    out: list[tuple[bytes, int, bytes]] = []
    for entry in entries:
        name = os.fsencode(entry.name)
        if entry.is_symlink():
            out.append((name, 0o120000, blob_sha(os.fsencode(os.readlink(entry.path)))))
        elif entry.is_dir():
            sub = tree_sha_of_dir(entry.path)
            if sub is not None and sub != EMPTY_TREE:
                out.append((name, 0o40000, bytes.fromhex(sub)))
        elif entry.is_file():
            mode = 0o100755 if entry.stat().st_mode & 0o100 else 0o100644
            with open(entry.path, "rb") as f:
                out.append((name, mode, blob_sha(f.read())))
    return tree_sha(out)
