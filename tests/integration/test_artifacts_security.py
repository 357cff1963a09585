"""Artifacts against hostile input: bad paths, hand-edited records, crafted remote objects, symlinks,
credentials and pickles.

Every CLI check runs the installed ``gitml`` in a subprocess and asserts what a user sees (one
``Error:`` line, no traceback, the documented exit code) and that nothing was read from or written to
a place outside the repository / the chosen output folder. Tests that touch a remote run against a
local folder and against a real S3 endpoint (moto on 127.0.0.1).
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

import gitml
from gitml.exceptions import GitMLError, InvalidNameError
from tests.artifact_helpers import artifacts_yaml_path, cache_oids, clear_error, drop_cache, key_of, sha
from tests.conftest import git, run_gitml
from tests.integration.conftest import RemoteStore
from tests.s3server import S3Bucket

PY = sys.executable
BAD_PATHS = ["../x", "/etc/passwd", "a/../../x", "a\\b", "a\x00b", "%2e%2e/x", "x.", "x ", "a/x./b", "a/x /b"]
ARGV_BAD_PATHS = [p for p in BAD_PATHS if "\x00" not in p]  # argv cannot carry NUL
MANIFEST_HEADER = "gitml-manifest 1 sha256"


# -- helpers ------------------------------------------------------------------------------------------


def tree(root: Path, *, skip: tuple[Path, ...] = ()) -> set[str]:
    """Every entry (files, folders, symlinks) below ``root``, except those below ``skip``."""
    out: set[str] = set()
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        here = Path(dirpath)
        dirnames[:] = [d for d in dirnames if here / d not in skip]
        for name in dirnames + filenames:
            out.add(str((here / name).relative_to(root)))
    return out


@pytest.fixture
def outside(tmp_path: Path, repo: Path) -> Iterator[Path]:
    """A folder next to the repository holding a 'secret'; the test fails if anything appears
    beside the repository or inside this folder, or the secret changes."""
    victim = tmp_path / "outside"
    victim.mkdir()
    (victim / "secret.txt").write_text("top secret\n")
    (tmp_path / "x").write_text("a file one level above the repository\n")
    skip = (repo, tmp_path / "remote", tmp_path / "remote-store", tmp_path / "out", tmp_path / "home")
    before = tree(tmp_path, skip=skip)
    yield victim
    after = tree(tmp_path, skip=skip)
    assert after == before, f"written outside the repository: {sorted(after ^ before)}"
    assert (victim / "secret.txt").read_text() == "top secret\n"


def the_run(repo: Path) -> str:
    runs = sorted(p.name for p in (repo / ".gitml" / "runs").iterdir() if p.is_dir())
    assert len(runs) == 1, runs
    return runs[0]


def log_one_file(repo: Path, name: str = "model.bin", data: bytes = b"weights\n") -> str:
    (repo / name).write_bytes(data)
    with gitml.start_run() as run:
        gitml.log_artifact(repo / name)
    return run.info.run_id


# -- bad artifact paths -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("how", "path"),
    [(how, p) for how in ("log_artifact", "log_artifacts", "log_text") for p in BAD_PATHS],
)
def test_logging_under_a_bad_artifact_path_is_refused(repo: Path, outside: Path, how: str, path: str) -> None:
    (repo / "model.bin").write_bytes(b"weights\n")
    (repo / "folder").mkdir()
    (repo / "folder" / "a.txt").write_text("a\n")
    with gitml.start_run() as run:
        with pytest.raises(InvalidNameError) as info:
            if how == "log_artifact":
                gitml.log_artifact("model.bin", path)
            elif how == "log_artifacts":
                gitml.log_artifacts("folder", path)
            else:
                gitml.log_text("text", path)
    assert "\n" not in info.value.message
    assert not artifacts_yaml_path(repo, run.info.run_id).exists()
    assert not any(p.name in ("x", "passwd", "b") for p in repo.rglob("*") if ".git" not in p.parts)


def test_logging_a_local_path_with_nul_is_refused(repo: Path) -> None:
    with gitml.start_run(), pytest.raises(GitMLError):
        gitml.log_artifact("model\x00.bin")


@pytest.mark.parametrize("path", ARGV_BAD_PATHS)
def test_run_artifact_with_a_bad_path_is_refused(repo: Path, outside: Path, path: str) -> None:
    secret_oid = sha((outside / "secret.txt").read_bytes())
    passwd_oid = sha(Path("/etc/passwd").read_bytes()) if os.access("/etc/passwd", os.R_OK) else ""
    proc = run_gitml("run", "--artifact", path, "--", PY, "-c", "pass", cwd=repo)
    clear_error(proc, 2)
    assert not cache_oids(repo) & {secret_oid, passwd_oid, sha((outside.parent / "x").read_bytes())}


def test_run_artifact_with_nul_is_refused(repo: Path) -> None:
    from gitml import api

    with pytest.raises(InvalidNameError):
        api.run([PY, "-c", "pass"], artifacts=["out\x00put"])


@pytest.mark.parametrize("path", ARGV_BAD_PATHS)
def test_get_and_ls_with_a_bad_path_are_refused(repo: Path, outside: Path, tmp_path: Path, path: str) -> None:
    run_id = log_one_file(repo)
    for args in (
        ["get", f"runs:/{run_id}/{path}", "-o", str(tmp_path / "out")],
        ["get", f"runs:/{run_id}/{path}"],
        ["ls", f"runs:/{run_id}/{path}"],
    ):
        clear_error(run_gitml(*args, cwd=repo), 2)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("path", BAD_PATHS)
def test_python_download_and_list_with_a_bad_path_are_refused(
    repo: Path, outside: Path, tmp_path: Path, path: str
) -> None:
    run_id = log_one_file(repo)
    with pytest.raises(InvalidNameError):
        gitml.artifacts.download(f"runs:/{run_id}/{path}", tmp_path / "out")
    with pytest.raises(InvalidNameError):
        gitml.artifacts.list(f"runs:/{run_id}/{path}")
    assert not (tmp_path / "out").exists()


# -- hand-edited artifacts.yaml and hostile remote objects --------------------------------------------


@pytest.mark.parametrize(
    ("remote", "evil"),
    [("local", "../../evil"), ("local", "a/../../evil"), ("local", "ABSOLUTE"), ("s3", "../../evil")],
    indirect=["remote"],
)
def test_hand_edited_artifacts_yaml_with_an_escaping_path_is_refused(
    repo: Path, remote: RemoteStore, outside: Path, tmp_path: Path, evil: str
) -> None:
    if evil == "ABSOLUTE":
        evil = str(tmp_path / "evil")
    remote.add(repo)
    (repo / "model.bin").write_bytes(b"weights\n")
    proc = run_gitml("run", "--artifact", "model.bin", "--", PY, "-c", "pass", cwd=repo)
    assert proc.returncode == 0, proc.stderr
    assert run_gitml("push", cwd=repo).returncode == 0
    run_id = the_run(repo)
    path = artifacts_yaml_path(repo, run_id)
    path.write_text(path.read_text().replace('"model.bin"', f'"{evil}"'))
    assert evil in path.read_text()
    (repo / "model.bin").unlink()
    drop_cache(repo)
    out = tmp_path / "out"
    for args in (
        ["get", f"runs:/{run_id}", "-o", str(out)],
        ["get", f"runs:/{run_id}/model.bin", "-o", str(out / "m")],
        ["pull"],
        ["pull", "--force"],
        ["fetch"],
        ["ls", f"runs:/{run_id}"],
    ):
        line = clear_error(run_gitml(*args, cwd=repo), 6)
        assert "artifacts.yaml" in line
    assert not (tmp_path / "evil").exists()
    assert not list(tmp_path.rglob("evil"))
    assert not (repo / "model.bin").exists()


def plant_a_crafted_manifest(repo: Path, remote: RemoteStore, listed: str, *, output: bool = False) -> str:
    """Push a run of one file, then do what an attacker who can write to the bucket and to the run's
    artifacts.yaml (a pull request, say) can: store a manifest under its correct hash that lists the
    run's real object under the path ``listed``, and record it in the run as the folder ``d``. The
    cache is dropped, so gitml has to read the manifest from the remote. Returns the run's id."""
    remote.add(repo)
    payload = b"pwned\n"
    run_id = log_one_file(repo, "payload.bin", payload)
    assert run_gitml("push", cwd=repo).returncode == 0
    manifest = f"{MANIFEST_HEADER}\n{sha(payload)} {len(payload)} {listed}\n".encode()
    moid = sha(manifest)
    remote.put(key_of(moid), manifest)
    path = artifacts_yaml_path(repo, run_id)
    flags = ", output: true" if output else ""
    entry = f'"d": {{hash: "sha256:{moid}", size: {len(payload)}, files: 1, type: dir{flags}}}\n'
    path.write_text(path.read_text() + entry)
    drop_cache(repo)
    return run_id


