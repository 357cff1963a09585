"""Writing the registry: register, promote, demote, deprecate — each one new annotated tag, never moved.

With ``push`` the new tag is pushed to the git remote (``origin`` unless told),
after the model's bytes are pushed to the storage remote (a pushed registration
never points at bytes nobody can download). Numbering takes the remote's tags
into account when pushing; if someone else published the same tag name first,
the local tag (never published) is removed again and :class:`ConflictError`
says so — run the command again to record the event after theirs.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from gitml.exceptions import ConflictError, GitMLError, NotFoundError, UsageError
from gitml.registry.events import ModelVersion, format_message, utc_iso
from gitml.registry.grammar import (
    TagName,
    Version,
    check_model_name,
    check_stage,
    deprecation_tag,
    parse_tag,
    parse_version,
    registration_tag,
    stage_tag,
)
from gitml.registry.state import Registry
from gitml.workspace import Workspace

if TYPE_CHECKING:
    from gitml.repo.tags import LocalTags

__all__ = ["EventResult", "demote", "deprecate", "promote", "register"]


@dataclass(frozen=True)
class EventResult:
    """What a registry command did: the tag it made (None: nothing to do), and whether it was pushed."""

    tag: str | None
    name: str
    version: Version
    commit: str
    stage: str | None = None
    pushed_to: str | None = None
    artifacts_pushed: int = 0
    note: str | None = None

    def to_dict(self) -> dict[str, object]:
        return {
            "tag": self.tag,
            "name": self.name,
            "version": str(self.version),
            "stage": self.stage,
            "commit": self.commit,
            "pushed_to": self.pushed_to,
            "note": self.note,
        }


def _tags(ws: Workspace) -> LocalTags:
    from gitml.repo.tags import LocalTags

    return LocalTags(ws.repo)


def _identity(ws: Workspace) -> bytes:
    return ws.repo.identity()


def _who(ident: bytes) -> str:
    return ident.decode("utf-8", "replace")


def _remote_tags(ws: Workspace, git_remote: str, name: str) -> list[TagName]:
    """The registry tags of model ``name`` on the git remote, for numbering before a push."""
    from gitml.repo.transport import ls_remote, remote_url

    url = remote_url(ws.root, git_remote) or git_remote
    refs = ls_remote(url, prefix="refs/tags/")  # names come back without the prefix asked for
    parsed = (parse_tag(tag) for tag in refs)
    return [p for p in parsed if p is not None and p.name == name]


def _publish(ws: Workspace, tag: str, sha: str, git_remote: str) -> str:
    """Push one new tag; on any failure remove it again, so ``--push`` records all or nothing."""
    from gitml.repo.transport import push_tags

    try:
        push_tags(ws.root, git_remote, [tag])
    except ConflictError as exc:
        _tags(ws).delete_unpublished(tag, sha)
        raise ConflictError(
            f"{git_remote} already has a tag {tag} made by someone else; your event was not recorded",
            refs=(tag,),
            hint=f"git fetch {git_remote} --tags, check `gitml models history`, then run the command again",
        ) from exc
    except GitMLError as exc:
        _tags(ws).delete_unpublished(tag, sha)
        raise type(exc)(
            f"could not push {tag} to {git_remote}, so it was not recorded: {exc.message}",
            hint=exc.hint or "check the remote and your permissions, then run the command again",
        ) from exc
    return git_remote


def _number(ws: Workspace, registry: Registry, name: str, stage: str, *, push: bool, git_remote: str) -> int:
    number = registry.next_stage_number(name, stage)
    if push:
        for parsed in _remote_tags(ws, git_remote, name):
            if parsed.stage == stage:
                number = max(number, parsed.number + 1)
    return number


# -- register -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Artifact:
    run_id: str
    path: str
    oid: str
    size: int
    is_dir: bool


def _committed_artifact(ws: Workspace, run_ref: str, path: str | None) -> tuple[str, _Artifact]:
    """(HEAD commit, the artifact) — the run must be committed at HEAD with that artifact."""
    from gitml.artifacts.record import FILE_NAME, parse_entries
    from gitml.exceptions import RevisionNotFoundError, RunNotFoundError
    from gitml.tracking.store import RunStore

    try:
        head = RunStore(ws, rev="HEAD")
    except RevisionNotFoundError as exc:
        raise UsageError(
            "the repository has no commit yet, so no run is committed",
            hint="gitml runs commit RUN-ID (or git add .gitml/runs/RUN-ID && git commit)",
        ) from exc
    assert head.commit is not None
    try:
        run_id = head.resolve(run_ref)
    except RunNotFoundError as exc:
        try:
            run_id = RunStore(ws).resolve(run_ref)
        except RunNotFoundError:
            raise exc from None
        raise UsageError(
            f"run {run_id} is not committed: a registered version must point at a commit that holds it",
            hint=f"gitml runs commit {run_id}   (then register again)",
        ) from None
    data, where = head.read_file(run_id, FILE_NAME)
    entries = {} if data is None else parse_entries(data, where=where)
    if path is None:
        if "model" in entries:
            path = "model"
        elif len(entries) == 1:
            path = next(iter(entries))
        else:
            listed = ", ".join(sorted(entries)[:8]) or "none"
            raise UsageError(
                f"which artifact of run {run_id} is the model? (artifacts: {listed})",
                hint=f"gitml register NAME runs:/{run_id}/PATH  or  --path PATH",
            )
    entry = entries.get(path)
    if entry is None:
        now, _ = RunStore(ws).read_file(run_id, FILE_NAME)
        if now is not None and path in parse_entries(now, where=FILE_NAME):
            raise UsageError(
                f"artifact {path!r} of run {run_id} is logged but not committed",
                hint=f"gitml runs commit {run_id}   (then register again)",
            )
        listed = ", ".join(sorted(entries)[:8]) or "none"
        raise NotFoundError(f"run {run_id} has no artifact {path!r} at HEAD (artifacts: {listed})")
    return head.commit, _Artifact(run_id, path, entry.oid, entry.size, entry.is_dir)


def register(
    ws: Workspace,
    name: str,
    run: str,
    *,
    path: str | None = None,
    version: str | None = None,
    description: str | None = None,
    push: bool = False,
    git_remote: str = "origin",
    storage_remote: str | None = None,
    now: Callable[[], float] = time.time,
) -> EventResult:
    """Register a run's artifact as a new version of ``name``: the annotated tag ``NAME@vN`` on HEAD."""
    from gitml.uri import parse_uri

    check_model_name(name)
    if run.startswith("runs:"):
        parsed_uri = parse_uri(run)
        if path is not None and parsed_uri.path and path != parsed_uri.path:
            raise UsageError(f"--path {path!r} contradicts the URI {run!r}")
        run, path = parsed_uri.run, parsed_uri.path or path
    commit, art = _committed_artifact(ws, run, path)
    registry = Registry(_tags(ws))
    taken = registry.version_tags(name)
    if version is not None:
        wanted = parse_version(version)
        tag = registration_tag(name, wanted)
        tags = _tags(ws)
        existing = tags.ref(tag)
        if existing is not None:
            where = (tags.peel(existing.sha) or existing.sha)[:12]
            raise ConflictError(
                f"version {wanted} of {name!r} already exists ({tag} on commit {where})",
                refs=(tag,),
                hint="versions are never moved: register without --version to take the next one",
            )
    else:
        wanted = max(taken).next() if taken else Version((1,))
        if push:  # someone may have registered a higher one already
            for p in _remote_tags(ws, git_remote, name):
                if p.version is not None and p.version >= wanted:
                    wanted = p.version.next()
        tag = registration_tag(name, wanted)
    pushed_objects = 0
    remote_url = None
    try:
        from gitml.artifacts.context import remote_spec

        remote_url = remote_spec(ws, storage_remote).url
    except NotFoundError:
        if push:
            raise
    if push:
        from gitml.artifacts.transfer import push as push_objects
        from gitml.exceptions import ObjectMissingError

        result = push_objects(ws, remote=storage_remote, run_ids=[art.run_id])
        if result.failures:
            raise result.failures[0].error
        if result.missing:
            raise ObjectMissingError(
                f"{len(result.missing)} object(s) of run {art.run_id} are not in this clone's cache, "
                "so the version would point at bytes nobody can download; nothing was tagged",
                hint="push from the clone that logged the run (gitml push), then register again",
            )
        pushed_objects = result.transferred
    ident = _identity(ws)
    stamp = int(now())
    fields = {
        "gitml": "registration",
        "name": name,
        "version": str(wanted),
        "run": art.run_id,
        "path": art.path,
        "hash": f"sha256:{art.oid}",
        "size": art.size,
        "type": "dir" if art.is_dir else "file",
        "remote": remote_url,  # remote_spec refuses URLs with userinfo (check_remote_url)
        "by": _who(ident),
        "at": utc_iso(stamp),
    }
    message = format_message(f"Register {name} {wanted} (run {art.run_id}, {art.path})", fields, description)
    info = _tags(ws).create(tag, commit=commit, message=message, tagger=ident, now=lambda: stamp)
    pushed = _publish(ws, tag, info.sha, git_remote) if push else None
    return EventResult(tag, name, wanted, commit, pushed_to=pushed, artifacts_pushed=pushed_objects)


