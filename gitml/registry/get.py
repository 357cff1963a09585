"""Resolving ``models:/…`` and downloading a version: in a clone (even a shallow, tagless one) or from a URL.

In a clone with a git remote (``origin``), the remote's tags for the model are
asked for once (one ref advertisement) and compared with the local ones: tags
the clone lacks are read from the remote (only those tag objects and their
commit, never the history), and a tag that differs between the two is a
:class:`ConflictError` — a stale answer is never given silently. ``offline``
skips the remote (and says so when it cannot be reached).

With ``--repo URL`` there is no clone at all: the same resolution runs on the
remote's refs, the storage remote comes from ``.gitml/config.yaml`` at the
version's commit, and the bytes go straight from storage to the destination,
verified.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from gitml._types import StrPath
from gitml.exceptions import ConflictError, GitError, NotFoundError, UsageError
from gitml.registry.events import Event, ModelVersion
from gitml.registry.grammar import ModelsURI, parse_models_uri
from gitml.registry.state import Registry
from gitml.repo.tags import TagInfo, TagRef
from gitml.workspace import Workspace

if TYPE_CHECKING:
    from gitml.repo.tags import LocalTags
    from gitml.repo.transport import FetchedObjects, RemoteRef
    from gitml.store.base import RemoteSpec

__all__ = ["GetModelResult", "RemoteTags", "Resolution", "get_model", "resolve_in_repo", "resolve_remote"]


class RemoteTags:
    """A :class:`TagSource` over another repository's ref advertisement; tag objects fetched on demand."""

    def __init__(self, url: str, refs: dict[str, RemoteRef]) -> None:
        self.url = url
        self._refs = refs
        self._fetched: list[FetchedObjects] = []

    def names(self, *, prefix: str = "") -> list[str]:
        return sorted(n for n in self._refs if n.startswith(prefix))

    def ref(self, name: str) -> TagRef | None:
        value = self._refs.get(name)
        if value is None:
            return None
        # git advertises the peeled commit of every annotated tag: none means a lightweight tag.
        return TagRef(value.sha, value.peeled or value.sha)

    def _objects_with(self, sha: str) -> FetchedObjects:
        for objects in self._fetched:
            if objects.has(sha):
                return objects
        from gitml.repo.transport import fetch_objects

        # Tags on the same commit come along in the same fetch (a stage tag and the registration it
        # assigns usually share one): one round trip, and the commit's tree is sent once.
        peeled = next((r.peeled for r in self._refs.values() if r.sha == sha and r.peeled), None)
        wants = [sha]
        if peeled is not None:
            wants += sorted({r.sha for r in self._refs.values() if r.peeled == peeled and r.sha != sha})
        objects = fetch_objects(self.url, wants, depth=1)
        self._fetched.append(objects)
        return objects

    def info(self, name: str, sha: str) -> TagInfo | None:
        from dataclasses import replace as _replace

        return _replace(self._objects_with(sha).tag_info(sha), name=name)

    def read_path(self, commit: str, path: str) -> bytes | None:
        return self._objects_with(commit).read_path(commit, path)


class _Overlay:
    """This clone's tags, plus the remote's tags it lacks."""

    def __init__(self, local: LocalTags, remote: RemoteTags) -> None:
        self.local = local
        self.remote = remote

    def names(self, *, prefix: str = "") -> list[str]:
        return sorted(set(self.local.names(prefix=prefix)) | set(self.remote.names(prefix=prefix)))

    def ref(self, name: str) -> TagRef | None:
        return self.local.ref(name) or self.remote.ref(name)

    def info(self, name: str, sha: str) -> TagInfo | None:
        if self.local.ref(name) is not None:
            return self.local.info(name, sha)
        return self.remote.info(name, sha)


@dataclass
class Resolution:
    """A resolved version, where the answer came from, and what the caller should be told."""

    version: ModelVersion
    source: str
    warnings: list[str] = field(default_factory=list)
    remote_tags: RemoteTags | None = None


def _model_tags(refs: dict[str, Any], name: str) -> dict[str, Any]:
    return {t: r for t, r in refs.items() if t.startswith((f"{name}@", f"{name}#"))}


