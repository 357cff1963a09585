#!/usr/bin/env python
"""Tool-agnostic benchmark worker: gitml vs MLflow, same code path for both.

    python worker.py TOOL OP [options]

TOOL is ``gitml`` or ``mlflow``; the module is imported as ``T`` and the same
fluent calls are made on it (``T.set_experiment``, ``T.start_run``,
``T.log_param``, ``T.log_metric``, ``T.search_runs``).  The only per-tool
differences are the ones that exist in the APIs:

* MLflow needs a tracking URI (``--uri``: ``file:///abs/mlruns`` or
  ``sqlite:////abs/mlflow.db``) and ``search_all_experiments=True``;
  the run name keyword is ``run_name``.
* gitml finds its repository from the current directory (the driver runs the
  worker inside a ``git init`` + ``gitml init`` repo) and searches all
  experiments by default.

Each OP prints exactly one JSON line on stdout (the last line; anything a tool
prints goes before it) with timings measured in-process with
``time.perf_counter`` around just the operation, plus counts that prove the
work was done.  Counting happens outside the timed region.

OPs
  metrics  --n N         one run, N ``log_metric(k, v, step=i)`` calls
  runs     --n N         N runs, each 5 ``log_param`` + 3 ``log_metric`` calls
                         inside ``with start_run():``
  populate --n N         create N runs of search data (deterministic, same for
                         both tools).  gitml: through its fluent API.  MLflow:
                         the fastest legitimate path, MlflowClient.create_run
                         + one log_batch per run.
  search   --filter F    time search_runs(filter_string=F) (first call and the
           --repeat R    best/median of R further calls); for MLflow also the
                         list output format and MlflowClient.search_runs.
"""

from __future__ import annotations

import argparse
import glob
import inspect
import json
import os
import random
import statistics
import sys
import time
import warnings

# Search-data shape: 5 params and 3 metrics per run (same shape as the
# "runs" scenario), deterministic from the run index so both tools get
# identical data.
LRS = ["0.1", "0.01", "0.001"]
OPTIMIZERS = ["adam", "sgd"]
BATCH_SIZES = ["16", "32", "64", "128"]


