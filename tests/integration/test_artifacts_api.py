"""The artifact Python API in real repositories: ``gitml.log_*`` inside runs, and
``gitml.artifacts.download`` / ``list`` reading them back (in a fresh clone, through a remote).

What is asserted is what a user sees: the run's artifacts.yaml, the bytes in the cache and at
the destination, and the errors raised.
"""

from __future__ import annotations

import io
import json
import os
import stat
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

import gitml
import gitml.artifacts
from gitml.exceptions import (
    ArtifactNotFoundError,
    InvalidNameError,
    InvalidValueError,
    NoActiveRunError,
    UsageError,
)
from tests.artifact_helpers import artifacts_yaml, cache_path, make_tree, sha, tree
from tests.conftest import git, run_gitml
from tests.integration.conftest import RemoteStore


def read_back(uri: str, dst: Path) -> bytes:
    """The bytes of one file artifact, as ``gitml.artifacts.download`` writes them."""
    path = gitml.artifacts.download(uri, dst)
    assert path == dst
    return dst.read_bytes()


DATA = {"a.txt": b"alpha\n", "b.csv": b"x,y\n1,2\n", "sub/c.bin": bytes(range(256)), "sub/deep/d.txt": b"d"}


# -- logging ----------------------------------------------------------------------------------------


def test_log_artifact_stores_the_file_read_only_and_leaves_the_source_alone(repo: Path) -> None:
    src = repo / "model.bin"
    payload = os.urandom(3000)
    src.write_bytes(payload)
    os.chmod(src, 0o640)
    before = os.stat(src)
    with gitml.start_run() as run:
        gitml.log_artifact(src)
    after = os.stat(src)
    oid = sha(payload)
    assert artifacts_yaml(repo, run.run_id) == {"model.bin": {"hash": f"sha256:{oid}", "size": 3000}}
    cached = cache_path(repo, oid)
    assert cached.read_bytes() == payload
    assert stat.S_IMODE(cached.stat().st_mode) & 0o222 == 0, "cache objects are read-only"
    # The source is untouched: same bytes, same inode, permissions and mtime; not replaced by a link.
    assert src.read_bytes() == payload
    assert not src.is_symlink()
    assert (after.st_ino, after.st_mode, after.st_mtime_ns) == (
        before.st_ino,
        before.st_mode,
        before.st_mtime_ns,
    )
    assert after.st_nlink == 1
    # Writing to the source afterwards cannot reach the cache.
    src.write_bytes(b"edited")
    assert cached.read_bytes() == payload


def test_log_artifact_path_semantics_match_mlflow(repo: Path, tmp_path: Path) -> None:
    (repo / "weights.pt").write_bytes(b"w1")
    nested = repo / "out" / "metrics.json"
    nested.parent.mkdir()
    nested.write_bytes(b"{}")
    with gitml.start_run() as run:
        gitml.log_artifact("weights.pt")  # -> weights.pt (relative to the cwd)
        gitml.log_artifact("weights.pt", "models/best")  # -> models/best/weights.pt
        gitml.log_artifact(str(repo / "weights.pt"), "ckpt/")  # trailing slash: same as "ckpt"
        gitml.log_artifact(nested)  # only the file name is kept, not its directory
    entries = artifacts_yaml(repo, run.run_id)
    assert sorted(entries) == ["ckpt/weights.pt", "metrics.json", "models/best/weights.pt", "weights.pt"]
    assert {e["hash"] for p, e in entries.items() if p.endswith("weights.pt")} == {f"sha256:{sha(b'w1')}"}
    listed = gitml.artifacts.list(f"runs:/{run.run_id}")
    assert [(a.path, a.is_dir, a.size) for a in listed] == [
        ("ckpt", True, 2),
        ("metrics.json", False, 2),
        ("models", True, 2),
        ("weights.pt", False, 2),
    ]
    assert read_back(f"runs:/{run.run_id}/models/best/weights.pt", tmp_path / "w.pt") == b"w1"


def test_logging_the_same_path_again_replaces_it(repo: Path, tmp_path: Path) -> None:
    src = repo / "notes.txt"
    src.write_text("v1")
    with gitml.start_run() as run:
        gitml.log_artifact(src)
        src.write_text("version 2")
        gitml.log_artifact(src)
    assert artifacts_yaml(repo, run.run_id) == {
        "notes.txt": {"hash": f"sha256:{sha(b'version 2')}", "size": 9}
    }
    assert read_back(f"runs:/{run.run_id}/notes.txt", tmp_path / "n.txt") == b"version 2"


