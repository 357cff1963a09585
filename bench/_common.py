"""What the benchmark drivers (bench_*.py) share: progress lines on stderr, the environment of their
child processes, the size options, running and timing commands (interleaved rounds), the tools'
versions, reading a worker's JSON line, profiling gitml, and the report: its heading, the rows, the
table with its summary and notes, and the JSON results file.

Also ``GitDaemon``: a read-only ``git daemon`` on 127.0.0.1 for benches that fetch over git://.

Imported as ``_common`` (the drivers run as scripts, so bench/ is on sys.path).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path

HERE = Path(__file__).resolve().parent


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def child_env(**extra: str) -> dict[str, str]:
    """The environment for every child process: this one's, plus a git identity so gitml can commit in
    a throw-away repo on machines without a global git config, DVC analytics / updater off (no network
    here anyway; this can only make DVC faster, i.e. it is conservative for the comparison), warnings
    off, and ``extra``; without VIRTUAL_ENV (each child names its own python)."""
    env = dict(
        os.environ,
        GIT_AUTHOR_NAME="bench",
        GIT_AUTHOR_EMAIL="bench@example.invalid",
        GIT_COMMITTER_NAME="bench",
        GIT_COMMITTER_EMAIL="bench@example.invalid",
        DVC_NO_ANALYTICS="1",
        PYTHONWARNINGS="ignore",
        **extra,
    )
    env.pop("VIRTUAL_ENV", None)
    return env


def use_bytecode_cache(env: dict[str, str], prefix: Path) -> None:
    """Let every child run with ``env`` keep its compiled bytecode under ``prefix`` (all tools alike).

    An environment with PYTHONDONTWRITEBYTECODE=1 (as in some sandboxes) and gitml installed in
    editable mode (no .pyc files in the source tree) would make gitml recompile its ~70 modules on
    every call (~45 ms), while the peers' wheels came with .pyc files.  With PYTHONPYCACHEPREFIX every
    tool compiles once (in the warm-up) into the temp dir and nothing is written to the source tree.
    """
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(prefix)


# -- options --------------------------------------------------------------------------------------------


def add_size_options(ap: argparse.ArgumentParser, full: dict[str, int]) -> None:
    """``--KEY N`` for every size of the full run, overriding it."""
    for k, v in full.items():
        ap.add_argument("--" + k.replace("_", "-"), type=int, default=None, help=f"override (full: {v})")


def chosen_sizes(a: argparse.Namespace, full: dict[str, int], quick: dict[str, int]) -> dict:
    """The sizes of this run: the quick or full set, with the ``--KEY N`` overrides."""
    sizes: dict = dict(quick if a.quick else full)
    for k in full:
        if getattr(a, k) is not None:
            sizes[k] = getattr(a, k)
    return sizes


def remove_work_dir(base: Path, keep: bool) -> None:
    """The end of a run: remove its temp dir, or with ``--keep`` say where it is."""
    if keep:
        log(f"kept {base}")
    else:
        shutil.rmtree(base, ignore_errors=True)


# -- workers --------------------------------------------------------------------------------------------


def last_json(stdout: str) -> dict | None:
    """The last line of ``stdout`` that is a JSON object (a worker's result), or None."""
    for line in reversed(stdout.strip().splitlines()):
        if line.startswith("{"):
            d: dict = json.loads(line)
            return d
    return None


# -- the report -----------------------------------------------------------------------------------------


def mode(quick: bool) -> str:
    return "quick" if quick else "full"


def print_heading(title: str, quick: bool, elapsed: float, versions: dict, sep: str, detail: str) -> None:
    """Between blank lines: ``TITLE (MODE; PLATFORM, N CPUs; ELAPSED s)``, the tool versions (joined
    with ``sep``) and the ``detail`` line (the sizes)."""
    print()
    print(f"{title} ({mode(quick)}; {platform.platform()}, {os.cpu_count()} CPUs; {elapsed:.0f} s)")
    print("versions: " + sep.join(f"{k} {v}" for k, v in versions.items()))
    print(detail)
    print()


def median(ts: list[float] | None) -> float | None:
    return statistics.median(ts) if ts else None


def verdict(value: float | None, passes: Callable[[float], bool]) -> str:
    """``n/a`` without a value, else PASS or FAIL."""
    return "n/a" if value is None else "PASS" if passes(value) else "FAIL"


def format_table(hdr: list[str], lines: list[list[str]]) -> str:
    """Left-aligned columns two spaces apart, the header underlined with dashes."""
    widths = [max([len(hdr[i])] + [len(cells[i]) for cells in lines]) for i in range(len(hdr))]
    sep = "  "
    out = [sep.join(h.ljust(w) for h, w in zip(hdr, widths, strict=True))]
    out.append(sep.join("-" * w for w in widths))
    out += [sep.join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) for cells in lines]
    return "\n".join(out)