def resolve_in_repo(
    ws: Workspace,
    uri: str | ModelsURI,
    *,
    offline: bool = False,
    git_remote: str = "origin",
    with_stages: bool = False,
) -> Resolution:
    """Resolve a ``models:/`` URI in a clone, checking the git remote's tags unless ``offline``."""
    from gitml.repo.tags import LocalTags

    parsed = parse_models_uri(uri) if isinstance(uri, str) else uri
    local = LocalTags(ws.repo)
    warnings: list[str] = []
    source: Any = local
    where = "this clone's tags"
    remote_tags = None
    if not offline:
        from gitml.repo.transport import ls_remote, remote_url

        url = remote_url(ws.root, git_remote)
        if url is not None:
            try:
                refs = _model_tags(ls_remote(url, prefix="refs/tags/"), parsed.name)
            except (GitError, NotFoundError) as exc:
                warnings.append(
                    f"could not reach {git_remote} ({exc.message}); "
                    "using this clone's tags, which may be stale"
                )
            else:
                remote_tags = RemoteTags(url, refs)
                _check_agreement(local, refs, parsed.name, git_remote)
                missing = [t for t in refs if local.ref(t) is None]
                source = _Overlay(local, remote_tags)
                where = f"tags of this clone and {git_remote}"
                if missing:
                    where = f"{git_remote}'s tags ({len(missing)} not in this clone)"
    registry = Registry(source)
    version = registry.resolve(parsed, with_stages=with_stages)
    return Resolution(version, where, [*warnings, *registry.warnings], remote_tags)


def _check_agreement(local: LocalTags, remote: dict[str, RemoteRef], name: str, git_remote: str) -> None:
    moved = []
    for tag in [*local.names(prefix=f"{name}@"), *local.names(prefix=f"{name}#")]:
        theirs = remote.get(tag)
        ours = local.ref(tag)
        if theirs is not None and ours is not None and theirs.sha != ours.sha:
            moved.append(tag)
    if moved:
        raise ConflictError(
            f"tag {moved[0]} differs between this clone and {git_remote}"
            + (f" (and {len(moved) - 1} more)" if len(moved) > 1 else "")
            + ": someone moved or re-created it, so the registry cannot be trusted",
            refs=tuple(moved),
            hint=f"compare with `git ls-remote --tags {git_remote}`; registry tags are never moved",
        )


def resolve_remote(url: str, uri: str | ModelsURI, *, with_stages: bool = False) -> Resolution:
    """Resolve a ``models:/`` URI against a repository URL, without a clone."""
    from gitml.giturl import check_git_url
    from gitml.repo.transport import ls_remote

    parsed = parse_models_uri(uri) if isinstance(uri, str) else uri
    check_git_url(url)
    refs = _model_tags(ls_remote(url, prefix="refs/tags/"), parsed.name)
    tags = RemoteTags(url, refs)
    registry = Registry(tags)
    version = registry.resolve(parsed, with_stages=with_stages)
    return Resolution(version, url, registry.warnings, tags)


def resolve_tag_remotely(ws: Workspace, tag: str, *, git_remote: str = "origin") -> Event | None:
    """The event of a tag this clone lacks, read from the git remote (None if it has no such tag)."""
    from gitml.repo.transport import ls_remote, remote_url

    url = remote_url(ws.root, git_remote)
    if url is None:
        return None
    from gitml.registry.grammar import parse_tag

    parsed = parse_tag(tag)
    refs = ls_remote(url, prefix="refs/tags/")
    if parsed is None or tag not in refs:
        return None
    return Registry(RemoteTags(url, _model_tags(refs, parsed.name))).event_for(tag)


# -- downloading ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GetModelResult:
    version: ModelVersion
    path: Path
    files: int
    bytes: int
    source: str
    warnings: Sequence[str] = ()


def _require_bytes(mv: ModelVersion) -> tuple[str, int, str]:
    if mv.hash is None or mv.size is None or not mv.path:
        raise NotFoundError(
            f"{mv.tag} does not say which bytes it registers (made by hand or by another tool?)",
            hint="a registration tag needs run, path, hash and size lines; register with `gitml register`",
        )
    return mv.hash, mv.size, mv.path


def _destination(out: StrPath | None, mv: ModelVersion, path: str) -> Path:
    name = PurePosixPath(path).name
    if mv.is_dir:
        return Path(out) if out is not None else Path.cwd() / name
    if out is None:
        return Path.cwd() / name
    dest = Path(out)
    return dest / name if dest.is_dir() else dest


def get_model(
    ws: Workspace | None,
    uri: str,
    *,
    out: StrPath | None = None,
    repo_url: str | None = None,
    rev: str | None = None,
    offline: bool = False,
    storage_remote: str | None = None,
    jobs: int | None = None,
) -> GetModelResult:
    """Download the version a ``models:/`` URI names, verified (``gitml get models:/…``).

    The storage remote is the one configured at the version's commit (``--repo``) or in
    this clone; ``rev`` reads it from ``.gitml/config.yaml`` at that revision instead
    (for when the storage moved after the version was registered).
    """
    from gitml.artifacts.direct import download_object

    parsed = parse_models_uri(uri)
    if repo_url is not None:
        res = resolve_remote(repo_url, parsed)
        oid, size, path = _require_bytes(res.version)
        assert res.remote_tags is not None
        at = res.version.commit if rev is None else _remote_rev(res.remote_tags, rev)
        config = res.remote_tags.read_path(at, CONFIG_PATH)
    elif ws is None:
        raise UsageError("not in a gitml repository", hint="pass --repo URL, or cd into a clone")
    else:
        res = resolve_in_repo(ws, parsed, offline=offline)
        if rev is None:
            return _get_through_cache(ws, res, out=out, storage_remote=storage_remote, jobs=jobs)
        from gitml.giturl import check_rev
        from gitml.repo.tags import LocalTags

        oid, size, path = _require_bytes(res.version)
        at = ws.repo.resolve(check_rev(rev))
        config = LocalTags(ws.repo).read_path(at, CONFIG_PATH)
    spec = _storage_spec(config, at, res.version, storage_remote)
    dest = _destination(out, res.version, path)
    got = download_object(spec, oid=oid, size=size, is_dir=res.version.is_dir, dest=dest, jobs=jobs)
    return GetModelResult(res.version, got.path, got.files, got.bytes, res.source, res.warnings)


