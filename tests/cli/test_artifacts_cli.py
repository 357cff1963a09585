"""Artifact commands through the console script: push, get, ls, pull, fetch, status, gc, verify, remote.

Each workflow runs against a local-folder remote and a real S3 server (the ``remote`` fixture
from tests/integration/conftest.py). Runs are logged with the Python API (the quick part); every
command under test is the installed ``gitml`` in a subprocess, and the assertions are what a user
sees: exit codes, output lines, and the bytes that land in files, the cache and the remote.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import sys
import time
from pathlib import Path

import yaml

import gitml
from tests.artifact_helpers import (
    artifacts_yaml,
    cache_oids,
    cache_path,
    drop_cache,
    key_of,
    make_tree,
    sha,
    tree,
)
from tests.conftest import git, run_gitml, run_python
from tests.integration.conftest import RemoteStore, remote
from tests.s3server import S3Server

__all__ = ["remote"]  # the parametrized fixture (local folder / S3), shared with tests/integration

PY = sys.executable
DAY = 86400


# -- helpers ----------------------------------------------------------------------------------------


def gm(cwd: Path, *args: str, code: int = 0) -> subprocess.CompletedProcess[str]:
    """``gitml ARGS`` in ``cwd``; the exit code must be ``code``; never a traceback."""
    proc = run_gitml(*args, cwd=cwd)
    assert proc.returncode == code, (
        f"gitml {' '.join(args)} exited {proc.returncode}, expected {code}\n"
        f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    )
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


def out_lines(proc: subprocess.CompletedProcess[str]) -> list[str]:
    return proc.stdout.splitlines()


def err_lines(proc: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in proc.stderr.splitlines() if line.startswith(("Error:", "Hint:"))]


def pushed(proc: subprocess.CompletedProcess[str], url: str) -> int:
    """How many objects the ``Pushed N object(s), X kB, to URL`` line reports."""
    match = re.fullmatch(rf"Pushed (\d+) object\(s\), [\d.]+ [kM]B, to {re.escape(url)}", proc.stdout.strip())
    assert match, proc.stdout
    return int(match.group(1))


def up_to_date(url: str, n: int) -> str:
    return f"Everything is up to date on {url} ({n} object(s))"


def log_files(repo: Path, files: dict[str, bytes], artifact_path: str | None = None) -> str:
    """A finished run that logged ``files`` (written under a scratch folder of the repo); its id."""
    src = make_tree(repo / f"src-{len(os.listdir(repo))}", files)
    with gitml.start_run() as run:
        for rel in files:
            gitml.log_artifact(src / rel, artifact_path)
    return run.run_id


def commit_run(repo: Path, run_id: str) -> str:
    proc = gm(repo, "runs", "commit", run_id)
    assert proc.stdout.startswith("Committed ")
    return git(repo, "rev-parse", "HEAD").strip()


def clone(repo: Path, dest: Path) -> Path:
    git(dest.parent, "clone", "-q", str(repo), str(dest))
    return dest


def ls_rows(proc: subprocess.CompletedProcess[str]) -> list[tuple[int, str]]:
    rows = []
    for line in out_lines(proc):
        size, path = line.split()
        rows.append((int(size), path))
    return rows


DATA = {
    "a.txt": b"alpha\n",
    "b.csv": b"x,y\n1,2\n",
    "sub/c.bin": bytes(range(256)) * 4,
    "sub/deep/d.txt": b"d",
}


# -- push, clone, get, ls ---------------------------------------------------------------------------


def test_push_then_get_and_ls_in_a_clone(repo: Path, remote: RemoteStore, tmp_path: Path) -> None:
    remote.add(repo)
    model = os.urandom(20_000)
    (repo / "model.bin").write_bytes(model)
    src = make_tree(repo / "results", DATA)
    with gitml.start_run() as run:
        gitml.log_artifact(repo / "model.bin", "models")
        gitml.log_artifacts(src, "data")
    rid = run.run_id
    manifest = artifacts_yaml(repo, rid)["data"]["hash"].removeprefix("sha256:")
    expected = {sha(model), manifest, *(sha(d) for d in DATA.values())}

    assert pushed(gm(repo, "push"), remote.url) == 6
    assert remote.oids() == expected
    for oid in expected - {manifest}:
        assert remote.read(oid) == cache_path(repo, oid).read_bytes()
    first = commit_run(repo, rid)
    # A second version of the model in the same run, pushed and committed: --rev reads the first.
    model2 = b"retrained" * 100
    (repo / "model.bin").write_bytes(model2)
    with gitml.start_run(run_id=rid):
        gitml.log_artifact(repo / "model.bin", "models")
    assert pushed(gm(repo, "push"), remote.url) == 1
    commit_run(repo, rid)

    other = clone(repo, tmp_path / "clone")
    # config.yaml is committed: the remote comes along with the clone.
    listed = out_lines(gm(other, "remote", "list"))
    extra = f"default, endpoint {remote.endpoint_url}" if remote.endpoint_url else "default"
    assert listed == [f"storage\t{remote.url}\t({extra})"]
    assert not (other / ".gitml" / "cache").exists()

    uri = f"runs:/{rid}"
    # Listing a directory in a fresh clone downloads its manifest, and only that.
    assert [p for _, p in ls_rows(gm(other, "ls", f"{uri}/data"))] == [
        "data/a.txt",
        "data/b.csv",
        "data/sub/",
    ]
    assert cache_oids(other) == {manifest}
    proc = gm(other, "get", f"{uri}/models/model.bin", "-o", "m.bin")
    assert out_lines(proc) == ["Wrote m.bin (1 file(s), 0.9 kB)"]
    assert (other / "m.bin").read_bytes() == model2
    gm(other, "get", f"{uri}/models/model.bin", "-o", "m-old.bin", "--rev", first)
    assert (other / "m-old.bin").read_bytes() == model
    gm(other, "get", f"{uri}/models/model.bin", "-o", "m-old2.bin", "--rev", "HEAD~1")
    assert (other / "m-old2.bin").read_bytes() == model

    # A logged directory, a sub-directory of it, a file inside it, and the whole run.
    proc = gm(other, "get", f"{uri}/data", "-o", "data-out")
    assert out_lines(proc) == [f"Wrote data-out (4 file(s), {sum(map(len, DATA.values())) / 1e3:.1f} kB)"]
    assert tree(other / "data-out") == DATA
    gm(other, "get", f"{uri}/data/sub", "-o", "sub-out")
    assert tree(other / "sub-out") == {"c.bin": DATA["sub/c.bin"], "deep/d.txt": b"d"}
    gm(other, "get", f"{uri}/data/sub/c.bin", "-o", "c.bin")
    assert (other / "c.bin").read_bytes() == DATA["sub/c.bin"]
    (other / "into").mkdir()
    gm(other, "get", f"{uri}/data/a.txt", "-o", "into")  # an existing folder: the file goes inside
    assert (other / "into" / "a.txt").read_bytes() == DATA["a.txt"]
    gm(other, "get", f"{uri}/data/b.csv")  # no -o: its name, here
    assert (other / "b.csv").read_bytes() == DATA["b.csv"]
    gm(other, "get", uri, "-o", "everything")
    assert tree(other / "everything") == {
        "models/model.bin": model2,
        **{f"data/{k}": v for k, v in DATA.items()},
    }

    # ls: direct children; -R every file; --json; a path inside a directory.
    assert ls_rows(gm(other, "ls", uri)) == [(sum(map(len, DATA.values())), "data/"), (900, "models/")]
    assert ls_rows(gm(other, "ls", f"{uri}/data")) == [
        (6, "data/a.txt"),
        (8, "data/b.csv"),
        (1025, "data/sub/"),
    ]
    assert ls_rows(gm(other, "ls", uri, "-R")) == [
        *((len(v), f"data/{k}") for k, v in sorted(DATA.items())),
        (900, "models/model.bin"),
    ]
    assert ls_rows(gm(other, "ls", uri, "-R", "--rev", first))[-1] == (20_000, "models/model.bin")
    as_json = json.loads(gm(other, "ls", f"{uri}/data/sub", "--json").stdout)
    assert as_json == [
        {"path": "data/sub/c.bin", "is_dir": False, "size": 1024, "hash": f"sha256:{sha(DATA['sub/c.bin'])}"},
        {"path": "data/sub/deep", "is_dir": True, "size": 1, "hash": None},
    ]
    assert json.loads(gm(other, "ls", f"{uri}/models/model.bin", "--json").stdout) == [
        {"path": "models/model.bin", "is_dir": False, "size": 900, "hash": f"sha256:{sha(model2)}"}
    ]

    # Names that do not exist.
    proc = gm(other, "ls", f"{uri}/nope", code=4)
    assert err_lines(proc)[0] == f"Error: no artifact 'nope' in run {rid}"
    proc = gm(other, "get", f"{uri}/data/nope.txt", "-o", "x", code=4)
    assert not (other / "x").exists()
    gm(other, "get", "runs:/0000000000000000000000000z/x", code=4)
    gm(other, "get", f"{uri}/models/model.bin", "--rev", "no-such-branch", "-o", "y", code=4)
    assert not (other / "y").exists()


# -- gitml run --artifact, pull ---------------------------------------------------------------------

WRITE_OUTPUTS = """
import os
open('out.bin', 'wb').write(bytes(range(256)) * 8)
os.makedirs('outdir/inner', exist_ok=True)
open('outdir/a.txt', 'w').write('A')
open('outdir/inner/b.txt', 'w').write('B')
"""


def test_run_outputs_are_recorded_and_restored_by_pull(
    repo: Path, remote: RemoteStore, tmp_path: Path
) -> None:
    remote.add(repo)
    proc = gm(repo, "run", "--artifact", "out.bin", "--artifact", "outdir", "--", PY, "-c", WRITE_OUTPUTS)
    (rid,) = os.listdir(repo / ".gitml" / "runs")
    assert f"gitml: run {rid} " in proc.stderr
    out_bytes = bytes(range(256)) * 8
    out_tree = {"a.txt": b"A", "inner/b.txt": b"B"}
    entries = artifacts_yaml(repo, rid)
    assert entries["out.bin"] == {"hash": f"sha256:{sha(out_bytes)}", "size": 2048, "output": True}
    assert {k: v for k, v in entries["outdir"].items() if k != "hash"} == {
        "size": 2,
        "files": 2,
        "type": "dir",
        "output": True,
    }
    assert pushed(gm(repo, "push"), remote.url) == 4  # out.bin, a.txt, b.txt, the manifest
    commit_run(repo, rid)

    # A fresh clone gets the outputs back where the command wrote them.
    other = clone(repo, tmp_path / "clone")
    proc = gm(other, "pull")
    assert out_lines(proc) == [
        f"Fetched 4 object(s), 2.2 kB from {remote.url}",
        "  restored out.bin",
        "  restored outdir",
    ]
    assert (other / "out.bin").read_bytes() == out_bytes
    assert tree(other / "outdir") == out_tree

    # Here: outputs and cache deleted, pull restores them; the restored file is an ordinary file.
    (repo / "out.bin").unlink()
    shutil.rmtree(repo / "outdir")
    drop_cache(repo)
    assert out_lines(gm(repo, "pull"))[1:] == ["  restored out.bin", "  restored outdir"]
    assert (repo / "out.bin").read_bytes() == out_bytes
    assert tree(repo / "outdir") == out_tree
    assert stat.S_IMODE((repo / "out.bin").stat().st_mode) & stat.S_IWUSR
    assert not (repo / "out.bin").is_symlink()

    # An output that exists is kept, unless --force.
    (repo / "out.bin").write_bytes(b"my local edit")
    proc = gm(repo, "pull")
    assert out_lines(proc) == [
        "Cache is up to date (3 object(s))",
        "  kept 2 existing output(s) (--force overwrites): out.bin, outdir",
    ]
    assert (repo / "out.bin").read_bytes() == b"my local edit"
    proc = gm(repo, "pull", "--force")
    assert "  restored out.bin" in out_lines(proc)
    assert (repo / "out.bin").read_bytes() == out_bytes
    # The edit never reached the cache.
    assert cache_path(repo, sha(out_bytes)).read_bytes() == out_bytes


def test_run_artifact_outside_the_repository_is_refused_before_the_command_runs(
    repo: Path, tmp_path: Path
) -> None:
    marker = tmp_path / "ran"
    code = f"open({str(marker)!r}, 'w').write('ran')"
    for path in ("../outside.bin", str(tmp_path / "abs.bin"), ".gitml/runs", ".git/config"):
        proc = gm(repo, "run", "--artifact", path, "--", PY, "-c", code, code=2)
        assert err_lines(proc)[0].startswith(f"Error: --artifact {path!r}"), proc.stderr
    assert not marker.exists()
    assert not (repo / ".gitml" / "runs").exists() or os.listdir(repo / ".gitml" / "runs") == []


def test_run_artifact_paths_are_relative_to_the_command_directory(repo: Path) -> None:
    sub = repo / "sub"
    sub.mkdir()
    code = "open('made.txt', 'w').write('m'); open('../top.txt', 'w').write('t')"
    proc = gm(sub, "run", "--artifact", "made.txt", "--artifact", "../top.txt", "--artifact", "missing.bin",
              "--", PY, "-c", code)  # fmt: skip
    assert "warning: --artifact sub/missing.bin: the command did not create it" in proc.stderr.splitlines()
    (rid,) = os.listdir(repo / ".gitml" / "runs")
    entries = artifacts_yaml(repo, rid)
    assert sorted(entries) == ["sub/made.txt", "top.txt"]  # recorded by their path in the repository
    assert all(e["output"] is True for e in entries.values())
    (sub / "made.txt").unlink()
    (repo / "top.txt").unlink()
    # Everything is in the cache: pull needs no remote.
    proc = gm(repo, "pull")
    assert out_lines(proc) == [
        "Cache is up to date (2 object(s))",
        "  restored sub/made.txt",
        "  restored top.txt",
    ]
    assert (sub / "made.txt").read_text() == "m"
    assert (repo / "top.txt").read_text() == "t"


def test_pull_restores_the_output_of_the_newest_run(repo: Path, tmp_path: Path) -> None:
    for text in ("first", "second"):
        gm(repo, "run", "--artifact", "model.txt", "--", PY, "-c", f"open('model.txt', 'w').write({text!r})")
    first, second = sorted(os.listdir(repo / ".gitml" / "runs"))
    (repo / "model.txt").unlink()
    assert out_lines(gm(repo, "pull"))[1:] == ["  restored model.txt"]
    assert (repo / "model.txt").read_text() == "second"
    # The older run's output is still there by its URI.
    gm(repo, "get", f"runs:/{first}/model.txt", "-o", str(tmp_path / "old.txt"))
    assert (tmp_path / "old.txt").read_text() == "first"
    assert second


# -- status, push, fetch ----------------------------------------------------------------------------


def test_status_before_and_after_push_and_without_the_cache(repo: Path, remote: RemoteStore) -> None:
    remote.add(repo)
    files = {"a.txt": b"aaa", "b.txt": b"bbbb"}
    rid = log_files(repo, files)
    oids = sorted(sha(d) for d in files.values())

    head = f"2 object(s), 0.0 kB, referenced by 1 run(s); remote: {remote.url}"
    assert out_lines(gm(repo, "status")) == [
        head,
        f"  {rid}: 2 not pushed",
        "Not on the remote: 2 (gitml push)",
    ]
    assert json.loads(gm(repo, "status", "--json").stdout) == {
        "remote": remote.url,
        "objects": 2,
        "bytes": 7,
        "missing_local": [],
        "not_pushed": oids,
        "runs": [{"run_id": rid, "objects": 2, "missing_local": 0, "not_pushed": 2}],
    }

    assert pushed(gm(repo, "push"), remote.url) == 2
    assert out_lines(gm(repo, "push")) == [up_to_date(remote.url, 2)]
    assert out_lines(gm(repo, "push", "--rescan")) == [up_to_date(remote.url, 2)]
    assert out_lines(gm(repo, "status")) == [head, "Everything is in the cache and on the remote"]
    assert json.loads(gm(repo, "status", "--json").stdout)["not_pushed"] == []

    drop_cache(repo)
    assert out_lines(gm(repo, "status")) == [
        head,
        f"  {rid}: 2 missing from the cache",
        "Missing from the cache: 2 (gitml fetch)",
    ]
    status = json.loads(gm(repo, "status", "--json", "--local").stdout)
    assert (status["remote"], status["missing_local"], status["not_pushed"]) == (None, oids, [])
    assert out_lines(gm(repo, "status", "--local"))[0].endswith("remote: not checked (--local)")
    # The remote already holds everything, so push has nothing to do even without a cache.
    assert out_lines(gm(repo, "push")) == [up_to_date(remote.url, 2)]
    # What neither side has is an error, not a silent success.
    (repo / "lost.txt").write_text("never pushed")
    lost = run_python(
        "import gitml\nwith gitml.start_run() as r: gitml.log_artifact('lost.txt')\nprint(r.run_id)", cwd=repo
    )
    assert lost.returncode == 0, lost.stderr
    cache_path(repo, sha(b"never pushed")).unlink()
    proc = gm(repo, "push", code=4)
    assert proc.stdout == ""  # not "Everything is up to date"
    assert (
        err_lines(proc)[0] == f"Error: 1 object(s) are not in the cache (first: {sha(b'never pushed')[:12]})"
    )
    shutil.rmtree(repo / ".gitml" / "runs" / lost.stdout.strip())

    assert out_lines(gm(repo, "fetch")) == [f"Fetched 2 object(s), 0.0 kB from {remote.url}"]
    assert {oid: cache_path(repo, oid).read_bytes() for oid in oids} == {sha(d): d for d in files.values()}
    assert out_lines(gm(repo, "fetch")) == ["Cache is up to date (2 object(s))"]
    assert out_lines(gm(repo, "status"))[-1] == "Everything is in the cache and on the remote"


def test_push_of_one_run_pushes_only_its_objects(repo: Path, remote: RemoteStore) -> None:
    remote.add(repo)
    first = log_files(repo, {"one.txt": b"first run"})
    second = log_files(repo, {"two.txt": b"second run", "shared.txt": b"shared"})
    assert pushed(gm(repo, "push", first), remote.url) == 1
    assert remote.oids() == {sha(b"first run")}
    lines = out_lines(gm(repo, "status"))
    assert f"  {second}: 2 not pushed" in lines
    assert not any(line.startswith(f"  {first}") for line in lines)
    assert out_lines(gm(repo, "push", first[:10])) == [up_to_date(remote.url, 1)]  # an id prefix works
    assert pushed(gm(repo, "push"), remote.url) == 2
    assert remote.oids() == {sha(b"first run"), sha(b"second run"), sha(b"shared")}


def test_push_all_commits_pushes_a_run_only_in_an_older_commit(repo: Path, remote: RemoteStore) -> None:
    remote.add(repo)
    old = log_files(repo, {"old.txt": b"only in history"})
    commit_run(repo, old)
    git(repo, "rm", "-r", "-q", f".gitml/runs/{old}")
    git(repo, "commit", "-q", "-m", "drop the run")
    current = log_files(repo, {"new.txt": b"in the work tree"})

    assert pushed(gm(repo, "push"), remote.url) == 1
    assert remote.oids() == {sha(b"in the work tree")}
    assert pushed(gm(repo, "push", "--all-commits"), remote.url) == 1
    assert remote.oids() == {sha(b"in the work tree"), sha(b"only in history")}
    assert out_lines(gm(repo, "push", "--all-commits")) == [up_to_date(remote.url, 2)]
    assert current  # the work-tree run was pushed by the plain push


# -- the incremental push ---------------------------------------------------------------------------


def test_changing_one_file_of_a_directory_pushes_two_objects(repo: Path, remote: RemoteStore) -> None:
    remote.add(repo)
    files = {f"shard-{i:02d}.txt": f"row {i}\n".encode() * (i + 1) for i in range(40)}
    src = make_tree(repo / "dataset", files)
    with gitml.start_run() as run1:
        gitml.log_artifacts(src, "dataset")
    assert pushed(gm(repo, "push"), remote.url) == 41
    before = remote.oids()

    (src / "shard-07.txt").write_bytes(b"changed\n")
    with gitml.start_run() as run2:
        gitml.log_artifacts(src, "dataset")
    manifest2 = artifacts_yaml(repo, run2.run_id)["dataset"]["hash"].removeprefix("sha256:")
    assert manifest2 != artifacts_yaml(repo, run1.run_id)["dataset"]["hash"].removeprefix("sha256:")
    proc = gm(repo, "push")
    assert pushed(proc, remote.url) == 2
    assert remote.oids() - before == {sha(b"changed\n"), manifest2}
    assert out_lines(gm(repo, "push", "--rescan")) == [up_to_date(remote.url, 43)]


# -- gc -----------------------------------------------------------------------------------------------


def age(path: Path, days: float) -> None:
    then = time.time() - days * DAY
    os.utime(path, (then, then))


def test_gc_removes_only_old_unreferenced_cache_objects(repo: Path, tmp_path: Path) -> None:
    gm(repo, "init")
    git(repo, "add", ".gitml")
    git(repo, "commit", "-q", "-m", "gitml")
    kept = log_files(repo, {"kept.txt": b"work tree run"})
    # A run committed only on another branch...
    git(repo, "checkout", "-q", "-b", "side")
    side = log_files(repo, {"side.txt": b"side branch run"})
    commit_run(repo, side)
    git(repo, "checkout", "-q", "main")
    assert not (repo / ".gitml" / "runs" / side).exists()
    # ... one only on a tag ...
    tagged = log_files(repo, {"tagged.txt": b"tagged run"})
    commit_run(repo, tagged)
    git(repo, "tag", "v1")
    git(repo, "rm", "-r", "-q", f".gitml/runs/{tagged}")
    git(repo, "commit", "-q", "-m", "drop the tagged run")
    # ... and two runs whose folders were deleted: one object made long ago, one just now.
    for content in (b"old garbage", b"new garbage"):
        gone = log_files(repo, {"g.txt": content})
        shutil.rmtree(repo / ".gitml" / "runs" / gone)
    referenced = {sha(b"work tree run"), sha(b"side branch run"), sha(b"tagged run")}
    for oid in cache_oids(repo):
        age(cache_path(repo, oid), 30)
    age(cache_path(repo, sha(b"new garbage")), 0)
    cache_root = repo / ".gitml" / "cache"

    proc = gm(repo, "gc", "--grace", "1", "--dry-run")
    assert out_lines(proc) == [
        f"Would remove 1 object(s), 0.0 kB, from {cache_root}; kept 3 referenced and 1 recent"
    ]
    assert cache_oids(repo) == referenced | {sha(b"old garbage"), sha(b"new garbage")}
    proc = gm(repo, "gc", "--grace", "1")
    assert out_lines(proc) == [
        f"Removed 1 object(s), 0.0 kB, from {cache_root}; kept 3 referenced and 1 recent"
    ]
    assert cache_oids(repo) == referenced | {sha(b"new garbage")}
    assert out_lines(gm(repo, "gc"))[0].startswith("Removed 0 object(s)")  # default grace: 7 days
    proc = gm(repo, "gc", "--grace", "0")
    assert out_lines(proc) == [
        f"Removed 1 object(s), 0.0 kB, from {cache_root}; kept 3 referenced and 0 recent"
    ]
    assert cache_oids(repo) == referenced
    # What gc kept is still readable at its revision.
    gm(repo, "get", f"runs:/{side}/side.txt", "--rev", "side", "-o", str(tmp_path / "s.txt"))
    assert (tmp_path / "s.txt").read_bytes() == b"side branch run"
    gm(repo, "get", f"runs:/{tagged}/tagged.txt", "--rev", "v1", "-o", str(tmp_path / "t.txt"))
    assert (tmp_path / "t.txt").read_bytes() == b"tagged run"
    assert kept


def test_gc_directory_files_are_kept_through_their_manifest(repo: Path) -> None:
    src = make_tree(repo / "d", {"x.txt": b"x", "y/z.txt": b"z"})
    with gitml.start_run() as run:
        gitml.log_artifacts(src, "d")
    for oid in cache_oids(repo):
        age(cache_path(repo, oid), 30)
    proc = gm(repo, "gc", "--grace", "0")
    assert out_lines(proc)[0].startswith("Removed 0 object(s), 0.0 kB")
    assert "kept 3 referenced" in proc.stdout
    assert len(cache_oids(repo)) == 3
    assert run.run_id


def test_gc_cloud(repo: Path, remote: RemoteStore) -> None:
    remote.add(repo)
    log_files(repo, {"keep.txt": b"keep me"})
    gone = log_files(repo, {"drop.txt": b"drop me"})
    assert pushed(gm(repo, "push"), remote.url) == 2
    shutil.rmtree(repo / ".gitml" / "runs" / gone)

    proc = gm(repo, "gc", "--cloud", "--grace", "0", "--dry-run")
    assert out_lines(proc) == [
        f"Would remove 1 object(s), 0.0 kB, from {remote.url}; kept 1 referenced and 0 recent"
    ]
    assert remote.oids() == {sha(b"keep me"), sha(b"drop me")}
    proc = gm(repo, "gc", "--cloud")  # default grace: 7 days; the object is minutes old
    assert out_lines(proc) == [
        f"Removed 0 object(s), 0.0 kB, from {remote.url}; kept 1 referenced and 1 recent"
    ]
    proc = gm(repo, "gc", "--cloud", "--grace", "0")
    assert out_lines(proc) == [
        f"Removed 1 object(s), 0.0 kB, from {remote.url}; kept 1 referenced and 0 recent"
    ]
    assert remote.oids() == {sha(b"keep me")}
    # The cache was not touched, and this clone no longer believes the remote has the object.
    assert sha(b"drop me") in cache_oids(repo)
    again = log_files(repo, {"drop.txt": b"drop me"})
    assert pushed(gm(repo, "push", again), remote.url) == 1
    assert remote.oids() == {sha(b"keep me"), sha(b"drop me")}


# -- verify -------------------------------------------------------------------------------------------


def test_verify_removes_a_corrupt_cache_object_and_fetch_restores_it(repo: Path, remote: RemoteStore) -> None:
    remote.add(repo)
    good, bad = b"good bytes", b"bytes to damage"
    log_files(repo, {"good.txt": good, "bad.txt": bad})
    assert pushed(gm(repo, "push"), remote.url) == 2
    cache_root = repo / ".gitml" / "cache"
    assert out_lines(gm(repo, "verify")) == [f"Checked 2 object(s), 0.0 kB, in {cache_root}"]

    path = cache_path(repo, sha(bad))
    os.chmod(path, 0o644)
    path.write_bytes(b"BYTES TO DAMAGE")  # same size, other content
    proc = gm(repo, "verify", code=10)
    assert out_lines(proc) == [
        f"Checked 2 object(s), 0.0 kB, in {cache_root}",
        f"  BAD sha256:{sha(bad)}: content hashes to {sha(b'BYTES TO DAMAGE')[:12]} (15 bytes)",
    ]
    assert err_lines(proc) == [
        f"Error: 1 corrupt object(s) in {cache_root}",
        "Hint: they were removed; gitml fetch restores them",
    ]
    assert not path.exists()
    assert cache_path(repo, sha(good)).read_bytes() == good

    assert out_lines(gm(repo, "fetch")) == [f"Fetched 1 object(s), 0.0 kB from {remote.url}"]
    assert path.read_bytes() == bad
    gm(repo, "verify")
    report = json.loads(gm(repo, "verify", "--json").stdout)
    assert report == {"where": str(cache_root), "checked": 2, "bad": []}


def test_verify_cloud_names_a_bit_flip_and_the_next_push_repairs_it(repo: Path, remote: RemoteStore) -> None:
    remote.add(repo)
    payload = os.urandom(4096)
    rid = log_files(repo, {"weights.bin": payload, "other.txt": b"fine"})
    oid = sha(payload)
    assert pushed(gm(repo, "push"), remote.url) == 2
    assert out_lines(gm(repo, "verify", "--cloud")) == [f"Checked 2 object(s), 4.1 kB, in {remote.url}"]

    remote.flip_bit(oid)
    assert len(remote.read(oid)) == 4096
    # A listing cannot tell (the size is right): push still trusts what it pushed.
    assert out_lines(gm(repo, "push")) == [up_to_date(remote.url, 2)]
    proc = gm(repo, "verify", "--cloud", code=10)
    assert f"  BAD sha256:{oid}: content hashes to " in proc.stdout
    assert "(4096 bytes)" in proc.stdout
    assert err_lines(proc) == [
        f"Error: 1 corrupt object(s) in {remote.url}",
        "Hint: the next gitml push uploads them again",
    ]
    assert f"  {rid}: 1 not pushed" in out_lines(gm(repo, "status"))

    assert pushed(gm(repo, "push"), remote.url) == 1
    assert remote.read(oid) == payload
    assert out_lines(gm(repo, "verify", "--cloud")) == [f"Checked 2 object(s), 4.1 kB, in {remote.url}"]
    assert out_lines(gm(repo, "push")) == [up_to_date(remote.url, 2)]


def test_a_truncated_remote_object_is_refused_by_get_and_repaired_by_push(
    repo: Path, remote: RemoteStore, tmp_path: Path
) -> None:
    remote.add(repo)
    payload = os.urandom(5000)
    rid = log_files(repo, {"model.bin": payload})
    oid = sha(payload)
    assert pushed(gm(repo, "push"), remote.url) == 1
    commit_run(repo, rid)
    other = clone(repo, tmp_path / "clone")
    remote.truncate(oid, 1000)

    def refused(where: Path) -> None:
        proc = gm(where, "get", f"runs:/{rid}/model.bin", "-o", "dest/model.bin", code=10)
        assert f"object {oid[:12]} is corrupt" in err_lines(proc)[0]
        assert not (where / "dest" / "model.bin").exists()
        leftovers = os.listdir(where / "dest") if (where / "dest").exists() else []
        assert leftovers == []
        assert oid not in cache_oids(where)

    refused(other)
    proc = gm(other, "fetch", code=10)
    assert proc.stdout == ""  # not "Cache is up to date"
    assert f"  failed {oid[:12]}: " in proc.stderr
    # Where the file was logged: the cache copy is lost too, the get fails and marks the object bad;
    # the file is logged again (back in the cache) and the next push uploads it again.
    os.chmod(cache_path(repo, oid), 0o644)
    cache_path(repo, oid).unlink()
    refused(repo)
    again = log_files(repo, {"model.bin": payload})
    assert pushed(gm(repo, "push", again), remote.url) == 1
    assert remote.read(oid) == payload

    gm(other, "get", f"runs:/{rid}/model.bin", "-o", "dest/model.bin")
    assert (other / "dest" / "model.bin").read_bytes() == payload


def test_push_refuses_a_corrupt_cache_object(repo: Path, remote: RemoteStore) -> None:
    remote.add(repo)
    good, bad = b"good object", os.urandom(2000)
    log_files(repo, {"good.txt": good, "bad.bin": bad})
    path = cache_path(repo, sha(bad))
    os.chmod(path, 0o644)
    path.write_bytes(bad[:1000])  # the cache file was damaged before it was ever pushed
    proc = gm(repo, "push", code=10)
    assert pushed(proc, remote.url) == 1
    assert f"object {sha(bad)[:12]} is corrupt" in err_lines(proc)[0]
    assert remote.oids() == {sha(good)}  # the damaged bytes never reach the remote


def test_push_to_a_bucket_that_does_not_exist(repo: Path, s3_server: S3Server) -> None:
    url = "s3://gitml-test-no-such-bucket/store"
    gm(repo, "remote", "add", "storage", url, "--default", "--endpoint-url", s3_server.endpoint_url)
    log_files(repo, {"f.txt": b"f"})
    proc = gm(repo, "push", code=9)
    assert proc.stdout == ""  # not "Everything is up to date"
    assert err_lines(proc)[0].startswith(f"Error: 1 object(s) failed to push: {url}: ")
    assert "does not exist" in err_lines(proc)[0]


# -- remote add / list / remove ---------------------------------------------------------------------


def test_remote_add_list_remove_keeps_the_config_comments(
    repo: Path, remote: RemoteStore, tmp_path: Path
) -> None:
    gm(repo, "init")
    config = repo / ".gitml" / "config.yaml"
    config.write_text(config.read_text() + "# our team note: keep this line\n")
    original = config.read_text()

    remote.add(repo)
    text = config.read_text()
    comments = [line for line in original.splitlines() if line.startswith("#") or " # " in line]
    for line in comments:
        assert line in text.splitlines()
    data = yaml.safe_load(text)
    expected = {"url": remote.url, **({"endpoint_url": remote.endpoint_url} if remote.endpoint_url else {})}
    assert data["remotes"] == {"storage": expected}
    assert data["default_remote"] == "storage"
    assert data["cache"]["link"] == ["reflink", "copy"]  # the rest is as it was

    backup = tmp_path / "backup"
    committed = config.read_text()
    proc = gm(repo, "remote", "add", "backup", str(backup), "--local")
    assert out_lines(proc) == [f"Added remote backup: {backup}"]
    assert config.read_text() == committed
    local = yaml.safe_load((repo / ".gitml" / "config.local.yaml").read_text())
    assert local == {"remotes": {"backup": {"url": str(backup)}}}
    extra = f"default, endpoint {remote.endpoint_url}" if remote.endpoint_url else "default"
    assert out_lines(gm(repo, "remote", "list")) == [
        f"backup\t{backup}\t(local)",
        f"storage\t{remote.url}\t({extra})",
    ]
    listed = json.loads(gm(repo, "remote", "list", "--json").stdout)
    assert [(r["name"], r["default"], r["local"]) for r in listed] == [
        ("backup", False, True),
        ("storage", True, False),
    ]

    # The non-default remote is used when named.
    rid = log_files(repo, {"f.txt": b"to the backup"})
    assert pushed(gm(repo, "push", "--remote", "backup", rid), str(backup)) == 1
    assert (backup / key_of(sha(b"to the backup"))).read_bytes() == b"to the backup"

    proc = gm(repo, "remote", "add", "storage", "/elsewhere", code=3)
    assert err_lines(proc) == ["Error: remote 'storage' already exists", "Hint: pass --force to replace it"]
    assert config.read_text() == committed

    assert out_lines(gm(repo, "remote", "remove", "backup")) == ["Removed remote backup"]
    assert "backup" not in (repo / ".gitml" / "config.local.yaml").read_text()
    assert out_lines(gm(repo, "remote", "remove", "storage")) == ["Removed remote storage"]
    assert config.read_text() == original  # back to the file as the user left it
    assert gm(repo, "remote", "list").stdout == ""


def test_remote_with_credentials_in_the_url_is_refused_and_nothing_written(repo: Path) -> None:
    gm(repo, "init")
    config = repo / ".gitml" / "config.yaml"
    before = config.read_text()
    for url in ("s3://AKIAXXXX:s3cr3t@bucket/prefix", "https://user:pa55@example.com/store"):
        proc = gm(repo, "remote", "add", "leaky", url, "--default", code=3)
        assert err_lines(proc)[0] == "Error: a remote URL must not contain credentials (user:password@)"
        assert "s3cr3t" not in proc.stderr + proc.stdout
        assert "pa55" not in proc.stderr + proc.stdout
    proc = gm(
        repo, "remote", "add", "leaky", "s3://bucket/x", "--endpoint-url", "http://u:pw@host:9000", code=3
    )
    assert config.read_text() == before
    assert not (repo / ".gitml" / "config.local.yaml").exists()
    gm(repo, "remote", "add", "rel", "relative/path", code=3)
    assert config.read_text() == before


def test_unknown_or_missing_remote_is_a_clear_error(repo: Path, tmp_path: Path) -> None:
    log_files(repo, {"f.txt": b"f"})
    drop_cache(repo)  # so that fetch needs the remote too
    for command in (["push"], ["fetch"], ["gc", "--cloud"], ["verify", "--cloud"]):
        proc = gm(repo, *command, code=4)
        assert err_lines(proc) == [
            "Error: no remote is configured",
            "Hint: gitml remote add storage /path/to/folder --default  (or s3://bucket/prefix)",
        ], command
    gm(repo, "remote", "add", "storage", str(tmp_path / "store"), "--default")
    proc = gm(repo, "push", "--remote", "nope", code=4)
    assert err_lines(proc) == ["Error: no remote named 'nope' (configured: storage)"]
    proc = gm(repo, "remote", "remove", "nope", code=4)
    assert err_lines(proc) == ["Error: no remote named 'nope'"]
    # status without a remote still reports the cache.
    gm(repo, "remote", "remove", "storage")
    assert out_lines(gm(repo, "status"))[0].endswith("remote: no remote configured")