def test_log_artifacts_directory_under_an_artifact_path_and_at_the_root(repo: Path, tmp_path: Path) -> None:
    src = make_tree(repo / "results", DATA)
    with gitml.start_run() as run:
        gitml.log_artifacts(src, "data")  # the directory's contents under data/
    with gitml.start_run() as run2:
        gitml.log_artifacts(src)  # MLflow: the contents at the root of the run's artifacts
    entries = artifacts_yaml(repo, run.run_id)
    total = sum(len(v) for v in DATA.values())
    assert entries == {"data": {"hash": entries["data"]["hash"], "size": total, "files": 4, "type": "dir"}}
    # The directory is one manifest object in the cache, listing every file by hash.
    manifest = cache_path(repo, entries["data"]["hash"].removeprefix("sha256:")).read_text()
    lines = manifest.splitlines()
    assert lines[0] == "gitml-manifest 1 sha256"
    assert lines[1:] == [f"{sha(data)} {len(data)} {rel}" for rel, data in sorted(DATA.items())]
    for data in DATA.values():
        assert cache_path(repo, sha(data)).read_bytes() == data

    root_entries = artifacts_yaml(repo, run2.run_id)
    assert sorted(root_entries) == ["a.txt", "b.csv", "sub"]
    assert root_entries["sub"]["type"] == "dir"
    assert root_entries["sub"]["files"] == 2
    assert root_entries["a.txt"] == {"hash": f"sha256:{sha(b'alpha' + bytes([10]))}", "size": 6}

    # Read back: the whole directory, a sub-directory, and one file inside it.
    out = gitml.artifacts.download(f"runs:/{run.run_id}/data", tmp_path / "all")
    assert tree(out) == DATA
    sub = gitml.artifacts.download(f"runs:/{run.run_id}/data/sub", tmp_path / "sub")
    assert tree(sub) == {"c.bin": DATA["sub/c.bin"], "deep/d.txt": b"d"}
    assert read_back(f"runs:/{run.run_id}/data/sub/deep/d.txt", tmp_path / "d.txt") == b"d"
    assert tree(gitml.artifacts.download(f"runs:/{run2.run_id}", tmp_path / "run2")) == DATA
    # The source directory is untouched.
    assert tree(src) == DATA


def test_log_text_and_log_dict_json_and_yaml(repo: Path, tmp_path: Path) -> None:
    config = {"lr": 0.01, "layers": [64, 32], "name": "résumé", "nested": {"a": True, "b": None}}
    with gitml.start_run() as run:
        gitml.log_text("line one\nligne deux ✓\n", "notes/readme.txt")
        gitml.log_dict(config, "config.json")
        gitml.log_dict(config, "config/train.yaml")
        gitml.log_dict([1, 2, 3], "list.yml")
        gitml.log_dict(config, "no_extension")  # anything but .yaml/.yml is JSON, as MLflow
    uri = f"runs:/{run.run_id}"
    entries = artifacts_yaml(repo, run.run_id)
    assert sorted(entries) == [
        "config.json",
        "config/train.yaml",
        "list.yml",
        "no_extension",
        "notes/readme.txt",
    ]
    text = read_back(f"{uri}/notes/readme.txt", tmp_path / "t.txt")
    assert text.decode("utf-8") == "line one\nligne deux ✓\n"
    assert entries["notes/readme.txt"]["size"] == len(text)
    as_json = read_back(f"{uri}/config.json", tmp_path / "c.json")
    assert json.loads(as_json) == config
    assert as_json.startswith(b"{\n")  # JSON, not YAML
    as_yaml = read_back(f"{uri}/config/train.yaml", tmp_path / "c.yaml")
    assert yaml.safe_load(as_yaml) == config
    assert not as_yaml.lstrip().startswith(b"{")  # YAML block style, not JSON
    assert "résumé" in as_yaml.decode("utf-8")
    assert yaml.safe_load(read_back(f"{uri}/list.yml", tmp_path / "l.yml")) == [1, 2, 3]
    assert json.loads(read_back(f"{uri}/no_extension", tmp_path / "ne")) == config