def print_notes(notes: list[str]) -> None:
    for n in notes:
        print(f"note: {n}")


class Report:
    """The rows of a report (dicts whose ``verdict`` is PASS, FAIL..., n/a or info), raw numbers, notes
    and errors.  Each bench builds its own rows and table lines; ``print_report`` prints the rest."""

    error_prefix = "ERROR: "

    def __init__(self, quick: bool) -> None:
        self.rows: list[dict] = []
        self.raw: dict = {}
        self.notes: list[str] = []
        self.errors: list[str] = []
        self.quick = quick

    def shown(self, verdict: str) -> str:
        """A verdict for the table: in quick mode PASS and FAIL are in parentheses (indicative only)."""
        return f"({verdict})" if self.quick and verdict.startswith(("PASS", "FAIL")) else verdict

    def print_report(
        self,
        hdr: list[str],
        lines: list[list[str]],
        explain: str,
        quick_note: str,
        extra: Iterable[str] = (),
        *,
        count_na: bool = True,
    ) -> None:
        """The table, a blank line, ``explain``, the count of the verdicts, ``quick_note`` (quick mode),
        the ``extra`` lines (e.g. the rows' notes), the notes and the errors."""
        print(format_table(hdr, lines))
        print("\n" + explain)
        verdicts = [r["verdict"] for r in self.rows if r["verdict"] != "info"]
        n_pass = verdicts.count("PASS")
        n_fail = sum(v.startswith("FAIL") for v in verdicts)
        counts = f"targets: {n_pass} PASS, {n_fail} FAIL"
        print(counts + (f", {len(verdicts) - n_pass - n_fail} n/a" if count_na else ""))
        if self.quick:
            print(quick_note)
        for line in extra:
            print(line)
        print_notes(self.notes)
        for e in self.errors:
            print(f"{self.error_prefix}{e}")

    def fields(self) -> dict:
        """The report's part of the JSON results (see write_results)."""
        return {"rows": self.rows, "raw": self.raw, "notes": self.notes, "errors": self.errors}


def write_results(
    name: str, quick: bool, versions: dict, sizes: dict, fields: dict, elapsed: float, json_out: str | None
) -> None:
    """All the numbers as JSON, to bench/results/NAME-MODE-latest.json and (if given) ``json_out``.

    ``fields`` (the report's rows, raw numbers, notes, errors) go between the sizes and the elapsed time.
    """
    doc = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "mode": mode(quick),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "versions": versions,
        "sizes": sizes,
        **fields,
        "elapsed_s": elapsed,
    }
    outs = [HERE / "results" / f"{name}-{doc['mode']}-latest.json"]
    if json_out:
        outs.append(Path(json_out))
    for out in outs:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(doc, indent=2, default=str) + "\n")
    print(f"\nraw numbers: {', '.join(map(str, outs))}")


class CmdError(RuntimeError):
    """A benchmarked or set-up command failed."""


