#!/usr/bin/env python
"""Review benchmark (issue 5): ``gitml diff`` vs ``dvc metrics diff`` / ``dvc params diff``, and
``gitml diff`` between two revisions that each hold 10,000 runs.

    bash bench/peers.sh                                # once: DVC in bench/.peers
    .venv/bin/python bench/bench_review.py             # 10,000 runs, ~3-4 min
    .venv/bin/python bench/bench_review.py --quick     # 1,000 runs, ~1 min
    .venv/bin/python bench/bench_review.py --only small --reps 15
    .venv/bin/python bench/bench_review.py --profile   # also say where gitml's time goes

small: one repo (``git init`` + ``dvc init`` + ``gitml init``) with ``dvc.yaml`` declaring
``params.yaml`` and ``metrics.json``, and a ``train.py`` that reads the one and writes the other.
Two commits, each made the way users make them: edit params.yaml, ``gitml run -n train -- python
train.py``, ``git add -A``, ``git commit``.  So both tools look at the very same change.  Timed as
whole processes, interleaved, one warm-up each, median of ``--reps``: ``gitml diff HEAD~1 HEAD``
(and ``--md``) against ``dvc metrics diff HEAD~1 HEAD`` (and ``--md``) and ``dvc params diff``.

big: a repo whose base commit holds ``--runs`` run folders, written directly in the exact format of a
real ``gitml run`` (the run made first is the template; ids from ``gitml.runid.new_run_id``), then
one ``git add -A`` / ``git commit``.  The head commit adds one real run of an existing
experiment/name and appends a metric point to one old run; a ``worst`` branch instead adds a run
whose experiment/name no base run has (so every base run is read).  Measured in a ``git clone
--no-local`` of it (packed, no ``.gitml/tmp``: the CI case): cold (``.gitml/tmp`` removed before the
call) and warm (the call right after), plus ``gitml diff`` of HEAD against a work tree holding one
new uncommitted run.  DVC has no equivalent (one metrics file per revision), so it is not timed
there.

It is a report, not a test: the exit status is 0 unless the driver itself crashed.  See
bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import _common as common
from _common import CmdError, log

HERE = Path(__file__).resolve().parent
REPO = HERE.parent

FULL = dict(runs=10_000, reps=7, keys=100, depth=50)
QUICK = dict(runs=1_000, reps=7, keys=100, depth=50)

T_DVC_RATIO = 3.0  # dvc metrics diff / gitml diff, small repo
T_BIG_S = 1.0  # gitml diff between two revisions of --runs runs each
TIMEOUT = 1800
CHILD_ENV = common.child_env(GIT_TERMINAL_PROMPT="0")
# For one info row: no bytecode written or read from a prefix, as in a sandbox that sets
# PYTHONDONTWRITEBYTECODE=1 with gitml installed in editable mode (see _common.use_bytecode_cache).
NO_PYC_ENV = {k: v for k, v in CHILD_ENV.items() if k != "PYTHONPYCACHEPREFIX"} | {
    "PYTHONDONTWRITEBYTECODE": "1"
}

TRAIN_PY = """\
import json

params = {}
with open("params.yaml") as f:
    for line in f:
        key, _, value = line.partition(":")
        if value.strip():
            params[key.strip()] = float(value)
lr, epochs = params["lr"], params["epochs"]
metrics = {"loss": round(1.0 / (1.0 + 100 * lr * epochs), 6), "acc": round(0.5 + lr * epochs / 4, 6)}
with open("metrics.json", "w") as f:
    json.dump(metrics, f)
