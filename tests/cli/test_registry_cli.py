"""Registry commands through the console script: what ``register``, ``promote``, ``demote``,
``deprecate``, ``models list/show/history/resolve`` and ``check-ref`` print (tables and ``--json``),
their help, and how they refuse bad names and bad option combinations (exit 2, one ``Error:`` line,
no traceback).

The registry read by the output tests is built once per module with the Python API, with every event
time injected, so the expected output is exact; each command under test is the installed ``gitml`` in a
subprocess.
"""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from gitml.registry import ops
from gitml.registry.events import utc_iso
from gitml.workspace import Workspace
from tests.artifact_helpers import clear_error, sha
from tests.conftest import GITML, git
from tests.registry_helpers import ADA, Lab, gm, log_run, make_lab

T0 = 1_700_000_000
SMALL = b'{"w": [1, 2, 3]}\n'
BIG = bytes(range(256)) * 8  # 2048 bytes: "2.0 KB"


def cells(line: str) -> list[str]:
    """A table row split into its cells (columns are separated by two spaces or more)."""
    return re.split(r"\s{2,}", line.strip())


def run_all(cwd: Path, *argvs: list[str], at_once: int = 6) -> list[subprocess.CompletedProcess[str]]:
    """Run several ``gitml`` commands, a few at a time (they must not depend on each other); their
    results, in order."""
    done: list[subprocess.CompletedProcess[str]] = []
    for start in range(0, len(argvs), at_once):
        batch = argvs[start : start + at_once]
        procs = [
            subprocess.Popen(
                [GITML, *argv], cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
            )
            for argv in batch
        ]
        for argv, proc in zip(batch, procs, strict=True):
            out, err = proc.communicate(timeout=120)
            done.append(subprocess.CompletedProcess([GITML, *argv], proc.returncode, out, err))
    return done


@dataclass(frozen=True)
class Shelf:
    """A repository with two models: churn (v1 staging, v2 production) and fraud (v1, deprecated)."""

    lab: Lab
    first: str
    second: str
    commits: dict[str, str]

    @property
    def root(self) -> Path:
        return self.lab.root


@pytest.fixture(scope="module")
def shelf(tmp_path_factory: pytest.TempPathFactory) -> Shelf:
    base = tmp_path_factory.mktemp("shelf")
    lab = make_lab(base / "repo", storage=base / "storage")
    ws = Workspace.find(lab.root)
    first = log_run(lab, {"model.json": SMALL}, name="first", params={"lr": 0.1}, metrics={"auc": 0.81})
    ops.register(ws, "churn", first, description="baseline", now=lambda: T0 + 1)
    c1 = git(lab.root, "rev-parse", "HEAD").strip()
    second = log_run(
        lab, {"model.json": BIG}, name="second", params={"lr": 0.05}, metrics={"auc": 0.86, "loss": 0.3}
    )
    ops.register(ws, "churn", second, now=lambda: T0 + 2)
    ops.register(ws, "fraud", second, now=lambda: T0 + 3)
    c2 = git(lab.root, "rev-parse", "HEAD").strip()
    ops.deprecate(ws, "fraud", "v1", now=lambda: T0 + 4)
    ops.promote(ws, "churn", "v2", "production", now=lambda: T0 + 10)
    ops.promote(ws, "churn", "v1", "staging", description="shadow traffic", now=lambda: T0 + 11)
    return Shelf(lab, first, second, {"v1": c1, "v2": c2})


# -- reading: list, show, history, resolve ---------------------------------------------------------------


def test_models_list(shelf: Shelf, tmp_path: Path) -> None:
    table, as_json = run_all(shelf.root, ["models", "list"], ["models", "list", "--json"])
    assert table.returncode == 0 and table.stderr == ""
    assert [cells(line) for line in table.stdout.splitlines()] == [
        ["NAME", "LATEST", "VERSIONS", "STAGES"],
        ["churn", "v2", "2", "production=v2, staging=v1"],
        ["fraud", "-", "1", "-"],
    ]
    assert json.loads(as_json.stdout) == [
        {"name": "churn", "latest": "v2", "versions": 2, "stages": {"production": "v2", "staging": "v1"}},
        {"name": "fraud", "latest": None, "versions": 1, "stages": {}},
    ]
    # A repository with no model yet.
    empty = make_lab(tmp_path / "empty", storage=tmp_path / "storage")
    none, none_json = run_all(empty.root, ["models", "list"], ["models", "list", "--json"])
    assert none.stdout.strip() == "No registered models. Register one: gitml register NAME RUN-ID"
    assert json.loads(none_json.stdout) == []


