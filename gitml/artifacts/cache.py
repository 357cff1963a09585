"""The local content-addressed cache: ``.gitml/cache/sha256/ab/cdef...`` (or a shared folder).

Files enter the cache by being hashed while they are copied (each byte read
once) into ``tmp/`` and renamed into place read-only: a reader never sees a
partial object, and two processes adding the same object both succeed. Objects
leave it by reflink, hardlink, symlink or a verified copy, in the order the
config asks (default: reflink, else copy -- a workspace file edited in place
can then never corrupt the cache).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import glob
import os
import secrets
import stat
from collections.abc import Container, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from gitml._fs import new_file
from gitml.artifacts.hashing import ALGORITHM, copy_hashing, hash_bytes, hash_file, is_oid
from gitml.artifacts.manifest import FileEntry, Manifest, parse_manifest
from gitml.exceptions import (
    ConfigError,
    GitMLError,
    IntegrityError,
    InvalidNameError,
    ObjectMissingError,
    StoreError,
)
from gitml.paths import check_relpath, check_source, contained_path
from gitml.store.base import StoredObject, object_key
from gitml.store.local import copy_fd, copy_verified

__all__ = ["LINK_TYPES", "Cache", "walk_files"]

LINK_TYPES = ("reflink", "hardlink", "symlink", "copy")
#: Files up to this size are read whole, hashed, and written only if the cache lacks them.
_SMALL = 4 * 1024 * 1024
_FICLONE = 0x40049409


def _disk_error(exc: OSError, what: str) -> GitMLError:
    if exc.errno == errno.ENOSPC:
        return StoreError(f"no space left on device while writing {what}", hint="free some space (gitml gc)")
    return StoreError(f"cannot write {what}: {exc.strerror or exc}")


def walk_files(src: Path, *, repo_root: Path) -> list[tuple[str, Path]]:
    """Every file under ``src`` as (relative posix path, absolute path), validated and sorted.

    Symlinks to files inside the repository are followed; a symlink leading
    outside it or into ``.git/``, or to a directory, is refused.
    """
    out: list[tuple[str, Path]] = []
    stack: list[tuple[str, str]] = [("", str(src))]
    while stack:
        rel_dir, abs_dir = stack.pop()
        try:
            entries = list(os.scandir(abs_dir))
        except OSError as exc:
            raise InvalidNameError(f"cannot read directory {abs_dir}: {exc.strerror}") from exc
        for entry in entries:
            rel = f"{rel_dir}/{entry.name}" if rel_dir else entry.name
            check_relpath(rel, what="file name")
            if entry.is_symlink():
                target = check_source(entry.path, repo_root=repo_root)
                if target.is_dir():
                    raise InvalidNameError(
                        f"{entry.path!r} is a symlink to a directory; gitml does not follow those",
                        hint="log the directory it points to instead",
                    )
                if target.is_file():
                    out.append((rel, target))
                continue
            if entry.is_dir(follow_symlinks=False):
                stack.append((rel, entry.path))
            elif entry.is_file(follow_symlinks=False):
                out.append((rel, Path(entry.path)))
    out.sort()
    return out


class Cache:
    def __init__(
        self, root: Path, *, link: Sequence[str] = ("reflink", "copy"), shared: bool = False
    ) -> None:
        for kind in link:
            if kind not in LINK_TYPES:
                raise ConfigError(
                    f"cache.link: unknown link type {kind!r} (choose from {', '.join(LINK_TYPES)})"
                )
        self.root = Path(root)
        self.tmp = self.root / "tmp"
        self.link = tuple(link) or ("copy",)
        self.shared = shared
        #: Objects this process wrote after checking their hash: a copy out of the cache need not
        #: hash them again (a fetch-then-checkout reads each byte once more, not twice).
        self.verified: set[str] = set()
        #: (source device, destination device) pairs where reflink failed: not tried again.
        self._no_reflink: set[tuple[int, int]] = set()
        self._dev_of: dict[Path, int] = {}

    # -- layout ----------------------------------------------------------------------------------

    def path(self, oid: str) -> Path:
        return self.root / object_key(oid)

    def has(self, oid: str) -> bool:
        return os.path.exists(self.path(oid))

    def size_of(self, oid: str) -> int | None:
        try:
            return os.stat(self.path(oid)).st_size
        except FileNotFoundError:
            return None

    def tmp_path(self, hint: str = "obj") -> Path:
        self._mkdir(self.tmp)
        return self.tmp / f"{hint[:16]}.{os.getpid()}.{secrets.token_hex(6)}"

    def _mkdir(self, path: Path) -> None:
        try:
            path.mkdir(parents=True, exist_ok=True)
            if self.shared:
                with contextlib.suppress(OSError):
                    os.chmod(path, 0o2775)
        except OSError as exc:
            raise _disk_error(exc, f"the cache at {self.root}") from exc

    def install(self, tmp: Path, oid: str, *, just_verified: bool = False) -> None:
        """Make a complete, verified temp file the object ``oid`` (read-only, atomic rename).

        ``just_verified``: the caller hashed these exact bytes a moment ago (a download), so a
        checkout by copy in this process may skip hashing them again.
        """
        final = self.path(oid)
        if just_verified:
            self.verified.add(oid)
        try:
            os.chmod(tmp, 0o444)
            try:
                os.replace(tmp, final)
            except FileNotFoundError:
                self._mkdir(final.parent)
                os.replace(tmp, final)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise _disk_error(exc, f"cache object {oid[:12]}") from exc

    # -- adding ------------------------------------------------------------------------------------

    def add_bytes(self, data: bytes) -> tuple[str, int]:
        oid = hash_bytes(data)
        if not self.has(oid):
            tmp = self.tmp_path(oid)
            try:
                with open(tmp, "xb") as fh:
                    fh.write(data)
            except OSError as exc:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                raise _disk_error(exc, "the cache") from exc
            self.install(tmp, oid)
        return oid, len(data)

    def add_file(self, src: Path) -> tuple[str, int]:
        """Hash ``src`` while copying it in; returns (oid, size)."""
        try:
            size = os.stat(src).st_size
            if size <= _SMALL:
                with open(src, "rb") as fh:
                    data = fh.read()
                return self.add_bytes(data)
        except IsADirectoryError as exc:
            raise InvalidNameError(f"{src} is a directory", hint="use log_artifacts for a directory") from exc
        except FileNotFoundError as exc:
            raise InvalidNameError(f"no such file: {src}") from exc
        tmp = self.tmp_path("large")
        try:
            src_fd = os.open(src, os.O_RDONLY)
            try:
                dst_fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
                try:
                    oid, size = copy_hashing(src_fd, dst_fd)
                finally:
                    os.close(dst_fd)
            finally:
                os.close(src_fd)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise _disk_error(exc, "the cache") from exc
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        if self.has(oid):
            os.unlink(tmp)
        else:
            self.install(tmp, oid)
        return oid, size

    def add_tree(self, src: Path, *, repo_root: Path, jobs: int = 8) -> tuple[Manifest, str]:
        """Add every file under ``src`` and then its manifest; returns (manifest, manifest oid)."""
        files = walk_files(src, repo_root=repo_root)

        def add(item: tuple[str, Path]) -> FileEntry:
            oid, size = self.add_file(item[1])
            return FileEntry(item[0], oid, size)

        if len(files) > 16 and jobs > 1:
            with ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="gitml-hash") as pool:
                entries = list(pool.map(add, files))
        else:
            entries = [add(item) for item in files]
        manifest = Manifest(tuple(entries))
        oid, _ = self.add_bytes(manifest.dumps())
        return manifest, oid

    # -- reading -----------------------------------------------------------------------------------

    def read_manifest(self, oid: str) -> Manifest:
        try:
            data = self.path(oid).read_bytes()
        except FileNotFoundError as exc:
            raise ObjectMissingError(
                f"directory manifest {oid[:12]} is not in the cache", hint="gitml fetch downloads it"
            ) from exc
        if hash_bytes(data) != oid:
            self.discard(oid)
            raise IntegrityError(
                f"cache: manifest {oid[:12]} is corrupt and was removed",
                hint="gitml fetch downloads it again",
            )
        return parse_manifest(data, where=f"manifest {oid[:12]}")

    def verify(self, oid: str) -> bool:
        try:
            got, _ = hash_file(self.path(oid))
        except FileNotFoundError:
            return False
        return got == oid

    def discard(self, oid: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path(oid))

    def oids(self) -> set[str]:
        """Every object id in the cache, from directory listings only (no stat per object)."""
        out: set[str] = set()
        base = self.root / ALGORITHM
        try:
            dirs = [d for d in os.scandir(base) if len(d.name) == 2]
        except FileNotFoundError:
            return out
        for d in dirs:
            with contextlib.suppress(NotADirectoryError, FileNotFoundError):
                out.update(d.name + name for name in os.listdir(d.path))
        return out

    def objects(self) -> Iterator[StoredObject]:
        base = self.root / ALGORITHM
        try:
            dirs = list(os.scandir(base))
        except FileNotFoundError:
            return
        for d in dirs:
            if len(d.name) != 2 or not d.is_dir(follow_symlinks=False):
                continue
            for f in os.scandir(d.path):
                oid = d.name + f.name
                if is_oid(oid) and f.is_file(follow_symlinks=False):
                    st = f.stat(follow_symlinks=False)
                    yield StoredObject(oid, st.st_size, st.st_mtime)

    # -- checkout ----------------------------------------------------------------------------------

    def checkout_file(
        self,
        oid: str,
        size: int,
        dst: Path,
        *,
        link: Sequence[str] | None = None,
        prepared: set[Path] | None = None,
    ) -> str:
        """Place object ``oid`` at ``dst`` atomically; returns the link type used.

        Temp files a killed checkout left beside ``dst`` are removed first. ``prepared`` (for many
        files) holds directories already created and swept, so each is listed once, not once per file.
        """
        try:
            src_dev = os.stat(self.path(oid)).st_dev
        except FileNotFoundError:
            raise ObjectMissingError(
                f"object {oid[:12]} for {dst} is not in the cache", hint="gitml fetch"
            ) from None
        if prepared is None:
            self._prepare_dir(dst.parent, only=dst.name)
        elif dst.parent not in prepared:
            self._prepare_dir(dst.parent)
            prepared.add(dst.parent)
        return self._checkout(oid, size, dst, tuple(link or self.link), src_dev)

    def prepare_dirs(self, targets: Iterable[Path]) -> set[Path]:
        """Create the folders of ``targets`` and sweep each once for stale temp files; returns them
        (the ``prepared`` argument of :meth:`checkout_file`)."""
        prepared: set[Path] = set()
        for target in targets:
            if target.parent not in prepared:
                try:
                    self._prepare_dir(target.parent)
                except OSError as exc:
                    raise _disk_error(exc, str(target.parent)) from exc
                prepared.add(target.parent)
        return prepared

    def _prepare_dir(self, parent: Path, *, only: str | None = None) -> None:
        """Create ``parent`` and remove the temp files a killed checkout left there (of ``only``, or all)."""
        parent.mkdir(parents=True, exist_ok=True)
        if only is not None:
            for stale in parent.glob(glob.escape(f".{only}") + ".gitml-tmp-*"):
                with contextlib.suppress(OSError):
                    stale.unlink()
            return
        with os.scandir(parent) as entries:
            for entry in entries:
                if entry.name.startswith(".") and ".gitml-tmp-" in entry.name:
                    with contextlib.suppress(OSError):
                        os.unlink(entry.path)

    def _checkout(self, oid: str, size: int, dst: Path, kinds: tuple[str, ...], src_dev: int) -> str:
        src = self.path(oid)
        tmp = dst.parent / f".{dst.name}.gitml-tmp-{os.getpid()}-{secrets.token_hex(4)}"
        placed = False
        try:
            for kind in kinds:
                if kind == "reflink":
                    dst_dev = self._dev_of.get(dst.parent)
                    if dst_dev is None:
                        dst_dev = self._dev_of[dst.parent] = os.stat(dst.parent).st_dev
                    if (src_dev, dst_dev) in self._no_reflink:
                        continue  # learnt on an earlier file: no create-and-unlink per file
                    if not self._place(kind, src, tmp, oid=oid, size=size):
                        self._no_reflink.add((src_dev, dst_dev))
                        continue
                elif not self._place(kind, src, tmp, oid=oid, size=size):
                    continue
                os.replace(tmp, dst)
                placed = True
                return kind
        except OSError as exc:
            raise _disk_error(exc, str(dst)) from exc
        finally:
            if not placed:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
        raise StoreError(f"cannot place {dst}: none of {', '.join(kinds)} worked here")

    def _place(self, kind: str, src: Path, tmp: Path, *, oid: str, size: int) -> bool:
        if kind == "copy":
            try:
                self._copy_out(src, tmp, oid=oid, size=size)
            except IntegrityError:
                self.discard(oid)
                raise
            return True
        try:
            if kind == "hardlink":
                os.link(src, tmp)
            elif kind == "symlink":
                os.symlink(src, tmp)
            elif kind == "reflink":
                src_fd = os.open(src, os.O_RDONLY)
                try:
                    dst_fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
                    try:
                        fcntl.ioctl(dst_fd, _FICLONE, src_fd)
                    finally:
                        os.close(dst_fd)
                    os.chmod(tmp, stat.S_IMODE(os.stat(tmp).st_mode) | stat.S_IWUSR)
                finally:
                    os.close(src_fd)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                raise
            return False
        return True

    def _copy_out(self, src: Path, tmp: Path, *, oid: str, size: int) -> None:
        """Copy an object to a new file ``tmp``: in the kernel when this process verified the object
        a moment ago, else hashing on the way (IntegrityError on a mismatch, ``tmp`` removed)."""
        if oid not in self.verified:
            copy_verified(src, tmp, oid=oid, size=size, what="cache")
            return
        try:
            src_fd = os.open(src, os.O_RDONLY)
        except FileNotFoundError as exc:
            raise ObjectMissingError(f"cache: object {oid[:12]} is missing") from exc
        try:
            with new_file(tmp) as dst_fd:
                copy_fd(src_fd, dst_fd, size)
        finally:
            os.close(src_fd)

    def checkout_tree(self, manifest: Manifest, dst: Path, *, prefix: str = "") -> int:
        """Place every file of ``manifest`` (under ``prefix``) below ``dst``; returns how many."""
        placements: list[tuple[str, int, Path]] = []
        for entry in manifest.under(prefix):
            rel = entry.path[len(prefix) + 1 :] if prefix else entry.path
            if not rel:
                rel = entry.path.rsplit("/", 1)[-1]
            placements.append((entry.oid, entry.size, contained_path(dst, rel, what="artifact path")))
        for error in self.checkout_many(placements):
            if error is not None:
                raise error
        return len(placements)

    def checkout_many(
        self,
        placements: Sequence[tuple[str, int, Path]],
        *,
        jobs: int = 2,
        sweep: Container[Path] | None = None,
    ) -> list[GitMLError | None]:
        """Place many objects (oid, size, destination) as :meth:`checkout_file` does; returns, for
        each placement in order, None or the error that stopped it.

        The work goes by folder, biggest first, each folder on one of ``jobs`` threads: files made
        in one folder queue on its lock anyway, so a second thread there would only spin. A folder
        in ``sweep`` (default: every one) is cleared of all stale temp files first; elsewhere only
        those of the files placed.
        """
        folders: dict[Path, list[int]] = {}
        for index, (_, _, target) in enumerate(placements):
            folders.setdefault(target.parent, []).append(index)
        errors: list[GitMLError | None] = [None] * len(placements)

        def place_folder(folder: Path) -> None:
            indices = sorted(folders[folder], key=lambda i: -placements[i][1])
            prepared: set[Path] | None = None
            if sweep is None or folder in sweep:
                try:
                    self._prepare_dir(folder)
                except OSError as exc:
                    error = _disk_error(exc, str(folder))
                    for index in indices:
                        errors[index] = error
                    return
                prepared = {folder}
            for index in indices:
                oid, size, target = placements[index]
                try:
                    self.checkout_file(oid, size, target, prepared=prepared)
                except GitMLError as exc:
                    errors[index] = exc

        order = sorted(folders, key=lambda f: -sum(placements[i][1] for i in folders[f]))
        if jobs <= 1 or len(order) <= 1:
            for folder in order:
                place_folder(folder)
        else:
            with ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="gitml-checkout") as pool:
                for _ in pool.map(place_folder, order):
                    pass
        return errors
