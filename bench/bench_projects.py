#!/usr/bin/env python
"""Projects benchmark (issue 7): ``gitml run URL --rev SHA`` vs ``mlflow run URL --version SHA`` vs
running the project's command directly.

    bash bench/peers.sh                                  # once: MLflow in bench/.peers
    .venv/bin/python bench/bench_projects.py             # 7 rounds, ~4 min (mostly MLflow)
    .venv/bin/python bench/bench_projects.py --quick     # 3 rounds, ~2 min
    .venv/bin/python bench/bench_projects.py --kinds git --mlflow-stores sqlite --reps 15
    .venv/bin/python bench/bench_projects.py --profile   # importtime + cProfile of a warm gitml run

One project repository, committed twice (the pinned sha is the first commit, not the branch tip), with
both an ``MLproject`` (MLflow's format, no environment: the local interpreter) and a ``gitml.yaml``
(gitml's format, ``environment: local``) describing the same entry point ``main``, a float parameter
``alpha`` and the command ``python train.py --alpha {alpha}``.  ``train.py`` only parses its argument
and prints, so what is measured is the tools' overhead.  The repository is served three ways
(``--kinds``): a local path, a ``file://`` URL and ``git://`` from ``git daemon`` on 127.0.0.1.

Timed as whole processes, interleaved, one untimed warm-up each, medians of ``--reps`` rounds:

* direct: ``python train.py --alpha 0.1`` in a checkout of the pinned sha -- the baseline;
* ``gitml run URL --rev SHA -e main -P alpha=0.1 --env-manager local`` in a consumer repo (``git init``
  + ``gitml init``; gitml records the run there), warm: its checkout cache (``GITML_CACHE_DIR``, one
  per kind) filled by the warm-up; and cold: a fresh cache before every call (info);
* ``mlflow run URL --version SHA -e main -P alpha=0.1 --env-manager local`` with a file store and a
  sqlite store (``--mlflow-stores``).  MLflow has no checkout cache: it clones a git:// URL into a new
  temp dir on every run, and runs a local path or file:// URL *in place* (``git init`` + fetch +
  checkout in that directory; given a bare repository it writes a ``.git`` into it and fails), so the
  local kinds get MLflow its own non-bare clone.

Targets: gitml warm - direct < 0.5 s (median of the per-round differences), and MLflow's faster store
/ gitml warm > 1, per kind.  It is a report, not a test: the exit status is 0 unless the driver itself
crashed.  See bench/README.md.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import _common as common
from _common import CmdError, log

HERE = Path(__file__).resolve().parent
REPO = HERE.parent

FULL = dict(reps=7)
QUICK = dict(reps=3)
KINDS = ("path", "file", "git")
STORES = ("sqlite", "file")

T_OVERHEAD_S = 0.5  # gitml run (warm) - direct
T_MLFLOW_RATIO = 1.0  # mlflow run / gitml run (warm), must be above
TIMEOUT = 600
ALPHA = "0.1"

# MLflow's telemetry and file-store refusal off: the first can only make MLflow faster (conservative),
# the second is needed for the file store in MLflow >= 3.
CHILD_ENV = common.child_env(
    GIT_TERMINAL_PROMPT="0", MLFLOW_ALLOW_FILE_STORE="true", MLFLOW_DISABLE_TELEMETRY="true"
)
for _k in ("MLFLOW_TRACKING_URI", "GITML_CACHE_DIR"):
    CHILD_ENV.pop(_k, None)

MLPROJECT = """\
name: bench-project
entry_points:
  main:
    parameters:
      alpha: {type: float, default: 0.5}
    command: "python train.py --alpha {alpha}"
"""

GITML_YAML = """\
name: bench-project
environment: local
entry_points:
  main:
    parameters:
      alpha: {type: float, default: 0.5}
    command: [python, train.py, --alpha, "{alpha}"]
"""

TRAIN_PY = """\
import argparse
import sys