def test_models_show(shelf: Shelf) -> None:
    table, as_json, fraud = run_all(
        shelf.root,
        ["models", "show", "churn"],
        ["models", "show", "churn", "--json"],
        ["models", "show", "fraud"],
    )
    assert table.returncode == 0 and table.stderr == ""
    lines = table.stdout.splitlines()
    assert lines[0] == "Model churn: 2 version(s); stages: production=v2, staging=v1"
    assert lines[1] == ""
    day = utc_iso(T0)[:10]
    assert [cells(line) for line in lines[2:]] == [
        ["VERSION", "STAGE", "RUN", "PATH", "SIZE", "BY", "REGISTERED", "METRICS"],
        [
            "v2",
            "production",
            shelf.second[:20],
            "model.json",
            "2.0 KB",
            "Ada Lovelace",
            day,
            "auc=0.86, loss=0.3",
        ],
        ["v1", "staging", shelf.first[:20], "model.json", f"{len(SMALL)} B", "Ada Lovelace", day, "auc=0.81"],
    ]
    assert cells(fraud.stdout.splitlines()[3])[:2] == ["v1", "deprecated"]

    def version(
        v: str,
        run: str,
        data: bytes,
        stage: str,
        at: int,
        name: str,
        description: str | None,
        **extra: object,
    ) -> dict[str, object]:
        return {
            "name": "churn",
            "version": v,
            "tag": f"churn@{v}",
            "commit": shelf.commits[v],
            "run_id": run,
            "path": "model.json",
            "hash": sha(data),
            "size": len(data),
            "type": "file",
            "remote": str(shelf.lab.storage),
            "description": description,
            "registered_by": ADA,
            "registered_at": utc_iso(at),
            "deprecated": False,
            "stages": [stage],
            "run": {"run_id": run, "name": name, "experiment": "default", "status": "FINISHED", **extra},
        }

    assert json.loads(as_json.stdout) == {
        "name": "churn",
        "versions": [
            version(
                "v2",
                shelf.second,
                BIG,
                "production",
                T0 + 2,
                "second",
                None,
                params={"lr": 0.05},
                metrics={"auc": 0.86, "loss": 0.3},
            ),
            version(
                "v1",
                shelf.first,
                SMALL,
                "staging",
                T0 + 1,
                "first",
                "baseline",
                params={"lr": 0.1},
                metrics={"auc": 0.81},
            ),
        ],
        "stages": {
            "production": {"version": "v2", "since": utc_iso(T0 + 10), "by": ADA},
            "staging": {"version": "v1", "since": utc_iso(T0 + 11), "by": ADA},
        },
    }


def test_models_history(shelf: Shelf) -> None:
    table, as_json = run_all(
        shelf.root, ["models", "history", "churn"], ["models", "history", "churn", "--json"]
    )
    assert table.returncode == 0 and table.stderr == ""

    def when(at: int) -> str:
        return utc_iso(at).replace("T", " ").rstrip("Z")

    assert [cells(line) for line in table.stdout.splitlines()] == [
        ["WHEN (UTC)", "EVENT", "VERSION", "STAGE", "BY", "TAG"],
        [when(T0 + 1), "registration", "v1", "-", ADA, "churn@v1"],
        [when(T0 + 2), "registration", "v2", "-", ADA, "churn@v2"],
        [when(T0 + 10), "promotion", "v2", "production", ADA, "churn#production#1"],
        [when(T0 + 11), "promotion", "v1", "staging", ADA, "churn#staging#1"],
    ]
    events = json.loads(as_json.stdout)
    assert [e["tag"] for e in events] == ["churn@v1", "churn@v2", "churn#production#1", "churn#staging#1"]
    assert events[3] == {
        "tag": "churn#staging#1",
        "event": "promotion",
        "name": "churn",
        "version": "v1",
        "stage": "staging",
        "commit": shelf.commits["v1"],
        "by": ADA,
        "at": utc_iso(T0 + 11),
        "description": "shadow traffic",
    }
    assert events[0]["description"] == "baseline"