# -- stages and deprecation ------------------------------------------------------------------------


def _record(
    ws: Workspace,
    tag: str,
    *,
    mv: ModelVersion,
    event: str,
    subject: str,
    stage: str | None,
    description: str | None,
    push: bool,
    git_remote: str,
    now: Callable[[], float],
) -> EventResult:
    """Write one stage or deprecation event as a tag on the version's commit (and push it)."""
    ident = _identity(ws)
    stamp = int(now())
    fields = {
        "gitml": event,
        "name": mv.name,
        "version": str(mv.version),
        "stage": stage,
        "by": _who(ident),
        "at": utc_iso(stamp),
    }
    message = format_message(subject, fields, description)
    info = _tags(ws).create(tag, commit=mv.commit, message=message, tagger=ident, now=lambda: stamp)
    pushed = _publish(ws, tag, info.sha, git_remote) if push else None
    return EventResult(tag, mv.name, mv.version, mv.commit, stage=stage, pushed_to=pushed)


def promote(
    ws: Workspace,
    name: str,
    version: str,
    stage: str,
    *,
    force: bool = False,
    description: str | None = None,
    push: bool = False,
    git_remote: str = "origin",
    now: Callable[[], float] = time.time,
) -> EventResult:
    """Give ``stage`` to a version: the tag ``NAME#STAGE#N`` on the version's commit."""
    check_stage(stage)
    registry = Registry(_tags(ws))
    mv = registry.get_version(name, version)
    if mv.deprecated and not force:
        raise UsageError(
            f"{name} {mv.version} is deprecated; promoting it needs --force",
            hint=f"gitml promote {name} {mv.version} {stage} --force (adds a tag; nothing is undone)",
        )
    holder = registry.holder(name, stage)
    if holder is not None and holder.version == mv.version and not force:
        return EventResult(None, name, mv.version, mv.commit, stage=stage, note=f"already holds {stage}")
    number = _number(ws, registry, name, stage, push=push, git_remote=git_remote)
    tag = stage_tag(name, stage, number)
    subject = f"Promote {name} {mv.version} to {stage}"
    return _record(
        ws,
        tag,
        mv=mv,
        event="promotion",
        subject=subject,
        stage=stage,
        description=description,
        push=push,
        git_remote=git_remote,
        now=now,
    )