ap = argparse.ArgumentParser()
ap.add_argument("--alpha", type=float, default=0.5)
alpha = ap.parse_args().alpha
print(f"rev={REV} alpha={alpha} loss={1 / (1 + alpha):.6f}")
print(f"python={sys.executable}")
"""
EXPECT = f"rev=1 alpha={ALPHA} "  # what the pinned commit's train.py prints


run_cmd = common.runner(CHILD_ENV, TIMEOUT)
fmt_t = common.fmt_t
LABELS = {"path": "local path", "file": "file://", "git": "git:// (git daemon)"}


def tail(cp: subprocess.CompletedProcess, n: int = 12) -> str:
    return "\n".join((cp.stderr.strip() or cp.stdout.strip()).splitlines()[-n:])


class Tools:
    def __init__(self, gitml_python: str, peers_python: str) -> None:
        self.python = os.path.abspath(gitml_python)
        self.gitml = str(Path(self.python).parent / "gitml")
        self.mlflow = str(Path(os.path.abspath(peers_python)).parent / "mlflow")

    def versions(self) -> dict:
        return common.tool_versions(
            {
                "gitml": [self.gitml, "--version"],
                "mlflow": [self.mlflow, "--version"],
                "git": ["git", "--version"],
                "python": [self.python, "--version"],
            },
            REPO,
            CHILD_ENV,
        )

    def gitml_has_projects(self) -> tuple[bool, str]:
        """Whether ``gitml run`` takes a project URL yet (its help mentions ``--env-manager``)."""
        try:
            _, cp = run_cmd([self.gitml, "run", "--help"], REPO, check=False, timeout=120)
        except OSError as e:
            return False, str(e)
        return "--env-manager" in cp.stdout, cp.stdout


def over_direct(s: float | None) -> str:
    return "" if s is None else ("+" if s >= 0 else "-") + fmt_t(abs(s))


class Report(common.Report):
    def row(self, scenario, times, *, over=None, ratio=None, target="", verdict="info", note="") -> None:
        self.rows.append(
            dict(
                scenario=scenario,
                median_s=common.median(times),
                times_s=times,
                over_direct_s=over,
                ratio=ratio,
                target=target,
                verdict=verdict,
                note=note,
            )
        )

    def print_table(self) -> None:
        hdr = ["scenario", "median", "spread", "over direct", "ratio", "target", "result"]
        lines = [
            [
                r["scenario"],
                fmt_t(r["median_s"]),
                common.spread(r["times_s"]),
                over_direct(r["over_direct_s"]),
                "" if r["ratio"] is None else f"{r['ratio']:.1f}x",
                r["target"],
                self.shown(r["verdict"]),
            ]
            for r in self.rows
        ]
        self.print_report(
            hdr,
            lines,
            "Whole processes, wall time, medians of the interleaved rounds (spread = min-max). "
            "over direct = median of the per-round differences to the direct command; "
            "ratio = MLflow / gitml warm (higher is better for gitml).",
            "QUICK MODE: few rounds, so the verdicts are indicative only.",
            [f"note: {r['scenario']}: {r['note']}" for r in self.rows if r["note"]],
        )


# ==========================================================================
# setup


def git(d: Path, *args: str) -> str:
    return run_cmd(["git", *args], d)[1].stdout.strip()


def make_project(base: Path) -> dict:
    """The project repo (two commits; the first is pinned), served bare under ``base/served``, a
    checkout of the pinned sha for the direct command and a non-bare clone for MLflow's local kinds."""
    src = base / "src"
    src.mkdir()
    git(src, "init", "-q", "-b", "main")
    (src / "MLproject").write_text(MLPROJECT)
    (src / "gitml.yaml").write_text(GITML_YAML)
    for rev in (1, 2):
        (src / "train.py").write_text(TRAIN_PY.replace("{REV}", str(rev)))
        git(src, "add", "-A")
        git(src, "commit", "-q", "-m", f"train.py rev {rev}")
    sha = git(src, "rev-parse", "HEAD~1")
    served = base / "served"
    served.mkdir()
    bare = served / "project.git"
    git(base, "clone", "-q", "--bare", str(src), str(bare))
    direct = base / "direct"
    git(base, "clone", "-q", str(bare), str(direct))
    git(direct, "checkout", "-q", "--detach", sha)
    ml_clone = base / "mlflow-checkout"
    git(base, "clone", "-q", str(bare), str(ml_clone))
    return dict(sha=sha, served=served, bare=bare, direct=direct, ml_clone=ml_clone)


