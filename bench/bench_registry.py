#!/usr/bin/env python
"""Side-by-side model registry benchmark: gitml vs GTO on the same git repo, plus `gitml get --repo`.

    bash bench/peers.sh                                 # once: GTO (with DVC) in bench/.peers
    .venv/bin/python bench/bench_registry.py            # 1,000 models x 20 tags = 20,000 tags
    .venv/bin/python bench/bench_registry.py --quick    # 50 models x 7 tags = 350 tags
    .venv/bin/python bench/bench_registry.py --generate-only DIR   # just build the tag repo
    .venv/bin/python bench/bench_registry.py --only get [--artifact-mib 200,1024]   # just `get --repo`

Registry part: one git repo full of GTO-style annotated tags (``NAME@vX.Y.Z``,
``NAME#STAGE#N``, ``NAME#STAGE!#N``, ``NAME@vX.Y.Z!``), written in one
``git fast-import`` stream.  ``gto show`` / ``gitml models list`` and ``gto show
NAME#prod --ref`` / ``gitml models resolve models:/NAME/prod`` run there as
whole CLI processes, best of N, with loose refs (as written) and again after
``git pack-refs --all``.  Both tools' answers are checked against each other
and against the generator's own model of GTO's rules.

Get part (``--only get``, ~1 min; ``--artifact-mib 200,1024`` adds a 1 GiB model, ~3 min): a repo
with a long history and big old blobs, one gitml run per model size whose model was pushed to an S3
remote (``rclone serve s3`` on 127.0.0.1, the default remote) and to a local-folder remote,
registered and promoted, served by ``git daemon``.  The target row: ``gitml get
models:/NAME/production --repo git://...`` against the raw S3 download of the same object in a
fresh process (boto3 ``download_file``, default TransferConfig, as ``aws s3 cp``), interleaved,
outputs compared byte for byte.  Info rows: ``gitml get ... -r local`` against ``cp`` and ``cp`` +
a SHA-256 of the copy.  When gitml misses the target, the same steps are timed one by one (imports,
resolution over git, S3 client, the bytes, interpreter exit) to say where the time goes.

It is a report, not a test: the exit status is 0 unless the driver itself
crashed.  See bench/README.md.
"""

from __future__ import annotations

import argparse
import contextlib
import filecmp
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import _common as common
import s3servers
from _common import CmdError, log

HERE = Path(__file__).resolve().parent
REPO = HERE.parent

FULL = dict(
    models=1000,
    tags_per_model=20,
    commits=300,
    reps=3,
    history_commits=2000,
    history_big_blobs=20,
    history_big_mib=5,
    artifact_mib=200,
    get_reps=5,
)
QUICK = dict(
    models=50,
    tags_per_model=7,
    commits=100,
    reps=3,
    history_commits=300,
    history_big_blobs=4,
    history_big_mib=2,
    artifact_mib=20,
    get_reps=3,
)

STAGES = ("dev", "staging", "prod")
TAGGER = "bench <bench@example.invalid>"
T0 = 1_700_000_000  # first commit time; tags come after the last commit, one second apart
PROBE_MODEL = 7  # the model whose prod stage is resolved (m7#prod, as in the issue)
PROBE_STAGE = "prod"

# Targets: peer time / gitml time must be at least this (ratio), or gitml / raw at most (get).
T_LIST = 5.0
T_RESOLVE = 10.0
T_GET_RAW = 1.5

TIMEOUT = 3600
CHILD_ENV = common.child_env(GIT_TERMINAL_PROMPT="0")


run_cmd = common.runner(CHILD_ENV, TIMEOUT)


def fmt_t(s: float | None) -> str:
    return common.fmt_t(s, ms_digits=1)


# ==========================================================================
# the tag repo: plan (what GTO would have written) + fast-import


@dataclass
class TagEvent:
    name: str  # the tag name
    commit: int  # index of the commit it points at
    time: int
    message: str


@dataclass
class ModelTruth:
    """What GTO's rules say about one model after all its tags (the generator's own oracle)."""

    latest: str | None
    stages: dict[str, str] = field(default_factory=dict)  # stage -> version holding it
    # The same under "pointer" rules: each stage's newest event decides (an un-assignment empties the
    # stage, whichever version it names) and a deregistered (deprecated) version keeps its stages.
    # Used only to explain a disagreement with GTO's rules.
    pointer_stages: dict[str, str] = field(default_factory=dict)


def _semver_key(v: str) -> tuple[int, ...]:
    return tuple(int(x) for x in v[1:].split("."))


