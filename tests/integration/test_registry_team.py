"""The registry as a team and CI use it: an origin repository (a bare repo on disk, or served by the real
``git daemon`` on 127.0.0.1), developer clones that register, promote and push, two promotions at the
same moment, CI checkouts without tags (``git clone --depth 1 --no-tags``), ``--repo URL`` with no
clone at all, stale and unreachable origins, moved tags, bytes never pushed, S3 storage, check-ref.

Every user-facing step is the installed ``gitml`` in a subprocess; setup uses the Python API.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from gitml import api
from gitml.registry import ops
from gitml.registry.events import utc_iso
from gitml.workspace import Workspace
from tests.artifact_helpers import clear_error, sha
from tests.conftest import GITML, git, run_python, wait_for
from tests.gitserver import GitDaemon, closed_git_url, init_bare
from tests.registry_helpers import ADA, Lab, clone, gm, log_run, make_lab, tag_fields, tag_refs
from tests.s3server import S3Bucket, closed_port_url

MODELS = {
    "v1": b'{"weights": [0.1, 0.2]}\n',
    "v2": b'{"weights": [0.3, 0.4, 0.5]}\n',
    "v3": bytes(range(256)) * 64,
}
T0 = 1_700_000_000  # 2023-11-14T22:13:20Z: injected event times sort before real-time ones


def at(stamp: int) -> Callable[[], float]:
    """A clock stopped at ``stamp`` (for ``now=``)."""
    return lambda: float(stamp)


@dataclass
class Origin:
    kind: str  # "disk" or "daemon"
    bare: Path
    url: str  # what developer clones use as origin (a plain path, or git://)

    @property
    def shallow_url(self) -> str:
        """For ``git clone --depth 1``: git ignores --depth for a plain local path, so file:// there."""
        return self.bare.as_uri() if self.kind == "disk" else self.url