print("trained", metrics)
"""

DVC_YAML = "params:\n- params.yaml\nmetrics:\n- metrics.json\n"
LRS = (0.001, 0.003, 0.01, 0.03, 0.1)


run_cmd = common.runner(CHILD_ENV, TIMEOUT)
fmt_t = common.fmt_t


class Tools:
    def __init__(self, gitml_python: str, peers_python: str) -> None:
        self.python = gitml_python
        self.gitml = str(Path(os.path.abspath(gitml_python)).parent / "gitml")
        self.dvc = str(Path(os.path.abspath(peers_python)).parent / "dvc")

    def versions(self) -> dict:
        return common.tool_versions(
            {
                "gitml": [self.gitml, "--version"],
                "dvc": [self.dvc, "--version"],
                "git": ["git", "--version"],
                "gitml_python": [self.python, "--version"],
            },
            REPO,
            CHILD_ENV,
        )


class Report(common.Report):
    def row(
        self, scenario, gitml, peer_name="", peer=None, *, target="", verdict="info", ratio=None, note=""
    ):
        """``gitml`` / ``peer``: lists of wall times (seconds) or None; the table shows medians."""
        self.rows.append(
            dict(
                scenario=scenario,
                gitml_median_s=common.median(gitml),
                gitml_times_s=gitml,
                peer=peer_name,
                peer_median_s=common.median(peer),
                peer_times_s=peer,
                ratio=ratio,
                target=target,
                verdict=verdict,
                note=note,
            )
        )

    def print_table(self) -> None:
        hdr = ["scenario", "gitml (median)", "peer", "peer (median)", "ratio", "target", "result"]
        lines = [
            [
                r["scenario"],
                fmt_t(r["gitml_median_s"]),
                r["peer"],
                fmt_t(r["peer_median_s"]) if r["peer"] else "",
                "" if r["ratio"] is None else f"{r['ratio']:.1f}x",
                r["target"],
                self.shown(r["verdict"]),
            ]
            for r in self.rows
        ]
        spreads = ["\nspread (min-max of the timed calls):"]
        for r in self.rows:
            parts = []
            if r["gitml_times_s"]:
                parts.append(f"gitml {common.spread(r['gitml_times_s'])} (n={len(r['gitml_times_s'])})")
            if r["peer_times_s"]:
                parts.append(f"{r['peer']} {common.spread(r['peer_times_s'])} (n={len(r['peer_times_s'])})")
            tail = f"; {r['note']}" if r["note"] else ""
            spreads.append(f"  - {r['scenario']}: {', '.join(parts)}{tail}")
        self.print_report(
            hdr,
            lines,
            "ratio = peer median / gitml median (higher is better for gitml). Whole processes, wall time.",
            "QUICK MODE: the 1 s target is for 10,000 runs, so its verdicts are indicative only.",
            spreads,
            count_na=False,
        )


def ratio_row(rep: Report, scenario, g, peer_name, p, *, target: float | None, note=""):
    r = common.median(p) / common.median(g) if g and p else None
    verdict = "info" if target is None else common.verdict(r, lambda x: x >= target)
    tgt = "" if target is None else f">= {target:g}x"
    rep.row(scenario, g, peer_name, p, target=tgt, verdict=verdict, ratio=r, note=note)


def abs_row(rep: Report, scenario, g, *, limit: float | None, note=""):
    verdict = "info" if limit is None else common.verdict(common.median(g), lambda m: m < limit)
    tgt = "" if limit is None else f"< {limit:g} s"
    rep.row(scenario, g, target=tgt, verdict=verdict, note=note)


# ==========================================================================
# small: one change, both tools


def git_commit(d: Path, msg: str) -> str:
    run_cmd(["git", "add", "-A"], d)
    run_cmd(["git", "commit", "-q", "-m", msg], d)
    return run_cmd(["git", "rev-parse", "HEAD"], d)[1].stdout.strip()


def write_params(d: Path, lr: float, epochs: int = 10, seed: int = 0) -> None:
    (d / "params.yaml").write_text(f"lr: {lr!r}\nepochs: {epochs}\nseed: {seed}\n")


def gitml_run(tools: Tools, d: Path, *args: str) -> None:
    run_cmd([tools.gitml, "run", *args, "--", tools.python, "train.py"], d)


def scenario_small(rep: Report, tools: Tools, base: Path, S: dict) -> None:
    d = base / "small"
    d.mkdir()
    log("small: git init + dvc init + gitml init, two commits that each add a run")
    run_cmd(["git", "init", "-q", "-b", "main"], d)
    run_cmd([tools.dvc, "init", "-q"], d)
    run_cmd([tools.gitml, "init"], d)
    (d / "dvc.yaml").write_text(DVC_YAML)
    (d / "train.py").write_text(TRAIN_PY)
    for i, lr in enumerate((0.01, 0.02)):
        write_params(d, lr)
        gitml_run(tools, d, "-n", "train")
        git_commit(d, f"train with lr={lr}")
        log(f"   commit {i + 1}: lr={lr}")

    # The answers, once, outside the timing: both tools must see the change.
    g = json.loads(run_cmd([tools.gitml, "diff", "HEAD~1", "HEAD", "--json"], d)[1].stdout)
    dm = json.loads(run_cmd([tools.dvc, "metrics", "diff", "HEAD~1", "HEAD", "--json"], d)[1].stdout)
    dp = json.loads(run_cmd([tools.dvc, "params", "diff", "HEAD~1", "HEAD", "--json"], d)[1].stdout)
    rep.raw["small_answers"] = {"gitml": g, "dvc_metrics": dm, "dvc_params": dp}
    pairs = g.get("pairs", [])
    if not (len(pairs) == 1 and pairs[0].get("params") and len(pairs[0].get("metrics", [])) == 2):
        rep.notes.append(f"small: unexpected gitml diff answer: {json.dumps(g)[:300]}")
    if len(dm.get("metrics.json", {})) != 2 or "lr" not in dp.get("params.yaml", {}):
        rep.notes.append(f"small: unexpected DVC answer: metrics {dm}, params {dp}")

    rev = ["HEAD~1", "HEAD"]
    argvs = {
        "gitml diff": [tools.gitml, "diff", *rev],
        "dvc metrics diff": [tools.dvc, "metrics", "diff", *rev],
        "gitml diff --md": [tools.gitml, "diff", *rev, "--md"],
        "dvc metrics diff --md": [tools.dvc, "metrics", "diff", *rev, "--md"],
        "dvc params diff": [tools.dvc, "params", "diff", *rev],
        "gitml diff (cold)": [tools.gitml, "diff", *rev],
        "gitml diff (no bytecode cache)": [tools.gitml, "diff", *rev],
        "gitml --version": [tools.gitml, "--version"],
        "dvc --version": [tools.dvc, "--version"],
    }
    cmds = {n: (argv, d, NO_PYC_ENV if "no bytecode" in n else CHILD_ENV) for n, argv in argvs.items()}
    log(f"small: {len(cmds)} commands, 1 warm-up + {S['reps']} interleaved rounds")
    t = common.timed_rounds(
        cmds,
        S["reps"],
        timeout=TIMEOUT,
        before={"gitml diff (cold)": lambda: drop_cache(d, "")},
        warm_up=True,
    )
    rep.raw["small"] = t
    ratio_row(
        rep,
        "small: `diff HEAD~1 HEAD`",
        t["gitml diff"],
        "dvc metrics diff",
        t["dvc metrics diff"],
        target=T_DVC_RATIO,
    )
    ratio_row(
        rep,
        "small: `diff HEAD~1 HEAD --md`",
        t["gitml diff --md"],
        "dvc metrics diff --md",
        t["dvc metrics diff --md"],
        target=T_DVC_RATIO,
    )
    ratio_row(
        rep,
        "small: `diff HEAD~1 HEAD` (info)",
        t["gitml diff"],
        "dvc params diff",
        t["dvc params diff"],
        target=None,
    )
    both = [a + b for a, b in zip(t["dvc metrics diff"], t["dvc params diff"], strict=True)]
    ratio_row(
        rep,
        "small: `diff` = params + metrics (info)",
        t["gitml diff"],
        "dvc metrics + params diff",
        both,
        target=None,
        note="gitml diff shows params and metrics in one call; DVC needs two",
    )
    ratio_row(
        rep,
        "small: `diff`, no summary cache (info)",
        t["gitml diff (cold)"],
        "dvc metrics diff",
        t["dvc metrics diff"],
        target=None,
        note=".gitml/tmp removed before each gitml call",
    )
    ratio_row(
        rep,
        "small: startup `--version` (info)",
        t["gitml --version"],
        "dvc --version",
        t["dvc --version"],
        target=None,
    )
    ratio_row(
        rep,
        "small: `diff`, PYTHONDONTWRITEBYTECODE=1 (info)",
        t["gitml diff (no bytecode cache)"],
        "dvc metrics diff",
        t["dvc metrics diff"],
        target=None,
        note="gitml compiles its modules on every call (editable install without .pyc); DVC as above",
    )


# ==========================================================================
# big: 10,000 runs per revision


def iso_ms(ms: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000)) + f".{ms % 1000:03d}Z"


def _set(line: str, value: str) -> str:
    """``key: old`` -> ``key: value``, quoted the way the template's value is."""
    key, _, old = line.partition(": ")
    return f'{key}: "{value}"' if old.startswith('"') else f"{key}: {value}"