def plan_registry(models: int, tags_per_model: int, commits: int, seed: int = 0):
    """The tags of ``models`` models, ``tags_per_model`` each: half (rounded down, at least 1) are
    version registrations ``mI@v1.0.J`` on distinct commits (GTO needs one commit per version of a
    model), the rest are stage events over dev/staging/prod in the order GTO would write them: mostly
    assignments ``mI#STAGE#N``, about 10% un-assignments ``mI#STAGE!#N`` of the stage's current holder
    and about 4% de-registrations ``mI@v1.0.J!``.  N is GTO 1.10's counter: per model, over all stages.
    Registrations and stage events are interleaved (a version is registered before it is promoted), and
    every tag gets its own second, so GTO's timestamp order is unambiguous.  ``m7``'s last event always
    assigns ``prod``.

    Returns (tags, truth) where truth[name] is the state GTO's rules give (GTO's CLI defaults:
    a stage is held by the active version whose active assignment to it is the most recent; latest =
    highest semver among registered, not deregistered versions)."""
    n_versions = max(1, tags_per_model // 2)
    n_events = tags_per_model - n_versions
    if commits < n_versions:
        raise ValueError(f"need at least {n_versions} commits for {n_versions} versions per model")
    slot = commits // n_versions
    tags: list[TagEvent] = []
    truth: dict[str, ModelTruth] = {}
    t = T0 + commits * 60
    for i in range(models):
        rng = random.Random(f"{seed}-{i}")
        m = f"m{i}"
        vcommit = {f"v1.0.{j}": j * slot + (i * 7919) % slot for j in range(n_versions)}
        to_register = list(vcommit)
        active: list[str] = []  # registered, not deregistered
        # (version, stage) -> (assigned now?, time of the last assignment)
        vstage: dict[tuple[str, str], tuple[bool, int]] = {}
        counter = 0
        events_left = n_events
        newest: dict[str, str | None] = {}  # stage -> version of its newest assignment, None if un-assigned
        while to_register or events_left:
            t += 1
            register = not active or (
                to_register and rng.random() < len(to_register) / (len(to_register) + events_left)
            )
            if register:
                v = to_register.pop(0)
                active.append(v)
                tags.append(TagEvent(f"{m}@{v}", vcommit[v], t, f"Registering artifact {m} version {v}"))
                continue
            events_left -= 1
            stage = rng.choice(STAGES)
            last = events_left == 0 and i == PROBE_MODEL and not to_register
            holders = sorted(
                (vstage[(v, stage)][1], v) for v in active if vstage.get((v, stage), (False, 0))[0]
            )
            r = rng.random()
            if last:
                stage, r = PROBE_STAGE, 1.0
            if r < 0.10 and holders:
                v = holders[-1][1]
                counter += 1
                vstage[(v, stage)] = (False, vstage[(v, stage)][1])
                newest[stage] = None
                msg = f"Unassigning stage '{stage}' to artifact '{m}' version '{v}'"
                tags.append(TagEvent(f"{m}#{stage}!#{counter}", vcommit[v], t, msg))
            elif 0.10 <= r < 0.14 and len(active) > 1:
                v = rng.choice(active)
                active.remove(v)
                tags.append(TagEvent(f"{m}@{v}!", vcommit[v], t, f"Deregistering artifact {m} version {v}"))
            else:
                v = rng.choice(active)
                counter += 1
                vstage[(v, stage)] = (True, t)
                newest[stage] = v
                msg = f"Assigning stage {stage} to artifact {m} version {v}"
                tags.append(TagEvent(f"{m}#{stage}#{counter}", vcommit[v], t, msg))
        mt = ModelTruth(latest=max(active, key=_semver_key) if active else None)
        mt.pointer_stages = {st: v for st, v in newest.items() if v}
        for stage in STAGES:
            held = [(vstage[(v, stage)][1], v) for v in active if vstage.get((v, stage), (False, 0))[0]]
            if held:
                mt.stages[stage] = max(held)[1]
        truth[m] = mt
    return tags, truth


def _data(payload: bytes) -> bytes:
    return b"data %d\n" % len(payload) + payload + b"\n"


def fast_import(
    path: Path, commits: int, tags: list[TagEvent], big_blobs: dict[int, int] | None = None
) -> None:
    """``git init`` PATH (branch main) and fill it with one ``git fast-import`` stream: ``commits``
    commits on main (each rewrites ``step.txt``; commit k also adds ``data/blob-k.bin`` of
    ``big_blobs[k]`` random bytes, removed again by the next commit), then the annotated ``tags``."""
    path.mkdir(parents=True, exist_ok=True)
    run_cmd(["git", "init", "-q", "-b", "main"], path)
    big_blobs = big_blobs or {}
    rng = random.Random(1)
    who = TAGGER.encode()
    with tempfile.TemporaryFile() as stream:
        for k in range(commits):
            when = T0 + k * 60
            msg = f"step {k}\n".encode()
            stream.write(b"commit refs/heads/main\nmark :%d\n" % (k + 1))
            stream.write(b"author %s %d +0000\ncommitter %s %d +0000\n" % (who, when, who, when))
            stream.write(_data(msg))
            if k == 0:
                stream.write(b"M 100644 inline README.md\n" + _data(b"# registry bench repo\n"))
            stream.write(b"M 100644 inline step.txt\n" + _data(b"%d\n" % k))
            if k - 1 in big_blobs:
                stream.write(b"D data/blob-%d.bin\n" % (k - 1))
            if k in big_blobs:
                stream.write(b"M 100644 inline data/blob-%d.bin\n" % k + _data(rng.randbytes(big_blobs[k])))
            stream.write(b"\n")
        for tg in tags:
            stream.write(b"tag %s\nfrom :%d\n" % (tg.name.encode(), tg.commit + 1))
            stream.write(b"tagger %s %d +0000\n" % (who, tg.time))
            stream.write(_data(tg.message.encode() + b"\n"))
        stream.seek(0)
        cp = subprocess.run(
            ["git", "fast-import", "--quiet"],
            cwd=path,
            env=CHILD_ENV,
            stdin=stream,
            capture_output=True,
        )
    if cp.returncode != 0:
        raise CmdError(f"git fast-import exited {cp.returncode}: {cp.stderr.decode()[-2000:]}")
    run_cmd(["git", "reset", "-q", "--hard", "main"], path)


def ref_layout(path: Path) -> dict[str, int]:
    """How many tag refs are loose files and how many are in packed-refs."""
    loose = sum(len(files) for _, _, files in os.walk(path / ".git" / "refs" / "tags"))
    packed_file = path / ".git" / "packed-refs"
    packed = 0
    if packed_file.exists():
        packed = sum(
            1
            for ln in packed_file.read_text().splitlines()
            if ln.startswith(tuple("0123456789abcdef")) and " refs/tags/" in ln
        )
    return {"loose_tags": loose, "packed_tags": packed}


def build_tag_repo(path: Path, S: dict) -> tuple[dict[str, ModelTruth], dict]:
    t0 = time.perf_counter()
    tags, truth = plan_registry(S["models"], S["tags_per_model"], S["commits"])
    t_plan = time.perf_counter() - t0
    fast_import(path, S["commits"], tags)
    t_all = time.perf_counter() - t0
    info = {
        "tags": len(tags),
        "commits": S["commits"],
        "plan_s": t_plan,
        "generate_s": t_all,
        "kinds": {
            "register": sum(1 for tg in tags if "@" in tg.name and not tg.name.endswith("!")),
            "deregister": sum(1 for tg in tags if tg.name.endswith("!")),
            "assign": sum(1 for tg in tags if "#" in tg.name and "!#" not in tg.name),
            "unassign": sum(1 for tg in tags if "!#" in tg.name),
        },
        **ref_layout(path),
    }
    return truth, info


# ==========================================================================
# registry timings


@dataclass
class Tools:
    gto: str
    gitml: str
    gitml_problem: str | None = None


def gitml_has(tools: Tools, *sub: str) -> bool:
    """True if ``gitml SUB... --help`` works (the registry commands are new)."""
    try:
        _, cp = run_cmd([tools.gitml, *sub, "--help"], REPO, check=False, timeout=120)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return cp.returncode == 0


class Report(common.Report):
    def row(self, scenario, layout, gitml, peer_name, peer, *, target=None, kind="ratio", note=""):
        """``gitml`` / ``peer`` are lists of times (seconds) or None.  kind 'ratio': PASS if
        best(peer) / best(gitml) >= target; 'max': PASS if best(gitml) / best(peer) <= target;
        'info': no verdict (ratio peer/gitml); 'info-max': no verdict (ratio gitml/peer)."""
        gb = min(gitml) if gitml else None
        pb = min(peer) if peer else None
        inverse = kind in ("max", "info-max")
        ratio = (gb / pb if inverse else pb / gb) if (gb and pb) else None
        if kind.startswith("info"):
            verdict, tgt = "info", ""
        elif inverse:
            verdict, tgt = common.verdict(ratio, lambda r: r <= target), f"<= {target:g}x"
        else:
            verdict, tgt = common.verdict(ratio, lambda r: r >= target), f">= {target:g}x"
        self.rows.append(
            dict(
                scenario=scenario,
                refs=layout,
                gitml_best_s=gb,
                gitml_median_s=common.median(gitml),
                gitml_times_s=gitml,
                peer=peer_name,
                peer_best_s=pb,
                peer_median_s=common.median(peer),
                peer_times_s=peer,
                ratio=ratio,
                ratio_kind="gitml/peer" if inverse else "peer/gitml",
                target=tgt,
                verdict=verdict,
                note=note,
            )
        )

    def print_table(self) -> None:
        hdr = ["scenario", "refs", "gitml best (med)", "peer", "peer best (med)", "ratio", "target", "result"]

        def best_med(r: dict, who: str) -> str:
            best = r[f"{who}_best_s"]
            return f"{fmt_t(best)} ({fmt_t(r[f'{who}_median_s'])})" if best else "n/a"

        def ratio(r: dict) -> str:
            if r["ratio"] is None:
                return "n/a"
            return f"{r['ratio']:.2f}x" if r["ratio_kind"] == "gitml/peer" else f"{r['ratio']:.1f}x"

        lines = [
            [
                r["scenario"],
                r["refs"],
                best_med(r, "gitml"),
                r["peer"],
                best_med(r, "peer"),
                ratio(r),
                r["target"],
                self.shown(r["verdict"]),
            ]
            for r in self.rows
        ]
        self.print_report(
            hdr,
            lines,
            "ratio = peer time / gitml time (higher is better for gitml), except the `--repo git://` "
            "rows: gitml time / peer time (lower is better). Best of N; medians in parentheses.",
            "QUICK MODE: the issue's targets are for 1,000 models / 20,000 tags, so the verdicts in "
            "parentheses are indicative only.",
            [f"  - {r['scenario']} [{r['refs']}]: {r['note']}" for r in self.rows if r["note"]],
        )


def _find_key(doc, key: str):
    """The first value of ``key`` anywhere in a JSON document (depth first), or None."""
    if isinstance(doc, dict):
        if key in doc:
            return doc[key]
        for v in doc.values():
            found = _find_key(v, key)
            if found is not None:
                return found
    elif isinstance(doc, list):
        for v in doc:
            found = _find_key(v, key)
            if found is not None:
                return found
    return None


def gitml_list_state(doc) -> dict[str, ModelTruth]:
    """``gitml models list --json`` as {name: ModelTruth}.  Accepts a list of model objects or a
    {name: model} mapping; a model object has its name under "name"/"model", its latest version under
    "latest"/"version"/"latest_version", and its stages as {stage: version} or [{stage, version}]."""
    items = doc.get("models", doc) if isinstance(doc, dict) else doc
    if isinstance(items, dict):
        items = [{"name": k, **(v if isinstance(v, dict) else {"latest": v})} for k, v in items.items()]
    out: dict[str, ModelTruth] = {}
    for it in items:
        name = it.get("name") or it.get("model")
        latest = it.get("latest", it.get("latest_version", it.get("version")))
        if isinstance(latest, dict):
            latest = latest.get("version")
        stages = it.get("stages", it.get("stage")) or {}
        if isinstance(stages, list):
            stages = {s.get("stage"): s.get("version") for s in stages}
        stages = {k: (v.get("version") if isinstance(v, dict) else v) for k, v in stages.items()}
        out[name] = ModelTruth(latest=latest, stages={k: v for k, v in stages.items() if v})
    return out


def compare_states(got: dict[str, ModelTruth], truth: dict[str, ModelTruth]) -> list[dict]:
    """Every difference between a tool's view of the models and GTO's rules (the generator's): one
    dict per model (missing / unexpected), per differing latest version and per differing stage.
    A stage difference gets ``cause``: "deprecated holder kept" or "un-assignment empties the stage"
    when the tool's answer is what the pointer rules give (see ModelTruth), else "other"."""
    diffs: list[dict] = []
    for m in sorted(set(truth) | set(got), key=lambda n: (len(n), n)):
        t, g = truth.get(m), got.get(m)
        if t is None or g is None:
            diffs.append({"model": m, "what": "missing" if g is None else "unexpected", "cause": "other"})
            continue
        if g.latest != t.latest:
            diffs.append(
                {"model": m, "what": "latest", "got": g.latest, "expected": t.latest, "cause": "other"}
            )
        for stage in sorted(set(g.stages) | set(t.stages)):
            gv, tv, pv = g.stages.get(stage), t.stages.get(stage), t.pointer_stages.get(stage)
            if gv == tv:
                continue
            cause = "other"
            if gv == pv:
                cause = "deprecated holder kept" if tv is None else "un-assignment empties the stage"
            diffs.append({"model": m, "what": stage, "got": gv, "expected": tv, "cause": cause})
    return diffs


def describe_diffs(tool: str, diffs: list[dict], n_models: int) -> str:
    if not diffs:
        return f"`{tool}` agrees with GTO's rules on all {n_models} models (latest version + stage holders)"
    by_cause: dict[str, int] = {}
    for d in diffs:
        by_cause[d["cause"]] = by_cause.get(d["cause"], 0) + 1
    models = len({d["model"] for d in diffs})
    causes = ", ".join(f"{n} {c}" for c, n in sorted(by_cause.items()))
    eg = "; ".join(f"{d['model']}#{d['what']}: {d.get('got')} (GTO: {d.get('expected')})" for d in diffs[:3])
    return (
        f"DISAGREEMENT: `{tool}` differs from GTO's rules on {models} of {n_models} models ({causes}); {eg}"
    )


def gto_state(doc: dict) -> dict[str, ModelTruth]:
    """``gto show --json`` as {name: ModelTruth}."""
    return {
        m: ModelTruth(latest=d.get("version"), stages={s: v for s, v in (d.get("stage") or {}).items() if v})
        for m, d in doc.items()
    }


def scenario_registry(rep: Report, tools: Tools, base: Path, S: dict, layouts: list[str]) -> None:
    repo = base / "registry"
    log(f"registry: generating {S['models']} models x {S['tags_per_model']} tags on {S['commits']} commits")
    truth, info = build_tag_repo(repo, S)
    rep.raw["generate"] = info
    log(f"   {info['tags']} tags in {info['generate_s']:.1f} s ({info['kinds']})")
    probe = f"m{PROBE_MODEL}"
    want = truth[probe].stages.get(PROBE_STAGE)
    has_list = has_resolve = False
    if not tools.gitml_problem:
        has_list = gitml_has(tools, "models", "list")
        has_resolve = gitml_has(tools, "models", "resolve")
        for ok, what in ((has_list, "models list"), (has_resolve, "models resolve")):
            if not ok:
                rep.notes.append(f"`gitml {what}` does not exist (yet): its rows are n/a")
    uri = f"models:/{probe}/{PROBE_STAGE}"
    K = S["reps"]
    checked_gto_all = False
    for layout in layouts:
        if layout == "packed":
            run_cmd(["git", "pack-refs", "--all"], repo)
        lay = ref_layout(repo)
        rep.raw.setdefault("layouts", {})[layout] = lay
        log(f"[{layout}] refs: {lay}; best of {K}")
        raw = rep.raw.setdefault(layout, {})
        # Interleaved: each round runs every command once, so background load hits all alike.
        cmds = {
            "gto show": [tools.gto, "show"],
            "gto show --ref": [tools.gto, "show", f"{probe}#{PROBE_STAGE}", "--ref"],
            "git tag -l": ["git", "tag", "-l", f"{probe}#{PROBE_STAGE}#*"],
        }
        if has_list:
            cmds["gitml models list"] = [tools.gitml, "models", "list"]
        if has_resolve:
            cmds["gitml models resolve"] = [tools.gitml, "models", "resolve", uri]
        times: dict[str, list[float]] = {k: [] for k in cmds}
        last: dict[str, subprocess.CompletedProcess] = {}
        for i in range(K):
            for k, cmd in cmds.items():
                try:
                    wall, cp = run_cmd(cmd, repo)
                except (CmdError, subprocess.TimeoutExpired, OSError) as e:
                    rep.errors.append(f"[{layout}] {k}: {e}")
                    continue
                times[k].append(wall)
                last[k] = cp
            log(f"   round {i + 1}: " + ", ".join(f"{k} {fmt_t(v[-1])}" for k, v in times.items() if v))
        raw["times_s"] = times
        raw["stdout_tail"] = {k: cp.stdout[-400:] for k, cp in last.items()}

        # --- correctness: what each tool says holds m7#prod, and every model's state.
        gto_ref = last["gto show --ref"].stdout.strip() if "gto show --ref" in last else None
        raw["gto_resolved"] = gto_ref
        if gto_ref != f"{probe}@{want}":
            rep.notes.append(
                f"[{layout}] `gto show {probe}#{PROBE_STAGE} --ref` printed {gto_ref!r}, "
                f"expected {probe}@{want}"
            )
        if "gto show" in last:
            n_rows = sum(1 for ln in last["gto show"].stdout.splitlines() if re.match(r"^│ m\d+", ln))
            if n_rows != len(truth):
                rep.notes.append(f"[{layout}] `gto show` printed {n_rows} model rows, expected {len(truth)}")
        if not checked_gto_all:
            checked_gto_all = True
            try:
                wall, cp = run_cmd([tools.gto, "show", "--json"], repo)
                diffs = compare_states(gto_state(json.loads(cp.stdout)), truth)
                raw["gto_show_json_s"] = wall
                raw["gto_vs_truth_diffs"] = diffs
                rep.notes.append(describe_diffs("gto show --json", diffs, len(truth)))
            except (CmdError, json.JSONDecodeError, subprocess.TimeoutExpired) as e:
                rep.errors.append(f"gto show --json: {e}")
        gitml_ver = None
        if has_resolve:
            try:
                _, cp = run_cmd([tools.gitml, "models", "resolve", uri, "--json"], repo)
                doc = json.loads(cp.stdout)
                raw["gitml_resolve_json"] = doc
                gitml_ver = _find_key(doc, "version")
                if gitml_ver != want:
                    rep.notes.append(
                        f"[{layout}] DISAGREEMENT: gitml resolves {uri} to version {gitml_ver!r}, "
                        f"GTO to {gto_ref!r}, the generator expects {want}"
                    )
            except (CmdError, json.JSONDecodeError, subprocess.TimeoutExpired) as e:
                rep.errors.append(f"[{layout}] gitml models resolve --json: {e}")
        if has_list:
            try:
                _, cp = run_cmd([tools.gitml, "models", "list", "--json"], repo)
                doc = json.loads(cp.stdout)
                diffs = compare_states(gitml_list_state(doc), truth)
                raw["gitml_list_diffs"] = diffs
                raw["gitml_list_json_head"] = cp.stdout[:1000]
                rep.notes.append(
                    f"[{layout}] " + describe_diffs("gitml models list --json", diffs, len(truth))
                )
            except (
                CmdError,
                json.JSONDecodeError,
                subprocess.TimeoutExpired,
                AttributeError,
                TypeError,
            ) as e:
                rep.errors.append(f"[{layout}] gitml models list --json: {e}")

        note_r = (
            f"both say {probe}#{PROBE_STAGE} = {want}"
            if gitml_ver == want and gto_ref == f"{probe}@{want}"
            else ""
        )
        rep.row(
            "`gitml models list` vs `gto show`",
            layout,
            times.get("gitml models list"),
            "gto show",
            times["gto show"],
            target=T_LIST,
        )
        rep.row(
            f"`gitml models resolve {uri}` vs `gto show {probe}#{PROBE_STAGE} --ref`",
            layout,
            times.get("gitml models resolve"),
            "gto show --ref",
            times["gto show --ref"],
            target=T_RESOLVE,
            note=note_r,
        )
        rep.row(
            f"`gitml models resolve` vs `git tag -l '{probe}#{PROBE_STAGE}#*'` (baseline)",
            layout,
            times.get("gitml models resolve"),
            "git tag -l",
            times["git tag -l"],
            kind="info",
            note="git only lists the names; it reads no tag and ignores un-assignments and deprecations",
        )


# ==========================================================================
# get --repo: long history, big artifact, git daemon

TRAIN_PY = """\
import os, sys
n = int(sys.argv[1])
with open("model", "wb") as f:
    while n > 0:
        chunk = os.urandom(min(n, 8 << 20))
        f.write(chunk)
        n -= len(chunk)
"""


def GitDaemon(root: Path) -> common.GitDaemon:
    return common.GitDaemon(root, CHILD_ENV)


def _run_id(tools: Tools, work: Path) -> str:
    _, cp = run_cmd([tools.gitml, "runs", "list", "--json"], work)
    doc = json.loads(cp.stdout)
    runs = doc.get("runs", doc) if isinstance(doc, dict) else doc
    run = runs[0]
    for k in ("run_id", "id", "run"):
        if isinstance(run, dict) and k in run:
            return str(run[k])
    raise CmdError(f"no run id in `gitml runs list --json`: {cp.stdout[:300]}")


# A fresh process that downloads one object the way `aws s3 cp s3://BUCKET/KEY FILE` does: boto3's
# download_file with its default TransferConfig (8 MiB parts, 10 threads of ranged GETs above 8 MiB).
RAW_S3_GET = """\
import json, sys, time
t0 = time.perf_counter()
import boto3
t1 = time.perf_counter()
endpoint, bucket, key, out = sys.argv[1:5]
boto3.client("s3", endpoint_url=endpoint).download_file(bucket, key, out)
t2 = time.perf_counter()
print(json.dumps({"import_s": t1 - t0, "download_s": t2 - t1}))
"""

BUCKET = "gitml-bench"
S3_PREFIX = "models"


def parse_mibs(text: str) -> list[int]:
    """``--artifact-mib 200`` or ``200,1024``: the model sizes, one model (and one row set) each."""
    try:
        mibs = [int(x) for x in str(text).split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: sizes in MiB, comma-separated (200,1024)") from None
    if not mibs or min(mibs) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: at least one size, each >= 1 MiB")
    return mibs


def model_name(mib: int) -> str:
    return f"model-{mib}mib"


def sha256_file(path: Path) -> str:
    import hashlib

    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def setup_get_repo(tools: Tools, base: Path, S: dict, env: dict, endpoint: str | None) -> dict:
    """The served repo: a long history, then one gitml run per model size, each model pushed to the
    S3 remote (the default; skipped without ``endpoint``) and to a local-folder remote, registered
    and promoted to production."""
    work, storage = base / "work", base / "storage"
    n = S["history_commits"]
    nb = S["history_big_blobs"]
    old = max(1, n // 4)  # big blobs in the oldest quarter of the history
    big = {k * old // nb: S["history_big_mib"] << 20 for k in range(nb)} if nb else {}
    t0 = time.perf_counter()
    fast_import(work, n, [], big)
    t_hist = time.perf_counter() - t0
    run_cmd([tools.gitml, "init"], work, env=env)
    if endpoint:
        url = f"s3://{BUCKET}/{S3_PREFIX}"
        run_cmd(
            [tools.gitml, "remote", "add", "s3", url, "--default", "--endpoint-url", endpoint], work, env=env
        )
        run_cmd([tools.gitml, "remote", "add", "local", storage], work, env=env)
    else:
        run_cmd([tools.gitml, "remote", "add", "local", storage, "--default"], work, env=env)
    (work / "train.py").write_text(TRAIN_PY)
    with open(work / ".gitignore", "a") as f:
        f.write("/model\n")
    run_cmd(["git", "add", "-A"], work, env=env)
    run_cmd(["git", "commit", "-q", "-m", "train.py + gitml storage remotes"], work, env=env)
    models: list[dict] = []
    for mib in S["artifact_mib"]:
        name, size = model_name(mib), mib << 20
        t1 = time.perf_counter()
        cmd = [tools.gitml, "run", "--name", name, "--artifact", "model", "--commit", "--"]
        run_cmd([*cmd, sys.executable, "train.py", size], work, env=env)
        t_run = time.perf_counter() - t1
        rid = _run_id(tools, work)
        pushes = {}
        for remote in ("s3", "local") if endpoint else ("local",):
            t1 = time.perf_counter()
            run_cmd([tools.gitml, "push", "-r", remote], work, env=env)
            pushes[remote] = time.perf_counter() - t1
        run_cmd([tools.gitml, "register", name, rid, "--path", "model"], work, env=env)
        run_cmd([tools.gitml, "promote", name, "v1", "production"], work, env=env)
        _, cp = run_cmd(
            [tools.gitml, "models", "resolve", f"models:/{name}/production", "--json"], work, env=env
        )
        oid = _find_key(json.loads(cp.stdout), "hash")
        if not isinstance(oid, str) or len(oid) != 64:
            raise CmdError(f"no sha256 hash in `gitml models resolve --json`: {cp.stdout[:300]}")
        key = f"sha256/{oid[:2]}/{oid[2:]}"
        obj = storage / key
        if not obj.is_file() or obj.stat().st_size != size:
            raise CmdError(f"the local remote has no {size}-byte object {obj}")
        models.append(
            {
                "mib": mib,
                "name": name,
                "size": size,
                "run_id": rid,
                "oid": oid,
                "s3_key": f"{S3_PREFIX}/{key}",
                "local_object": obj,
                "run_s": t_run,
                "push_s": pushes,
            }
        )
    served = base / "served"
    served.mkdir()
    run_cmd(["git", "clone", "-q", "--mirror", work, served / "repo.git"], base)
    _, cp = run_cmd(["git", "count-objects", "-v"], served / "repo.git")
    counts = dict(ln.split(": ", 1) for ln in cp.stdout.strip().splitlines())
    return {
        "work": work,
        "served": served,
        "models": models,
        "history_s": t_hist,
        "repo_pack_kib": int(counts.get("size-pack", 0)),
        "history_commits": n,
        "big_blobs": nb,
    }


def _raw_s3_get(
    raw_python: str, endpoint: str, key: str, out: Path, cwd: Path, env: dict
) -> tuple[float, dict]:
    wall, cp = run_cmd([raw_python, "-c", RAW_S3_GET, endpoint, BUCKET, key, out], cwd, env=env)
    return wall, common.last_json(cp.stdout) or {}


# `gitml get URI --repo URL -o OUT` in explicit steps, each timed (internal API of gitml.registry.get;
# if it changes, the driver says so and keeps the rest of the report).  Prints one JSON line.
PHASES_PY = """\
import time
started_at = time.time()
import json, sys
from pathlib import Path
T = {}
t = time.perf_counter()
def lap(name):
    global t
    now = time.perf_counter()
    T[name] = now - t
    t = now
import gitml.cli
lap("import gitml.cli")
from gitml.registry import get as g
from gitml.store.base import Transfer, open_store
lap("import gitml's get modules")
url, uri, out = sys.argv[1:4]
res = g.resolve_remote(url, uri)
lap("resolve over git (ls-remote + tag objects)")
mv = res.version
spec = g._storage_spec(res.remote_tags.read_path(mv.commit, g.CONFIG_PATH), mv.commit, mv, None)
lap("read + parse .gitml/config.yaml at the commit")
import s3fs
lap("import s3fs/aiobotocore")
store = open_store(spec)
lap("open the S3 store (client)")
failures = store.download([Transfer(mv.hash, mv.size, Path(out))], jobs=32)
lap("GET + sha256 + write (store.download)")
E = {}
if sys.argv[4:] == ["extra"]:  # experiments, outside T: what the byte part is made of
    try:
        import hashlib
        import fsspec.asyn
        async def drain():
            bucket, _, key = store._key(mv.hash).partition("/")
            r = await store.fs._call_s3("get_object", Bucket=bucket, Key=key)
            async with r["Body"] as body:
                while await body.read(1 << 20):
                    pass
        t0 = time.perf_counter()
        fsspec.asyn.sync(store.fs.loop, drain)
        E["the same single GET, bytes discarded"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        with open(out, "rb") as f:
            hashlib.file_digest(f, "sha256")
        E["sha256 of the written file (page-cached)"] = time.perf_counter() - t0
    except Exception as e:
        E["error"] = repr(e)
    t = time.perf_counter()
store.close()
lap("close")
doc = {"phases_s": T, "failures": [str(f.error) for f in failures], "started_at": started_at, "extra": E}
print(json.dumps(dict(doc, ended_at=time.time())), flush=True)
if sys.argv[4:] == ["extra"]:
    import gc
    gc.freeze()  # the experiment: no final collection of every object at exit
"""


def profile_get(tools: Tools, gitml_python: str, url: str, uri: str, cwd: Path, env: dict, d: Path) -> dict:
    """Where one ``gitml get --repo`` spends its time: PHASES_PY (the same steps, timed), an empty
    interpreter's start, and the real CLI under ``-X importtime`` (its biggest imports)."""
    out: dict = {}
    wall, _ = run_cmd([gitml_python, "-c", "pass"], cwd, env=env)
    out["python_start_s"] = wall
    dest = d / "profile-out"
    cli = [tools.gitml, "get", uri, "--repo", url, "-o", dest]
    for _ in range(2):  # the plain CLI, here and now, for comparison (the faster of two runs)
        wall, _ = run_cmd(cli, cwd, env=env)
        dest.unlink(missing_ok=True)
        out["cli_wall_s"] = min(wall, out.get("cli_wall_s", wall))
    for _ in range(2):  # the faster of two runs
        spawned = time.time()
        wall, cp = run_cmd([gitml_python, "-c", PHASES_PY, url, uri, dest], cwd, env=env)
        back = time.time()
        doc = common.last_json(cp.stdout) or {}
        dest.unlink(missing_ok=True)
        if doc.get("failures"):
            raise CmdError(f"phase script: download failed: {doc['failures'][0]}")
        if "phases_wall_s" not in out or wall < out["phases_wall_s"]:
            out["phases_wall_s"] = wall
            out["phases_s"] = {
                "interpreter start": doc["started_at"] - spawned,
                **doc.get("phases_s", {}),
                "interpreter exit": back - doc["ended_at"],
            }
    # Once more with the experiments: the GET alone, the hash alone, and gc.freeze() before the
    # interpreter exits (is the exit the final garbage collection?).
    wall, cp = run_cmd([gitml_python, "-c", PHASES_PY, url, uri, dest, "extra"], cwd, env=env)
    back = time.time()
    dest.unlink(missing_ok=True)
    doc = common.last_json(cp.stdout) or {}
    if "ended_at" in doc:
        out["exit_after_gc_freeze_s"] = back - doc["ended_at"]
        out["extra_s"] = doc.get("extra", {})
    cmd = [gitml_python, "-X", "importtime", "-m", "gitml", "get", uri, "--repo", url, "-o", dest]
    wall, cp = run_cmd(cmd, cwd, env=env)
    dest.unlink(missing_ok=True)
    out["importtime_wall_s"] = wall
    top: dict[str, int] = {}
    for ln in cp.stderr.splitlines():
        m = re.match(r"import time:\s+(\d+)\s+\|\s+(\d+)\s+\|( *)(\S+)", ln)
        if m and len(m.group(3)) == 1:  # one space: a top-level import (eager or lazy)
            mod = m.group(4).split(".")[0]
            top[mod] = top.get(mod, 0) + int(m.group(2))
    out["imports_s"] = sum(top.values()) / 1e6
    out["imports_top_s"] = {k: v / 1e6 for k, v in sorted(top.items(), key=lambda kv: -kv[1])[:5]}
    return out


def describe_profile(p: dict, raw: dict | None) -> str:
    ph = p["phases_s"]
    parts = [f"{k} {fmt_t(v)}" for k, v in ph.items()]
    tops = ", ".join(f"{k} {fmt_t(v)}" for k, v in p["imports_top_s"].items())
    text = (
        f"the steps of `get --repo` timed one by one in a script ({fmt_t(p['phases_wall_s'])} in all; "
        f"the CLI just before: {fmt_t(p['cli_wall_s'])}): " + "; ".join(parts)
    )
    if "exit_after_gc_freeze_s" in p:
        text += f" (exit with gc.freeze() first: {fmt_t(p['exit_after_gc_freeze_s'])})"
    extra = p.get("extra_s", {})
    if extra:
        text += ". The byte part apart: " + "; ".join(
            f"{k} {v if isinstance(v, str) else fmt_t(v)}" for k, v in extra.items()
        )
    text += f". The CLI under -X importtime: {fmt_t(p['imports_s'])} of imports ({tops})"
    if raw:
        text += (
            f". The raw boto3 process: import boto3 {fmt_t(raw.get('import_s'))}, client + "
            f"download_file {fmt_t(raw.get('download_s'))}"
        )
    return text


def scenario_get(rep: Report, tools: Tools, base: Path, S: dict, opts: argparse.Namespace) -> None:
    label_s3 = "`gitml get models:/…/production --repo git://…` (S3)"
    if tools.gitml_problem or [c for c in ("register", "promote") if not gitml_has(tools, c)]:
        if not tools.gitml_problem:
            rep.notes.append("get: `gitml register/promote` does not exist (yet): get rows n/a")
        rep.row(label_s3, "-", None, "boto3 download_file", None, target=T_GET_RAW, kind="max")
        return
    d = base / "get"
    d.mkdir()
    env = s3servers.client_env(CHILD_ENV, aws_dir=d / "aws")
    mibs = S["artifact_mib"]
    log(
        f"get: repo with {S['history_commits']} commits, {S['history_big_blobs']} x "
        f"{S['history_big_mib']} MiB old blobs, models of {', '.join(map(str, mibs))} MiB"
    )
    with contextlib.ExitStack() as stack:
        srv = None
        if not os.access(opts.rclone, os.X_OK):
            rep.notes.append(f"get: rclone not found at {opts.rclone} (run bash bench/peers.sh): S3 rows n/a")
        elif run_cmd([opts.raw_python, "-c", "import boto3"], d, check=False, env=env)[1].returncode:
            rep.notes.append(f"get: {opts.raw_python} cannot import boto3 (see --raw-python): S3 rows n/a")
        else:
            srv = stack.enter_context(s3servers.S3Server.rclone(opts.rclone, d / "srv"))
            assert srv.data_dir is not None
            (srv.data_dir / BUCKET).mkdir()  # rclone: a top-level directory is a bucket
            rep.raw["get_server"] = srv.version
        info = setup_get_repo(tools, d, S, env, srv.endpoint if srv else None)
        rep.raw["get_setup"] = json.loads(json.dumps(info, default=str))
        log(f"   served repo: {info['repo_pack_kib'] / 1024:.0f} MiB of packs")
        neutral = d / "neutral"  # not a git repo: `get --repo` must not need one
        neutral.mkdir()
        daemon = stack.enter_context(GitDaemon(info["served"]))
        url = daemon.url("repo.git")
        for mi, m in enumerate(info["models"]):
            get_rounds(rep, tools, d, S, opts, env, srv, url, neutral, m, first=mi == 0, info=info)


def get_rounds(rep, tools, d, S, opts, env, srv, url, neutral, m, *, first, info) -> None:
    """The interleaved rounds for one model: S3 (raw boto3 vs gitml get), local folder (cp, cp +
    sha256sum vs gitml get -r local), and for the first model the context rows."""
    uri = f"models:/{m['name']}/production"
    mib = m["mib"]
    t: dict[str, list[float]] = {
        k: [] for k in ("raw_s3", "gitml_s3", "cp", "cp_sha", "cp_ossl", "gitml_local", "resolve", "clone")
    }
    raw_detail: list[dict] = []
    bad: list[str] = []

    def gitml_get(i: int, *extra: str) -> tuple[float | None, Path]:
        out_dir = d / f"out-{i}"
        out_dir.mkdir()
        home = Path(tempfile.mkdtemp(prefix="home-", dir=d))  # fresh HOME + XDG cache: nothing cached
        genv = dict(env, HOME=str(home), XDG_CACHE_HOME=str(home / ".cache"))
        cmd = [tools.gitml, "get", uri, "--repo", url, "-o", out_dir / "model", *extra]
        try:
            wall, _ = run_cmd(cmd, neutral, env=genv)
        except (CmdError, subprocess.TimeoutExpired) as e:
            rep.errors.append(f"get {mib} MiB {' '.join(extra)}: {e}")
            return None, out_dir
        finally:
            shutil.rmtree(home, ignore_errors=True)
        return wall, out_dir

    log(f"get {uri} ({mib} MiB): best of {S['get_reps']}, interleaved")
    for i in range(S["get_reps"]):
        raw_out = d / f"raw-{i}"
        if srv is not None:
            # S3, the target: alternate who goes first, so neither always meets a warmer server.
            order = ("raw", "gitml") if i % 2 == 0 else ("gitml", "raw")
            g_dir = None
            for who in order:
                if who == "raw":
                    wall, det = _raw_s3_get(opts.raw_python, srv.endpoint, m["s3_key"], raw_out, d, env)
                    t["raw_s3"].append(wall)
                    raw_detail.append(det)
                else:
                    wall, g_dir = gitml_get(i)
                    if wall is not None:
                        t["gitml_s3"].append(wall)
            if i == 0 and sha256_file(raw_out) != m["oid"]:
                bad.append(f"the raw S3 download's sha256 is not {m['oid'][:12]}")
            if g_dir is not None:
                g_out = g_dir / "model"
                if t["gitml_s3"] and (not g_out.is_file() or not filecmp.cmp(g_out, raw_out, shallow=False)):
                    bad.append(f"round {i + 1}: gitml get (S3) output differs from the raw S3 download")
                shutil.rmtree(g_dir)
            raw_out.unlink(missing_ok=True)
        # Local folder (info): cp, cp + sha256sum, gitml get -r local.
        wall, _ = run_cmd(["cp", m["local_object"], raw_out], d)
        t["cp"].append(wall)
        raw_out.unlink()
        verify = 'cp "$1" "$2" && sha256sum "$2" >/dev/null'
        wall, _ = run_cmd(["sh", "-c", verify, "sh", m["local_object"], raw_out], d)
        t["cp_sha"].append(wall)
        if shutil.which("openssl"):  # OpenSSL's SHA-256 (SHA-NI): what Python's hashlib runs
            raw_out.unlink()
            verify = 'cp "$1" "$2" && openssl dgst -sha256 "$2" >/dev/null'
            wall, _ = run_cmd(["sh", "-c", verify, "sh", m["local_object"], raw_out], d)
            t["cp_ossl"].append(wall)
        wall, g_dir = gitml_get(i, "-r", "local")
        if wall is not None:
            t["gitml_local"].append(wall)
            if not filecmp.cmp(g_dir / "model", raw_out, shallow=False):
                bad.append(f"round {i + 1}: gitml get -r local output differs from the stored object")
        shutil.rmtree(g_dir)
        raw_out.unlink()
        if first:
            # The fixed part: the same resolution over git://, no bytes; and a clone, for context.
            wall, _ = run_cmd([tools.gitml, "models", "resolve", uri, "--repo", url], neutral, env=env)
            t["resolve"].append(wall)
            clone = d / f"clone-{i}"
            wall, _ = run_cmd(["git", "clone", "-q", "--no-checkout", url, clone], d)
            t["clone"].append(wall)
            shutil.rmtree(clone)
        log(f"   round {i + 1}: " + ", ".join(f"{k} {fmt_t(v[-1])}" for k, v in t.items() if len(v) > i))
    rep.notes.extend(f"get {mib} MiB: {b}" for b in bad)
    packs = info["repo_pack_kib"] / 1024
    size_note = (
        f"{mib} MiB model; served repo {info['history_commits']} commits, {packs:.0f} MiB of git packs"
    )
    if srv is not None and not bad and t["gitml_s3"]:
        size_note += "; outputs byte-identical (and sha256 = the object's name)"
    raw = rep.raw.setdefault("get", {})
    raw[f"{mib}mib"] = {"times_s": t, "raw_s3_detail": raw_detail, "uri": uri, "url": url}
    rep.row(
        f"`gitml get {uri} --repo git://…` (S3, rclone serve s3) — THE TARGET",
        "-",
        t["gitml_s3"] or None,
        "boto3 download_file",
        t["raw_s3"] or None,
        target=T_GET_RAW,
        kind="max",
        note=size_note + "; raw = a fresh python process doing boto3 download_file (as `aws s3 cp`)",
    )
    # Where gitml's time goes: once per model, when it misses the target (or always with --profile).
    g_best, r_best = min(t["gitml_s3"], default=None), min(t["raw_s3"], default=None)
    if srv is not None and g_best and r_best and (g_best / r_best > T_GET_RAW or opts.profile):
        try:
            prof = profile_get(tools, opts.gitml_python, url, uri, neutral, env, d)
            best_raw = min(raw_detail, key=lambda x: sum(x.values()), default=None)
            raw[f"{mib}mib"]["profile"] = prof
            rep.notes.append(f"get {mib} MiB, where the time goes: " + describe_profile(prof, best_raw))
        except (CmdError, subprocess.TimeoutExpired, OSError, ValueError) as e:
            rep.notes.append(f"get {mib} MiB: profile failed: {e}")
    peers = [
        ("cp object", "cp", "info only: a page-cache copy with no verification is no download"),
        (
            "cp + sha256sum",
            "cp_sha",
            "info: a raw copy that also verifies the bytes, as gitml does (coreutils' sha256sum: "
            "no SHA-NI, several times slower than OpenSSL here)",
        ),
    ]
    if t["cp_ossl"]:
        peers.append(
            (
                "cp + openssl sha256",
                "cp_ossl",
                "info: the same with OpenSSL's SHA-256, the code gitml's hashlib runs",
            )
        )
    for peer, key, note in peers:
        rep.row(
            f"`gitml get {uri} --repo git://… -r local` (local folder, info)",
            "-",
            t["gitml_local"] or None,
            peer,
            t[key],
            kind="info-max",
            note=note,
        )
    if first and t["resolve"]:
        rep.row(
            f"`gitml models resolve {uri} --repo git://…` (no bytes, info)",
            "-",
            t["resolve"],
            "boto3 download_file",
            t["raw_s3"] or None,
            kind="info-max",
            note="info: the fixed cost of `get --repo` (process start, ref advertisement, tag + config read)",
        )
        rep.row(
            f"`gitml get {uri} --repo git://…` (S3, info)",
            "-",
            t["gitml_s3"] or None,
            "git clone --no-checkout",
            t["clone"],
            kind="info-max",
            note="info: what a clone of the served repo alone costs",
        )


# ==========================================================================
# main

SCENARIOS = ("registry", "get")


def tool_versions(tools: Tools, gitml_python: str) -> dict:
    def unavailable(name: str, e: Exception) -> str:
        if name == "gitml":
            tools.gitml_problem = f"gitml not importable: {e}"
        return f"? ({str(e).splitlines()[0]})"

    gto_python = Path(tools.gto).parent / "python"
    return common.tool_versions(
        {
            "gitml": [gitml_python, "-c", "import gitml; print(getattr(gitml, '__version__', '?'))"],
            "gto": [gto_python, "-c", "from importlib.metadata import version as v; print(v('gto'))"],
            "git": ["git", "--version"],
        },
        REPO,
        CHILD_ENV,
        unavailable=unavailable,
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--quick", action="store_true", help="50 models x 7 tags (the issue's GTO baseline), small get"
    )
    ap.add_argument("--json", metavar="OUT", help="also write all raw numbers to OUT")
    ap.add_argument("--gitml-python", default=str(REPO / ".venv" / "bin" / "python"))
    ap.add_argument("--peers-python", default=str(HERE / ".peers" / "bin" / "python"))
    ap.add_argument(
        "--only", default=",".join(SCENARIOS), help=f"comma-separated subset of {','.join(SCENARIOS)}"
    )
    ap.add_argument(
        "--refs",
        default="loose,packed",
        help="tag ref layouts to measure, in order: loose (as fast-import writes them), packed "
        "(after `git pack-refs --all`)",
    )
    ap.add_argument("--keep", action="store_true", help="keep the temp dir (path is printed)")
    ap.add_argument("--workdir", help="parent of the temp dir (default: the system temp dir)")
    ap.add_argument(
        "--generate-only",
        metavar="DIR",
        help="only build the tag repo in DIR (must not exist) with the chosen sizes, print its stats, exit",
    )
    ap.add_argument(
        "--rclone",
        default=None,
        help="rclone binary for the S3 server of `get` (default: next to --peers-python)",
    )
    ap.add_argument(
        "--raw-python",
        default=None,
        help="python with boto3 for the raw S3 download of `get` (default: --gitml-python)",
    )
    ap.add_argument(
        "--profile", action="store_true", help="get: profile one `gitml get` even when it meets the target"
    )
    ints = {k: v for k, v in FULL.items() if k != "artifact_mib"}
    common.add_size_options(ap, ints)
    ap.add_argument(
        "--artifact-mib",
        type=parse_mibs,
        default=None,
        help=f"get: model size(s) in MiB, comma-separated, one model each, e.g. 200,1024 "
        f"(full: {FULL['artifact_mib']}, quick: {QUICK['artifact_mib']})",
    )
    a = ap.parse_args()
    S = common.chosen_sizes(a, ints, QUICK)
    S["artifact_mib"] = a.artifact_mib or [(QUICK if a.quick else FULL)["artifact_mib"]]
    peers_bin = Path(os.path.abspath(a.peers_python)).parent
    a.rclone = os.path.abspath(a.rclone or peers_bin / "rclone")
    a.raw_python = os.path.abspath(a.raw_python or a.gitml_python)

    if a.generate_only:
        target = Path(a.generate_only)
        if target.exists():
            ap.error(f"{target} exists")
        truth, info = build_tag_repo(target, S)
        print(
            json.dumps(
                {**info, f"m{PROBE_MODEL}": vars(truth.get(f"m{PROBE_MODEL}", ModelTruth(None)))}, indent=2
            )
        )
        return 0

    layouts = [x.strip() for x in a.refs.split(",") if x.strip()]
    if [x for x in layouts if x not in ("loose", "packed")] or ("loose" in layouts and layouts[0] != "loose"):
        ap.error("--refs: loose and/or packed, loose first (packing cannot be undone)")
    only = [s.strip() for s in a.only.split(",") if s.strip()]
    tools = Tools(
        gto=str(peers_bin / "gto"), gitml=str(Path(os.path.abspath(a.gitml_python)).parent / "gitml")
    )
    if "registry" in only and not os.access(tools.gto, os.X_OK):
        print(f"gto not found at {tools.gto}; run: bash bench/peers.sh", file=sys.stderr)
        return 2
    if not os.access(tools.gitml, os.X_OK):
        tools.gitml_problem = f"gitml CLI not found at {tools.gitml}"
    rep = Report(a.quick)
    versions = tool_versions(tools, a.gitml_python)
    if tools.gitml_problem:
        rep.notes.append(f"gitml side skipped: {tools.gitml_problem}")

    base = Path(tempfile.mkdtemp(prefix="gitml-bench-registry-", dir=a.workdir))
    log(f"work dir {base}")
    t0 = time.perf_counter()
    try:
        for name in only:
            try:
                if name == "registry":
                    scenario_registry(rep, tools, base, S, layouts)
                elif name == "get":
                    scenario_get(rep, tools, base, S, a)
                else:
                    rep.errors.append(f"unknown scenario {name!r}")
            except (CmdError, subprocess.TimeoutExpired, OSError, KeyError, TypeError, ValueError) as e:
                rep.errors.append(f"scenario {name} crashed: {type(e).__name__}: {e}")
                log(f"scenario {name} crashed: {e}")
    finally:
        common.remove_work_dir(base, a.keep)
    elapsed = time.perf_counter() - t0

    gen = rep.raw.get("generate", {})
    detail = "sizes: " + ", ".join(f"{k}={v}" for k, v in S.items())
    if gen:
        detail += f"\ntag repo: {gen['tags']} tags ({gen['kinds']}), built in {gen['generate_s']:.1f} s"
    common.print_heading("gitml vs GTO model registry benchmark", a.quick, elapsed, versions, ", ", detail)
    rep.print_table()
    fields = rep.fields()
    # A partial run (--only get) gets its own results file, so it does not replace a whole run's.
    name = "registry" if set(SCENARIOS) <= set(only) else "-".join(["registry", *only])
    common.write_results(name, a.quick, versions, S, fields, elapsed, a.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
