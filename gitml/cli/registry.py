"""Registry commands: register, promote, demote, deprecate, models list/show/history/resolve, check-ref."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import click

__all__ = ["check_ref", "demote", "deprecate", "models", "promote", "register", "warn"]


def _json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, sort_keys=False, default=str))


def warn(warnings: Iterable[str]) -> None:
    for w in warnings:
        click.echo(f"Warning: {w}", err=True)


_push = click.option(
    "--push", is_flag=True, help="Push the new tag to origin (and, when registering, the bytes to storage)."
)
_message = click.option(
    "--message", "-m", "description", metavar="TEXT", help="A description kept in the tag."
)


def _done(result: Any, verb: str) -> None:
    if result.tag is None:
        click.echo(f"Nothing to do: {result.name} {result.version} {result.note}")
        return
    where = f", pushed to {result.pushed_to}" if result.pushed_to else ""
    click.echo(f"{verb} {result.name} {result.version}: tag {result.tag} on {result.commit[:12]}{where}")


@click.command()
@click.argument("name")
@click.argument("run", metavar="RUN-ID|runs:/ID/PATH")
@click.option(
    "--path", metavar="PATH", help="The artifact that is the model (default: 'model', or the only one)."
)
@click.option(
    "--version", "version", metavar="vN|vX.Y.Z", help="The version to register (default: the next one)."
)
@_message
@_push
@click.pass_obj
def register(
    repo: str | None,
    name: str,
    run: str,
    path: str | None,
    version: str | None,
    description: str | None,
    push: bool,
) -> None:
    """Register a committed run's artifact as a new version: tag NAME@vN."""
    from gitml import api

    result = api.register_model(
        name, run, repo=repo, path=path, version=version, description=description, push=push
    )
    _done(result, "Registered")


@click.command()
@click.argument("name")
@click.argument("version", metavar="VERSION")
@click.argument("stage")
@click.option("--force", "-f", is_flag=True, help="Promote a deprecated version, or re-promote the holder.")
@_message
@_push
@click.pass_obj
def promote(
    repo: str | None, name: str, version: str, stage: str, force: bool, description: str | None, push: bool
) -> None:
    """Give STAGE (production, staging, champion...) to a version: tag NAME#STAGE#N."""
    from gitml import api

    result = api.promote_model(
        name, version, stage, repo=repo, force=force, description=description, push=push
    )
    _done(result, f"Promoted to {stage}:")


@click.command()
@click.argument("name")
@click.argument("stage")
@_message
@_push
@click.pass_obj
def demote(repo: str | None, name: str, stage: str, description: str | None, push: bool) -> None:
    """Take STAGE away from the version holding it: tag NAME#STAGE!#N."""
    from gitml import api

    result = api.demote_model(name, stage, repo=repo, description=description, push=push)
    _done(result, f"Demoted from {stage}:")


@click.command()
@click.argument("name")
@click.argument("version", metavar="VERSION")
@click.option("--force", "-f", is_flag=True, help="Deprecate even while the version holds a stage.")
@_message
@_push
@click.pass_obj
def deprecate(
    repo: str | None, name: str, version: str, force: bool, description: str | None, push: bool
) -> None:
    """Mark a version as not to be used: tag NAME@vN!."""
    from gitml import api

    result = api.deprecate_model(name, version, repo=repo, force=force, description=description, push=push)
    _done(result, "Deprecated")


@click.group()
def models() -> None:
    """Read the model registry (the tags of this clone)."""


_as_json = click.option("--json", "as_json", is_flag=True, help="Print JSON.")


@models.command("list")
@_as_json
@click.pass_obj
def models_list(repo: str | None, as_json: bool) -> None:
    """Each model: latest version and who holds each stage."""
    from gitml import api

    items, warnings = api.list_models(repo=repo)
    warn(warnings)
    if as_json:
        _json([m.to_dict() for m in items])
        return
    if not items:
        click.echo("No registered models. Register one: gitml register NAME RUN-ID")
        return
    rows = [
        [
            m.name,
            str(m.latest) if m.latest else "-",
            str(m.versions),
            ", ".join(f"{s}={v}" for s, v in m.stages.items()) or "-",
        ]
        for m in items
    ]
    from gitml.cli.render import table

    click.echo(table(["name", "latest", "versions", "stages"], rows))