def demote(
    ws: Workspace,
    name: str,
    stage: str,
    *,
    description: str | None = None,
    push: bool = False,
    git_remote: str = "origin",
    now: Callable[[], float] = time.time,
) -> EventResult:
    """Take ``stage`` away from its holder: the tag ``NAME#STAGE!#N``."""
    from gitml.exceptions import VersionNotFoundError

    check_stage(stage)
    registry = Registry(_tags(ws))
    registry.latest(name, include_deprecated=True)  # the model must exist
    holder = registry.holder(name, stage)
    if holder is None or holder.version is None:
        raise VersionNotFoundError(
            f"no version of {name!r} holds stage {stage!r}", hint=f"gitml models show {name}"
        )
    mv = registry.get_version(name, holder.version)
    number = _number(ws, registry, name, stage, push=push, git_remote=git_remote)
    tag = stage_tag(name, stage, number, unassign=True)
    subject = f"Demote {name} {mv.version} from {stage}"
    return _record(
        ws,
        tag,
        mv=mv,
        event="demotion",
        subject=subject,
        stage=stage,
        description=description,
        push=push,
        git_remote=git_remote,
        now=now,
    )


def deprecate(
    ws: Workspace,
    name: str,
    version: str,
    *,
    force: bool = False,
    description: str | None = None,
    push: bool = False,
    git_remote: str = "origin",
    now: Callable[[], float] = time.time,
) -> EventResult:
    """Mark a version as not to be used: the tag ``NAME@vN!``. Refused while it holds a stage."""
    registry = Registry(_tags(ws))
    mv = registry.get_version(name, version)
    if mv.deprecated:
        return EventResult(None, name, mv.version, mv.commit, note="already deprecated")
    held = [s for s, h in registry.stages(name).items() if h.version == mv.version]
    if held and not force:
        raise UsageError(
            f"{name} {mv.version} holds {', '.join(held)}; deprecating it needs --force",
            hint=f"demote it first: gitml demote {name} {held[0]}",
        )
    tag = deprecation_tag(name, mv.version)
    subject = f"Deprecate {name} {mv.version}"
    return _record(
        ws,
        tag,
        mv=mv,
        event="deprecation",
        subject=subject,
        stage=None,
        description=description,
        push=push,
        git_remote=git_remote,
        now=now,
    )
