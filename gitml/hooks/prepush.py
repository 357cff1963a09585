"""pre-push: upload the artifacts that the commits being pushed reference, or stop the push.

git hands the hook one line per ref on stdin (``<local ref> <local sha> <remote
ref> <remote sha>``). The commits being pushed are those reachable from the local
shas and from nothing the remote has: the remote shas, and every
``refs/remotes/<remote>/*`` this clone knows (so a new branch does not re-send
history). Deletions push nothing; a tag (``churn@v3``) pushes the commit it names.
The artifacts those commits' runs record go to the default gitml remote through
the same code as ``gitml push``; an upload that fails, or an object that is in
neither the cache nor the remote, stops the git push.

No default remote: fine when the pushed commits reference no artifact (there is
nothing to upload); refused otherwise, since the pushed runs would point at bytes
nobody else can download.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from gitml.exceptions import GitMLError, ObjectMissingError, RemoteNotFoundError, UsageError
from gitml.workspace import Workspace

__all__ = [
    "PrePushResult",
    "RefUpdate",
    "framework_updates",
    "parse_push_lines",
    "pre_push",
    "pushed_commits",
]

_SHA_RE = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
#: How to get past the hook once, named in every refusal.
SKIP_HINT = "or skip gitml's check once: GITML_HOOKS_SKIP=1 git push (git push --no-verify skips every hook)"


@dataclass(frozen=True)
class RefUpdate:
    """One line of git's pre-push input."""

    local_ref: str
    local_sha: str
    remote_ref: str
    remote_sha: str

    @property
    def is_delete(self) -> bool:
        return _is_zero(self.local_sha)

    @property
    def is_new(self) -> bool:
        return _is_zero(self.remote_sha)


def _is_zero(sha: str) -> bool:
    return set(sha) == {"0"}


def parse_push_lines(data: bytes) -> list[RefUpdate]:
    """git's pre-push stdin as RefUpdates; UsageError on a line that is not four fields with two shas."""
    out = []
    for line in data.decode("utf-8", "surrogateescape").splitlines():
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) != 4 or not (_SHA_RE.fullmatch(parts[1]) and _SHA_RE.fullmatch(parts[3])):
            raise UsageError(
                f"not a pre-push input line: {line[:200]!r}",
                hint="git writes '<local ref> <local sha> <remote ref> <remote sha>' lines to the hook",
            )
        out.append(RefUpdate(*parts))
    return out


def framework_updates(env: Mapping[str, str]) -> list[RefUpdate]:
    """The ref the pre-commit framework describes in its PRE_COMMIT_* variables (it keeps git's stdin).

    The framework names only the first ref being pushed: its local sha
    (``PRE_COMMIT_TO_REF``) and the last commit the remote has (``PRE_COMMIT_FROM_REF``,
    absent for a new history).
    """
    to_ref = env.get("PRE_COMMIT_TO_REF", "")
    local_ref = env.get("PRE_COMMIT_LOCAL_BRANCH", "")
    if not to_ref and not local_ref:
        return []
    zero = "0" * 40
    return [
        RefUpdate(
            local_ref or "HEAD",
            to_ref or local_ref,  # a ref name when the framework gave no sha; resolved by the caller
            env.get("PRE_COMMIT_REMOTE_BRANCH", ""),
            env.get("PRE_COMMIT_FROM_REF") or zero,
        )
    ]


def pushed_commits(ws: Workspace, updates: Sequence[RefUpdate], remote: str | None) -> list[str]:
    """The commits these updates send: reachable from a local sha, not from anything the remote has."""
    repo = ws.repo
    include: list[str] = []
    exclude: set[str] = set(repo.remote_tracking_commits(remote)) if remote else set()
    for update in updates:
        if update.is_delete:
            continue
        local = update.local_sha if _SHA_RE.fullmatch(update.local_sha) else repo.resolve(update.local_sha)
        commit = repo.peel_commit(local)
        if commit is not None:  # a tag of a tree or a blob carries no run
            include.append(commit)
        if not update.is_new:
            known = repo.peel_commit(update.remote_sha)  # None: pushed from elsewhere, not fetched
            if known is not None:
                exclude.add(known)
    return repo.commits_between(sorted(set(include)), sorted(exclude))


@dataclass(frozen=True)
class PrePushResult:
    commits: int
    #: Artifact entries the pushed commits' runs record (0: nothing to upload).
    entries: int = 0
    remote: str | None = None
    transferred: int = 0
    transferred_bytes: int = 0
    up_to_date: int = 0


def pre_push(
    ws: Workspace, updates: Sequence[RefUpdate], remote: str | None, *, jobs: int | None = None
) -> PrePushResult:
    """Upload what the pushed commits reference to the default gitml remote; raise to stop the push."""
    from gitml.artifacts.context import remote_spec
    from gitml.artifacts.refs import commit_entries
    from gitml.artifacts.transfer import push

    commits = pushed_commits(ws, updates, remote)
    entries = commit_entries(ws, commits) if commits else []
    if not entries:
        return PrePushResult(len(commits))
    try:
        remote_spec(ws)
    except RemoteNotFoundError as exc:
        raise RemoteNotFoundError(
            f"the pushed commits reference {len(entries)} artifact(s), and {exc.message}",
            hint="add where the bytes go: gitml remote add storage URL --default, then push again; "
            + SKIP_HINT,
        ) from exc
    try:
        result = push(ws, entries=entries, jobs=jobs)
    except GitMLError as exc:
        exc.message = f"cannot upload the artifacts of the pushed commits: {exc.message}"
        exc.hint = f"{exc.hint}; {SKIP_HINT}" if exc.hint else f"git push stopped; {SKIP_HINT}"
        raise
    if result.failures:
        first: GitMLError = result.failures[0].error
        first.message = (
            f"{len(result.failures)} artifact object(s) of the pushed commits failed to upload to "
            f"{result.remote}: {first.message}"
        )
        first.hint = f"git push stopped: fix the remote and push again; {SKIP_HINT}"
        raise first
    if result.missing:
        raise ObjectMissingError(
            f"{len(result.missing)} artifact object(s) of the pushed commits are in neither the cache "
            f"nor {result.remote} (first: {result.missing[0][:12]})",
            hint=f"push them from the clone that logged them (gitml push), or fetch them here; {SKIP_HINT}",
        )
    return PrePushResult(
        len(commits),
        len(entries),
        result.remote,
        result.transferred,
        result.transferred_bytes,
        result.up_to_date,
    )