def search_run_data(i: int, rng: random.Random) -> tuple[dict[str, str], dict[str, float]]:
    params = {
        "lr": LRS[i % 3],
        "optimizer": OPTIMIZERS[(i // 3) % 2],
        "batch_size": BATCH_SIZES[(i // 6) % 4],
        "layers": str(2 + i % 5),
        "seed": str(i),
    }
    metrics = {
        "acc": round(rng.random(), 6),
        "loss": round(rng.random() * 3, 6),
        "f1": round(rng.random(), 6),
    }
    return params, metrics


def emit(**kw) -> None:
    sys.stdout.flush()
    print(json.dumps(kw), flush=True)


# --------------------------------------------------------------------------
# tool setup


def load_tool(tool: str, uri: str | None):
    if tool == "mlflow":
        if uri and uri.startswith("file:"):
            os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
        import mlflow as T

        if not uri:
            sys.exit("worker: mlflow needs --uri")
        if uri.startswith("file:"):
            # MLflow >= 3.x refuses the file store unless explicitly allowed
            # ("maintenance mode"); it is still one of the two local stores
            # the issue asks us to compare against.
            os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
        T.set_tracking_uri(uri)
        return T
    if tool == "gitml":
        import gitml as T

        return T
    sys.exit(f"worker: unknown tool {tool!r}")


def run_name_kw(T) -> str:
    """MLflow calls it ``run_name``; gitml's fluent API uses ``name``."""
    try:
        params = inspect.signature(T.start_run).parameters
    except (TypeError, ValueError):
        return "name"
    if "name" in params:
        return "name"
    if "run_name" in params:
        return "run_name"
    return "name"


_RUN_NAME_KW: dict[str, str] = {}


def start_run(T, name: str):
    # Signature lookup once per tool, not per run (it costs ~0.1 ms).
    kw = _RUN_NAME_KW.get(T.__name__)
    if kw is None:
        kw = _RUN_NAME_KW[T.__name__] = run_name_kw(T)
    return T.start_run(**{kw: name})


# --------------------------------------------------------------------------
# counting (outside the timed region)


def gitml_metric_rows(root: str = ".") -> dict:
    """Lines in .gitml/runs/*/metrics.csv (minus a header line if present)."""
    files = glob.glob(os.path.join(root, ".gitml", "runs", "*", "metrics.csv"))
    if not files:  # layout may nest deeper; still count what is on disk
        files = glob.glob(os.path.join(root, ".gitml", "**", "metrics.csv"), recursive=True)
    lines = headers = 0
    for f in files:
        with open(f, "rb") as fh:
            first = fh.readline()
            n = (1 if first else 0) + sum(1 for _ in fh)
        lines += n
        if first and any(c.isalpha() for c in first.split(b",")[-1].decode(errors="replace")):
            headers += 1
    return {"metric_files": len(files), "metric_lines": lines, "metric_rows": lines - headers}


def gitml_run_dirs(root: str = ".") -> int:
    return len(glob.glob(os.path.join(root, ".gitml", "runs", "*", "")))


def result_len(res) -> int:
    try:
        return len(res)
    except TypeError:
        return sum(1 for _ in res)


# --------------------------------------------------------------------------
# ops


def op_metrics(T, tool: str, n: int) -> dict:
    T.set_experiment("bench-metrics")
    log_metric = T.log_metric
    _RUN_NAME_KW[T.__name__] = run_name_kw(T)
    t0 = time.perf_counter()
    with start_run(T, "metrics") as run:
        t1 = time.perf_counter()
        for i in range(n):
            log_metric("loss", 1.0 / (i + 1), step=i)
        t2 = time.perf_counter()
    t3 = time.perf_counter()
    out = {
        "n": n,
        "seconds": t3 - t0,  # start_run + n log_metric + end_run (flush included)
        "loop_seconds": t2 - t1,
        "per_point_s": (t3 - t0) / n,
    }
    if tool == "mlflow":
        from mlflow.tracking import MlflowClient

        run_id = run.info.run_id
        out["metric_rows"] = len(MlflowClient().get_metric_history(run_id, "loss"))
    else:
        out.update(gitml_metric_rows())
    return out


def op_runs(T, tool: str, n: int) -> dict:
    T.set_experiment("bench-runs")
    log_param, log_metric = T.log_param, T.log_metric
    _RUN_NAME_KW[T.__name__] = run_name_kw(T)
    t0 = time.perf_counter()
    for i in range(n):
        with start_run(T, f"run-{i}"):
            log_param("lr", "0.01")
            log_param("batch_size", "32")
            log_param("optimizer", "adam")
            log_param("epochs", "10")
            log_param("seed", str(i))
            log_metric("acc", 0.5 + (i % 50) / 100.0)
            log_metric("loss", 1.0 / (i + 1))
            log_metric("f1", 0.25 + (i % 25) / 100.0)
    t1 = time.perf_counter()
    out = {"n": n, "seconds": t1 - t0, "per_run_s": (t1 - t0) / n}
    if tool == "mlflow":
        import mlflow

        runs = mlflow.search_runs(experiment_names=["bench-runs"], output_format="list")
        out["runs_found"] = len(runs)
        out["params_per_run"] = len(runs[0].data.params) if runs else 0
        out["metrics_per_run"] = len(runs[0].data.metrics) if runs else 0
    else:
        out["run_dirs"] = gitml_run_dirs()
        out.update(gitml_metric_rows())
    return out


def op_populate(T, tool: str, n: int, seed: int) -> dict:
    rng = random.Random(seed)
    T.set_experiment("bench-search")
    _RUN_NAME_KW[T.__name__] = run_name_kw(T)
    t0 = time.perf_counter()
    if tool == "mlflow":
        from mlflow.entities import Metric, Param
        from mlflow.tracking import MlflowClient

        client = MlflowClient()
        exp_id = client.get_experiment_by_name("bench-search").experiment_id
        for i in range(n):
            params, metrics = search_run_data(i, rng)
            now = int(time.time() * 1000)
            run = client.create_run(exp_id, start_time=now, run_name=f"search-{i}")
            client.log_batch(
                run.info.run_id,
                metrics=[Metric(k, v, now, 0) for k, v in metrics.items()],
                params=[Param(k, v) for k, v in params.items()],
            )
    else:
        log_param, log_metric = T.log_param, T.log_metric
        for i in range(n):
            params, metrics = search_run_data(i, rng)
            with start_run(T, f"search-{i}"):
                for k, v in params.items():
                    log_param(k, v)
                for k, v in metrics.items():
                    log_metric(k, v)
    t1 = time.perf_counter()
    out = {"n": n, "seconds": t1 - t0, "per_run_s": (t1 - t0) / n}
    if tool == "gitml":
        out["run_dirs"] = gitml_run_dirs()
    return out


def expected_count(n: int, seed: int, acc_gt: float, lr: str | None) -> int:
    rng = random.Random(seed)
    c = 0
    for i in range(n):
        params, metrics = search_run_data(i, rng)
        if metrics["acc"] > acc_gt and (lr is None or params["lr"] == lr):
            c += 1
    return c


def timed(fn, repeat: int) -> tuple[float, list[float], object]:
    t0 = time.perf_counter()
    res = fn()
    first = time.perf_counter() - t0
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        res = fn()
        times.append(time.perf_counter() - t0)
    return first, times, res


def summarize(first: float, times: list[float], res) -> dict:
    return {
        "first_s": first,
        "best_s": min(times) if times else first,
        "median_s": statistics.median(times) if times else first,
        "rows": result_len(res),
    }


def op_search(T, tool: str, flt: str, repeat: int) -> dict:
    out: dict = {"filter": flt}
    if tool == "mlflow":
        import mlflow
        from mlflow.tracking import MlflowClient

        # Primary: the fluent API (pandas DataFrame, MLflow's default).
        first, times, res = timed(
            lambda: mlflow.search_runs(search_all_experiments=True, filter_string=flt), repeat
        )
        out.update(summarize(first, times, res))
        # Variants: fluent list output, and the raw client (paged, Run objects).
        first, times, res = timed(
            lambda: mlflow.search_runs(search_all_experiments=True, filter_string=flt, output_format="list"),
            repeat,
        )
        out["list"] = summarize(first, times, res)
        client = MlflowClient()
        exp_ids = [e.experiment_id for e in client.search_experiments()]

        def client_search():
            rows, token = [], None
            while True:
                page = client.search_runs(exp_ids, filter_string=flt, max_results=50000, page_token=token)
                rows.extend(page)
                token = page.token
                if not token:
                    return rows

        first, times, res = timed(client_search, repeat)
        out["client"] = summarize(first, times, res)
    else:
        first, times, res = timed(lambda: T.search_runs(filter_string=flt), repeat)
        out.update(summarize(first, times, res))
        out["result_type"] = type(res).__module__ + "." + type(res).__name__
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("tool", choices=["gitml", "mlflow"])
    ap.add_argument("op", choices=["metrics", "runs", "populate", "search", "expected"])
    ap.add_argument("--uri", help="MLflow tracking URI")
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--filter", default="metrics.acc > 0.5 and params.lr = '0.01'")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--acc-gt", type=float, default=0.5)
    ap.add_argument("--lr", default=None)
    a = ap.parse_args()

    warnings.filterwarnings("ignore")
    if a.op == "expected":  # pure data check, no tool import
        emit(tool=a.tool, op=a.op, rows=expected_count(a.n, a.seed, a.acc_gt, a.lr))
        return

    t0 = time.perf_counter()
    T = load_tool(a.tool, a.uri)
    import_s = time.perf_counter() - t0
    version = getattr(T, "__version__", "?")

    if a.op == "metrics":
        res = op_metrics(T, a.tool, a.n)
    elif a.op == "runs":
        res = op_runs(T, a.tool, a.n)
    elif a.op == "populate":
        res = op_populate(T, a.tool, a.n, a.seed)
    else:
        res = op_search(T, a.tool, a.filter, a.repeat)
    emit(tool=a.tool, version=version, op=a.op, uri=a.uri, import_s=import_s, **res)


if __name__ == "__main__":
    main()