@pytest.mark.parametrize(
    ("remote", "bad"),
    [
        *[("local", bad) for bad in ("../x", "a/../../x", "/ABSOLUTE", "ok/../../../x", "a\\..\\..\\x")],
        *[("s3", bad) for bad in ("../x", "/ABSOLUTE")],
    ],
    indirect=["remote"],
)
def test_a_crafted_manifest_on_the_remote_is_refused(
    repo: Path, remote: RemoteStore, outside: Path, tmp_path: Path, bad: str
) -> None:
    bad = bad.replace("/ABSOLUTE", str(tmp_path / "x"))
    run_id = plant_a_crafted_manifest(repo, remote, bad, output=True)
    out = tmp_path / "out"
    for args in (
        ["get", f"runs:/{run_id}", "-o", str(out)],
        ["get", f"runs:/{run_id}/d", "-o", str(out)],
        ["get", f"runs:/{run_id}/d/x", "-o", str(out / "x")],
        ["ls", "-R", f"runs:/{run_id}"],
        ["pull", "--force"],
    ):
        proc = run_gitml(*args, cwd=repo)
        assert proc.returncode != 0, f"gitml {' '.join(args)} accepted a manifest listing {bad!r}"
        clear_error(proc, proc.returncode)
    assert not (repo / "d").exists()
    assert not (outside.parent / "x").read_text().startswith("pwned")
    assert not (tmp_path / "x").read_text().startswith("pwned")


