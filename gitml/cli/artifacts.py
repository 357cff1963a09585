"""Artifact commands: push, pull, fetch, status, gc, verify, get, ls, and ``remote``."""

from __future__ import annotations

from typing import Any

import click

__all__ = ["fetch", "gc", "get", "ls", "pull", "push", "remote", "status", "verify"]

_jobs = click.option(
    "--jobs", "-j", type=click.IntRange(1, 256), help="Parallel transfers (default: 8 local, 16 S3)."
)
_remote = click.option("--remote", "-r", metavar="NAME", help="Remote to use (default: the default remote).")


def echo_json(value: Any) -> None:
    import json

    click.echo(json.dumps(value, indent=2, ensure_ascii=False, default=str))


def _mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 1e5 else f"{n / 1e3:.1f} kB"


def _finish(result: Any, verb: str) -> None:
    """Raise the transfer's first failure (or a missing-object error) so the exit code says it failed."""
    from gitml.exceptions import ObjectMissingError

    for failure in result.failures[:5]:
        click.echo(f"  failed {failure.oid[:12]}: {failure.error.message}", err=True)
    if result.failures:
        first = result.failures[0].error
        first.message = f"{len(result.failures)} object(s) failed to {verb}: {first.message}"
        raise first
    if result.missing:
        where = "the cache" if verb == "push" else (result.remote or "the remote")
        hint = (
            "they were logged in another clone: run gitml fetch/pull there first"
            if verb == "push"
            else "push them from the clone that logged them: gitml push"
        )
        raise ObjectMissingError(
            f"{len(result.missing)} object(s) are not in {where} (first: {result.missing[0][:12]})", hint=hint
        )


@click.command()
@_remote
@_jobs
@click.option(
    "--all-commits", is_flag=True, help="Also push what any commit of any branch or tag references."
)
@click.option(
    "--rescan", is_flag=True, help="Ask the remote what it has instead of trusting this clone's record."
)
@click.argument("runs", nargs=-1, metavar="[RUN]...")
@click.pass_obj
def push(
    repo: str | None,
    remote: str | None,
    jobs: int | None,
    all_commits: bool,
    rescan: bool,
    runs: tuple[str, ...],
) -> None:
    """Upload run artifacts the remote lacks (default: every run in the work tree)."""
    from gitml import api

    result = api.push(runs, repo=repo, remote=remote, all_commits=all_commits, jobs=jobs, rescan=rescan)
    if result.transferred:
        click.echo(
            f"Pushed {result.transferred} object(s), {_mb(result.transferred_bytes)}, to {result.remote}"
        )
    elif result.ok:  # with failures or missing objects, "up to date" would be false: _finish says why
        click.echo(f"Everything is up to date on {result.remote} ({result.up_to_date} object(s))")
    _finish(result, "push")


def _transfer_line(result: Any, verb: str) -> str | None:
    if result.transferred:
        return f"{verb} {result.transferred} object(s), {_mb(result.transferred_bytes)}" + (
            f" from {result.remote}" if result.remote else ""
        )
    if not result.ok:  # nothing came, and something is wrong: _finish says what
        return None
    return f"Cache is up to date ({result.up_to_date} object(s))"


@click.command()
@_remote
@_jobs
@click.option(
    "--all-commits", is_flag=True, help="Also fetch what any commit of any branch or tag references."
)
@click.argument("runs", nargs=-1, metavar="[RUN]...")
@click.pass_obj
def fetch(
    repo: str | None, remote: str | None, jobs: int | None, all_commits: bool, runs: tuple[str, ...]
) -> None:
    """Download run artifacts into the cache (default: every run in the work tree)."""
    from gitml import api

    result = api.fetch(runs, repo=repo, remote=remote, all_commits=all_commits, jobs=jobs)
    line = _transfer_line(result, "Fetched")
    if line:
        click.echo(line)
    _finish(result, "fetch")


@click.command()
@_remote
@_jobs
@click.option("--force", "-f", is_flag=True, help="Overwrite workspace outputs that already exist.")
@click.argument("runs", nargs=-1, metavar="[RUN]...")
@click.pass_obj
def pull(repo: str | None, remote: str | None, jobs: int | None, force: bool, runs: tuple[str, ...]) -> None:
    """Fetch, then restore missing workspace outputs recorded with `gitml run --artifact`."""
    from gitml import api

    result = api.pull(runs, repo=repo, remote=remote, jobs=jobs, force=force)
    line = _transfer_line(result, "Fetched")
    if line:
        click.echo(line)
    for path in result.restored:
        click.echo(f"  restored {path}")
    if result.kept:
        click.echo(
            f"  kept {len(result.kept)} existing output(s) (--force overwrites): {', '.join(result.kept[:5])}"
        )
    _finish(result, "pull")