def test_models_resolve_and_not_found(shelf: Shelf) -> None:
    plain, as_json, latest, *missing = run_all(
        shelf.root,
        ["models", "resolve", "models:/churn/production"],
        ["models", "resolve", "models:/churn@staging", "--json"],
        ["models", "resolve", "models:/fraud/latest"],
        ["models", "show", "nope"],
        ["models", "history", "nope"],
        ["models", "resolve", "models:/churn/v9"],
        ["models", "resolve", "models:/churn/canary"],
        ["promote", "churn", "v9", "production"],
        ["demote", "churn", "canary"],
    )
    assert plain.stdout.strip() == (
        f"models:/churn/production -> churn v2 (churn@v2 on {shelf.commits['v2'][:12]}, "
        f"run {shelf.second}, model.json)"
    )
    got = json.loads(as_json.stdout)
    assert (got["version"], got["stages"], got["source"], got["hash"]) == (
        "v1",
        ["staging"],
        "this clone's tags",
        sha(SMALL),
    )
    line = clear_error(latest, 4)
    assert "deprecated" in line
    hints = {}
    for proc in missing:
        line = clear_error(proc, 4)
        hint = [h for h in proc.stderr.splitlines() if h.startswith("Hint: ")]
        assert len(hint) == 1, proc.stderr
        hints[" ".join(proc.args[1:])] = (line, hint[0])
    assert hints["models show nope"][0] == "Error: no model named 'nope' is registered here"
    assert "gitml models list" in hints["models show nope"][1]
    assert hints["models history nope"][0] == "Error: no model named 'nope' is registered here"
    assert hints["models resolve models:/churn/v9"][0] == "Error: model 'churn' has no version v9"
    assert "v1, v2" in hints["models resolve models:/churn/v9"][1]
    assert "canary" in hints["models resolve models:/churn/canary"][0]
    assert "gitml promote churn VERSION canary" in hints["models resolve models:/churn/canary"][1]
    assert hints["promote churn v9 production"][0] == "Error: model 'churn' has no version v9"
    assert hints["demote churn canary"][0] == "Error: no version of 'churn' holds stage 'canary'"


# -- writing: what register, promote, demote and deprecate say ----------------------------------------------


def test_event_commands_say_what_they_did(tmp_path: Path) -> None:
    lab = make_lab(tmp_path / "repo", storage=tmp_path / "storage")
    rid = log_run(lab, {"model.json": SMALL, "notes.txt": b"n"})
    loose = log_run(lab, {"model.json": SMALL}, commit=False)
    head = git(lab.root, "rev-parse", "HEAD").strip()[:12]

    assert gm(lab.root, "register", "churn", f"runs:/{rid}/model.json", "-m", "first").stdout == (
        f"Registered churn v1: tag churn@v1 on {head}\n"
    )
    assert gm(lab.root, "register", "churn", rid, "--path", "notes.txt", "--version", "2.0.0").stdout == (
        f"Registered churn v2.0.0: tag churn@v2.0.0 on {head}\n"
    )
    assert gm(lab.root, "promote", "churn", "1", "production").stdout == (
        f"Promoted to production: churn v1: tag churn#production#1 on {head}\n"
    )
    assert gm(lab.root, "promote", "churn", "v1", "production").stdout == (
        "Nothing to do: churn v1 already holds production\n"
    )
    assert gm(lab.root, "demote", "churn", "production", "-m", "rollback").stdout == (
        f"Demoted from production: churn v1: tag churn#production!#2 on {head}\n"
    )
    assert (
        gm(lab.root, "deprecate", "churn", "v1").stdout == f"Deprecated churn v1: tag churn@v1! on {head}\n"
    )
    assert gm(lab.root, "deprecate", "churn", "v1").stdout == "Nothing to do: churn v1 already deprecated\n"
    assert gm(lab.root, "promote", "churn", "v1", "staging", "--force").stdout == (
        f"Promoted to staging: churn v1: tag churn#staging#1 on {head}\n"
    )

    refused = run_all(
        lab.root,
        ["register", "churn", rid],  # two artifacts, neither called 'model'
        ["register", "churn", loose],  # not committed
        ["register", "churn", rid, "--path", "model.json", "--version", "v1"],  # taken
        ["promote", "churn", "v1", "canary"],  # deprecated
        ["register", "churn", "01zzzzzzzzzzzzzzzzzzzzzzzz"],  # no such run
    )
    assert clear_error(refused[0], 2) == (
        f"Error: which artifact of run {rid} is the model? (artifacts: model.json, notes.txt)"
    )
    assert clear_error(refused[1], 2).startswith(f"Error: run {loose} is not committed")
    assert f"Hint: gitml runs commit {loose}" in refused[1].stderr
    assert clear_error(refused[2], 11).startswith("Error: version v1 of 'churn' already exists")
    assert clear_error(refused[3], 2) == "Error: churn v1 is deprecated; promoting it needs --force"
    clear_error(refused[4], 4)


def test_help_texts() -> None:
    commands = {
        "register": "Register a committed run's artifact as a new version",
        "promote": "Give STAGE (production, staging, champion...) to a version",
        "demote": "Take STAGE away from the version holding it",
        "deprecate": "Mark a version as not to be used",
        "models": "Read the model registry",
        "models list": "Each model: latest version and who holds each stage.",
        "models show": "Versions, stages, each version's source run",
        "models history": "Every event of a model",
        "models resolve": "Which version a models:/ URI names",
        "check-ref": "For CI on a tag push",
        "get": "Download an artifact or a model version, verified.",
    }
    results = run_all(Path.cwd(), *[[*c.split(), "--help"] for c in commands])
    for (command, first_line), proc in zip(commands.items(), results, strict=True):
        assert proc.returncode == 0 and proc.stderr == "", command
        assert proc.stdout.startswith(f"Usage: gitml {command} "), proc.stdout
        assert first_line in " ".join(proc.stdout.split()), (command, proc.stdout)
    top = run_all(Path.cwd(), ["--help"])[0].stdout
    for command in ("register", "promote", "demote", "deprecate", "models", "check-ref", "get"):
        assert re.search(rf"^  {command}\s", top, re.M), command