def test_a_crafted_manifest_is_reported_as_invalid_not_missing(
    repo: Path, tmp_path: Path, remote: RemoteStore
) -> None:
    run_id = plant_a_crafted_manifest(repo, remote, "../x")
    line = clear_error(run_gitml("get", f"runs:/{run_id}", "-o", str(tmp_path / "out"), cwd=repo), 10)
    assert "'../x'" in line


# -- symlinks -----------------------------------------------------------------------------------------


@pytest.fixture(params=["etc-passwd", "outside-file", "outside-dir", "git-config", "git-dir"])
def escaping_link(request: pytest.FixtureRequest, repo: Path, outside: Path) -> tuple[Path, bytes | None]:
    """(a folder in the repository holding one good file and one escaping symlink, the target's bytes)."""
    folder = repo / "data"
    (folder / "sub").mkdir(parents=True)
    (folder / "good.txt").write_text("good\n")
    target: Path = {
        "etc-passwd": Path("/etc/passwd"),
        "outside-file": Path("../../../outside/secret.txt"),
        "outside-dir": Path("../../../outside"),
        "git-config": Path("../../.git/config"),
        "git-dir": Path("../../.git"),
    }[request.param]
    (folder / "sub" / "link").symlink_to(target)
    resolved = (folder / "sub" / target).resolve() if not target.is_absolute() else target
    data = resolved.read_bytes() if resolved.is_file() and os.access(resolved, os.R_OK) else None
    return folder, data