def test_log_dict_and_log_text_refuse_what_they_cannot_store(repo: Path) -> None:
    with gitml.start_run() as run:
        with pytest.raises(InvalidValueError):
            gitml.log_dict({"f": object()}, "bad.json")
        with pytest.raises(InvalidValueError):
            gitml.log_text(b"bytes", "t.txt")  # type: ignore[arg-type]
    assert not (repo / ".gitml" / "runs" / run.run_id / "artifacts.yaml").exists()


def test_log_figure_png_and_svg(repo: Path, tmp_path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(2, 1.5), dpi=50)
    ax = fig.subplots()
    ax.plot([0, 1, 2], [1, 0, 1])
    with gitml.start_run() as run:
        gitml.log_figure(fig, "plots/curve.png")
        gitml.log_figure(fig, "plots/curve.svg")
    png = read_back(f"runs:/{run.run_id}/plots/curve.png", tmp_path / "c.png")
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    with Image.open(io.BytesIO(png)) as img:
        assert img.size == (100, 75)
    svg = read_back(f"runs:/{run.run_id}/plots/curve.svg", tmp_path / "c.svg")
    assert b"<svg" in svg
    entries = artifacts_yaml(repo, run.run_id)
    assert entries["plots/curve.png"] == {"hash": f"sha256:{sha(png)}", "size": len(png)}
    assert entries["plots/curve.svg"] == {"hash": f"sha256:{sha(svg)}", "size": len(svg)}
    with gitml.start_run(), pytest.raises(InvalidValueError):
        gitml.log_figure("not a figure", "x.png")


def decode_png(data: bytes) -> np.ndarray:
    assert data.startswith(b"\x89PNG")
    with Image.open(io.BytesIO(data)) as img:
        return np.asarray(img)


def test_log_image_arrays_and_pil(repo: Path, tmp_path: Path) -> None:
    rgb = np.arange(4 * 5 * 3, dtype=np.uint8).reshape(4, 5, 3)
    gray = np.linspace(0.0, 1.0, 12).reshape(3, 4)
    pil = Image.new("RGBA", (3, 2), (10, 20, 30, 255))
    with gitml.start_run() as run:
        gitml.log_image(rgb, "img/rgb.png")
        gitml.log_image(gray, "img/gray.png")
        gitml.log_image(pil, "img/pil.png")
    uri = f"runs:/{run.run_id}"
    np.testing.assert_array_equal(decode_png(read_back(f"{uri}/img/rgb.png", tmp_path / "1.png")), rgb)
    got_gray = decode_png(read_back(f"{uri}/img/gray.png", tmp_path / "2.png"))
    np.testing.assert_array_equal(got_gray, (gray * 255).round().astype(np.uint8))
    assert got_gray[0, 0] == 0 and got_gray[-1, -1] == 255
    got_pil = decode_png(read_back(f"{uri}/img/pil.png", tmp_path / "3.png"))
    assert got_pil.shape == (2, 3, 4)
    assert (got_pil == np.array([10, 20, 30, 255], dtype=np.uint8)).all()
    assert [a.path for a in gitml.artifacts.list(f"{uri}/img")] == [
        "img/gray.png",
        "img/pil.png",
        "img/rgb.png",
    ]


@pytest.mark.parametrize(
    "bad",
    [
        np.zeros((4, 4, 2), dtype=np.uint8),  # two channels
        np.zeros(10, dtype=np.uint8),  # 1-D
        np.zeros((2, 2, 2, 3), dtype=np.uint8),  # 4-D
        np.full((2, 2), 1.5),  # floats outside [0, 1]
        np.full((2, 2), -3, dtype=np.int64),  # integers outside [0, 255]
    ],
    ids=["two-channels", "1d", "4d", "float-range", "int-range"],
)
def test_log_image_refuses_bad_arrays(repo: Path, bad: np.ndarray) -> None:
    with gitml.start_run() as run, pytest.raises(InvalidValueError):
        gitml.log_image(bad, "bad.png")
    assert not (repo / ".gitml" / "runs" / run.run_id / "artifacts.yaml").exists()