def run_cmd(
    cmd: list, cwd: Path | str, *, env: dict[str, str], check: bool = True, timeout: float = 3600
) -> tuple[float, subprocess.CompletedProcess]:
    """Run ``cmd`` in ``cwd``; return (wall seconds, completed process), output decoded as text."""
    t0 = time.perf_counter()
    cp = subprocess.run(
        [str(c) for c in cmd],
        cwd=str(cwd),
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=timeout,
    )
    wall = time.perf_counter() - t0
    cp.stdout = cp.stdout.decode("utf-8", "replace")
    cp.stderr = cp.stderr.decode("utf-8", "replace")
    if check and cp.returncode != 0:
        tail = "\n".join((cp.stderr or cp.stdout).strip().splitlines()[-8:])
        raise CmdError(f"`{' '.join(map(str, cmd))}` (cwd={cwd}) exited {cp.returncode}:\n{tail}")
    return wall, cp


def runner(
    default_env: dict[str, str], default_timeout: float
) -> Callable[..., tuple[float, subprocess.CompletedProcess]]:
    """``run_cmd`` with a bench's environment (unless ``env`` is given) and timeout as defaults."""

    def run(cmd: list, cwd: Path | str, *, check: bool = True, timeout: float = default_timeout, env=None):
        return run_cmd(cmd, cwd, env=env or default_env, check=check, timeout=timeout)

    return run


Cmd = tuple[list, Path, dict]  # argv, cwd, environment


def timed_rounds(
    cmds: dict[str, Cmd],
    reps: int,
    *,
    timeout: float,
    before: dict[str, Callable[[], None]] | None = None,
    warm_up: bool = False,
) -> dict[str, list[float]]:
    """``reps`` rounds running each command once, in the given order (so background load hits every
    command alike), after one untimed call of each if ``warm_up``.  ``before[name]()`` runs untimed
    before each call of that command.  Returns name -> list of wall times."""
    before = before or {}

    def call(name: str, cmd: list, cwd: Path, env: dict) -> float:
        if name in before:
            before[name]()
        return run_cmd(cmd, cwd, env=env, timeout=timeout)[0]

    if warm_up:
        for name, c in cmds.items():
            call(name, *c)
    out: dict[str, list[float]] = {name: [] for name in cmds}
    for i in range(reps):
        for name, c in cmds.items():
            out[name].append(call(name, *c))
        log(f"   round {i + 1}/{reps} done (load {os.getloadavg()[0]:.1f})")
    return out


def tool_versions(
    cmds: dict[str, list | str],
    cwd: Path,
    env: dict[str, str],
    *,
    first_line: bool = False,
    unavailable: Callable[[str, Exception], str] = lambda _name, e: f"unavailable: {e}",
    sep: str = ", ",
) -> dict[str, str]:
    """name -> what the command ``cmds[name]`` prints (its first line with ``first_line``), or
    ``unavailable(name, error)`` where it fails (a str in ``cmds`` is a version known already); logged
    on one line (joined with ``sep``)."""
    v = {}
    for name, cmd in cmds.items():
        if isinstance(cmd, str):
            v[name] = cmd
            continue
        try:
            out = run_cmd(cmd, cwd, env=env, timeout=120)[1].stdout.strip()
            v[name] = out.splitlines()[0] if first_line else out
        except (CmdError, OSError, subprocess.TimeoutExpired, IndexError) as e:
            v[name] = unavailable(name, e)
    log("versions: " + sep.join(f"{k} {x}" for k, x in v.items()))
    return v


def fmt_t(s: float | None, *, ms_digits: int = 0, us: bool = False) -> str:
    """A duration for a table: ``n/a``, microseconds below a millisecond (with ``us``), milliseconds
    below a second, else seconds."""
    if s is None:
        return "n/a"
    if us and s < 1e-3:
        return f"{s * 1e6:.1f} us"
    if s < 1:
        return f"{s * 1e3:.{ms_digits}f} ms"
    return f"{s:.2f} s"


def spread(ts: list[float] | None) -> str:
    """``min-max`` of the times, or empty."""
    return f"{fmt_t(min(ts))}-{fmt_t(max(ts))}" if ts else ""


# -- where gitml's time goes ----------------------------------------------------------------------------