def project_urls(kind: str, proj: dict, daemon: common.GitDaemon | None) -> tuple[str, str]:
    """(URL for gitml, URL for MLflow) of one kind."""
    if kind == "path":
        return str(proj["bare"]), str(proj["ml_clone"])
    if kind == "file":
        return proj["bare"].as_uri(), proj["ml_clone"].as_uri()
    if kind == "git":
        assert daemon is not None
        url = daemon.url("project.git")
        return url, url
    raise ValueError(f"unknown kind {kind!r} (choose from {', '.join(KINDS)})")


# ==========================================================================
# the rounds


Cmd = common.Cmd


def warm_up(rep: Report, cmds: dict[str, Cmd], before: dict[str, Callable[[], None]]) -> dict[str, Cmd]:
    """The untimed first call of each command, checked: it must succeed and print what the pinned
    commit's train.py prints.  Returns the commands that passed; the others are reported as errors."""
    ok: dict[str, Cmd] = {}
    first: dict[str, dict] = {}
    for name, (cmd, cwd, env) in cmds.items():
        if name in before:
            before[name]()
        t, cp = run_cmd(cmd, cwd, env=env, check=False)
        first[name] = dict(
            seconds=t, returncode=cp.returncode, stdout=cp.stdout[-2000:], stderr=cp.stderr[-4000:]
        )
        log(f"   warm-up {name}: {fmt_t(t)}, exit {cp.returncode}")
        if cp.returncode != 0:
            rep.errors.append(
                f"{name}: `{' '.join(map(str, cmd))}` exited {cp.returncode}; stderr:\n{tail(cp, 25)}"
            )
        elif name != "gitml --version" and EXPECT not in cp.stdout + cp.stderr:
            rep.errors.append(
                f"{name}: output lacks {EXPECT!r} (wrong commit or parameter?):\n"
                f"{tail(cp)}\n{cp.stdout[-500:]}"
            )
        else:
            ok[name] = (cmd, cwd, env)
            m = re.search(r"python=(\S+)", cp.stdout + cp.stderr)
            first[name]["train_python"] = m.group(1) if m else None
    rep.raw["first_calls"] = first
    pythons = {n: f["train_python"] for n, f in first.items() if n in ok and f.get("train_python")}
    if len(set(pythons.values())) > 1:
        rep.notes.append(f"train.py ran under different interpreters: {pythons}")
    return ok


def paired_over(a: list[float], b: list[float]) -> float:
    """Median of the per-round differences a[i] - b[i] (same round, so the same background load)."""
    return statistics.median(x - y for x, y in zip(a, b, strict=True))


def build_commands(
    tools: Tools, base: Path, proj: dict, kinds: list[str], stores: list[str], daemon, gitml_ok
):
    direct_py = shutil.which("python", path=CHILD_ENV["PATH"]) or tools.python
    cmds: dict[str, Cmd] = {
        "direct": ([direct_py, "train.py", "--alpha", ALPHA], proj["direct"], CHILD_ENV),
    }
    before: dict[str, Callable[[], None]] = {}
    consumer = base / "consumer"
    ml_cwd = base / "mlflow-cwd"
    ml_cwd.mkdir()
    stores_uri = {"sqlite": f"sqlite:///{base / 'mlflow.db'}", "file": (base / "mlruns").as_uri()}
    if gitml_ok:
        consumer.mkdir()
        git(consumer, "init", "-q", "-b", "main")
        run_cmd([tools.gitml, "init"], consumer)
        cmds["gitml --version"] = ([tools.gitml, "--version"], consumer, CHILD_ENV)
    for kind in kinds:
        g_url, m_url = project_urls(kind, proj, daemon)
        if gitml_ok:
            args = ["run", g_url, "--rev", proj["sha"], "-e", "main", "-P", f"alpha={ALPHA}"]
            args += ["--env-manager", "local"]
            warm_env = dict(CHILD_ENV, GITML_CACHE_DIR=str(base / f"cache-{kind}"))
            cold_dir = base / f"cache-cold-{kind}"
            cold_env = dict(CHILD_ENV, GITML_CACHE_DIR=str(cold_dir))
            cmds[f"gitml {kind}"] = ([tools.gitml, *args], consumer, warm_env)
            cmds[f"gitml {kind} cold"] = ([tools.gitml, *args], consumer, cold_env)
            before[f"gitml {kind} cold"] = lambda d=cold_dir: shutil.rmtree(d, ignore_errors=True)
            if kind == kinds[0]:
                no_pyc = {k: v for k, v in warm_env.items() if k != "PYTHONPYCACHEPREFIX"}
                cmds[f"gitml {kind} no-pyc"] = (
                    [tools.gitml, *args],
                    consumer,
                    no_pyc | {"PYTHONDONTWRITEBYTECODE": "1"},
                )
        for store in stores:
            env = dict(CHILD_ENV, MLFLOW_TRACKING_URI=stores_uri[store])
            m_args = ["run", m_url, "--version", proj["sha"], "-e", "main", "-P", f"alpha={ALPHA}"]
            cmds[f"mlflow {kind} {store}"] = ([tools.mlflow, *m_args, "--env-manager", "local"], ml_cwd, env)
    return cmds, before, consumer