class Template:
    """The files of one real ``gitml run``, and the same files for other ids/names/values."""

    def __init__(self, run_dir: Path) -> None:
        self.files = {p.name: p.read_bytes() for p in run_dir.iterdir() if p.is_file()}
        self.run_yaml = self.files.pop("run.yaml").decode()
        self.params = self.files.pop("params.yaml").decode()
        self.metrics = self.files.pop("metrics.csv").decode()
        top = dict(ln.split(": ", 1) for ln in self.run_yaml.splitlines() if ": " in ln and ln[0] != " ")
        self.fields = {
            k: top[k].strip('"') for k in ("id", "name", "experiment", "start_time", "end_time", "pid")
        }
        rows = self.metrics.splitlines()
        self.header = rows[0]
        self.metric_rows = [r.split(",") for r in rows[1:]]
        self.param_keys = [ln.split(":", 1)[0] for ln in self.params.splitlines()]

    def render_run(self, fields: dict[str, str]) -> str:
        out = []
        for ln in self.run_yaml.splitlines(keepends=True):
            key = ln.split(":", 1)[0]
            if key in fields and ln[0] != " ":
                ln = _set(ln.rstrip("\n"), fields[key]) + "\n"
            out.append(ln)
        return "".join(out)

    def render_params(self, values: dict) -> str:
        return "".join(f"{k}: {values[k]!r}\n" for k in self.param_keys)

    def render_metrics(self, values: dict[str, float], ts: int) -> str:
        rows = [self.header] + [f"{k},{values[k]!r},{step},{ts}" for k, _v, step, _ts in self.metric_rows]
        return "\n".join(rows) + "\n"

    def self_check(self) -> list[str]:
        """Rendering the template's own values must give back its exact bytes."""
        problems = []
        if self.render_run(self.fields) != self.run_yaml:
            problems.append("run.yaml")
        params = {}
        for ln in self.params.splitlines():
            k, v = ln.split(": ", 1)
            params[k] = float(v) if "." in v else int(v)
        if self.render_params(params) != self.params:
            problems.append("params.yaml")
        vals = {k: float(v) for k, v, _s, _t in self.metric_rows}
        if self.render_metrics(vals, int(self.metric_rows[0][3])) != self.metrics:
            problems.append("metrics.csv")
        return problems


