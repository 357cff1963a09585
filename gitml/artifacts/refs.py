"""Which objects are referenced: by runs in the work tree, at a revision, or by every branch and tag.

An artifact entry references its object; a directory entry references its
manifest and, through it, every file the manifest lists. Expanding directories
needs their manifests, read from the cache (or fetched by the caller).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from gitml.artifacts.manifest import Manifest
from gitml.artifacts.record import FILE_NAME, ArtifactEntry, parse_entries
from gitml.runid import is_run_id
from gitml.workspace import Workspace

__all__ = ["Objects", "RunArtifacts", "commit_entries", "expand", "history_entries", "worktree_runs"]


@dataclass(frozen=True)
class RunArtifacts:
    run_id: str
    entries: dict[str, ArtifactEntry]


def worktree_runs(ws: Workspace, run_ids: Sequence[str] | None = None) -> list[RunArtifacts]:
    """Artifacts recorded by runs in the work tree (all runs, or these), oldest run first."""
    if run_ids is None:
        try:
            names = sorted(e.name for e in os.scandir(ws.runs_dir) if is_run_id(e.name))
        except FileNotFoundError:
            names = []
    else:
        names = list(run_ids)
    out = []
    for run_id in names:
        path = ws.run_dir(run_id) / FILE_NAME
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            continue
        out.append(RunArtifacts(run_id, parse_entries(data, where=ws.relpath(path))))
    return out


def history_entries(ws: Workspace, *, all_commits: bool = False) -> list[ArtifactEntry]:
    """Entries of every run that any branch or tag (or, with ``all_commits``, any commit) holds."""
    repo = ws.repo
    tips = sorted(set(repo.ref_commits().values()))
    return commit_entries(ws, repo.history(tips) if all_commits else tips)


def commit_entries(ws: Workspace, commits: Iterable[str]) -> list[ArtifactEntry]:
    """Entries of every run that these commits hold (each distinct artifacts.yaml read once)."""
    repo = ws.repo
    seen_trees: set[str] = set()
    seen_blobs: set[str] = set()
    out: list[ArtifactEntry] = []
    for commit in commits:
        for run_id, blob in repo.blobs_named(commit, ".gitml/runs", FILE_NAME, seen_trees=seen_trees):
            if blob in seen_blobs:
                continue
            seen_blobs.add(blob)
            where = f"{commit[:12]}:.gitml/runs/{run_id}/{FILE_NAME}"
            out.extend(parse_entries(repo.read_blob(blob), where=where).values())
    return out


@dataclass
class Objects:
    """The objects behind some entries: files (oid -> size) and manifests (oid -> (size, files))."""

    files: dict[str, int] = field(default_factory=dict)
    manifests: dict[str, int] = field(default_factory=dict)
    #: Manifest oid -> the oids it lists (so a manifest can wait for its files).
    children: dict[str, list[str]] = field(default_factory=dict)
    #: Manifests that could not be read (not in the cache, not fetchable).
    unreadable: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> dict[str, int]:
        return {**self.files, **self.manifests}


def expand(entries: Iterable[ArtifactEntry], read_manifest: Callable[[str, int], Manifest | None]) -> Objects:
    """The objects of ``entries``, reading each directory's manifest once through ``read_manifest``."""
    objs = Objects()
    for entry in entries:
        if not entry.is_dir:
            objs.files[entry.oid] = entry.size
            continue
        if entry.oid in objs.manifests or entry.oid in objs.unreadable:
            continue
        manifest = read_manifest(entry.oid, entry.size)
        if manifest is None:
            objs.unreadable[entry.oid] = entry.size
            continue
        objs.manifests[entry.oid] = len(manifest.dumps())
        objs.children[entry.oid] = [f.oid for f in manifest.files]
        for f in manifest.files:
            objs.files[f.oid] = f.size
    return objs
