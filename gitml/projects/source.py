"""A project's source: any git URL at a revision, fetched once and checked out into a cache keyed by sha.

``fetch_project("https://host/org/repo.git#train", rev="v1.2")`` checks the URL
and the revision (:mod:`gitml.giturl`) before anything touches the network or
the disk, fetches every branch and tag of the URL into a bare cache repository
(one per URL), resolves ``rev`` to the full commit sha, and writes that commit's
tree as plain files into ``<checkouts>/<sha>/`` — no git process, no hooks, no
filters, no submodules. A full sha whose checkout is already complete is
returned straight away: no network, no git objects read, not even dulwich
imported.

Cache layout (under :func:`gitml.projects.cache.projects_cache`)::

    repos/<key>.git          bare repository for one URL; key = sha256(URL without credentials)[:16]
    repos/<key>.lock         held while that repository is fetched into
    checkouts/<sha>/         the commit's files (writable: a project may write its outputs there)
    checkouts/<sha>.complete marker, written after the folder was renamed into place
    checkouts/.tmp/          folders being written (renamed into place when complete)
    checkouts/.locks/        <sha>.lock, held only while a finished folder is renamed into place
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from gitml._fs import atomic_write, locked
from gitml.exceptions import GitError, InvalidNameError, NotFoundError
from gitml.giturl import check_git_url, check_rev, git_url_kind, strip_credentials
from gitml.paths import check_relpath, contained_path
from gitml.projects.cache import projects_cache

__all__ = ["ProjectSource", "checkout_dir", "fetch_project", "split_project_uri"]

_FULL_SHA_RE = re.compile(r"[0-9a-fA-F]{40}")
_MARKER_SUFFIX = ".complete"
_MARKER_FORMAT = "gitml checkout 1"
#: Temp folders of writers that were killed are removed after this long.
_STALE_TMP_SECONDS = 24 * 3600


@dataclass(frozen=True)
class ProjectSource:
    """A project fetched at a commit.

    ``url`` is as recorded (credentials stripped; a local path made absolute),
    ``commit`` the full sha, ``subdir`` the project's folder inside the checkout
    (``""`` for its root), ``checkout`` the checkout's root, and ``reused`` True
    when the checkout was already complete (nothing fetched or written).
    """

    url: str
    commit: str
    subdir: str
    checkout: Path
    reused: bool

    @property
    def project_dir(self) -> Path:
        """The folder the project lives in: ``checkout / subdir``."""
        return self.checkout / self.subdir if self.subdir else self.checkout


def split_project_uri(uri: str) -> tuple[str, str]:
    """``"URL#sub/dir"`` -> ``(URL, "sub/dir")``; ``(uri, "")`` without ``#``. Pure.

    The subdirectory must be a safe relative path (:func:`gitml.paths.check_relpath`);
    a trailing ``/`` is dropped. More than one ``#`` or an empty URL is refused.
    """
    if not isinstance(uri, str) or not uri:
        raise InvalidNameError(f"a project URI must be a non-empty string: {uri!r}")
    url, sep, subdir = uri.partition("#")
    if not url:
        raise InvalidNameError(f"project URI {strip_credentials(uri)!r} names no repository before '#'")
    if not sep:
        return url, ""
    if "#" in subdir:
        raise InvalidNameError(
            f"project URI {strip_credentials(uri)!r} has more than one '#'",
            hint="use URL#sub/dir (a '#' in a path must be percent-encoded in a file:// URL)",
        )
    subdir = subdir.rstrip("/")
    if not subdir:
        raise InvalidNameError(
            f"project URI {strip_credentials(uri)!r} names no subdirectory after '#'",
            hint="drop the '#', or name the project's folder: URL#sub/dir",
        )
    return url, check_relpath(subdir, what="project subdirectory").as_posix()


def checkout_dir(commit: str) -> Path:
    """Where the checkout of ``commit`` (a full 40-hex sha) lives; it may not exist yet."""
    if not isinstance(commit, str) or not _FULL_SHA_RE.fullmatch(commit):
        raise InvalidNameError(f"not a full commit sha: {commit!r}", hint="use the 40-hex sha")
    return projects_cache("checkouts") / commit.lower()


def _marker(checkout: Path) -> Path:
    """``<sha>.complete`` beside the checkout ``<sha>/``."""
    return checkout.with_name(checkout.name + _MARKER_SUFFIX)


def _is_complete(checkout: Path) -> bool:
    try:
        text = _marker(checkout).read_text(encoding="utf-8")
    except OSError:
        return False
    return text.split("\n")[:2] == [_MARKER_FORMAT, checkout.name] and checkout.is_dir()


def _check_subdir(checkout: Path, subdir: str, url: str, commit: str) -> None:
    if not subdir:
        return
    path = contained_path(checkout, subdir, what="project subdirectory")
    if not path.is_dir():
        what = "is not a directory" if path.exists() else "does not exist"
        raise NotFoundError(
            f"project subdirectory {subdir!r} {what} in {url} at {commit}",
            hint="check the part after '#' (paths are case-sensitive)",
        )


def fetch_project(uri: str, *, rev: str | None = None) -> ProjectSource:
    """Fetch the project ``uri`` (``URL`` or ``URL#sub/dir``) at ``rev`` and check it out.

    ``rev``: a branch, a tag, a full or abbreviated (7+ hex, unique) sha, or None
    for the remote's default branch; it is resolved to the full commit sha
    (annotated tags peeled). A full sha that is already checked out returns at
    once (``reused=True``). Refused before any network or disk access:
    unsafe URLs (:func:`gitml.giturl.check_git_url`), option-like revisions
    (:func:`gitml.giturl.check_rev`), unsafe subdirectories. Errors: an unknown
    revision or abbreviation is a :class:`RevisionNotFoundError` listing a few
    branches and tags; an ambiguous abbreviation a :class:`UsageError`; a missing
    repository :class:`RepoNotFoundError`; an unreachable server or refused
    credentials :class:`GitError`; a tree with unsafe paths or escaping symlinks
    :class:`InvalidNameError`; a missing subdirectory :class:`NotFoundError`.
    """
    url, subdir = split_project_uri(uri)
    check_git_url(url)
    if rev is not None:
        check_rev(rev)
    local = git_url_kind(url) == "local"
    # As recorded and keyed: credentials stripped, a local path made absolute (and fetched so).
    recorded = os.path.abspath(url) if local else strip_credentials(url)
    if rev is not None and _FULL_SHA_RE.fullmatch(rev):
        checkout = checkout_dir(rev)
        if _is_complete(checkout):
            _check_subdir(checkout, subdir, recorded, checkout.name)
            return ProjectSource(recorded, checkout.name, subdir, checkout, reused=True)
    commit, repo_path = _fetch_and_resolve(recorded if local else url, recorded, rev)
    checkout = _materialise(repo_path, commit)
    _check_subdir(checkout, subdir, recorded, commit)
    return ProjectSource(recorded, commit, subdir, checkout, reused=False)


def _fetch_and_resolve(url: str, recorded: str, rev: str | None) -> tuple[str, Path]:
    from gitml.repo import clone  # dulwich: only on the slow path

    repos = projects_cache("repos")
    key = hashlib.sha256(recorded.encode("utf-8", "surrogateescape")).hexdigest()[:16]
    repo_path = repos / f"{key}.git"
    with locked(repos / f"{key}.lock"):
        clone.ensure_cache_repo(repo_path, description=recorded)
        if rev is not None and _FULL_SHA_RE.fullmatch(rev) and clone.has_commit(repo_path, rev.lower()):
            return clone.resolve_rev(url, repo_path, rev.lower(), None), repo_path
        remote = clone.fetch_refs(url, repo_path)
        return clone.resolve_rev(url, repo_path, rev, remote), repo_path


def _materialise(repo_path: Path, commit: str) -> Path:
    """The complete checkout of ``commit``, written unless it exists; concurrent writers end with one."""
    from gitml.repo import clone

    final = checkout_dir(commit)
    if _is_complete(final):
        return final
    root = final.parent
    tmp_root = root / ".tmp"
    tmp_root.mkdir(exist_ok=True)
    _remove_stale(tmp_root)
    tmp = tmp_root / f"{commit}.{os.getpid()}.{uuid.uuid4().hex[:8]}"
    try:
        clone.write_tree(repo_path, commit, tmp)
        locks = root / ".locks"
        locks.mkdir(exist_ok=True)
        with locked(locks / f"{commit}.lock"):
            if _is_complete(final):
                return final  # another writer finished first: ours is discarded below
            if final.exists() or final.is_symlink():  # a leftover without its marker
                aside = tmp_root / f"{commit}.old.{uuid.uuid4().hex[:8]}"
                os.rename(final, aside)
                shutil.rmtree(aside, ignore_errors=True)
            os.rename(tmp, final)
            atomic_write(_marker(final), f"{_MARKER_FORMAT}\n{commit}\n".encode())
        return final
    except OSError as exc:
        raise GitError(
            f"cannot write the checkout of {commit} into {root}: {exc.strerror or exc}",
            hint="check the free space and permissions of the gitml cache (GITML_CACHE_DIR)",
        ) from exc
    finally:
        if tmp.exists() or tmp.is_symlink():
            shutil.rmtree(tmp, ignore_errors=True)


def _remove_stale(tmp_root: Path) -> None:
    """Remove folders that killed writers left in ``tmp_root`` (best effort)."""
    now = time.time()
    with contextlib.suppress(OSError):
        for entry in os.scandir(tmp_root):
            with contextlib.suppress(OSError):
                if now - entry.stat(follow_symlinks=False).st_mtime > _STALE_TMP_SECONDS:
                    shutil.rmtree(entry.path, ignore_errors=True)