def _get_through_cache(
    ws: Workspace, res: Resolution, *, out: StrPath | None, storage_remote: str | None, jobs: int | None
) -> GetModelResult:
    """In a clone: the bytes come into its cache from its storage remote, then out to ``out``."""
    oid, size, path = _require_bytes(res.version)
    from gitml.artifacts.context import open_cache
    from gitml.artifacts.record import ArtifactEntry
    from gitml.artifacts.transfer import fetch_entries

    entry = ArtifactEntry(path, oid, size, is_dir=res.version.is_dir)
    fetched = fetch_entries(ws, [entry], remote=storage_remote, jobs=jobs)
    if fetched.failures:
        raise fetched.failures[0].error
    if fetched.missing:
        from gitml.exceptions import ObjectMissingError

        raise ObjectMissingError(
            f"the bytes of {res.version.tag} ({len(fetched.missing)} object(s), first "
            f"{fetched.missing[0][:12]}) are in neither the cache nor {fetched.remote or 'the remote'}",
            hint="push them from the clone that registered it: gitml push",
        )
    cache = open_cache(ws)
    dest = _destination(out, res.version, path)
    if res.version.is_dir:
        dest.mkdir(parents=True, exist_ok=True)
        files = cache.checkout_tree(cache.read_manifest(oid), dest)
    else:
        cache.checkout_file(oid, size, dest)
        files = 1
    return GetModelResult(res.version, dest, files, size, res.source, res.warnings)


CONFIG_PATH = ".gitml/config.yaml"


def _remote_rev(tags: RemoteTags, rev: str) -> str:
    """The commit a branch, tag or full sha names in the remote repository."""
    import re

    from gitml.exceptions import RevisionNotFoundError
    from gitml.giturl import check_rev
    from gitml.repo.transport import ls_remote

    check_rev(rev)
    if re.fullmatch(r"[0-9a-f]{40}", rev):
        return rev
    refs = ls_remote(tags.url, prefix="refs/")
    for name in (f"heads/{rev}", f"tags/{rev}", rev.removeprefix("refs/")):
        ref = refs.get(name)
        if ref is not None:
            return ref.peeled or ref.sha
    raise RevisionNotFoundError(
        f"{tags.url} has no branch or tag {rev!r}", hint="use a branch, a tag or a full commit sha"
    )


def _storage_spec(data: bytes | None, commit: str, mv: ModelVersion, name: str | None) -> RemoteSpec:
    """The storage remote in ``.gitml/config.yaml`` at ``commit``: by name, by the registered URL,
    the default, the only one — or the URL the registration recorded."""
    from gitml import _yaml
    from gitml.config import parse_config
    from gitml.exceptions import RemoteNotFoundError
    from gitml.store.base import RemoteSpec, check_remote_url

    remotes: dict[str, RemoteSpec] = {}
    default = None
    if data is not None:
        cfg = parse_config(_yaml.load(data) or {}, source=f"{commit[:12]}:{CONFIG_PATH}")
        remotes = dict(cfg.artifacts.remotes)
        default = cfg.artifacts.default_remote
    spec: RemoteSpec | None
    if name is not None:
        spec = remotes.get(name)
        if spec is None:
            raise RemoteNotFoundError(f"the config at {commit[:12]} has no remote {name!r}")
    else:
        spec = next((r for r in remotes.values() if mv.remote and r.url == mv.remote), None)
        if spec is None and default is not None:
            spec = remotes.get(default)
        if spec is None and len(remotes) == 1:
            spec = next(iter(remotes.values()))
        if spec is None and mv.remote:
            spec = RemoteSpec("registered", mv.remote)
        if spec is None:
            raise RemoteNotFoundError(
                f"neither {mv.tag} nor the config at {commit[:12]} names a storage remote",
                hint="add one in that repository: gitml remote add storage URL --default",
            )
    check_remote_url(spec.url)
    return spec
