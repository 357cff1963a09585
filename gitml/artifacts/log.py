"""Logging artifacts to a run: files and directories into the cache, then one locked update of artifacts.yaml.

MLflow's semantics: ``log_artifact(path, artifact_path)`` puts the file at
``<artifact_path>/<file name>``; ``log_artifacts(dir, artifact_path)`` puts the
directory's contents under ``artifact_path`` (its top level when None). The
in-memory forms (text, dict, figure, image) are serialised and stored the same way.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import Any

from gitml._types import StrPath
from gitml.artifacts.cache import Cache
from gitml.artifacts.context import open_cache
from gitml.artifacts.record import ArtifactEntry, update_entries
from gitml.exceptions import InvalidNameError, InvalidValueError
from gitml.paths import check_relpath, check_source
from gitml.workspace import Workspace

__all__ = [
    "log_artifact",
    "log_artifacts",
    "log_bytes",
    "log_dict",
    "log_figure",
    "log_image",
    "log_paths",
    "log_text",
]


def _join(artifact_path: str | None, name: str) -> str:
    path = f"{artifact_path.rstrip('/')}/{name}" if artifact_path else name
    return str(check_relpath(path, what="artifact path"))


def _entry(cache: Cache, source: Path, path: str, *, ws: Workspace, output: bool = False) -> ArtifactEntry:
    resolved = check_source(source, repo_root=ws.root)
    if resolved.is_dir():
        manifest, oid = cache.add_tree(resolved, repo_root=ws.root)
        return ArtifactEntry(path, oid, manifest.size, True, len(manifest.files), output)
    if not resolved.exists():
        raise InvalidNameError(f"no such file or directory: {os.fspath(source)}")
    oid, size = cache.add_file(resolved)
    return ArtifactEntry(path, oid, size, False, None, output)


def log_paths(
    ws: Workspace, run_dir: Path, items: Sequence[tuple[StrPath, str]], *, output: bool = False
) -> list[ArtifactEntry]:
    """Add (local path, artifact path) pairs to the run; returns the new entries."""
    cache = open_cache(ws)
    entries = [
        _entry(cache, Path(src), str(check_relpath(dst, what="artifact path")), ws=ws, output=output)
        for src, dst in items
    ]
    update_entries(run_dir, entries, fsync=ws.config.run.fsync)
    return entries


def log_artifact(ws: Workspace, run_dir: Path, local_path: StrPath, artifact_path: str | None = None) -> None:
    source = Path(local_path)
    if source.is_dir():
        raise InvalidValueError(f"{local_path} is a directory", hint="use log_artifacts for a directory")
    log_paths(ws, run_dir, [(source, _join(artifact_path, source.name))])


def log_artifacts(ws: Workspace, run_dir: Path, local_dir: StrPath, artifact_path: str | None = None) -> None:
    source = Path(local_dir)
    if not source.is_dir():
        raise InvalidValueError(f"{local_dir} is not a directory", hint="use log_artifact for a file")
    if artifact_path:
        dest = str(check_relpath(artifact_path.rstrip("/"), what="artifact path"))
        log_paths(ws, run_dir, [(source, dest)])
        return
    check_source(source, repo_root=ws.root)
    children = sorted(os.scandir(source), key=lambda e: e.name)
    log_paths(ws, run_dir, [(Path(c.path), _join(None, c.name)) for c in children])


def log_bytes(ws: Workspace, run_dir: Path, data: bytes, artifact_file: str) -> None:
    path = str(check_relpath(artifact_file, what="artifact file"))
    oid, size = open_cache(ws).add_bytes(data)
    update_entries(run_dir, [ArtifactEntry(path, oid, size)], fsync=ws.config.run.fsync)


def log_text(ws: Workspace, run_dir: Path, text: str, artifact_file: str) -> None:
    if not isinstance(text, str):
        raise InvalidValueError(f"log_text takes a str, not {type(text).__name__}")
    log_bytes(ws, run_dir, text.encode("utf-8"), artifact_file)


def log_dict(
    ws: Workspace, run_dir: Path, dictionary: Mapping[str, Any] | list[Any], artifact_file: str
) -> None:
    """JSON, or YAML when the file name ends in .yaml/.yml."""
    suffix = PurePosixPath(artifact_file).suffix.lower()
    import yaml

    try:
        if suffix in (".yaml", ".yml"):
            text = yaml.safe_dump(dictionary, sort_keys=False, allow_unicode=True)
        else:
            text = json.dumps(dictionary, indent=2, ensure_ascii=False) + "\n"
    except (TypeError, ValueError, yaml.YAMLError) as exc:
        raise InvalidValueError(f"log_dict: cannot serialise the value: {exc}") from exc
    log_bytes(ws, run_dir, text.encode("utf-8"), artifact_file)


def log_figure(ws: Workspace, run_dir: Path, figure: Any, artifact_file: str) -> None:
    """A matplotlib figure, saved in the format the file name says (png, svg, pdf...)."""
    suffix = PurePosixPath(artifact_file).suffix.lstrip(".").lower() or "png"
    savefig = getattr(figure, "savefig", None)
    if savefig is None:
        raise InvalidValueError(f"log_figure takes a matplotlib figure, not {type(figure).__name__}")
    buf = io.BytesIO()
    try:
        savefig(buf, format=suffix)
    except ValueError as exc:
        raise InvalidValueError(f"log_figure: {exc}") from exc
    log_bytes(ws, run_dir, buf.getvalue(), artifact_file)


def log_image(ws: Workspace, run_dir: Path, image: Any, artifact_file: str) -> None:
    """A numpy array (HxW, HxWx3, HxWx4; uint8, or floats in [0, 1]) or a PIL image, saved by extension."""
    try:
        from PIL import Image
    except ImportError as exc:
        raise InvalidValueError("log_image needs Pillow", hint="pip install pillow") from exc
    if not isinstance(image, Image.Image):
        image = Image.fromarray(_to_uint8(image))
    suffix = PurePosixPath(artifact_file).suffix.lstrip(".").lower() or "png"
    buf = io.BytesIO()
    try:
        image.save(buf, format={"jpg": "jpeg"}.get(suffix, suffix))
    except (KeyError, ValueError, OSError) as exc:
        raise InvalidValueError(f"log_image: cannot save as {suffix!r}: {exc}") from exc
    log_bytes(ws, run_dir, buf.getvalue(), artifact_file)


def _to_uint8(array: Any) -> Any:
    import numpy as np

    arr = np.asarray(array)
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] not in (1, 3, 4)):
        raise InvalidValueError(f"log_image: expected HxW, HxWx3 or HxWx4, got shape {arr.shape}")
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    if arr.dtype == np.uint8:
        return arr
    if np.issubdtype(arr.dtype, np.floating):
        if np.isnan(arr).any() or arr.min() < 0 or arr.max() > 1:
            raise InvalidValueError("log_image: float images must hold values in [0, 1]")
        return (arr * 255).round().astype(np.uint8)
    if np.issubdtype(arr.dtype, np.integer):
        if arr.min() < 0 or arr.max() > 255:
            raise InvalidValueError("log_image: integer images must hold values in [0, 255]")
        return arr.astype(np.uint8)
    raise InvalidValueError(f"log_image: unsupported dtype {arr.dtype}")