def test_logging_a_folder_with_an_escaping_symlink_is_refused(
    repo: Path, escaping_link: tuple[Path, bytes | None]
) -> None:
    folder, data = escaping_link
    with gitml.start_run() as run:
        with pytest.raises(InvalidNameError) as info:
            gitml.log_artifacts(folder, "data")
        assert "symlink" in info.value.message
        with pytest.raises(InvalidNameError):
            gitml.log_artifacts(folder)
    assert not artifacts_yaml_path(repo, run.info.run_id).exists()
    if data is not None:
        assert sha(data) not in cache_oids(repo)


def test_run_artifact_of_a_folder_with_an_escaping_symlink_is_refused(
    repo: Path, escaping_link: tuple[Path, bytes | None]
) -> None:
    _, data = escaping_link
    line = clear_error(run_gitml("run", "--artifact", "data", "--", PY, "-c", "pass", cwd=repo), 2)
    assert "symlink" in line
    if data is not None:
        assert sha(data) not in cache_oids(repo)


@pytest.mark.parametrize("target", ["file", "dir", "git"])
def test_run_artifact_that_is_a_symlink_leading_out_is_refused(
    repo: Path, outside: Path, target: str
) -> None:
    link = repo / "link"
    link.symlink_to({"file": outside / "secret.txt", "dir": outside, "git": repo / ".git" / "config"}[target])
    line = clear_error(run_gitml("run", "--artifact", "link", "--", PY, "-c", "pass", cwd=repo), 2)
    assert "symlink" in line
    assert sha((outside / "secret.txt").read_bytes()) not in cache_oids(repo)


def _log_folder(repo: Path) -> str:
    folder = repo / "d"
    (folder / "sub").mkdir(parents=True)
    (folder / "top.txt").write_text("top\n")
    (folder / "sub" / "f.txt").write_text("nested\n")
    with gitml.start_run() as run:
        gitml.log_artifacts(folder, "d")
    return run.info.run_id


@pytest.mark.parametrize("which", ["dir-artifact", "whole-run"])
def test_get_does_not_write_through_a_symlink_in_the_destination(
    repo: Path, outside: Path, tmp_path: Path, which: str
) -> None:
    run_id = _log_folder(repo)
    out = tmp_path / "out"
    out.mkdir()
    if which == "dir-artifact":
        (out / "sub").symlink_to(outside, target_is_directory=True)
        args = ["get", f"runs:/{run_id}/d", "-o", str(out)]
    else:
        (out / "d").symlink_to(outside, target_is_directory=True)
        args = ["get", f"runs:/{run_id}", "-o", str(out)]
    line = clear_error(run_gitml(*args, cwd=repo), 2)
    assert "symlink" in line
    assert sorted(p.name for p in outside.iterdir()) == ["secret.txt"]


def test_pull_does_not_restore_through_a_symlinked_output_folder(
    repo: Path, outside: Path, tmp_path: Path
) -> None:
    remote_root = tmp_path / "remote"
    assert run_gitml("remote", "add", "origin", str(remote_root), "--default", cwd=repo).returncode == 0
    code = "import os; os.makedirs('outdir', exist_ok=True); open('outdir/model.bin', 'w').write('m')"
    proc = run_gitml("run", "--artifact", "outdir", "--", PY, "-c", code, cwd=repo)
    assert proc.returncode == 0, proc.stderr
    assert run_gitml("push", cwd=repo).returncode == 0
    subprocess.run(["rm", "-rf", str(repo / "outdir")], check=True)
    (repo / "outdir").symlink_to(outside, target_is_directory=True)
    for args in (["pull"], ["pull", "--force"]):
        proc = run_gitml(*args, cwd=repo)
        if proc.returncode != 0:
            clear_error(proc, proc.returncode)
    assert sorted(p.name for p in outside.iterdir()) == ["secret.txt"]


# -- credentials --------------------------------------------------------------------------------------

SECRET = "gItMlSeCrEt+0123456789/abcdefXYZ"
KEY_ID = "AKIAGITMLTESTKEYID42"


def _all_text(root: Path) -> bytes:
    return b"\n".join(p.read_bytes() for p in root.rglob("*") if p.is_file() and not p.is_symlink())