def run_key(i: int, keys: int) -> tuple[str, str]:
    k = i % keys
    return f"exp-{k // 10}", f"train-{k % 10}"


def build_big(rep: Report, tools: Tools, src: Path, S: dict) -> dict:
    """The source repo: main~1 = setup + N runs, main = + one run of an existing key + one old run
    changed, worst = main~1 + one run of a new key.  Returns facts for the checks."""
    n, keys, depth = S["runs"], S["keys"], S["depth"]
    t0 = time.perf_counter()
    src.mkdir(parents=True)
    run_cmd(["git", "init", "-q", "-b", "main"], src)
    run_cmd(["git", "config", "gc.auto", "0"], src)
    run_cmd([tools.gitml, "init"], src)
    (src / "train.py").write_text(TRAIN_PY)
    (src / ".gitignore").write_text("metrics.json\n")
    write_params(src, 0.01)
    git_commit(src, "setup")
    # The template: a real run of key 0 on a clean tree.
    e0, n0 = run_key(0, keys)
    gitml_run(tools, src, "-x", e0, "-n", n0)
    runs_dir = src / ".gitml" / "runs"
    (tpl_dir,) = list(runs_dir.iterdir())
    tpl = Template(tpl_dir)
    if tpl.fields["name"] != n0 or tpl.fields["experiment"] != e0:
        raise CmdError(f"template run has name/experiment {tpl.fields['name']}/{tpl.fields['experiment']}")
    bad = tpl.self_check()
    if bad:
        raise CmdError(f"cannot reproduce the template run's files byte for byte: {bad}")
    rep.raw["template"] = {
        "run.yaml": tpl.run_yaml,
        "params.yaml": tpl.params,
        "metrics.csv": tpl.metrics,
        "other_files": sorted(tpl.files),
    }
    shutil.rmtree(tpl_dir)
    shutil.rmtree(src / ".gitml" / "tmp", ignore_errors=True)

    # N ids, one minute apart, ending an hour ago, from gitml's own generator.
    now_ms = int(time.time() * 1000)
    first = now_ms - 3_600_000 - n * 60_000
    code = (
        "import json, sys; from gitml.runid import new_run_id; t, n = map(int, sys.argv[1:]); "
        "print(json.dumps([new_run_id(now_ms=t + i * 60000) for i in range(n)]))"
    )
    ids = json.loads(run_cmd([tools.python, "-c", code, first, n], src)[1].stdout)
    if len(set(ids)) != n or ids != sorted(ids):
        raise CmdError("run ids are not distinct and increasing")
    t_write = time.perf_counter()
    for i, run_id in enumerate(ids):
        start = first + i * 60_000
        end = start + 20_000 + (i * 7919) % 100_000
        exp, name = run_key(i, keys)
        lr, epochs = LRS[i % len(LRS)], 10 + (i % 3) * 10
        fields = dict(
            id=run_id,
            name=name,
            experiment=exp,
            start_time=iso_ms(start),
            end_time=iso_ms(end),
            pid=str(10_000 + i % 50_000),
        )
        params = {"lr": lr, "epochs": epochs, "seed": i}
        metrics = {
            "loss": round(1.0 / (1.0 + 100 * lr * epochs), 6),
            "acc": round(0.5 + lr * epochs / 4 + i * 1e-7, 6),
        }
        d = runs_dir / run_id
        d.mkdir()
        (d / "run.yaml").write_text(tpl.render_run(fields))
        (d / "params.yaml").write_text(tpl.render_params(params))
        (d / "metrics.csv").write_text(tpl.render_metrics(metrics, end))
        for fname, data in tpl.files.items():
            (d / fname).write_bytes(data)
    write_s = time.perf_counter() - t_write
    t_git = time.perf_counter()
    git_commit(src, f"{n} runs")
    commit_s = time.perf_counter() - t_git
    log(f"   {n} run folders written in {write_s:.1f} s, git add + commit {commit_s:.1f} s")

    # main: one new real run with the key of the base run `depth` from the newest, one old run changed.
    probe = n - 1 - depth
    exp, name = run_key(probe, keys)
    changed = ids[n // 2]
    with open(runs_dir / changed / "metrics.csv", "a") as f:
        f.write(f"acc,0.999,99,{now_ms}\n")
    write_params(src, 0.02)
    gitml_run(tools, src, "-x", exp, "-n", name)
    git_commit(src, "retrain with lr=0.02")
    # worst: from the base, one run whose experiment/name no base run has.
    run_cmd(["git", "checkout", "-q", "-b", "worst", "main~1"], src)
    write_params(src, 0.05)
    gitml_run(tools, src, "-x", "fresh", "-n", "brand-new")
    git_commit(src, "a new kind of run")
    run_cmd(["git", "checkout", "-q", "main"], src)
    run_cmd(["git", "gc", "-q"], src)
    facts = dict(
        generate_s=time.perf_counter() - t0,
        write_s=write_s,
        git_add_commit_s=commit_s,
        probe_key=[exp, name],
        probe_depth=depth,
        changed_run=changed,
        src_objects=run_cmd(["git", "count-objects", "-v"], src)[1].stdout,
    )
    rep.raw["big_repo"] = facts
    return facts


def clone(src: Path, dst: Path, branch: str = "main") -> float:
    """A packed clone without .gitml/tmp, as CI gets it; returns the clone's wall time."""
    wall, _ = run_cmd(["git", "clone", "-q", "--no-local", "-b", branch, str(src), str(dst)], src.parent)
    for b in ("main", "worst"):
        if b != branch:
            run_cmd(["git", "branch", "-q", b, f"origin/{b}"], dst)
    return wall


def check_diff(rep: Report, label: str, doc: dict, *, base_runs, head_runs, pairs, added) -> None:
    got = (doc["base"]["runs"], doc["head"]["runs"], len(doc.get("pairs", [])), len(doc.get("added", [])))
    want = (base_runs, head_runs, pairs, added)
    if got != want:
        rep.notes.append(
            f"{label}: gitml diff --json says (base runs, head runs, pairs, added) = {got}, expected {want}"
        )


def drop_cache(d: Path, tmp_part: str) -> None:
    """Remove ``.gitml/tmp/<tmp_part>`` (all of ``.gitml/tmp`` if ``tmp_part`` is empty)."""
    target = d / ".gitml" / "tmp" / tmp_part
    if target.is_dir():
        shutil.rmtree(target)
    else:
        target.unlink(missing_ok=True)


def cold_warm(d: Path, cmd: list, reps: int, tmp_part: str = "") -> tuple[list, list]:
    """``reps`` rounds of: ``drop_cache`` (untimed), call (cold), call again (warm)."""
    cold, warm = [], []
    run_cmd(cmd, d)  # warm-up: pyc, page cache of the pack
    for _ in range(reps):
        drop_cache(d, tmp_part)
        cold.append(run_cmd(cmd, d)[0])
        warm.append(run_cmd(cmd, d)[0])
    return cold, warm


def cold_warm_rows(rep: Report, label: str, cold: list, warm: list, note: str) -> None:
    abs_row(rep, f"{label}, cold", cold, limit=T_BIG_S, note=note)
    abs_row(rep, f"{label}, warm", warm, limit=T_BIG_S)


def scenario_big(rep: Report, tools: Tools, base: Path, S: dict) -> None:
    n, reps = S["runs"], S["reps"]
    log(f"big: generating a repo with {n} runs")
    facts = build_big(rep, tools, base / "big-src", S)
    raw = rep.raw.setdefault("big", {})
    ck = base / "big-clone"
    clone_s = clone(base / "big-src", ck)
    raw["clone_s"] = clone_s
    log(f"   generated in {facts['generate_s']:.0f} s; git clone --no-local {clone_s:.1f} s")

    # Every run parses: list them (also a timing for context).
    first_list, cp = run_cmd([tools.gitml, "runs", "list", "--json"], ck)
    listed = json.loads(cp.stdout)
    listed = listed.get("runs", listed) if isinstance(listed, dict) else listed
    base_list = json.loads(run_cmd([tools.gitml, "runs", "list", "--json", "--rev", "HEAD~1"], ck)[1].stdout)
    base_list = base_list.get("runs", base_list) if isinstance(base_list, dict) else base_list
    if len(listed) != n + 1 or len(base_list) != n:
        rep.notes.append(
            f"big: gitml runs list shows {len(listed)} runs at HEAD and {len(base_list)} at "
            f"HEAD~1, expected {n + 1} and {n}"
        )
    warm_list = [run_cmd([tools.gitml, "runs", "list", "--json"], ck)[0] for _ in range(3)]
    raw["runs_list"] = {"first_s": first_list, "warm_s": warm_list}

    rev = ["HEAD~1", "HEAD"]
    # The first call in the fresh clone: nothing cached at all.
    shutil.rmtree(ck / ".gitml" / "tmp", ignore_errors=True)
    fresh, cp = run_cmd([tools.gitml, "diff", *rev, "--json"], ck)
    check_diff(rep, "big HEAD~1 HEAD", json.loads(cp.stdout), base_runs=n, head_runs=n + 1, pairs=2, added=0)
    raw["fresh_clone_first_call_s"] = fresh

    log(f"big: gitml diff HEAD~1 HEAD, {reps} x (cold, warm)")
    cold, warm = cold_warm(ck, [tools.gitml, "diff", *rev], reps)
    raw["matched"] = {"cold_s": cold, "warm_s": warm}
    key = "/".join(facts["probe_key"])
    nth = facts["probe_depth"] + 1
    note = f"new run of {key} (its newest base run is no. {nth} from the newest) + 1 old run changed"
    note += f"; .gitml/tmp removed before each call; first call after clone {fmt_t(fresh)}"
    cold_warm_rows(rep, f"big {n}: `diff HEAD~1 HEAD`", cold, warm, note)
    cold_md, _ = cold_warm(ck, [tools.gitml, "diff", *rev, "--md"], max(3, reps // 2))
    abs_row(rep, f"big {n}: `diff HEAD~1 HEAD --md`, cold (info)", cold_md, limit=None)

    wrev = ["worst~1", "worst"]
    _, cp = run_cmd([tools.gitml, "diff", *wrev, "--json"], ck)
    check_diff(rep, "big worst", json.loads(cp.stdout), base_runs=n, head_runs=n + 1, pairs=0, added=1)
    log(f"big: worst case (a key no base run has), {reps} x (cold, warm)")
    cold, warm = cold_warm(ck, [tools.gitml, "diff", *wrev], reps)
    raw["worst"] = {"cold_s": cold, "warm_s": warm}
    note = f"new run's experiment/name matches none of the {n} base runs: every base run is read"
    cold_warm_rows(rep, f"big {n}: worst case", cold, warm, note)

    # HEAD vs a work tree with one new uncommitted run.
    write_params(ck, 0.03)
    exp, name = facts["probe_key"]
    gitml_run(tools, ck, "-x", exp, "-n", name)
    _, cp = run_cmd([tools.gitml, "diff", "--json"], ck)
    check_diff(
        rep, "big work tree", json.loads(cp.stdout), base_runs=n + 1, head_runs=n + 2, pairs=1, added=0
    )
    log(f"big: gitml diff (HEAD vs work tree), {reps} x (cold, warm)")
    cold, warm = cold_warm(ck, [tools.gitml, "diff"], reps, "summaries.json")
    raw["worktree"] = {"cold_s": cold, "warm_s": warm}
    note = "one new uncommitted run of an existing key; .gitml/tmp/summaries.json removed before each call"
    cold_warm_rows(rep, f"big {n}: `diff` (HEAD vs work tree)", cold, warm, note)
    abs_row(
        rep,
        f"big {n}: `runs list` (info)",
        warm_list,
        limit=None,
        note=f"warm; first call in the fresh clone {fmt_t(first_list)}; validity check of the generated runs",
    )
    rep.notes.append(
        "big: DVC is not timed here: it keeps one metrics file (per stage) per revision, so there is no "
        "DVC equivalent of 10,000 runs in one revision (its nearest analogue, experiments, are git refs, "
        "not files of a commit)."
    )
    rep.raw["big_clone"] = str(ck)


# ==========================================================================
# where the time goes


def profile(rep: Report, tools: Tools, d: Path, label: str, args: list, tmp_part: str, top: int = 15) -> None:
    log(f"profile: {label}: gitml {' '.join(args)}")
    drop_cache(d, tmp_part)
    imports, _ = common.importtime(tools.python, args, d, CHILD_ENV)
    res = {}
    for state in ("cold", "warm"):
        if state == "cold":
            drop_cache(d, tmp_part)
        prof = d.parent / f"prof-{label.replace(' ', '-')}-{state}.prof"
        res[state] = common.cprofile(tools.python, args, d, CHILD_ENV, prof, top)
    rep.raw.setdefault("profiles", {})[label] = {"importtime_us": imports, **res}
    print(f"\nprofile of `gitml {' '.join(args)}` ({label}):")
    print("  biggest imports (cumulative): " + ", ".join(f"{m} {us / 1000:.0f} ms" for us, m in imports[:8]))
    for state in ("cold", "warm"):
        common.print_profile(res[state], top, 8, label=f"{state}: ")


def profiles(rep: Report, tools: Tools, base: Path, force: bool) -> None:
    failed = {r["scenario"] for r in rep.rows if r["verdict"] == "FAIL"}
    small, ck = base / "small", base / "big-clone"
    if (force or any(s.startswith("small") for s in failed)) and small.is_dir():
        profile(rep, tools, small, "small", ["diff", "HEAD~1", "HEAD"], "")
    if not ck.is_dir():
        return
    cases = [
        ("big", ["diff", "HEAD~1", "HEAD"], "", "HEAD~1 HEAD"),
        ("big worst", ["diff", "worst~1", "worst"], "", "worst case"),
        ("big worktree", ["diff"], "summaries.json", "work tree"),
    ]
    for label, args, tmp_part, marker in cases:
        if force or any(s.startswith("big") and marker in s for s in failed):
            profile(rep, tools, ck, label, args, tmp_part)


# ==========================================================================


SCENARIOS = {"small": scenario_small, "big": scenario_big}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="1,000 runs instead of 10,000")
    ap.add_argument("--json", metavar="OUT", help="also write all raw numbers to OUT")
    ap.add_argument("--gitml-python", default=str(REPO / ".venv" / "bin" / "python"))
    ap.add_argument("--peers-python", default=str(HERE / ".peers" / "bin" / "python"))
    ap.add_argument("--only", default="small,big", help="comma-separated subset of small,big")
    ap.add_argument(
        "--profile",
        action="store_true",
        help="profile gitml (importtime + cProfile, cold and warm) even if every target is met",
    )
    ap.add_argument("--keep", action="store_true", help="keep the temp dir (path is printed)")
    common.add_size_options(ap, FULL)
    a = ap.parse_args()
    S = common.chosen_sizes(a, FULL, QUICK)
    tools = Tools(a.gitml_python, a.peers_python)
    if not os.access(tools.dvc, os.X_OK):
        print(f"dvc not found at {tools.dvc}; run: bash bench/peers.sh", file=sys.stderr)
        return 2
    rep = Report(a.quick)
    versions = tools.versions()
    base = Path(tempfile.mkdtemp(prefix="gitml-bench-review-"))
    log(f"work dir {base}")
    common.use_bytecode_cache(CHILD_ENV, base / "pycache")
    t0 = time.perf_counter()
    try:
        for name in [s.strip() for s in a.only.split(",") if s.strip()]:
            if name not in SCENARIOS:
                rep.errors.append(f"unknown scenario {name!r}")
                continue
            try:
                SCENARIOS[name](rep, tools, base, S)
            except (CmdError, subprocess.TimeoutExpired, OSError, KeyError, TypeError, ValueError) as e:
                rep.errors.append(f"scenario {name} crashed: {type(e).__name__}: {e}")
                log(f"scenario {name} crashed: {e}")
        elapsed = time.perf_counter() - t0
        load = os.getloadavg()
        sizes = "sizes: " + ", ".join(f"{k}={v}" for k, v in S.items()) + f"; load average {load[0]:.1f}"
        common.print_heading("gitml diff vs DVC: review benchmark", a.quick, elapsed, versions, ", ", sizes)
        rep.print_table()
        try:
            profiles(rep, tools, base, a.profile)
        except (CmdError, subprocess.TimeoutExpired, OSError, ValueError) as e:
            rep.errors.append(f"profile crashed: {type(e).__name__}: {e}")
            print(f"ERROR: profile crashed: {e}")
    finally:
        common.remove_work_dir(base, a.keep)
    fields = rep.fields() | {"load": os.getloadavg()}
    common.write_results("review", a.quick, versions, S, fields, time.perf_counter() - t0, a.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
