"""Small filesystem primitives: atomic replace, whole-line appends, advisory locks."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

__all__ = ["append_bytes", "atomic_write", "locked", "new_file", "remove_older_than", "write_all"]


def atomic_write(path: Path, data: bytes, *, fsync: bool = True, mode: int = 0o644) -> None:
    """Replace ``path`` with ``data``: readers see the old file or the new one, never a mix.

    Writes a temp file beside the target (created with ``mode``, less the umask), fsyncs
    it, and renames it over the target. On any error the temp file is removed and the old
    file is untouched.
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with contextlib.suppress(FileNotFoundError):
        os.unlink(tmp)  # left by a killed writer: O_CREAT would keep its mode
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        write_all(fd, data)
        if fsync:
            os.fsync(fd)
    except BaseException:
        os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    os.close(fd)
    try:
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def write_all(fd: int, data: bytes) -> None:
    """Write all of ``data`` (os.write may write less than asked)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


@contextlib.contextmanager
def new_file(path: Path) -> Iterator[int]:
    """A descriptor of a file created for the block; if the block fails, the partial file is removed."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        yield fd
    except BaseException:
        os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(path)
        raise
    os.close(fd)


def remove_older_than(directory: Path, seconds: float, *, now: float | None = None) -> None:
    """Delete the files in ``directory`` not modified for ``seconds`` (temp files of killed writers)."""
    import time

    now = time.time() if now is None else now
    with contextlib.suppress(FileNotFoundError):
        for entry in os.scandir(directory):
            with contextlib.suppress(OSError):
                if now - entry.stat().st_mtime > seconds:
                    os.unlink(entry.path)


def append_bytes(fd: int, data: bytes) -> None:
    """Append ``data`` to an O_APPEND descriptor with a single write.

    A single write to an O_APPEND file lands whole or not at all for a crash of
    the writing process, and concurrent writers' rows do not interleave. A short
    write (disk full) is rolled back by truncating to the previous end, so the
    file never ends in half a row that a reader would take for data.
    """
    written = os.write(fd, data)
    if written != len(data):
        end = os.lseek(fd, 0, os.SEEK_END)
        os.ftruncate(fd, end - written)
        raise OSError(errno.ENOSPC, "short write (disk full?)")


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold an exclusive advisory lock on ``path`` for the block.

    ``path`` may be a directory (locked through a read-only descriptor, so no lock
    file is left behind) or a file, created if missing.
    """
    if path.is_dir():
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    else:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)
