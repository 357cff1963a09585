"""Any fsspec protocol works as a remote: here fsspec's in-process memory:// filesystem (sync API path)."""

from __future__ import annotations

import shutil
from pathlib import Path

import gitml
from gitml import api


def test_push_and_get_through_a_generic_fsspec_filesystem(repo: Path) -> None:
    (repo / "model.bin").write_bytes(b"weights" * 1000)
    (repo / "plots").mkdir()
    for i in range(20):
        (repo / "plots" / f"p{i}.txt").write_text(f"plot {i}\n")
    with gitml.start_run() as run:
        gitml.log_artifact("model.bin")
        gitml.log_artifacts("plots", artifact_path="plots")
    api.remote_add("mem", "memory://gitml-test/store", default=True)

    pushed = api.push()
    assert pushed.ok and pushed.transferred == 22  # 21 files + 1 manifest
    assert api.push().transferred == 0

    shutil.rmtree(repo / ".gitml" / "cache")
    got = api.get(f"runs:/{run.run_id}/plots", out=repo / "out")
    assert got.files == 20
    assert (repo / "out" / "p7.txt").read_text() == "plot 7\n"
    single = api.get(f"runs:/{run.run_id}/model.bin", out=repo / "m.bin")
    assert single.path.read_bytes() == b"weights" * 1000
    assert api.verify(cloud=True).ok