@pytest.mark.parametrize(
    "args",
    [
        ["s3", "s3://AKIA:secret@bucket/x"],
        ["s3", f"s3://{KEY_ID}@bucket/x"],
        ["s3", f"s3://{KEY_ID}:{SECRET}@bucket/x"],
        ["s3", f"s3://{KEY_ID}:{SECRET.replace('/', '')}@bucket/x"],
        ["s3", "s3://bucket/x", "--endpoint-url", f"http://{KEY_ID}:{SECRET.replace('/', '')}@127.0.0.1:9"],
        ["s3", "s3://bucket/x", "--endpoint-url", f"http://{KEY_ID}:{SECRET}@127.0.0.1:9"],
        ["h", f"https://user:{SECRET.replace('/', '')}@example.com/store"],
    ],
    ids=["akia-secret", "key-only", "slash-secret", "secret", "endpoint", "endpoint-slash-secret", "https"],
)
def test_a_remote_url_with_credentials_is_refused(repo: Path, args: list[str]) -> None:
    assert run_gitml("init", cwd=repo).returncode == 0
    proc = run_gitml("remote", "add", *args, "--default", cwd=repo)
    line = clear_error(proc, 3)
    assert "credentials" in line
    for secret in ("secret", SECRET, SECRET.replace("/", "")):
        assert secret not in proc.stdout + proc.stderr
        assert secret.encode() not in _all_text(repo / ".gitml")
    assert run_gitml("remote", "list", cwd=repo).stdout == ""


def test_secrets_from_the_environment_are_never_written(
    repo: Path, s3_bucket: S3Bucket, tmp_path: Path
) -> None:
    env = {**os.environ, "AWS_ACCESS_KEY_ID": KEY_ID, "AWS_SECRET_ACCESS_KEY": SECRET}
    outputs: list[subprocess.CompletedProcess[str]] = []

    def gm(*args: str) -> subprocess.CompletedProcess[str]:
        proc = run_gitml(*args, cwd=repo, env=env)
        outputs.append(proc)
        return proc

    args = ["remote", "add", "s3", s3_bucket.url, "--default", "--endpoint-url", s3_bucket.endpoint_url]
    assert gm(*args).returncode == 0
    code = "open('model.bin', 'wb').write(b'm' * 100); print('trained')"
    assert gm("run", "--artifact", "model.bin", "--", PY, "-c", code).returncode == 0
    (repo / "big.bin").write_bytes(os.urandom(17 * 1024 * 1024))  # the multipart path, journal included
    assert gm("run", "--artifact", "big.bin", "--", PY, "-c", "pass").returncode == 0
    assert gm("push").returncode == 0, outputs[-1].stderr
    assert gm("status").returncode == 0
    assert gm("verify", "--cloud").returncode == 0
    assert gm("remote", "list").returncode == 0
    drop_cache(repo)
    assert gm("pull", "--force").returncode == 0, outputs[-1].stderr
    for secret in (SECRET, KEY_ID):
        assert secret.encode() not in _all_text(repo / ".gitml")
        for proc in outputs:
            assert secret not in proc.stdout + proc.stderr
    logs = list((repo / ".gitml" / "runs").rglob("output.log"))
    assert logs and all(SECRET.encode() not in p.read_bytes() for p in logs)
    assert SECRET not in git(repo, "status", "--porcelain", "--ignored")