# -- refusals -----------------------------------------------------------------------------------------------

BAD_NAMES = ["../a", "a b", "-x", "a..b", "a.lock", "@{", "", "a" * 101]
MORE_BAD_NAMES = ["Churn", "a/b", "a@v1", "a#b!", ".a", "a-", "é"]


def test_bad_model_names_exit_2(shelf: Shelf) -> None:
    argvs = []
    for name in BAD_NAMES:
        argvs += [
            ["register", "--", name, shelf.first],
            ["promote", "--", name, "v1", "production"],
            ["models", "show", "--", name],
        ]
    for name in MORE_BAD_NAMES:
        argvs.append(["models", "history", "--", name])
    for name in ("-x", "a..b", "a b", "Churn"):
        argvs += [["demote", "--", name, "production"], ["deprecate", "--", name, "v1"]]
    for name in ("..", "a..b", "a.lock", "@{", "", "a" * 101):
        argvs.append(["get", f"models:/{name}/v1", "-o", "never"])
    before = git(shelf.root, "for-each-ref", "refs/tags")
    for argv, proc in zip(argvs, run_all(shelf.root, *argvs), strict=True):
        line = clear_error(proc, 2)
        assert "name" in line or "models:/" in line, (argv, line)
        assert proc.stdout == "", argv
    assert git(shelf.root, "for-each-ref", "refs/tags") == before
    assert not (shelf.root / "never").exists()
    # 100 characters is a name; 101 is not.
    ok = run_all(shelf.root, ["models", "show", "a" * 100])[0]
    assert clear_error(ok, 4) == f"Error: no model named '{'a' * 100}' is registered here"


def test_bad_stages_versions_and_uris_exit_2(shelf: Shelf) -> None:
    argvs = [
        *(
            ["promote", "churn", "v1", stage]
            for stage in ("Prod", "latest", "deprecated", "v2", "3", "a b", "")
        ),
        ["promote", "--", "churn", "v1", "-x"],
        ["demote", "churn", "Prod"],
        *(["promote", "--", "churn", version, "production"] for version in ("vv1", "v1.2", "v01", "-1", "")),
        ["register", "churn", shelf.first, "--version", "v1.2"],
        ["deprecate", "churn", "one"],
        *(
            ["models", "resolve", uri]
            for uri in (
                "models:/churn",
                "models:/churn/",
                "models://churn/v1",
                "runs:/x",
                "models:/churn/v1/x",
            )
        ),
    ]
    before = git(shelf.root, "for-each-ref", "refs/tags")
    for argv, proc in zip(argvs, run_all(shelf.root, *argvs), strict=True):
        clear_error(proc, 2)
        assert proc.stdout == "", argv
    assert git(shelf.root, "for-each-ref", "refs/tags") == before


def test_get_option_misuse(shelf: Shelf) -> None:
    origin = str(shelf.root)  # the repository itself, as a --repo URL
    results = run_all(
        shelf.root,
        ["get", f"runs:/{shelf.first}/model.json", "--repo", origin, "-o", "never"],
        ["get", "models:/churn/production", "--repo", origin, "--rev=-x", "-o", "never"],
        ["get", "models:/churn/production", "--repo", origin, "--rev", "main..HEAD", "-o", "never"],
        ["get", "models:/churn/production", "--repo", origin, "--rev", "HEAD@{1}", "-o", "never"],
        ["get", "models:/churn/production", "--rev", "nosuch", "-o", "never"],
        ["get", "models:/churn/prod", "--rev", "x", "-o", "never"],
        ["get", "models:/churn/production", "--repo", origin, "--rev", "nosuch", "-o", "never"],
    )
    assert clear_error(results[0], 2) == "Error: --repo URL works with models:/ URIs"
    for proc in results[1:4]:
        assert "invalid revision" in clear_error(proc, 2)
    assert clear_error(results[4], 4) == "Error: unknown revision 'nosuch'"
    assert "prod" in clear_error(results[5], 4)  # a stage nobody holds, whatever the revision
    assert "no branch or tag 'nosuch'" in clear_error(results[6], 4)
    assert not (shelf.root / "never").exists()


def test_get_models_rev_in_a_clone_refuses_unsafe_revisions(shelf: Shelf) -> None:
    for proc in run_all(
        shelf.root,
        ["get", "models:/churn/production", "--rev=-x", "-o", "never"],
        ["get", "models:/churn/production", "--rev", "main..HEAD", "-o", "never"],
    ):
        assert "invalid revision" in clear_error(proc, 2)