def _origin(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> Origin:
    if kind == "disk":
        bare = init_bare(tmp_path / "origin.git")
        return Origin(kind, bare, str(bare))
    daemon: GitDaemon = request.getfixturevalue("git_daemon")
    bare = init_bare(daemon.base / "origin.git")
    return Origin(kind, bare, daemon.url("origin.git"))


@dataclass
class Team:
    origin: Origin
    dev: Lab
    runs: dict[str, str]  # version -> run id
    tmp: Path

    def clone(self, name: str, *args: str, url: str | None = None) -> Path:
        return clone(url or self.origin.url, self.tmp / name, *args)

    def ci(self, name: str = "ci") -> Path:
        """A CI checkout: shallow, no tags."""
        path = clone(self.origin.shallow_url, self.tmp / name, "--depth", "1", "--no-tags")
        assert git(path, "tag", "-l") == ""
        assert git(path, "rev-parse", "--is-shallow-repository").strip() == "true"
        return path

    def nowhere(self) -> Path:
        """A folder that is no repository at all."""
        path = self.tmp / "nowhere"
        path.mkdir(exist_ok=True)
        return path


def build_team(origin: Origin, tmp: Path) -> Team:
    """The developer registers v1-v3 of churn (v1 through the CLI, with --push), promotes v1 to
    production, and pushes the bytes, the branch and the tags."""
    dev = make_lab(tmp / "dev", storage=tmp / "storage", origin=origin.url)
    ws = Workspace.find(dev.root)
    runs = {
        v: log_run(dev, {"model.json": data}, metrics={"auc": 0.7 + i / 10})
        for i, (v, data) in enumerate(MODELS.items())
    }
    proc = gm(dev.root, "register", "churn", runs["v1"], "--push", "-m", "baseline")
    assert proc.stdout.strip().startswith("Registered churn v1: tag churn@v1 on ")
    assert proc.stdout.strip().endswith(", pushed to origin")
    for i, v in enumerate(("v2", "v3")):
        assert ops.register(ws, "churn", runs[v], push=True, now=at(T0 + i)).tag == f"churn@{v}"
    ops.promote(ws, "churn", "v1", "production", push=True, now=at(T0 + 10))
    dev.push_git()
    return Team(origin, dev, runs, tmp)


@pytest.fixture(params=["disk", "daemon"])
def team(request: pytest.FixtureRequest, tmp_path: Path) -> Team:
    return build_team(_origin(request.param, tmp_path, request), tmp_path)


@pytest.fixture
def disk_team(request: pytest.FixtureRequest, tmp_path: Path) -> Team:
    return build_team(_origin("disk", tmp_path, request), tmp_path)


def remote_tags(team: Team) -> dict[str, str]:
    return tag_refs(team.origin.bare)


# -- two promotions at the same moment ----------------------------------------------------------------

HOOK = """#!/bin/sh
# The first push after the test arms this hook waits here until the test writes to the FIFO.
if [ -e "$GIT_DIR/race-armed" ] && mkdir "$GIT_DIR/race-first" 2>/dev/null; then
    cat "$GIT_DIR/race-release" >/dev/null
fi
exit 0
"""


def _release(fifo: Path) -> bool:
    """Open the FIFO for writing (only possible once the hook reads it) and close it: the hook goes on."""
    try:
        fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
    except OSError as exc:
        if exc.errno == errno.ENXIO:  # nobody reads it yet
            return False
        raise
    os.close(fd)
    return True


@contextlib.contextmanager
def held_push(team: Team, clone_dir: Path, *args: str) -> Iterator[subprocess.Popen[str]]:
    """Run ``gitml ARGS`` in ``clone_dir`` until its push is inside git receive-pack (pre-receive hook),
    after it chose its tag name; the body runs while it waits there; on leaving, the push goes on."""
    hooks = team.origin.bare / "hooks"
    (hooks / "pre-receive").write_text(HOOK)
    (hooks / "pre-receive").chmod(0o755)
    fifo = team.origin.bare / "race-release"
    os.mkfifo(fifo)
    (team.origin.bare / "race-armed").touch()
    proc = subprocess.Popen(
        [GITML, *args], cwd=clone_dir, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        wait_for(
            lambda: (team.origin.bare / "race-first").is_dir() or proc.poll() is not None,
            what="the first push to reach the pre-receive hook",
        )
        assert proc.poll() is None, proc.communicate()
        yield proc
    finally:
        if proc.poll() is None:
            wait_for(lambda: proc.poll() is not None or _release(fifo), what="the hook to read the FIFO")
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            raise
        (team.origin.bare / "race-armed").unlink()


INTERLEAVE = """
import subprocess
import sys
from pathlib import Path

from gitml.cli import main
from gitml.repo import transport

real_push = transport.push_tags


def push_after_alice(root, remote, tags):
    if not Path({out!r}).exists():
        alice = subprocess.run(
            [{gitml!r}, "promote", "churn", "v2", "production", "--push"],
            cwd={alice!r}, capture_output=True, text=True,
        )
        Path({out!r}).write_text(f"{{alice.returncode}} {{alice.stdout}}{{alice.stderr}}")
    real_push(root, remote, tags)


transport.push_tags = push_after_alice
sys.argv = ["gitml", "promote", "churn", "v3", "production", "--push"]
main()
"""


def race(team: Team, alice: Path, bob: Path) -> tuple[str, str]:
    """Alice promotes v2 and Bob v3 to production at the same moment: both have numbered their tag
    (churn#production#2) before either push lands. Returns (winner's version, loser's version)."""
    if team.origin.kind == "daemon":
        # Real concurrency: Alice's push waits inside git receive-pack while Bob's runs.
        with held_push(team, alice, "promote", "churn", "v2", "production", "--push") as alice_proc:
            won = gm(bob, "promote", "churn", "v3", "production", "--push")
            assert won.stdout.strip() == (
                f"Promoted to production: churn v3: tag churn#production#2 on "
                f"{git(bob, 'rev-parse', 'churn@v3^{commit}')[:12]}, pushed to origin"
            )
        out, err = alice_proc.communicate()
        lost = subprocess.CompletedProcess(alice_proc.args, alice_proc.returncode, out, err)
        loser, winner_version, loser_version = alice, "v3", "v2"
    else:
        # No hook runs for a push to a path (dulwich writes the refs itself), so Bob's gitml is told to
        # let Alice's promote run, from start to end, after he numbered his tag and before his push.
        alice_out = team.tmp / "alice.out"
        code = INTERLEAVE.format(gitml=GITML, alice=str(alice), out=str(alice_out))
        lost = run_python(code, cwd=bob)
        assert alice_out.read_text().startswith(
            "0 Promoted to production: churn v2: tag churn#production#2 on "
        )
        loser, winner_version, loser_version = bob, "v2", "v3"
    line = clear_error(lost, 11)
    assert line == (
        "Error: origin already has a tag churn#production#2 made by someone else; your event was not recorded"
    )
    assert "Hint: git fetch origin --tags, check `gitml models history`, then run the command again" in (
        lost.stderr
    )
    # The loser's tag is gone from its clone; origin holds the winner's.
    winner = bob if loser == alice else alice
    assert "churn#production#2" not in tag_refs(loser)
    assert remote_tags(team)["churn#production#2"] == tag_refs(winner)["churn#production#2"]
    return winner_version, loser_version


def test_race_then_ci_and_no_clone_get_the_winner(team: Team) -> None:
    alice = team.clone("alice")
    bob = team.clone("bob")
    winner_version, loser_version = race(team, alice, bob)
    loser = alice if loser_version == "v2" else bob

    # The loser follows the hint: fetch the tags, then promote again; the event lands after the winner's.
    git(loser, "fetch", "-q", "origin", "--tags")
    again = gm(loser, "promote", "churn", loser_version, "production", "--push")
    assert "tag churn#production#3 on " in again.stdout
    history = json.loads(gm(loser, "models", "history", "churn", "--json").stdout)
    promotions = [(e["tag"], e["version"]) for e in history if e["event"] == "promotion"]
    assert promotions == [
        ("churn#production#1", "v1"),
        ("churn#production#2", winner_version),
        ("churn#production#3", loser_version),
    ]
    assert {"churn#production#1", "churn#production#2", "churn#production#3"} <= set(remote_tags(team))

    # CI: a shallow checkout without tags gets the bytes of the current holder, and writes no tag.
    ci = team.ci()
    proc = gm(ci, "get", "models:/churn/production", "-o", "model.json")
    assert proc.stdout.startswith("Wrote model.json (1 file(s), ")
    assert f"churn {loser_version} (churn@{loser_version}, run {team.runs[loser_version]})" in proc.stdout
    assert (ci / "model.json").read_bytes() == MODELS[loser_version]
    assert git(ci, "tag", "-l") == ""

    # No clone at all: --repo URL (every URL form this origin is reachable by).
    nowhere = team.nowhere()
    urls = (
        [team.origin.url]
        if team.origin.kind == "daemon"
        else [str(team.origin.bare), team.origin.bare.as_uri()]
    )
    for i, url in enumerate(urls):
        gm(nowhere, "get", "models:/churn/production", "--repo", url, "-o", f"m{i}.json")
        assert (nowhere / f"m{i}.json").read_bytes() == MODELS[loser_version]
    resolved = json.loads(
        gm(nowhere, "models", "resolve", "models:/churn@production", "--repo", urls[0], "--json").stdout
    )
    assert (resolved["version"], resolved["tag"], resolved["stages"]) == (
        loser_version,
        f"churn@{loser_version}",
        ["production"],
    )
    assert resolved["hash"] == sha(MODELS[loser_version])
    assert sorted(os.listdir(nowhere)) == [f"m{i}.json" for i in range(len(urls))]


# -- stale, offline, unreachable, moved -----------------------------------------------------------------


def test_stale_clone_gets_the_new_holder_offline_uses_its_own_tags(disk_team: Team) -> None:
    team = disk_team
    stale = team.clone("stale")
    ops.promote(Workspace.find(team.dev.root), "churn", "v2", "production", push=True)
    before = tag_refs(stale)
    assert "churn#production#2" not in before

    proc = gm(stale, "get", "models:/churn/production", "-o", "new.json")
    assert "churn v2 (churn@v2" in proc.stdout
    assert (stale / "new.json").read_bytes() == MODELS["v2"]
    resolved = json.loads(gm(stale, "models", "resolve", "models:/churn/production", "--json").stdout)
    assert (resolved["version"], resolved["source"]) == ("v2", "origin's tags (1 not in this clone)")
    assert tag_refs(stale) == before  # nothing was written to the clone's tags

    gm(stale, "get", "models:/churn/production", "-o", "old.json", "--offline")
    assert (stale / "old.json").read_bytes() == MODELS["v1"]
    resolved = json.loads(
        gm(stale, "models", "resolve", "models:/churn/production", "--offline", "--json").stdout
    )
    assert (resolved["version"], resolved["source"]) == ("v1", "this clone's tags")


def test_unreachable_origin_falls_back_to_local_tags_with_a_warning(disk_team: Team) -> None:
    mine = disk_team.clone("mine")
    git(mine, "remote", "set-url", "origin", closed_git_url("origin.git"))
    proc = gm(mine, "get", "models:/churn/production", "-o", "m.json")
    assert (mine / "m.json").read_bytes() == MODELS["v1"]
    warnings = [line for line in proc.stderr.splitlines() if line.startswith("Warning: ")]
    assert len(warnings) == 1, proc.stderr
    assert warnings[0].startswith("Warning: could not reach origin (cannot reach git://127.0.0.1:")
    assert warnings[0].endswith("using this clone's tags, which may be stale")
    # --offline does not even try.
    quiet = gm(mine, "get", "models:/churn/production", "-o", "m2.json", "--offline")
    assert quiet.stderr == ""


def test_origin_path_gone_falls_back_to_local_tags(disk_team: Team) -> None:
    mine = disk_team.clone("mine")
    git(mine, "remote", "set-url", "origin", str(disk_team.tmp / "moved-away.git"))
    proc = run_gitml_in(mine, "get", "models:/churn/production", "-o", "m.json")
    assert proc.returncode == 0, proc.stderr
    assert "Warning: could not reach origin" in proc.stderr


def test_relative_origin_url_from_a_subdirectory(disk_team: Team) -> None:
    mine = disk_team.clone("mine")
    git(mine, "remote", "set-url", "origin", os.path.relpath(disk_team.origin.bare, mine))
    sub = mine / "src" / "deep"
    sub.mkdir(parents=True)
    assert "refs/tags/churn@v1" in git(sub, "ls-remote", "origin")  # git itself finds it from here
    proc = run_gitml_in(sub, "get", "models:/churn/production", "-o", "m.json")
    assert proc.returncode == 0, proc.stderr
    assert (sub / "m.json").read_bytes() == MODELS["v1"]


def run_gitml_in(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([GITML, *args], cwd=cwd, capture_output=True, text=True, check=False, timeout=60)
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


def test_a_tag_moved_on_origin_is_a_conflict(disk_team: Team) -> None:
    team = disk_team
    mine = team.clone("mine")
    # Someone re-creates churn#production#1 on origin, pointing at v2's commit, and force-pushes it.
    rogue = team.clone("rogue")
    git(rogue, "tag", "-f", "-a", "churn#production#1", "-m", "rewritten", "churn@v3^{commit}")
    git(rogue, "push", "-q", "-f", "origin", "refs/tags/churn#production#1")
    assert remote_tags(team)["churn#production#1"] != tag_refs(mine)["churn#production#1"]

    for args in (
        ("get", "models:/churn/production", "-o", "m.json"),
        ("models", "resolve", "models:/churn/v1"),
    ):
        proc = run_gitml_in(mine, *args)
        line = clear_error(proc, 11)
        assert line.startswith("Error: tag churn#production#1 differs between this clone and origin")
        assert "git ls-remote --tags origin" in proc.stderr
    assert not (mine / "m.json").exists()
    # Offline, the clone trusts what it has.
    gm(mine, "get", "models:/churn/production", "-o", "m.json", "--offline")
    assert (mine / "m.json").read_bytes() == MODELS["v1"]


# -- --repo URL: refused URLs, bytes never pushed ------------------------------------------------------


def test_repo_url_refuses_options_and_transport_helpers(disk_team: Team) -> None:
    nowhere = disk_team.nowhere()
    marker = disk_team.tmp / "pwned"
    evil = [
        ("--repo", f"ext::sh -c touch% {marker}"),
        ("--repo", f"ext::touch {marker}"),
        ("--repo", "fd::3"),
        (f"--repo=--upload-pack=touch {marker}",),
        ("--repo", f"--upload-pack=touch {marker}"),
        ("--repo", f"ssh://-oProxyCommand=touch%20{marker}/x.git"),
        ("--repo", f"-oProxyCommand=touch {marker}:x.git"),
    ]
    for args in evil:
        for command in (
            ("get", "models:/churn/production", "-o", "out.json"),
            ("models", "resolve", "models:/churn/v1"),
        ):
            proc = run_gitml_in(nowhere, *command, *args)
            line = clear_error(proc, 2)
            assert "unsafe or unsupported git URL" in line, (args, line)
    assert not marker.exists()
    assert os.listdir(nowhere) == []


def test_bytes_never_pushed(disk_team: Team) -> None:
    team = disk_team
    ws = Workspace.find(team.dev.root)
    secret_model = os.urandom(3000)
    rid = log_run(team.dev, {"model.json": secret_model})
    ops.register(ws, "churn", rid)  # registered without --push, and no `gitml push` either
    team.dev.push_git()
    ci = team.ci()
    proc = run_gitml_in(ci, "get", "models:/churn/v4", "-o", "model.json")
    line = clear_error(proc, 4)
    assert line.startswith("Error: the bytes of churn@v4 (1 object(s), first ")
    assert "Hint: push them from the clone that registered it: gitml push" in proc.stderr
    assert not (ci / "model.json").exists()
    nowhere = team.nowhere()
    proc = run_gitml_in(
        nowhere, "get", "models:/churn/latest", "--repo", str(team.origin.bare), "-o", "model.json"
    )
    line = clear_error(proc, 4)
    assert line.startswith(f"Error: {team.dev.storage}: object {sha(secret_model)[:12]} is missing"), line
    assert "Hint: push it from the clone that logged the run: gitml push" in proc.stderr
    assert os.listdir(nowhere) == []
    # Once pushed, both work.
    assert api.push(repo=team.dev.root).ok
    gm(ci, "get", "models:/churn/v4", "-o", "model.json")
    assert (ci / "model.json").read_bytes() == secret_model
    gm(nowhere, "get", "models:/churn/latest", "--repo", str(team.origin.bare), "-o", "model.json")
    assert (nowhere / "model.json").read_bytes() == secret_model


# -- S3 storage ------------------------------------------------------------------------------------------


def test_s3_storage_get_via_repo_reads_the_config_at_the_commit(
    tmp_path: Path, s3_bucket: S3Bucket, request: pytest.FixtureRequest
) -> None:
    origin = _origin("disk", tmp_path, request)
    dev = make_lab(tmp_path / "dev", storage=tmp_path / "unused-folder", origin=origin.url)
    gm(dev.root, "remote", "add", "s3", s3_bucket.url, "--endpoint-url", s3_bucket.endpoint_url, "--default")
    dev.commit_all("store models on S3")
    model = os.urandom(40_000)
    rid = log_run(dev, {"model.bin": model})  # commits the run and the config naming the S3 remote
    secret = "S3cr3t-never-recorded-9f1c"
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "AKIAREGISTRYTEST", "AWS_SECRET_ACCESS_KEY": secret}
    proc = gm(dev.root, "register", "churn", rid, "--push", env=env)
    assert proc.stdout.strip().endswith(", pushed to origin")
    oid = sha(model)
    assert f"store/sha256/{oid[:2]}/{oid[2:]}" in s3_bucket.keys()
    # Later commits point the config elsewhere: a version still reads the config of its own commit.
    gm(
        dev.root,
        "remote",
        "add",
        "s3",
        s3_bucket.url,
        "--endpoint-url",
        closed_port_url(),
        "--default",
        "--force",
    )
    dev.commit_all("move storage")
    dev.push_git()
    message = git(dev.root, "cat-file", "-p", "churn@v1")
    assert tag_fields(dev.root, "churn@v1")[1]["remote"] == s3_bucket.url
    for text in (message, (dev.root / ".gitml" / "config.yaml").read_text(), proc.stdout, proc.stderr):
        assert secret not in text and "AKIAREGISTRYTEST" not in text

    nowhere = tmp_path / "nowhere"
    nowhere.mkdir()
    got = gm(nowhere, "get", "models:/churn/v1", "--repo", origin.bare.as_uri(), "-o", "model.bin", env=env)
    assert (nowhere / "model.bin").read_bytes() == model
    assert secret not in got.stdout + got.stderr


# -- check-ref ---------------------------------------------------------------------------------------------


def test_check_ref_for_every_event_kind(disk_team: Team) -> None:
    team = disk_team
    ws = Workspace.find(team.dev.root)
    ops.promote(ws, "churn", "v2", "staging", description="canary ok", push=True, now=at(T0 + 20))
    ops.demote(ws, "churn", "staging", push=True, now=at(T0 + 21))
    ops.deprecate(ws, "churn", "v3", push=True, now=at(T0 + 22))
    commits = {v: git(team.dev.root, "rev-parse", f"churn@{v}^{{commit}}").strip() for v in MODELS}

    def event(
        tag: str, kind: str, version: str, stage: str | None, at: int, description: str | None = None
    ) -> dict[str, Any]:
        return {
            "tag": tag,
            "event": kind,
            "name": "churn",
            "version": version,
            "stage": stage,
            "commit": commits[version],
            "by": ADA,
            "at": utc_iso(at),
            "description": description,
        }

    expected = {
        "churn@v2": event("churn@v2", "registration", "v2", None, T0),
        "churn#production#1": event("churn#production#1", "promotion", "v1", "production", T0 + 10),
        "churn#staging#1": event("churn#staging#1", "promotion", "v2", "staging", T0 + 20, "canary ok"),
        "churn#staging!#2": event("churn#staging!#2", "demotion", "v2", "staging", T0 + 21),
        "churn@v3!": event("churn@v3!", "deprecation", "v3", None, T0 + 22),
    }
    # In the clone that made them, and in a CI checkout that has no tags (read from origin).
    ci = team.ci()
    for tag, want in expected.items():
        where = team.dev.root if tag in ("churn@v2", "churn#staging!#2") else ci
        got = json.loads(gm(where, "check-ref", f"refs/tags/{tag}", "--json").stdout)
        assert got == want, tag
    assert git(ci, "tag", "-l") == ""
    plain = gm(ci, "check-ref", "churn#staging#1")
    assert plain.stdout.strip() == "event=promotion name=churn version=v2 stage=staging"

    for ref in ("refs/tags/release-1.0", "refs/heads/main", "churn", "Churn@v1", "churn#latest#1"):
        line = clear_error(run_gitml_in(ci, "check-ref", ref), 2)
        assert "is not a gitml registry tag" in line
    proc = run_gitml_in(ci, "check-ref", "refs/tags/churn#production#9")
    line = clear_error(proc, 4)
    assert line == "Error: tag churn#production#9 is not in this clone (or is not annotated)"


# -- numbering against origin when pushing (the clone has not fetched) --------------------------------------


def test_push_numbers_after_origin_tags_the_clone_lacks(disk_team: Team) -> None:
    team = disk_team
    stale = team.clone("stale")
    dev_ws = Workspace.find(team.dev.root)
    ops.promote(dev_ws, "churn", "v2", "production", push=True)  # churn#production#2, not in `stale`
    rid = log_run(team.dev, {"model.json": b"v4"})
    ops.register(dev_ws, "churn", rid, push=True)  # churn@v4, not in `stale`
    promoted = run_gitml_in(stale, "promote", "churn", "v3", "production", "--push")
    assert promoted.returncode == 0, promoted.stderr
    assert "tag churn#production#3 on " in promoted.stdout
    registered = run_gitml_in(stale, "register", "churn", team.runs["v3"], "--push")
    assert registered.returncode == 0, registered.stderr
    assert "Registered churn v5: tag churn@v5 on " in registered.stdout