def report_rows(rep: Report, t: dict, kinds: list[str], stores: list[str]) -> None:
    d = t["direct"]
    rep.row("direct: `python train.py --alpha 0.1` (baseline)", d)

    def timed_row(scenario: str, times: list[float], **kw) -> None:
        rep.row(scenario, times, over=paired_over(times, d), **kw)

    if "gitml --version" in t:
        timed_row("`gitml --version` (startup, info)", t["gitml --version"])
    for kind in kinds:
        label = LABELS[kind]
        g = t.get(f"gitml {kind}")
        target = f"< {T_OVERHEAD_S:g} s over direct"
        if g:
            over = paired_over(g, d)
            rep.row(
                f"{label}: gitml run, warm",
                g,
                over=over,
                target=target,
                verdict=common.verdict(over, lambda x: x < T_OVERHEAD_S),
                note=f"difference of the medians {fmt_t(statistics.median(g) - statistics.median(d))}",
            )
        else:
            rep.row(f"{label}: gitml run, warm", None, target=target, verdict="n/a")
        ml = {s: t[f"mlflow {kind} {s}"] for s in stores if t.get(f"mlflow {kind} {s}")}
        best = min(ml, key=lambda s: statistics.median(ml[s]), default=None)
        for s in sorted(ml, key=lambda s: s != best):  # the faster store first: its row has the target
            m = ml[s]
            ratio = statistics.median(m) / statistics.median(g) if g else None
            if s == best:
                timed_row(
                    f"{label}: mlflow run, {s} store (faster)",
                    m,
                    ratio=ratio,
                    target=f"> {T_MLFLOW_RATIO:g}x",
                    verdict=common.verdict(ratio, lambda x: x > T_MLFLOW_RATIO),
                )
            else:
                timed_row(f"{label}: mlflow run, {s} store (info)", m, ratio=ratio)
        if t.get(f"gitml {kind} cold"):
            timed_row(f"{label}: gitml run, cold cache (info)", t[f"gitml {kind} cold"])
        if t.get(f"gitml {kind} no-pyc"):
            timed_row(
                f"{label}: gitml run, warm, PYTHONDONTWRITEBYTECODE=1 (info)",
                t[f"gitml {kind} no-pyc"],
                note="no PYTHONPYCACHEPREFIX: only the .pyc files already in gitml's source tree, if any",
            )


def check_gitml_runs(rep: Report, tools: Tools, consumer: Path, expected: int, proj: dict) -> None:
    """The consumer repo must hold one run per gitml call, the newest naming the pinned sha."""
    _, cp = run_cmd([tools.gitml, "runs", "list", "--json"], consumer, check=False)
    if cp.returncode != 0:
        rep.notes.append(f"`gitml runs list --json` failed: {tail(cp, 5)}")
        return
    doc = json.loads(cp.stdout)
    runs = doc.get("runs", doc) if isinstance(doc, dict) else doc
    rep.raw["consumer_runs"] = len(runs)
    if len(runs) != expected:
        rep.notes.append(
            f"consumer repo holds {len(runs)} runs, expected {expected} (one per gitml run call)"
        )
    run_dirs = sorted((consumer / ".gitml" / "runs").glob("*"))
    if run_dirs:
        newest = run_dirs[-1]
        text = "".join(p.read_text(errors="replace") for p in newest.rglob("*") if p.is_file())
        rep.raw["newest_run_files"] = {
            str(p.relative_to(newest)): p.read_text(errors="replace")[:3000]
            for p in newest.rglob("*")
            if p.is_file()
        }
        if proj["sha"] not in text:
            rep.notes.append(f"the newest run's files ({newest.name}) do not mention the pinned sha")