def test_credentials_in_config_local_yaml_work_and_are_never_committed(
    repo: Path, s3_bucket: S3Bucket
) -> None:
    # No credentials in the environment at all: only config.local.yaml can make the push sign requests.
    env = {k: v for k, v in os.environ.items() if k not in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}
    args = ["remote", "add", "s3", s3_bucket.url, "--default", "--local"]
    proc = run_gitml(*args, "--endpoint-url", s3_bucket.endpoint_url, cwd=repo, env=env)
    assert proc.returncode == 0, proc.stderr
    local = repo / ".gitml" / "config.local.yaml"
    data = yaml.safe_load(local.read_text())
    data["remotes"]["s3"].update({"access_key_id": KEY_ID, "secret_access_key": SECRET})
    local.write_text(yaml.safe_dump(data))
    run_id = log_one_file(repo)
    proc = run_gitml("push", cwd=repo, env=env)
    assert proc.returncode == 0, proc.stderr
    assert s3_bucket.keys()
    assert SECRET not in proc.stdout + proc.stderr
    # Without them the same push cannot sign: proof that the file's credentials were the ones used.
    local.write_text(local.read_text().replace(SECRET, "").replace(KEY_ID, ""))
    drop_cache(repo)
    proc = run_gitml("get", f"runs:/{run_id}/model.bin", "-o", "x.bin", cwd=repo, env=env)
    assert proc.returncode == 9, proc.stdout + proc.stderr
    local.write_text(yaml.safe_dump(data))
    proc = run_gitml("get", f"runs:/{run_id}/model.bin", "-o", "x.bin", cwd=repo, env=env)
    assert proc.returncode == 0, proc.stderr
    # The file is ignored by git, never staged, and the committed config holds no secret.
    assert subprocess.run(["git", "check-ignore", "-q", str(local)], cwd=repo).returncode == 0
    git(repo, "add", "-A")
    staged = git(repo, "diff", "--cached", "--name-only").split()
    assert ".gitml/config.local.yaml" not in staged
    assert ".gitml/config.yaml" in staged
    assert SECRET not in (repo / ".gitml" / "config.yaml").read_text()
    # And the committed config refuses to hold one.
    committed = repo / ".gitml" / "config.yaml"
    committed.write_text(
        committed.read_text() + f"remotes:\n  leak: {{url: 's3://b/x', secret_access_key: '{SECRET}'}}\n"
    )
    proc = run_gitml("status", cwd=repo, env=env)
    clear_error(proc, 3)
    assert SECRET not in proc.stdout + proc.stderr


# -- pickles ------------------------------------------------------------------------------------------


class _Evil:
    def __init__(self, sentinel: Path) -> None:
        self.sentinel = str(sentinel)

    def __reduce__(self) -> tuple[Any, ...]:
        return (os.mkdir, (self.sentinel,))


def test_get_never_unpickles(repo: Path, remote: RemoteStore, tmp_path: Path) -> None:
    control = tmp_path / "control"
    pickle.loads(pickle.dumps(_Evil(control)))  # the payload does work when unpickled
    assert control.is_dir()
    sentinel = tmp_path / "pwned"
    payload = pickle.dumps(_Evil(sentinel))
    remote.add(repo)
    (repo / "models").mkdir()
    (repo / "models" / "model.pkl").write_bytes(payload)
    with gitml.start_run() as run:
        gitml.log_artifact(repo / "models" / "model.pkl")
        gitml.log_artifacts(repo / "models", "dir")
    proc = run_gitml("run", "--artifact", "models/model.pkl", "--", PY, "-c", "pass", cwd=repo)
    assert proc.returncode == 0, proc.stderr
    assert run_gitml("push", cwd=repo).returncode == 0
    drop_cache(repo)
    (repo / "models" / "model.pkl").unlink()
    rid = run.info.run_id
    for args in (
        ["get", f"runs:/{rid}/model.pkl", "-o", str(tmp_path / "a.pkl")],
        ["get", f"runs:/{rid}/dir", "-o", str(tmp_path / "b")],
        ["get", f"runs:/{rid}", "-o", str(tmp_path / "c")],
        ["ls", "-R", f"runs:/{rid}"],
        ["pull"],
        ["verify"],
        ["verify", "--cloud"],
        ["status"],
    ):
        proc = run_gitml(*args, cwd=repo)
        assert proc.returncode == 0, proc.stderr
    gitml.artifacts.download(f"runs:/{rid}/model.pkl", tmp_path / "d.pkl")
    gitml.artifacts.list(f"runs:/{rid}", recursive=True)
    assert not sentinel.exists()
    for path in (
        tmp_path / "a.pkl",
        tmp_path / "b" / "model.pkl",
        tmp_path / "c" / "dir" / "model.pkl",
        tmp_path / "d.pkl",
        repo / "models" / "model.pkl",
    ):
        assert path.read_bytes() == payload, path