@click.command()
@_remote
@_jobs
@click.option("--local", "local_only", is_flag=True, help="Only check the cache; do not look at the remote.")
@click.option("--rescan", is_flag=True, help="Ask the remote instead of trusting this clone's record.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.argument("runs", nargs=-1, metavar="[RUN]...")
@click.pass_obj
def status(
    repo: str | None,
    remote: str | None,
    jobs: int | None,
    local_only: bool,
    rescan: bool,
    as_json: bool,
    runs: tuple[str, ...],
) -> None:
    """Which run artifacts are missing from the cache and which are not pushed yet."""
    from gitml import api

    result = api.status(runs, repo=repo, remote=remote, jobs=jobs, rescan=rescan, local_only=local_only)
    if as_json:
        echo_json(
            {
                "remote": result.remote,
                "objects": result.objects,
                "bytes": result.bytes,
                "missing_local": result.missing_local,
                "not_pushed": result.not_pushed,
                "runs": [r.__dict__ for r in result.runs],
            }
        )
        return
    where = result.remote or ("not checked (--local)" if local_only else "no remote configured")
    click.echo(
        f"{result.objects} object(s), {_mb(result.bytes)}, referenced by {len(result.runs)} run(s); "
        f"remote: {where}"
    )
    if result.clean:
        click.echo("Everything is in the cache" + (" and on the remote" if result.remote else ""))
        return
    for run in result.runs:
        if run.missing_local or run.not_pushed:
            parts = []
            if run.missing_local:
                parts.append(f"{run.missing_local} missing from the cache")
            if run.not_pushed:
                parts.append(f"{run.not_pushed} not pushed")
            click.echo(f"  {run.run_id}: {', '.join(parts)}")
    if result.missing_local:
        click.echo(f"Missing from the cache: {len(result.missing_local)} (gitml fetch)")
    if result.not_pushed:
        click.echo(f"Not on the remote: {len(result.not_pushed)} (gitml push)")


@click.command()
@_remote
@click.option("--cloud", "-c", is_flag=True, help="Collect on the remote instead of the local cache.")
@click.option(
    "--grace",
    "grace_days",
    type=click.FloatRange(0),
    metavar="DAYS",
    help="Keep unreferenced objects younger than this (default: cache.gc_grace_days, 7).",
)
@click.option(
    "--all-commits",
    is_flag=True,
    help="Keep what any commit in history references, not only branch and tag tips.",
)
@click.option("--dry-run", "-n", is_flag=True, help="Only show what would be removed.")
@click.pass_obj
def gc(
    repo: str | None,
    remote: str | None,
    cloud: bool,
    grace_days: float | None,
    all_commits: bool,
    dry_run: bool,
) -> None:
    """Remove objects that no run in the work tree, on a branch or on a tag references."""
    from gitml import api

    result = api.gc(
        repo=repo, remote=remote, cloud=cloud, grace_days=grace_days, all_commits=all_commits, dry_run=dry_run
    )
    verb = "Would remove" if dry_run else "Removed"
    click.echo(
        f"{verb} {len(result.removed)} object(s), {_mb(result.removed_bytes)}, from {result.where}; "
        f"kept {result.kept} referenced and {result.kept_recent} recent"
    )


@click.command()
@_remote
@_jobs
@click.option("--cloud", "-c", is_flag=True, help="Verify the remote instead of the local cache.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def verify(repo: str | None, remote: str | None, jobs: int | None, cloud: bool, as_json: bool) -> None:
    """Re-hash every object in the cache (or the remote) and name the bad ones."""
    from gitml import api
    from gitml.exceptions import IntegrityError

    result = api.verify(repo=repo, remote=remote, cloud=cloud, jobs=jobs)
    if as_json:
        echo_json(
            {
                "where": result.where,
                "checked": result.checked,
                "bad": [{"hash": f"sha256:{o}", "reason": r} for o, r in result.bad],
            }
        )
    else:
        click.echo(f"Checked {result.checked} object(s), {_mb(result.checked_bytes)}, in {result.where}")
        for oid, reason in result.bad:
            click.echo(f"  BAD sha256:{oid}: {reason}")
    if result.bad:
        fix = (
            "the next gitml push uploads them again"
            if cloud
            else "they were removed; gitml fetch restores them"
        )
        raise IntegrityError(f"{len(result.bad)} corrupt object(s) in {result.where}", hint=fix)


@click.command()
@click.argument("uri")
@click.option("--out", "-o", metavar="PATH", help="Where to write (default: the artifact's name here).")
@click.option(
    "--rev",
    metavar="REV",
    help="runs:/ : read the run at this revision; models:/ : take the storage config from it.",
)
@click.option(
    "--repo",
    "repo_url",
    metavar="GIT-URL",
    help="Get a models:/ URI from this repository URL, with no clone.",
)
@click.option("--offline", is_flag=True, help="models:/ URIs: use only this clone's tags.")
@_remote
@_jobs
@click.pass_obj
def get(
    repo: str | None,
    uri: str,
    out: str | None,
    rev: str | None,
    repo_url: str | None,
    offline: bool,
    remote: str | None,
    jobs: int | None,
) -> None:
    """Download an artifact or a model version, verified.

    gitml get runs:/RUN-ID/PATH [-o OUT]; gitml get models:/NAME/(vN|STAGE|latest) [-o DIR] [--repo URL]
    """
    from gitml import api
    from gitml.exceptions import UsageError

    if uri.startswith("models:"):
        from gitml.cli.registry import warn

        got = api.get_model(
            uri, out=out, repo=repo, repo_url=repo_url, rev=rev, offline=offline, remote=remote, jobs=jobs
        )
        warn(got.warnings)
        v = got.version
        click.echo(
            f"Wrote {got.path} ({got.files} file(s), {_mb(got.bytes)}): {v.name} {v.version} "
            f"({v.tag}, run {v.run_id})"
        )
        return
    if repo_url is not None:
        raise UsageError(
            "--repo URL works with models:/ URIs", hint="clone the repository to get runs:/ URIs"
        )
    result = api.get(uri, repo=repo, out=out, rev=rev, remote=remote, jobs=jobs)
    click.echo(f"Wrote {result.path} ({result.files} file(s), {_mb(result.bytes)})")


@click.command()
@click.argument("uri")
@click.option("--recursive", "-R", is_flag=True, help="List files inside directories too.")
@click.option("--rev", metavar="REV", help="Read the run as it is at this git revision.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@_remote
@click.pass_obj
def ls(
    repo: str | None, uri: str, recursive: bool, rev: str | None, as_json: bool, remote: str | None
) -> None:
    """List a run's artifacts: gitml ls runs:/RUN-ID[/PATH]."""
    from gitml import api

    items = api.ls(uri, repo=repo, rev=rev, recursive=recursive, remote=remote)
    if as_json:
        echo_json([{"path": a.path, "is_dir": a.is_dir, "size": a.size, "hash": a.hash} for a in items])
        return
    for a in items:
        size = "" if a.size is None else str(a.size)
        click.echo(f"{size:>12}  {a.path}{'/' if a.is_dir else ''}")


@click.group()
def remote() -> None:
    """Manage object-storage remotes (where artifact bytes are pushed)."""


@remote.command("add")
@click.argument("name")
@click.argument("url")
@click.option("--default", "-d", "default", is_flag=True, help="Make it the default remote.")
@click.option("--endpoint-url", metavar="URL", help="S3-compatible endpoint (MinIO, Ceph, ...).")
@click.option(
    "--local", is_flag=True, help="Write to .gitml/config.local.yaml (this machine only, not committed)."
)
@click.option("--force", "-f", is_flag=True, help="Replace a remote of the same name.")
@click.pass_obj
def remote_add(
    repo: str | None, name: str, url: str, default: bool, endpoint_url: str | None, local: bool, force: bool
) -> None:
    """Add a remote: a folder (/path, file:///path), s3://bucket/prefix, or any fsspec URL."""
    from gitml import api

    info = api.remote_add(
        name, url, repo=repo, default=default, endpoint_url=endpoint_url, local=local, force=force
    )
    click.echo(f"Added remote {info.name}: {info.url}" + (" (default)" if info.default else ""))


@remote.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def remote_list(repo: str | None, as_json: bool) -> None:
    """List the configured remotes."""
    from gitml import api

    infos = api.remote_list(repo=repo)
    if as_json:
        echo_json([i.__dict__ for i in infos])
        return
    for i in infos:
        extra = [
            x
            for x in (
                "default" if i.default else "",
                "local" if i.local else "",
                f"endpoint {i.endpoint_url}" if i.endpoint_url else "",
            )
            if x
        ]
        click.echo(f"{i.name}\t{i.url}" + (f"\t({', '.join(extra)})" if extra else ""))


@remote.command("remove")
@click.argument("name")
@click.pass_obj
def remote_remove(repo: str | None, name: str) -> None:
    """Remove a remote from the configuration (its objects stay where they are)."""
    from gitml import api

    api.remote_remove(name, repo=repo)
    click.echo(f"Removed remote {name}")