def check_fetches(rep: Report, daemon: common.GitDaemon, ok: dict[str, Cmd], reps: int) -> None:
    """Count the fetches the git daemon served: one per MLflow call and per cold gitml call, one for
    the first warm gitml call (it fills the cache), none for the other warm gitml calls."""
    log_text = daemon.log_path.read_text(errors="replace")
    served = len(re.findall(r"Request upload-pack for", log_text))
    per_call = [n for n in ok if n.startswith("mlflow git ") or n == "gitml git cold"]
    expected = len(per_call) * (1 + reps) + (1 if "gitml git" in ok else 0)
    rep.raw["git_daemon_fetches"] = {"served": served, "expected_if_warm_gitml_fetches_nothing": expected}
    if served != expected:
        rep.notes.append(
            f"git daemon served {served} fetches, expected {expected} if a warm gitml run fetches nothing "
            f"(one per MLflow and cold gitml call, one for the first warm gitml call)"
        )
    else:
        rep.notes.append(f"git daemon served {served} fetches: warm gitml runs fetched nothing, as expected")


def scenario(rep: Report, tools: Tools, base: Path, S: dict, a: argparse.Namespace, gitml_ok: bool) -> dict:
    kinds = [k.strip() for k in a.kinds.split(",") if k.strip()]
    stores = [s.strip() for s in a.mlflow_stores.split(",") if s.strip()]
    for s in stores:
        if s not in STORES:
            raise ValueError(f"unknown MLflow store {s!r} (choose from {', '.join(STORES)})")
    log("setup: project repo (MLproject + gitml.yaml, two commits), bare copy, checkouts")
    proj = make_project(base)
    rep.raw["pinned_sha"] = proj["sha"]
    with contextlib.ExitStack() as stack:
        daemon = None
        if "git" in kinds:
            daemon = stack.enter_context(common.GitDaemon(proj["served"], CHILD_ENV, verbose=True))
        cmds, before, consumer = build_commands(tools, base, proj, kinds, stores, daemon, gitml_ok)
        rep.raw["commands"] = {n: [str(x) for x in c[0]] for n, c in cmds.items()}
        log(f"warm-up: {len(cmds)} commands")
        ok = warm_up(rep, cmds, before)
        log(f"{len(ok)} commands, {S['reps']} interleaved rounds")
        t = common.timed_rounds(ok, S["reps"], timeout=TIMEOUT, before=before)
        rep.raw["times"] = t
        report_rows(rep, t, kinds, stores)
        rep.notes.append(
            "gitml run, cold cache: a fresh GITML_CACHE_DIR before every call (so clone + checkout each time)"
        )
        if daemon is not None:
            check_fetches(rep, daemon, ok, S["reps"])
        if gitml_ok and any(n.startswith("gitml ") and n != "gitml --version" for n in ok):
            n_calls = sum(1 + S["reps"] for n in ok if n.startswith("gitml ") and n != "gitml --version")
            check_gitml_runs(rep, tools, consumer, n_calls, proj)
        ml_tmp = [p for p in (base / "tmp").iterdir() if p.is_dir()] if (base / "tmp").is_dir() else []
        rep.raw["temp_dirs_left"] = len(ml_tmp)
        return dict(cmds=ok, kinds=kinds)


# ==========================================================================
# where gitml's time goes


def profile(rep: Report, tools: Tools, cmd: Cmd, label: str, top: int = 18) -> None:
    argv, cwd, env = cmd
    args = [str(x) for x in argv[1:]]  # after the gitml script
    log(f"profile: {label}: gitml {' '.join(args)}")
    imports, total_import = common.importtime(tools.python, args, cwd, env)
    prof = cwd.parent / f"prof-{label.replace(' ', '-')}.prof"
    res = common.cprofile(tools.python, args, cwd, env, prof, top)
    rep.raw.setdefault("profiles", {})[label] = {"importtime_us": imports, **res}
    print(f"\nprofile of a warm `gitml {' '.join(args)}` ({label}):")
    print(f"  imports: {total_import / 1000:.0f} ms in all (-X importtime); biggest (cumulative):")
    print("    " + ", ".join(f"{m} {us / 1000:.0f} ms" for us, m in imports[:10]))
    common.print_profile(res, top, 10)


