"""What the benchmark drivers (bench_tracking.py, bench_artifacts.py) share: progress lines on stderr,
the environment of their child processes, the size options, reading a worker's JSON line, and the
report: its heading, the table, the notes, and the JSON results file.

Also ``GitDaemon``: a read-only ``git daemon`` on 127.0.0.1 for benches that fetch over git://.

Imported as ``_common`` (the drivers run as scripts, so bench/ is on sys.path).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import time
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


def fmt_t(s: float | None, *, ms_digits: int = 0) -> str:
    """A duration for a table: ``n/a``, milliseconds below a second, else seconds."""
    if s is None:
        return "n/a"
    if s < 1:
        return f"{s * 1e3:.{ms_digits}f} ms"
    return f"{s:.2f} s"


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
