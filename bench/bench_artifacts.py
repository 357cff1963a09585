#!/usr/bin/env python
"""Side-by-side artifact benchmark: gitml vs DVC vs raw s3fs/boto3 on local S3 servers.

    bash bench/peers.sh                           # once: DVC + dvc-s3 + blake3 + rclone in bench/.peers
    .venv/bin/python bench/bench_artifacts.py     # full: 1000 x 100 KiB + one 500 MiB file
    .venv/bin/python bench/bench_artifacts.py --quick --json /tmp/a.json

Same machine, same run, same S3 server on 127.0.0.1 (moto, then
``rclone serve s3``), separate bucket per tool and a fresh prefix per cold
repetition.  gitml and DVC are timed as whole CLI commands (wall clock
around ``subprocess.run``); the raw baselines (s3fs batched put/get of the
small files + boto3 upload_file/download_file of the big one) are timed in
their worker process around the transfer only.  It is a report, not a test:
the exit status is 0 unless the driver itself crashed.  See bench/README.md.

Internal: ``bench_artifacts.py _worker OP ...`` runs one raw/hashing
operation in a child process and prints one JSON line.
"""

from __future__ import annotations

import argparse
import filecmp
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

import _common as common  # noqa: E402  (after sys.path tweak)
from _common import log  # noqa: E402

KIB = 1024
MIB = 1024 * 1024

FULL = dict(n_small=1000, small_kib=100, big_mib=500, hash_mib=1024, cold_reps=2, warm_reps=5, hash_reps=3)
QUICK = dict(n_small=200, small_kib=100, big_mib=50, hash_mib=1024, cold_reps=3, warm_reps=3, hash_reps=3)

BUCKETS = {"raw": "bench-raw", "dvc": "bench-dvc", "gitml": "bench-gitml"}
TIMEOUT = 3600

# Targets (gitml time / peer time must be <= the limit).
T_COLD_DVC = 1.0  # cold push / pull: gitml <= dvc
T_COLD_RAW = 1.3  # ... and gitml <= 1.3x raw
T_NOOP_DVC = 0.2  # no-op push, status: dvc/gitml >= 5
T_HASH_RAW = 1 / 0.8  # hashing: >= 80 % of raw hash speed


# ==========================================================================
# worker side (runs in a child process; only stdlib + s3fs/boto3/blake3)


def _emit(d: dict) -> None:
    print(json.dumps(d), flush=True)


def _small_files(src: Path) -> list[Path]:
    return sorted((src / "small").iterdir())


def w_raw_put(a) -> None:
    t_imp = time.perf_counter()
    import boto3
    import s3fs

    t_imp = time.perf_counter() - t_imp
    src = Path(a.src)
    small = _small_files(src)
    t0 = time.perf_counter()
    fs = s3fs.S3FileSystem(endpoint_url=a.endpoint)
    fs.put([str(p) for p in small], [f"{a.bucket}/{a.prefix}/small/{p.name}" for p in small])
    t1 = time.perf_counter()
    c = boto3.client("s3", endpoint_url=a.endpoint)
    c.upload_file(str(src / "big.bin"), a.bucket, f"{a.prefix}/big.bin")  # default TransferConfig
    t2 = time.perf_counter()
    _emit(dict(small_s=t1 - t0, big_s=t2 - t1, total_s=t2 - t0, import_s=t_imp))


def w_raw_get(a) -> None:
    t_imp = time.perf_counter()
    import boto3
    import s3fs

    t_imp = time.perf_counter() - t_imp
    dst = Path(a.dst)
    (dst / "small").mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    fs = s3fs.S3FileSystem(endpoint_url=a.endpoint)
    # Listing is part of the job (a client does not know the names otherwise).
    remote = sorted(fs.find(f"{a.bucket}/{a.prefix}/small"))
    fs.get(remote, [str(dst / "small" / r.rsplit("/", 1)[1]) for r in remote])
    t1 = time.perf_counter()
    c = boto3.client("s3", endpoint_url=a.endpoint)
    c.download_file(a.bucket, f"{a.prefix}/big.bin", str(dst / "big.bin"))  # default TransferConfig
    t2 = time.perf_counter()
    # Not part of the total, for context: the big file as one streaming GET
    # (s3fs get_file).  boto3's download_file uses parallel ranged GETs, and
    # moto reads the whole object for every ranged GET.
    alt = dst / "big-s3fs.bin"
    t3 = time.perf_counter()
    fs.get_file(f"{a.bucket}/{a.prefix}/big.bin", str(alt))
    big_s3fs_s = time.perf_counter() - t3
    alt.unlink()
    _emit(
        dict(
            small_s=t1 - t0,
            big_s=t2 - t1,
            total_s=t2 - t0,
            big_s3fs_get_file_s=big_s3fs_s,
            import_s=t_imp,
            n_small=len(remote),
        )
    )