PSTATS = r"""
import json, pstats, re, sys
st = pstats.Stats(sys.argv[1])
rows = []
for (file, line, fn), (cc, nc, tt, ct, _callers) in st.stats.items():
    file = re.sub(r"^.*/lib/python3\.\d+/", "", file.split("site-packages/")[-1].split("/work/main/")[-1])
    rows.append({"func": f"{file}:{line}({fn})",
                 "calls": nc, "tottime": tt, "cumtime": ct})
top = int(sys.argv[2])
print(json.dumps({"total": st.total_tt,
                  "cum": sorted(rows, key=lambda r: -r["cumtime"])[:top * 4],
                  "tot": sorted(rows, key=lambda r: -r["tottime"])[:top]}))
"""


def importtime(python: str, args: list, cwd: Path, env: dict[str, str]) -> tuple[list[tuple[int, str]], int]:
    """``python -X importtime -m gitml ARGS``: (cumulative us, module) of the 15 biggest imports among the
    top-level ones and gitml's own modules, and the total us of the top-level imports."""
    _, cp = run_cmd([python, "-X", "importtime", "-m", "gitml", *args], cwd, env=env)
    imports, total = [], 0
    for ln in cp.stderr.splitlines():
        m = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)", ln)
        if m and len(m.group(3)) <= 1:
            total += int(m.group(2))
        if m and (len(m.group(3)) <= 1 or m.group(4).startswith("gitml")):
            imports.append((int(m.group(2)), m.group(4)))
    return sorted(imports, reverse=True)[:15], total


def cprofile(python: str, args: list, cwd: Path, env: dict[str, str], prof: Path, top: int) -> dict:
    """``python -m cProfile -m gitml ARGS`` into ``prof``: its total time and top functions (``cum``: by
    cumulative time, ``tot``: by own time)."""
    run_cmd([python, "-m", "cProfile", "-o", prof, "-m", "gitml", *args], cwd, env=env)
    doc: dict = json.loads(run_cmd([python, "-c", PSTATS, prof, top], cwd, env=env)[1].stdout)
    return doc


def _interesting(func: str) -> bool:
    """Leave out the interpreter's and click's frames that wrap everything."""
    return not func.startswith(("<", "~:0(<built-in method builtins.exec>)", "click/", "gitml/__main__"))


def print_profile(res: dict, top: int, own: int, label: str = "") -> None:
    """The top ``top`` functions by cumulative time and ``own`` by own time of a ``cprofile`` result."""
    print(f"  {label}{res['total']:.3f} s in the profiler; top by cumulative time:")
    for x in [x for x in res["cum"] if _interesting(x["func"])][:top]:
        print(f"    {x['cumtime']:7.3f} s cum {x['tottime']:7.3f} s own {x['calls']:>8} calls  {x['func']}")
    print("  top by own time:")
    for x in res["tot"][:own]:
        print(f"    {x['tottime']:7.3f} s own {x['calls']:>8} calls  {x['func']}")


# -- a git server ---------------------------------------------------------------------------------------


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class GitDaemon:
    """``git daemon`` serving every repo under ``root`` read-only on 127.0.0.1:PORT (a context manager;
    its log, ``log_path``, goes to ``root``'s parent; ``verbose`` logs every request, e.g. to count
    fetches).  ``url("x.git")`` is the git:// URL of ``root/x.git``."""

    def __init__(self, root: Path, env: dict[str, str], *, verbose: bool = False) -> None:
        self.root = root
        self.env = env
        self.verbose = verbose
        self.log_path = root.parent / "git-daemon.log"
        self.port = free_port()
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> GitDaemon:
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [
                "git",
                "daemon",
                "--reuseaddr",
                "--export-all",
                f"--base-path={self.root}",
                "--listen=127.0.0.1",
                f"--port={self.port}",
                "--informative-errors",
                *(["--verbose"] if self.verbose else []),
                str(self.root),
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=self.env,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise CmdError(f"git daemon exited {self.proc.returncode}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return self
            except OSError:
                time.sleep(0.05)
        self.__exit__()
        raise CmdError("git daemon did not start listening")

    def __exit__(self, *exc: object) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()

    def url(self, name: str) -> str:
        return f"git://127.0.0.1:{self.port}/{name}"