def profiles(rep: Report, tools: Tools, info: dict, force: bool) -> None:
    failed = [r["scenario"] for r in rep.rows if r["verdict"] == "FAIL"]
    for i, kind in enumerate(info["kinds"]):
        name = f"gitml {kind}"
        missed = any(s.startswith(LABELS[kind] + ":") for s in failed)
        if name in info["cmds"] and (missed or (force and i == 0)):
            profile(rep, tools, info["cmds"][name], kind)


# ==========================================================================


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="3 rounds instead of 7")
    ap.add_argument("--json", metavar="OUT", help="also write all raw numbers to OUT")
    ap.add_argument("--gitml-python", default=str(REPO / ".venv" / "bin" / "python"))
    ap.add_argument("--peers-python", default=str(HERE / ".peers" / "bin" / "python"))
    ap.add_argument("--kinds", default=",".join(KINDS), help="comma-separated subset of path,file,git")
    ap.add_argument("--mlflow-stores", default=",".join(STORES), help="comma-separated subset of sqlite,file")
    ap.add_argument("--skip-gitml", action="store_true", help="only MLflow and the direct command")
    ap.add_argument(
        "--profile", action="store_true", help="profile a warm gitml run (first kind) even if targets pass"
    )
    ap.add_argument("--keep", action="store_true", help="keep the temp dir (path is printed)")
    common.add_size_options(ap, FULL)
    a = ap.parse_args()
    S = common.chosen_sizes(a, FULL, QUICK)
    tools = Tools(a.gitml_python, a.peers_python)
    if not os.access(tools.mlflow, os.X_OK):
        print(f"mlflow not found at {tools.mlflow}; run: bash bench/peers.sh", file=sys.stderr)
        return 2
    rep = Report(a.quick)
    versions = tools.versions()
    gitml_ok = False
    if not a.skip_gitml:
        gitml_ok, help_text = tools.gitml_has_projects()
        if not gitml_ok:
            rep.notes.append("`gitml run --help` does not mention --env-manager yet: gitml rows are n/a")
            rep.raw["gitml_run_help"] = help_text
    base = Path(tempfile.mkdtemp(prefix="gitml-bench-projects-"))
    log(f"work dir {base}")
    common.use_bytecode_cache(CHILD_ENV, base / "pycache")
    (base / "tmp").mkdir()
    CHILD_ENV["TMPDIR"] = str(base / "tmp")  # MLflow's per-run clones land here and go with base
    # `python` in the children (the direct command, MLflow's shell command, gitml's argv) is the gitml
    # venv's interpreter, not a pyenv shim.
    CHILD_ENV["PATH"] = str(Path(tools.python).parent) + os.pathsep + CHILD_ENV.get("PATH", "")
    load0 = os.getloadavg()
    t0 = time.perf_counter()
    info: dict = {}
    try:
        try:
            info = scenario(rep, tools, base, S, a, gitml_ok)
        except (CmdError, subprocess.TimeoutExpired, OSError, KeyError, TypeError, ValueError) as e:
            rep.errors.append(f"crashed: {type(e).__name__}: {e}")
            log(f"crashed: {e}")
        elapsed = time.perf_counter() - t0
        load = os.getloadavg()
        detail = (
            f"rounds: {S['reps']} after 1 warm-up; kinds {a.kinds}; MLflow stores {a.mlflow_stores}; "
            f"load average {load0[0]:.1f} at start, {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} at end"
        )
        common.print_heading(
            "gitml run vs mlflow run: projects benchmark", a.quick, elapsed, versions, ", ", detail
        )
        if "pinned_sha" in rep.raw:
            print(
                f"pinned sha {rep.raw['pinned_sha']} (HEAD~1 of main), -P alpha={ALPHA}, "
                "--env-manager local\n"
            )
        rep.print_table()
        if info:
            try:
                profiles(rep, tools, info, a.profile)
            except (CmdError, subprocess.TimeoutExpired, OSError, ValueError) as e:
                rep.errors.append(f"profile crashed: {type(e).__name__}: {e}")
                print(f"ERROR: profile crashed: {e}")
    finally:
        common.remove_work_dir(base, a.keep)
    fields = rep.fields() | {"load_start": load0, "load_end": os.getloadavg()}
    common.write_results("projects", a.quick, versions, S, fields, time.perf_counter() - t0, a.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