def w_count(a) -> None:
    import s3fs

    fs = s3fs.S3FileSystem(endpoint_url=a.endpoint)
    info = fs.find(f"{a.bucket}/{a.prefix}", detail=True)
    _emit(dict(objects=len(info), bytes=sum(int(v.get("size") or 0) for v in info.values())))


def w_rm(a) -> None:
    import s3fs

    fs = s3fs.S3FileSystem(endpoint_url=a.endpoint)
    path = f"{a.bucket}/{a.prefix}"
    if fs.find(path):
        fs.rm(path, recursive=True)
    _emit(dict(ok=True))


def w_hash_raw(a) -> None:
    """In-memory hash speed on one core (a 64 MiB buffer hashed until hash_mib
    bytes are done), plus the same algorithms over the file, for reference."""
    import hashlib

    algos = a.algos.split(",")
    funcs = {"sha256": hashlib.sha256, "md5": hashlib.md5}
    try:
        import blake3

        # max_threads defaults to 1: one core, like the others.
        funcs["blake3"] = blake3.blake3
    except ImportError:
        pass
    buf = os.urandom(64 * MIB)
    n = max(1, a.hash_mib * MIB // len(buf))
    out: dict = {"bytes": n * len(buf), "algos": {}}
    for name in algos:
        if name not in funcs:
            continue
        f = funcs[name]
        best = float("inf")
        for _ in range(a.reps):
            t0 = time.perf_counter()
            h = f()
            for _ in range(n):
                h.update(buf)
            h.hexdigest()
            best = min(best, time.perf_counter() - t0)
        r = dict(mem_best_s=best, mem_mib_s=n * len(buf) / MIB / best)
        if a.file:
            # Over the (page-cached) file: read in 1 MiB chunks + hash.
            best = float("inf")
            for _ in range(a.reps):
                t0 = time.perf_counter()
                h = f()
                with open(a.file, "rb", buffering=0) as fh:
                    mv = memoryview(bytearray(MIB))
                    while k := fh.readinto(mv):
                        h.update(mv[:k])
                digest = h.hexdigest()
                best = min(best, time.perf_counter() - t0)
            r.update(file_best_s=best, file_digest=digest)
        out["algos"][name] = r
    _emit(out)


def w_hash_gitml(a) -> None:
    try:
        from gitml.artifacts.hashing import hash_file
    except Exception as e:
        _emit(dict(error=f"import gitml.artifacts.hashing.hash_file failed: {type(e).__name__}: {e}"))
        return
    with open(a.file, "rb") as fh:  # warm the page cache like the raw side
        while fh.read(8 * MIB):
            pass
    times = []
    res = None
    for _ in range(a.reps):
        t0 = time.perf_counter()
        res = hash_file(a.file)
        times.append(time.perf_counter() - t0)
    digest, size = res if isinstance(res, tuple) else (res, None)
    _emit(dict(best_s=min(times), times_s=times, digest=str(digest), size=size))


WORKER_OPS = {
    "raw-put": w_raw_put,
    "raw-get": w_raw_get,
    "count": w_count,
    "rm": w_rm,
    "hash-raw": w_hash_raw,
    "hash-gitml": w_hash_gitml,
}


def worker_main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="bench_artifacts.py _worker")
    ap.add_argument("op", choices=WORKER_OPS)
    for k in ("endpoint", "bucket", "prefix", "src", "dst", "file"):
        ap.add_argument("--" + k)
    ap.add_argument("--algos", default="sha256,blake3,md5")
    ap.add_argument("--hash-mib", type=int, default=1024)
    ap.add_argument("--reps", type=int, default=3)
    a = ap.parse_args(argv)
    WORKER_OPS[a.op](a)
    return 0


# ==========================================================================
# driver side

import s3servers  # noqa: E402  (after sys.path tweak; driver only)

# Environment for every child process (see _common.child_env); main() adds the fake AWS
# credentials (s3servers.client_env) once the temp dir exists.
CHILD_ENV = common.child_env()


class Failed(RuntimeError):
    """A command exited non-zero; str() is a one-line summary with the stderr tail."""


def tail(cp: subprocess.CompletedProcess, n: int = 4) -> str:
    text = (cp.stderr or "").strip() or (cp.stdout or "").strip() or "(no output)"
    return " | ".join(line.strip() for line in text.splitlines()[-n:])