def test_logging_to_an_ended_run_raises_no_active_run(repo: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    (repo / "f.txt").write_text("f")
    (repo / "d").mkdir()
    (repo / "d" / "x").write_text("x")
    with gitml.start_run() as run:
        run.log_artifact(repo / "f.txt")
    calls = [
        lambda: run.log_artifact(repo / "f.txt"),
        lambda: run.log_artifacts(repo / "d"),
        lambda: run.log_text("t", "t.txt"),
        lambda: run.log_dict({"a": 1}, "a.json"),
        lambda: run.log_figure(Figure(), "f.png"),
        lambda: run.log_image(np.zeros((2, 2), dtype=np.uint8), "i.png"),
    ]
    for call in calls:
        with pytest.raises(NoActiveRunError, match="has ended"):
            call()
    assert sorted(artifacts_yaml(repo, run.run_id)) == ["f.txt"]


def test_bad_sources_and_paths_are_refused(repo: Path, tmp_path: Path) -> None:
    (repo / "f.txt").write_text("f")
    make_tree(repo / "d", {"x": b"x"})
    outside = tmp_path / "outside.txt"
    outside.write_text("secret")
    with gitml.start_run() as run:
        with pytest.raises(InvalidValueError, match="is a directory"):
            gitml.log_artifact(repo / "d")
        with pytest.raises(InvalidValueError, match="not a directory"):
            gitml.log_artifacts(repo / "f.txt")
        with pytest.raises(UsageError):
            gitml.log_artifact(repo / "missing.txt")
        with pytest.raises(InvalidNameError):
            gitml.log_artifact(repo / "f.txt", "../escape")
        with pytest.raises(InvalidNameError):
            gitml.log_text("x", "/abs/path.txt")
        gitml.log_artifacts(repo / "d", "data")
        with pytest.raises(InvalidValueError, match="inside artifact"):
            gitml.log_artifact(repo / "f.txt", "data")  # data/f.txt would be inside the directory entry
    assert sorted(artifacts_yaml(repo, run.run_id)) == ["data"]
    with pytest.raises(ArtifactNotFoundError):
        gitml.artifacts.download(f"runs:/{run.run_id}/nope", tmp_path / "nope")
    assert not (tmp_path / "nope").exists()


# -- reading back through a remote, in another clone ------------------------------------------------


def test_download_and_list_in_a_fresh_clone(
    repo: Path, remote: RemoteStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    remote.add(repo)
    (repo / "model.bin").write_bytes(b"M" * 5000)
    src = make_tree(repo / "results", DATA)
    with gitml.start_run() as run:
        gitml.log_artifact(repo / "model.bin", "models")
        gitml.log_artifacts(src, "data")
        gitml.log_dict({"acc": 0.9}, "metrics.json")
    assert run_gitml("push", cwd=repo).returncode == 0
    assert run_gitml("runs", "commit", run.run_id, cwd=repo).returncode == 0
    first_commit = git(repo, "rev-parse", "HEAD").strip()
    # A second version of one file, committed: --rev reads the run as it was.
    with gitml.start_run(run_id=run.run_id):
        gitml.log_dict({"acc": 0.95}, "metrics.json")
    assert run_gitml("push", cwd=repo).returncode == 0
    assert run_gitml("runs", "commit", run.run_id, cwd=repo).returncode == 0

    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(repo), str(clone))
    assert not (clone / ".gitml" / "cache").exists()
    monkeypatch.chdir(clone)
    gitml.set_tracking_uri(None)
    uri = f"runs:/{run.run_id}"

    listed = gitml.artifacts.list(uri)
    assert [(a.path, a.is_dir) for a in listed] == [("data", True), ("metrics.json", False), ("models", True)]
    assert gitml.artifacts.list(f"{uri}/models")[0].path == "models/model.bin"
    deep = gitml.artifacts.list(f"{uri}/data", recursive=True)
    assert [(a.path, a.size, a.hash) for a in deep] == [
        (f"data/{rel}", len(data), f"sha256:{sha(data)}") for rel, data in sorted(DATA.items())
    ]
    got = gitml.artifacts.download(f"{uri}/data", clone / "got")
    assert tree(got) == DATA
    assert (clone / "model.bin").exists() is False
    assert read_back(f"{uri}/models/model.bin", clone / "m.bin") == b"M" * 5000
    assert json.loads(read_back(f"{uri}/metrics.json", clone / "now.json")) == {"acc": 0.95}
    old = gitml.artifacts.download(f"{uri}/metrics.json", clone / "old.json", rev=first_commit)
    assert json.loads(old.read_bytes()) == {"acc": 0.9}
    assert [a.hash for a in gitml.artifacts.list(f"{uri}/metrics.json", rev=first_commit)] == [
        f"sha256:{sha(old.read_bytes())}"
    ]
