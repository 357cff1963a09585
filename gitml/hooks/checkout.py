"""post-checkout and post-merge: which runs now in the work tree lack artifacts in the cache.

Answered from the work tree's ``artifacts.yaml`` files and the cache alone (no
network, no git walk), so a checkout where nothing is missing pays a few stats.
With ``hooks.pull: true`` the missing objects are fetched and the runs' outputs
restored, as ``gitml pull`` would for those runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gitml.workspace import Workspace

__all__ = ["CheckoutReport", "after_checkout"]


@dataclass
class CheckoutReport:
    #: Runs in the work tree with objects missing from the cache (before any pull).
    runs: list[str] = field(default_factory=list)
    missing: int = 0
    #: Whether a pull was attempted (hooks.pull: true and something was missing).
    pulled: bool = False
    remote: str | None = None
    transferred: int = 0
    transferred_bytes: int = 0
    restored: list[str] = field(default_factory=list)
    #: Objects the pull could not bring (missing everywhere, or failed), with the first reason.
    still_missing: int = 0
    failure: str | None = None


def after_checkout(ws: Workspace) -> CheckoutReport:
    """Report the runs whose artifacts are missing from the cache; pull them if the config says so."""
    from gitml.artifacts.refs import worktree_runs
    from gitml.artifacts.transfer import fetch, restore_outputs, status

    report = CheckoutReport()
    if not ws.runs_dir.is_dir():
        return report
    state = status(ws, local_only=True)
    report.runs = [r.run_id for r in state.runs if r.missing_local]
    report.missing = len(state.missing_local)
    if not report.runs or not ws.config.hooks.pull:
        return report
    report.pulled = True
    result = fetch(ws, run_ids=report.runs)
    restore_outputs(ws, worktree_runs(ws, report.runs), result=result)
    report.remote = result.remote or None
    report.transferred = result.transferred
    report.transferred_bytes = result.transferred_bytes
    report.restored = list(result.restored)
    report.still_missing = len(result.missing) + len(result.failures)
    if result.failures:
        report.failure = result.failures[0].error.message
    elif result.missing:
        report.failure = f"not on {result.remote or 'the remote'} (first: {result.missing[0][:12]})"
    return report