def run(cmd, cwd: Path, env: dict | None = None, timeout: float = TIMEOUT):
    """Run CMD, return (wall seconds, CompletedProcess); raise Failed on non-zero exit."""
    cmd = [str(c) for c in cmd]
    t0 = time.perf_counter()
    try:
        cp = subprocess.run(
            cmd,
            cwd=str(cwd),
            env=env or CHILD_ENV,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired as e:
        raise Failed(f"`{' '.join(cmd[:4])}` timed out after {timeout:g} s") from e
    except OSError as e:
        raise Failed(f"`{' '.join(cmd[:4])}`: {e}") from e
    wall = time.perf_counter() - t0
    if cp.returncode != 0:
        short = " ".join(Path(c).name if i == 0 else c for i, c in enumerate(cmd[:6]))
        raise Failed(f"`{short}` exit {cp.returncode}: {tail(cp)}")
    return wall, cp


class Ctx:
    def __init__(self, a, S: dict, base: Path) -> None:
        self.a = a
        self.S = S
        self.base = base
        self.gitml_python = a.gitml_python
        self.gitml = str(Path(os.path.abspath(a.gitml_python)).parent / "gitml")
        self.raw_python = a.raw_python
        peers_bin = Path(os.path.abspath(a.peers_python)).parent
        self.peers_python = a.peers_python
        self.dvc = str(peers_bin / "dvc")
        self.rclone = a.rclone or str(peers_bin / "rclone")
        self.dataset = base / "dataset"
        self.dataset_bytes = 0

    def worker(self, python: str, op: str, **kw) -> dict:
        cmd = [python, Path(__file__).resolve(), "_worker", op]
        for k, v in kw.items():
            if v is not None:
                cmd += [f"--{k.replace('_', '-')}", v]
        wall, cp = run(cmd, self.base)
        d = common.last_json(cp.stdout)
        if d is not None:
            d["process_wall_s"] = wall
            return d
        raise Failed(f"worker {op}: no JSON in output: {tail(cp)}")


# --------------------------------------------------------------------------
# report


fmt_t = common.fmt_t


class Report(common.Report):
    """``errors`` holds the failures (``fail``), printed as they are and kept as "failures" in the JSON."""

    error_prefix = ""

    def fail(self, where: str, tool: str, err: object) -> None:
        msg = f"{where}: {tool}: FAILED {err}"
        if msg not in self.errors:
            self.errors.append(msg)
        log(msg)

    def row(
        self, scenario, gitml=None, dvc=None, raw=None, checks=(), note="", gitml_failed=False, gitml_text=""
    ):
        """checks: [(peer, limit)] with peer in {"dvc", "raw"}: PASS if gitml/peer <= limit."""
        ratios = {
            "dvc": gitml / dvc if gitml and dvc else None,
            "raw": gitml / raw if gitml and raw else None,
        }
        if not checks:
            verdict, tgt = "info", ""
        else:
            tgt = ", ".join(f"g/{p} <= {lim:g}" for p, lim in checks)
            got = [ratios[p] for p, _ in checks]
            if any(r is None for r in got):
                verdict = "n/a"
            else:
                bad = [p for (p, lim), r in zip(checks, got, strict=True) if r > lim]
                verdict = "PASS" if not bad else "FAIL (" + ",".join(bad) + ")"
        self.rows.append(
            dict(
                scenario=scenario,
                gitml_s=gitml,
                dvc_s=dvc,
                raw_s=raw,
                gitml_over_dvc=ratios["dvc"],
                gitml_over_raw=ratios["raw"],
                target=tgt,
                verdict=verdict,
                note=note,
                gitml_failed=gitml_failed,
                gitml_text=gitml_text,
            )
        )

    def print_table(self) -> None:
        hdr = ["scenario", "gitml", "dvc", "raw", "gitml/dvc", "gitml/raw", "target", "result"]
        lines = [
            [
                r["scenario"],
                r["gitml_text"] or ("FAILED" if r["gitml_failed"] else fmt_t(r["gitml_s"])),
                fmt_t(r["dvc_s"]),
                fmt_t(r["raw_s"]),
                "" if r["gitml_over_dvc"] is None else f"{r['gitml_over_dvc']:.2f}",
                "" if r["gitml_over_raw"] is None else f"{r['gitml_over_raw']:.2f}",
                r["target"],
                self.shown(r["verdict"]),
            ]
            for r in self.rows
        ]
        self.print_report(
            hdr,
            lines,
            "gitml/dvc and gitml/raw are time ratios (lower is better for gitml); "
            "g/dvc <= 0.2 means DVC takes >= 5x as long.",
            "QUICK MODE: small data set, fixed per-process costs dominate; verdicts in "
            "parentheses are indicative only.",
            [f"  - {r['scenario']}: {r['note']}" for r in self.rows if r["note"]],
        )


# --------------------------------------------------------------------------
# tools


class Side:
    """One tool's repository on one server."""

    name = "?"
    exe = "?"

    def __init__(self, ctx: Ctx, root: Path, srv: s3servers.S3Server) -> None:
        self.ctx = ctx
        self.root = root
        self.srv = srv
        self.bucket = BUCKETS[self.name]
        self.broken: str | None = None  # set when setup failed: skip the rest
        self.prefix: str | None = None
        self.last_out = ""

    def cmd(self, *args, env: dict | None = None) -> float:
        wall, cp = run([self.exe, *args], self.root, env=env)
        self.last_out = (cp.stdout.strip() + "\n" + cp.stderr.strip()).strip()[-600:]
        return wall

    def copy_data(self) -> None:
        data = self.root / "data"
        data.mkdir(parents=True, exist_ok=True)
        shutil.copytree(self.ctx.dataset / "small", data / "small")
        shutil.copy(self.ctx.dataset / "big.bin", data / "big.bin")

    def drop_workspace(self) -> None:
        shutil.rmtree(self.root / "data" / "small", ignore_errors=True)
        (self.root / "data" / "big.bin").unlink(missing_ok=True)

    def drop_cache(self) -> None:
        shutil.rmtree(self.cache_dir, ignore_errors=True)

    cache_dir: Path

    def workspace_ok(self) -> str | None:
        """None if data/ matches the dataset (all sizes, and the content of big.bin and a few small files)."""
        ds, ws = self.ctx.dataset, self.root / "data"
        names = sorted(p.name for p in (ds / "small").iterdir())
        got = sorted(p.name for p in (ws / "small").iterdir()) if (ws / "small").is_dir() else []
        if got != names:
            return f"workspace has {len(got)} of {len(names)} small files"
        for n in names:
            if (ws / "small" / n).stat().st_size != (ds / "small" / n).stat().st_size:
                return f"size differs: small/{n}"
        for rel in ["big.bin"] + [f"small/{n}" for n in names[:: max(1, len(names) // 4)]]:
            if not (ws / rel).is_file() or not filecmp.cmp(ds / rel, ws / rel, shallow=False):
                return f"content differs: {rel}"
        return None

    def cache_stats(self) -> tuple[int, int]:
        n = b = 0
        for dirpath, _, files in os.walk(self.cache_dir):
            for f in files:
                n += 1
                b += os.path.getsize(os.path.join(dirpath, f))
        return n, b


class DvcSide(Side):
    name = "dvc"

    def __init__(self, ctx, root, srv) -> None:
        super().__init__(ctx, root, srv)
        self.exe = ctx.dvc
        self.cache_dir = root / ".dvc" / "cache"
        # Keep DVC's site cache (/var/tmp/dvc by default) inside our temp dir.
        self.env = dict(CHILD_ENV, DVC_SITE_CACHE_DIR=str(root.parent / "dvc-site-cache"))

    def cmd(self, *args, env=None) -> float:
        return super().cmd(*args, env=env or self.env)

    def setup(self) -> float:
        self.root.mkdir(parents=True)
        run(["git", "init", "-q"], self.root)
        self.cmd("init", "-q")
        self.cmd("remote", "add", "-d", "s3remote", f"s3://{self.bucket}/r0")
        self.cmd("remote", "modify", "s3remote", "endpointurl", self.srv.endpoint)
        self.copy_data()
        return self.cmd("add", "-q", "data/small", "data/big.bin")

    def use_remote(self, prefix: str) -> None:
        self.cmd("remote", "modify", "s3remote", "url", f"s3://{self.bucket}/{prefix}")
        self.prefix = prefix

    def push(self) -> float:
        return self.cmd("push")

    def status(self) -> float:
        return self.cmd("status", "-c")

    def fetch(self) -> float:
        return self.cmd("fetch")

    def pull(self) -> float:
        return self.cmd("pull")


class GitmlSide(Side):
    name = "gitml"

    def __init__(self, ctx, root, srv) -> None:
        super().__init__(ctx, root, srv)
        self.exe = ctx.gitml
        self.cache_dir = root / ".gitml" / "cache"

    def setup(self) -> float:
        self.root.mkdir(parents=True)
        run(["git", "init", "-q"], self.root)
        self.cmd("init")
        self.use_remote("r0")
        self.copy_data()
        return self.cmd("run", "--artifact", "data/small", "--artifact", "data/big.bin", "--", "true")

    def use_remote(self, prefix: str) -> None:
        # A new remote name per prefix, so no state about an old remote can be reused.
        url = f"s3://{self.bucket}/{prefix}"
        self.cmd("remote", "add", prefix, url, "--default", "--endpoint-url", self.srv.endpoint)
        self.prefix = prefix

    def push(self) -> float:
        return self.cmd("push")

    def status(self) -> float:
        return self.cmd("status")

    def fetch(self) -> float:
        return self.cmd("fetch")

    def pull(self) -> float:
        return self.cmd("pull")


# --------------------------------------------------------------------------
# scenarios


def make_dataset(ctx: Ctx) -> None:
    S = ctx.S
    small = ctx.dataset / "small"
    small.mkdir(parents=True)
    for i in range(S["n_small"]):
        (small / f"f{i:05d}.bin").write_bytes(os.urandom(S["small_kib"] * KIB))
    with open(ctx.dataset / "big.bin", "wb") as f:
        left = S["big_mib"] * MIB
        while left:
            k = min(left, 8 * MIB)
            f.write(os.urandom(k))
            left -= k
    ctx.dataset_bytes = S["n_small"] * S["small_kib"] * KIB + S["big_mib"] * MIB


def scenario_hashing(rep: Report, ctx: Ctx) -> None:
    S = ctx.S
    log(f"hashing: {S['hash_mib']} MiB file, best of {S['hash_reps']}")
    path = ctx.base / "hash.bin"
    with open(path, "wb") as f:
        for _ in range(S["hash_mib"] // 8):
            f.write(os.urandom(8 * MIB))
    raw_d: dict = {}
    try:
        r = ctx.worker(ctx.gitml_python, "hash-raw", file=path, hash_mib=S["hash_mib"], reps=S["hash_reps"])
        raw_d.update(r["algos"])
        if "blake3" not in raw_d:  # not in gitml's venv: try the peers venv (peers.sh installs it)
            r2 = ctx.worker(
                ctx.peers_python,
                "hash-raw",
                file=path,
                hash_mib=S["hash_mib"],
                reps=S["hash_reps"],
                algos="blake3",
            )
            for k, v in r2["algos"].items():
                v["python"] = ctx.peers_python
                raw_d[k] = v
    except Failed as e:
        rep.fail("hashing", "raw", e)
    g: dict | None = None
    try:
        g = ctx.worker(ctx.gitml_python, "hash-gitml", file=path, reps=S["hash_reps"])
    except Failed as e:
        g = {"error": str(e)}
    rep.raw["hashing"] = {"raw": raw_d, "gitml": g}
    path.unlink()

    size = S["hash_mib"] * MIB
    algo = None
    gt = None
    if g and "error" not in g:
        gt = g["best_s"]
        algo = next((k for k, v in raw_d.items() if v.get("file_digest") == g["digest"]), None)
        if g.get("size") not in (None, size):
            rep.notes.append(f"hashing: gitml hash_file returned size {g['size']}, expected {size}")
        if algo is None:
            rep.notes.append(f"hashing: gitml digest {g['digest'][:16]}... matches none of {sorted(raw_d)}")
    ref = algo if algo in raw_d else "sha256"
    label = f"hash {S['hash_mib']} MiB file"
    # Time to hash `size` bytes at the raw in-memory speed.
    ref_s = size / (raw_d[ref]["mem_mib_s"] * MIB) if ref in raw_d else None
    note = (
        f"gitml hash_file ({algo or 'unknown algorithm'}) vs {ref} over an in-memory buffer, 1 core"
        if gt
        else "gitml: " + (g or {}).get("error", "n/a").replace("\n", " ")[-300:]
    )
    if gt:
        note += f"; gitml {size / MIB / gt:.0f} MiB/s"
    rep.row(
        f"{label}: gitml hash_file vs raw {ref}",
        gitml=gt,
        raw=ref_s,
        checks=[("raw", T_HASH_RAW)],
        note=note,
        gitml_text="" if gt else "not available",
    )
    if g and "error" in g:
        rep.notes.append("hashing: gitml side not available: " + g["error"][-300:])
    for name in ("sha256", "blake3", "md5"):
        if name not in raw_d:
            if name == "blake3":
                rep.notes.append(
                    "hashing: blake3 not importable in the gitml or peers venv (bash bench/peers.sh)"
                )
            continue
        v = raw_d[name]
        rep.row(
            f"  raw {name}, in-memory, 1 core ({v['mem_mib_s']:.0f} MiB/s)",
            raw=size / (v["mem_mib_s"] * MIB),
            note="",
        )
        if "file_best_s" in v:
            rep.row(
                f"  raw {name}, read file + hash ({size / MIB / v['file_best_s']:.0f} MiB/s)",
                raw=v["file_best_s"],
            )


def server_suite(rep: Report, ctx: Ctx, srv: s3servers.S3Server) -> None:
    S = ctx.S
    sname = srv.name
    raw = rep.raw.setdefault(sname, {"server": srv.version})
    sdir = ctx.base / sname
    for b in BUCKETS.values():
        srv.create_bucket(b)

    dvc = DvcSide(ctx, sdir / "dvc", srv)
    gm = GitmlSide(ctx, sdir / "gitml", srv)
    sides = [dvc, gm]
    if ctx.a.skip_gitml:
        gm.broken = "skipped (--skip-gitml)"
        sides = [dvc]

    def attempt(side: Side | str, label: str, fn):
        """Run fn() -> seconds; record into raw[label][tool]; None on failure."""
        tool = side if isinstance(side, str) else side.name
        if not isinstance(side, str) and side.broken:
            return None
        try:
            t = fn()
        except Failed as e:
            rep.fail(f"[{sname}] {label}", tool, e)
            return None
        raw.setdefault(label, {}).setdefault(tool, []).append(t)
        if not isinstance(side, str):  # what the last repetition printed, for the JSON
            raw.setdefault(label + "_output", {})[tool] = side.last_out
        return t

    def failed(side: Side, label: str) -> bool:
        return bool(side.broken) or any(
            f.startswith(f"[{sname}] {label}: {side.name}: FAILED") for f in rep.errors
        )

    # ---- setup: dvc add vs gitml run --artifact (hashing + caching the data set)
    log(f"[{sname}] setup: dvc add / gitml run --artifact")
    for side in sides:
        try:
            t = side.setup()
            raw.setdefault("add", {})[side.name] = [t]
        except Failed as e:
            side.broken = str(e)
            rep.fail(f"[{sname}] setup", side.name, e)
    rep.row(
        f"[{sname}] track data set (gitml run --artifact / dvc add)",
        gitml=(raw.get("add", {}).get("gitml") or [None])[0],
        dvc=(raw.get("add", {}).get("dvc") or [None])[0],
        gitml_failed=bool(gm.broken),
        note="info: hashes the data set and copies it into the cache",
    )

    def best(label: str, tool: str) -> float | None:
        v = raw.get(label, {}).get(tool)
        return min(v) if v else None

    def add_row(label: str, title: str, checks, note=""):
        rep.row(
            f"[{sname}] {title}",
            gitml=best(label, "gitml"),
            dvc=best(label, "dvc"),
            raw=best(label, "raw"),
            checks=checks,
            note=note,
            gitml_failed=failed(gm, label),
        )

    def check_remote(tool: str, bucket: str, prefix: str) -> None:
        try:
            c = ctx.worker(ctx.raw_python, "count", endpoint=srv.endpoint, bucket=bucket, prefix=prefix)
        except Failed as e:
            rep.notes.append(f"[{sname}] could not list {bucket}/{prefix}: {e}")
            return
        raw.setdefault("remote_contents", {})[f"{tool}/{prefix}"] = c
        if c["bytes"] < ctx.dataset_bytes:
            rep.notes.append(
                f"[{sname}] after {tool} push, {bucket}/{prefix} holds {c['bytes']} bytes in "
                f"{c['objects']} objects, less than the data set ({ctx.dataset_bytes})"
            )

    def rm_remote(bucket: str, prefix: str | None) -> None:
        if prefix:
            try:
                ctx.worker(ctx.raw_python, "rm", endpoint=srv.endpoint, bucket=bucket, prefix=prefix)
            except Failed as e:
                rep.notes.append(f"[{sname}] could not delete {bucket}/{prefix}: {e}")

    # ---- 1. cold push, fresh prefix each rep (interleaved raw, dvc, gitml)
    label = "cold_push"
    raw_prefix = None
    for i in range(1, S["cold_reps"] + 1):
        log(f"[{sname}] cold push {i}/{S['cold_reps']}")
        prefix = f"r{i}"
        rm_remote(BUCKETS["raw"], raw_prefix)
        raw_prefix = prefix
        r = None
        try:
            r = ctx.worker(
                ctx.raw_python,
                "raw-put",
                endpoint=srv.endpoint,
                bucket=BUCKETS["raw"],
                prefix=prefix,
                src=ctx.dataset,
            )
            raw.setdefault(label, {}).setdefault("raw", []).append(r["total_s"])
            raw.setdefault(label + "_raw_detail", []).append(r)
            check_remote("raw", BUCKETS["raw"], prefix)
        except Failed as e:
            rep.fail(f"[{sname}] {label}", "raw", e)
        for side in sides:
            if side.broken:
                continue
            old = side.prefix
            try:
                side.use_remote(prefix)
            except Failed as e:
                rep.fail(f"[{sname}] {label}", side.name, e)
                continue
            rm_remote(side.bucket, old)
            if attempt(side, label, side.push) is not None:
                check_remote(side.name, side.bucket, prefix)
    det = raw.get(label + "_raw_detail") or []
    note = ""
    if det:
        b = min(det, key=lambda d: d["total_s"])
        note = (
            f"raw = s3fs put {fmt_t(b['small_s'])} + boto3 upload_file {fmt_t(b['big_s'])} "
            f"(whole raw process incl. interpreter + imports: {fmt_t(b['process_wall_s'])})"
        )
    add_row(label, "cold push (empty remote)", [("dvc", T_COLD_DVC), ("raw", T_COLD_RAW)], note)

    # ---- 2. no-op push and status
    for label, title, meth in (
        ("noop_push", "push, nothing changed", "push"),
        ("status", "status, nothing changed", "status"),
    ):
        log(f"[{sname}] {title} x{S['warm_reps']}")
        for _ in range(S["warm_reps"]):
            for side in sides:
                attempt(side, label, getattr(side, meth))
        cmds = "dvc status -c / gitml status" if meth == "status" else "dvc push / gitml push"
        add_row(label, title, [("dvc", T_NOOP_DVC)], f"{cmds}, best of {S['warm_reps']}")

    # ---- 3. cold fetch (cache only) and cold pull (cache + workspace)
    def raw_get(label: str) -> None:
        dst = sdir / "raw-get"
        shutil.rmtree(dst, ignore_errors=True)
        try:
            r = ctx.worker(
                ctx.raw_python,
                "raw-get",
                endpoint=srv.endpoint,
                bucket=BUCKETS["raw"],
                prefix=raw_prefix,
                dst=dst,
            )
            raw.setdefault(label, {}).setdefault("raw", []).append(r["total_s"])
            raw.setdefault(label + "_raw_detail", []).append(r)
            if r["n_small"] != S["n_small"]:
                rep.notes.append(
                    f"[{sname}] raw get found {r['n_small']} small files, expected {S['n_small']}"
                )
        except Failed as e:
            rep.fail(f"[{sname}] {label}", "raw", e)
        finally:
            shutil.rmtree(dst, ignore_errors=True)

    for label, title, meth, drop_ws in (
        ("cold_fetch", "cold fetch (empty cache)", "fetch", False),
        ("cold_pull", "cold pull (empty cache + workspace)", "pull", True),
    ):
        for i in range(1, S["cold_reps"] + 1):
            log(f"[{sname}] {title} {i}/{S['cold_reps']}")
            if raw_prefix:
                raw_get(label)
            for side in sides:
                if side.broken:
                    continue
                side.drop_cache()
                if drop_ws:
                    side.drop_workspace()
                if attempt(side, label, getattr(side, meth)) is None:
                    continue
                n, b = side.cache_stats()
                raw.setdefault(label + "_cache", {})[side.name] = {"files": n, "bytes": b}
                if b < ctx.dataset_bytes:
                    rep.notes.append(
                        f"[{sname}] after {side.name} {meth}, its cache holds {b} bytes in {n} files, "
                        f"less than the data set ({ctx.dataset_bytes})"
                    )
                if drop_ws and (problem := side.workspace_ok()):
                    rep.notes.append(f"[{sname}] after {side.name} pull: {problem}")
        det = raw.get(label + "_raw_detail") or []
        note = f"{'dvc fetch / gitml fetch' if meth == 'fetch' else 'dvc pull / gitml pull'}"
        if det:
            b = min(det, key=lambda d: d["total_s"])
            note += (
                f"; raw = s3fs find+get {fmt_t(b['small_s'])} + boto3 download_file {fmt_t(b['big_s'])} "
                f"(whole raw process: {fmt_t(b['process_wall_s'] - b['big_s3fs_get_file_s'])}; "
                "big file as one stream with "
                f"s3fs get_file: {fmt_t(b['big_s3fs_get_file_s'])}, not in the total)"
            )
        add_row(label, title, [("dvc", T_COLD_DVC), ("raw", T_COLD_RAW)], note)

    for side in (dvc, gm):
        shutil.rmtree(side.root, ignore_errors=True)


def tool_versions(ctx: Ctx) -> dict:
    return common.tool_versions(
        {
            "gitml": [ctx.gitml, "--version"],
            "dvc": [ctx.dvc, "--version"],
            "dvc-s3": [
                ctx.peers_python,
                "-c",
                "from importlib.metadata import version as v; print(v('dvc-s3'), v('s3fs'))",
            ],
            "raw s3fs/boto3": [
                ctx.raw_python,
                "-c",
                "import s3fs, boto3; print('s3fs', s3fs.__version__, 'boto3', boto3.__version__)",
            ],
            "rclone": [ctx.rclone, "version"],
            "python": [ctx.gitml_python, "--version"],
        },
        ctx.base,
        CHILD_ENV,
        first_line=True,
        unavailable=lambda _name, e: f"? ({e})",
        sep="; ",
    )


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "_worker":
        return worker_main(sys.argv[2:])
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="200 x 100 KiB + one 50 MiB file, 3 reps")
    ap.add_argument("--json", metavar="OUT", help="also write all raw numbers to OUT")
    ap.add_argument("--servers", default="moto,rclone", help="subset of moto,rclone ('none': hashing only)")
    ap.add_argument("--no-hashing", action="store_true", help="skip the hashing scenario")
    ap.add_argument("--skip-gitml", action="store_true", help="only DVC and raw (peer numbers)")
    ap.add_argument("--gitml-python", default=str(REPO / ".venv" / "bin" / "python"))
    ap.add_argument(
        "--raw-python",
        default=str(REPO / ".venv" / "bin" / "python"),
        help="python with s3fs + boto3 for the raw baselines (and moto[server] for the moto server)",
    )
    ap.add_argument("--peers-python", default=str(HERE / ".peers" / "bin" / "python"))
    ap.add_argument("--rclone", default=None, help="rclone binary (default: next to --peers-python)")
    ap.add_argument("--workdir", default=None, help="parent of the temp dir (default: system temp)")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir (path is printed)")
    common.add_size_options(ap, FULL)
    a = ap.parse_args()
    # Children run in the temp dir: make paths absolute (without resolving venv symlinks).
    for k in ("gitml_python", "raw_python", "peers_python", "rclone", "json", "workdir"):
        if getattr(a, k):
            setattr(a, k, os.path.abspath(getattr(a, k)))

    S = common.chosen_sizes(a, FULL, QUICK)
    servers = [s.strip() for s in a.servers.split(",") if s.strip() not in ("", "none")]

    dvc_bin = Path(os.path.abspath(a.peers_python)).parent / "dvc"
    if not os.access(dvc_bin, os.X_OK):
        print(f"dvc not found at {dvc_bin}; run: bash bench/peers.sh", file=sys.stderr)
        return 2

    base = Path(tempfile.mkdtemp(prefix="gitml-bench-art-", dir=a.workdir))
    env = s3servers.client_env(CHILD_ENV, aws_dir=base / "aws")
    CHILD_ENV.clear()
    CHILD_ENV.update(env)
    ctx = Ctx(a, S, base)
    rep = Report(a.quick)
    data_b = S["n_small"] * S["small_kib"] * KIB + S["big_mib"] * MIB
    # dataset + 2 copies per tool repo (workspace + cache) + up to one copy per
    # tool on the server + a raw download + the hashing file.
    need = 9 * data_b + S["hash_mib"] * MIB
    free = shutil.disk_usage(base).free
    log(f"work dir {base}: {free / 2**30:.1f} GiB free, this run needs up to ~{need * 1.1 / 2**30:.1f} GiB")
    if free < need * 1.1:
        print(f"not enough disk space in {base.parent} (use --workdir)", file=sys.stderr)
        shutil.rmtree(base, ignore_errors=True)
        return 2
    if not a.skip_gitml and not os.access(ctx.gitml, os.X_OK):
        rep.notes.append(f"gitml CLI not found at {ctx.gitml}")

    versions = tool_versions(ctx)
    t0 = time.perf_counter()
    try:
        log(f"data set: {S['n_small']} x {S['small_kib']} KiB + one {S['big_mib']} MiB file (random bytes)")
        make_dataset(ctx)
        if not a.no_hashing:
            scenario_hashing(rep, ctx)
        for name in servers:
            if name == "moto":
                srv = s3servers.S3Server.moto(a.raw_python, base / "srv-moto")
            elif name == "rclone":
                if not os.access(ctx.rclone, os.X_OK):
                    rep.fail(
                        "[rclone]", "server", f"rclone not found at {ctx.rclone}; run bash bench/peers.sh"
                    )
                    continue
                srv = s3servers.S3Server.rclone(ctx.rclone, base / "srv-rclone")
            else:
                rep.notes.append(f"unknown server {name!r}")
                continue
            log(f"[{name}] starting {srv.version} on {srv.endpoint}")
            try:
                with srv:
                    server_suite(rep, ctx, srv)
            except (s3servers.ServerError, Failed, OSError) as e:
                rep.fail(f"[{name}]", "suite", f"{type(e).__name__}: {e}")
            except Exception as e:  # e.g. botocore errors from create_bucket: keep the other server
                rep.fail(f"[{name}]", "suite", f"{type(e).__name__}: {e}\nserver log:\n{srv.log_tail()}")
            finally:
                srv.wipe()
                versions[f"server {name}"] = srv.version
    finally:
        common.remove_work_dir(base, a.keep)
    elapsed = time.perf_counter() - t0

    sizes = (
        f"data set: {S['n_small']} x {S['small_kib']} KiB + 1 x {S['big_mib']} MiB "
        f"({data_b / MIB:.0f} MiB); best of {S['cold_reps']} (cold) / {S['warm_reps']} (no-op)"
    )
    common.print_heading("gitml vs DVC vs raw s3fs/boto3, artifacts", a.quick, elapsed, versions, "; ", sizes)
    rep.print_table()

    fields = {"rows": rep.rows, "raw": rep.raw, "notes": rep.notes, "failures": rep.errors}
    common.write_results("artifacts", a.quick, versions, S, fields, elapsed, a.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