@models.command("show")
@click.argument("name")
@_as_json
@click.pass_obj
def models_show(repo: str | None, name: str, as_json: bool) -> None:
    """Versions, stages, each version's source run (params, final metrics) and artifact."""
    from gitml import api

    details = api.show_model(name, repo=repo)
    warn(details.warnings)
    if as_json:
        _json(details.to_dict())
        return
    held = ", ".join(f"{s}={h.version}" for s, h in details.stages.items() if h.version) or "none"
    click.echo(f"Model {name}: {len(details.versions)} version(s); stages: {held}\n")
    rows = []
    for v in reversed(details.versions):
        run = details.runs.get(str(v.version)) or {}
        metrics = run.get("metrics", {})
        shown = ", ".join(f"{k}={_short(x)}" for k, x in sorted(metrics.items())[:4])
        state = "deprecated" if v.deprecated else ",".join(v.stages)
        rows.append(
            [
                str(v.version),
                state,
                (v.run_id or "-")[:20],
                v.path or "-",
                _size(v.size),
                v.registered_by.split(" <")[0],
                _date(v.registered_at),
                shown,
            ]
        )
    from gitml.cli.render import table

    click.echo(table(["version", "stage", "run", "path", "size", "by", "registered", "metrics"], rows))


@models.command("history")
@click.argument("name")
@_as_json
@click.pass_obj
def models_history(repo: str | None, name: str, as_json: bool) -> None:
    """Every event of a model (registrations, promotions, demotions, deprecations), oldest first."""
    from gitml import api

    events, warnings = api.model_history(name, repo=repo)
    warn(warnings)
    if as_json:
        _json([e.to_dict() for e in events])
        return
    rows = [
        [e.at.replace("T", " ").rstrip("Z"), e.kind.value, str(e.version or "-"), e.stage or "-", e.by, e.tag]
        for e in events
    ]
    from gitml.cli.render import table

    click.echo(table(["when (utc)", "event", "version", "stage", "by", "tag"], rows))


@models.command("resolve")
@click.argument("uri", metavar="models:/NAME/(vN|STAGE|latest)")
@click.option(
    "--repo", "repo_url", metavar="GIT-URL", help="Resolve in this repository URL, without a clone."
)
@click.option("--offline", is_flag=True, help="Use only this clone's tags; do not ask the git remote.")
@_as_json
@click.pass_obj
def models_resolve(repo: str | None, uri: str, repo_url: str | None, offline: bool, as_json: bool) -> None:
    """Which version a models:/ URI names (and its tag, commit, run and artifact)."""
    from gitml import api

    res = api.resolve_model(uri, repo=repo, repo_url=repo_url, offline=offline)
    warn(res.warnings)
    if as_json:
        _json({**res.version.to_dict(), "source": res.source})
        return
    v = res.version
    click.echo(f"{uri} -> {v.name} {v.version} ({v.tag} on {v.commit[:12]}, run {v.run_id}, {v.path})")


@click.command("check-ref")
@click.argument("ref")
@_as_json
@click.pass_obj
def check_ref(repo: str | None, ref: str, as_json: bool) -> None:
    """For CI on a tag push: the event a tag stands for; exits 2 for a tag that is not gitml's."""
    from gitml import api

    event = api.check_ref(ref, repo=repo)
    if as_json:
        _json(event.to_dict())
        return
    parts = [f"event={event.kind.value}", f"name={event.name}"]
    if event.version:
        parts.append(f"version={event.version}")
    if event.stage:
        parts.append(f"stage={event.stage}")
    click.echo(" ".join(parts))


def _short(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _size(n: int | None) -> str:
    if n is None:
        return "-"
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return str(n)


def _date(stamp: int) -> str:
    from gitml.registry.events import utc_iso

    return utc_iso(stamp)[:10]
