#!/usr/bin/env python3
"""PALM benchmarks: this project against the original pylm 0.14.4, side by side, in one run.

    python benchmarks/palm_bench.py [--quick] [--only NAME ...] [--side both|ours|original]
                                    [--markdown docs/benchmarks.md]

Our side runs with this interpreter and ``PYTHONPATH=<repo>/src``; the original runs
with ``$PYLM_LEGACY_PYTHON`` or ``<repo>/.bench/legacy/bin/python`` (built by
``scripts/legacy-venv``). Each workload starts its cluster as real processes on
127.0.0.1, drives it, and stops everything it started (also on Ctrl-C). A project
that lacks a feature is reported as "not available". See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import clusters
from clusters import FULL, ORIGINAL, OURS, QUICK, Cluster, Side, Sizes
from processes import ProcessGroup, RunFailed, Unavailable
from report import (
    ORIGINAL_LABEL,
    OURS_LABEL,
    Baseline,
    BaselineResult,
    Better,
    Comparison,
    Metric,
    Outcome,
    Status,
    Workload,
    WorkloadResult,
    render_markdown,
    render_text,
)

REPO = Path(__file__).resolve().parent.parent
FEATURES_SCRIPT = str(clusters.WORKLOADS_DIR / "features.py")

RATE = Metric("rate", "messages/s", "/s", Better.HIGHER)
LOST = Metric("lost_pct", "lost replies", "%", Better.LOWER, target_max=0.0)

WORKLOADS: tuple[Workload, ...] = (
    Workload("job", "Master + 2 workers, Client.job, 100 B echo",
             (Metric("rate", "messages/s", "/s", Better.HIGHER, target_gain=20),),
             frozenset({"core"})),
    Workload("eval-server", "eval round trip, single Server",
             (Metric("p50_us", "p50", "us", Better.LOWER, target_max=300),
              Metric("p99_us", "p99", "us", Better.LOWER), LOST),
             frozenset({"core"})),
    Workload("eval-master", "eval round trip, Master + 1 worker",
             (Metric("p50_us", "p50", "us", Better.LOWER, target_max=600),
              Metric("p99_us", "p99", "us", Better.LOWER), LOST),
             frozenset({"core"})),
    Workload("legacy-eval", "pylm 0.14.4 Client (new SUB per eval) on each Server",
             (Metric("lost_pct", "lost replies", "%", Better.LOWER),
              Metric("p50_us", "p50", "us", Better.LOWER)),
             frozenset({"core"})),
    Workload("pipeline", "Server -> Pipeline -> Pipeline, 100 B echo",
             (Metric("rate", "messages/s", "/s", Better.HIGHER, target_gain=3),),
             frozenset({"core", "pipeline"})),
    Workload("gateway", "HTTP gateway + 2 workers, 50 clients, new connection per POST",
             (Metric("rate", "requests/s", "/s", Better.HIGHER, target_gain=4),
              Metric("p99_ms", "p99", "ms", Better.LOWER, target_max=200)),
             frozenset({"core", "gateway"})),
)

BASELINES: tuple[Baseline, ...] = (
    Baseline("raw-reqrep", "REQ/REP round trip, 100 B",
             Metric("p50_us", "p50", "us", Better.LOWER),
             (Comparison("eval-server", "p50_us", "eval p50, single Server"),
              Comparison("eval-master", "p50_us", "eval p50, Master + 1 worker"))),
    Baseline("raw-relay", "Python PULL -> PUSH relay, 100 B",
             Metric("rate", "messages/s", "/s", Better.HIGHER),
             (Comparison("job", "rate", "job messages/s, Master + 2 workers"),
              Comparison("pipeline", "rate", "pipeline messages/s"))),
)

RUNNERS: dict[str, Callable[[Cluster], dict]] = {
    "job": clusters.job_through_master,
    "eval-server": clusters.eval_on_server,
    "eval-master": clusters.eval_through_master,
    "legacy-eval": clusters.original_client_evals_on_server,
    "pipeline": clusters.pipeline_of_three,
    "gateway": clusters.http_gateway,
    "raw-reqrep": clusters.raw_req_rep,
    "raw-relay": clusters.raw_relay,
}
NAMES = tuple(RUNNERS)


def legacy_python() -> Path:
    configured = os.environ.get("PYLM_LEGACY_PYTHON")
    return Path(configured) if configured else REPO / ".bench" / "legacy" / "bin" / "python"


def build_sides(choice: str) -> list[Side]:
    base = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    base["PYTHONUNBUFFERED"] = "1"
    sides = []
    if choice in ("both", ORIGINAL):
        sides.append(Side(ORIGINAL, ORIGINAL_LABEL, str(legacy_python()), base))
    if choice in ("both", OURS):
        sides.append(Side(OURS, OURS_LABEL, sys.executable,
                          {**base, "PYTHONPATH": str(REPO / "src")}))
    return sides


def original_client(features: dict[str, dict]) -> Side | None:
    """pylm 0.14.4's side when its client works (some workloads drive both with it)."""
    original = build_sides(ORIGINAL)[0]
    found = features[ORIGINAL] if ORIGINAL in features else detect_features(original)
    return None if found.get("core") else original


def detect_features(side: Side) -> dict[str, str | None]:
    """Feature -> None when available, else why not (missing interpreter included)."""
    if not Path(side.python).exists():
        reason = f"no interpreter at {side.python} (run scripts/legacy-venv)"
        return {feature: reason for feature in ("core", "pipeline", "gateway")}
    answer = subprocess.run([side.python, FEATURES_SCRIPT], env=side.env, capture_output=True,
                            text=True, timeout=120, check=False)
    if answer.returncode != 0:
        reason = f"feature probe failed: {answer.stderr.strip()[-300:]}"
        return {feature: reason for feature in ("core", "pipeline", "gateway")}
    return json.loads(answer.stdout)


def describe(values: dict) -> str:
    """The caveats worth printing next to a figure (losses, failures, timeouts)."""
    parts = []
    if values.get("lost"):
        parts.append(f"lost {values['lost']} of {values['sent']}")
    if values.get("timed_out"):
        parts.append("stopped waiting after a reply timeout")
    for key in ("duplicates", "wrong", "errors"):
        if values.get(key):
            parts.append(f"{values[key]} {key}")
    if values.get("failed"):
        parts.append(f"{values['failed']} of {values['sent']} requests failed "
                     f"({values.get('failures')})")
    warmup = values.get("warmup") or {}
    if warmup.get("lost"):
        parts.append(f"warm-up lost {warmup['lost']} of {warmup['sent']}")
    return "; ".join(parts)


def measure(name: str, side: Side, sizes: Sizes, log_dir: Path,
            original: Side | None = None) -> Outcome:
    with ProcessGroup(log_dir) as group:
        try:
            values = RUNNERS[name](Cluster(group, side, sizes, original))
        except Unavailable as missing:
            return Outcome(Status.UNAVAILABLE, note=f"not available: {missing}")
        except RunFailed as failure:
            return Outcome(Status.FAILED, note=f"failed: {str(failure).splitlines()[0]} "
                                               f"(logs in {log_dir})")
    return Outcome.ok(values, describe(values))


def best(metric: Metric, outcomes: list[Outcome]) -> Outcome:
    """The run with the best ``metric`` (another tenant's load only ever slows a run)."""
    done = [outcome for outcome in outcomes if outcome.status is Status.OK]
    if not done:
        return outcomes[-1]

    def score(outcome: Outcome) -> float:
        value = outcome.values.get(metric.key)
        if value is None:
            return float("-inf")
        return value if metric.better is Better.HIGHER else -value

    chosen = max(done, key=score)
    if len(outcomes) > 1:
        extra = f"best of {len(outcomes)} runs by {metric.label}"
        chosen.note = f"{chosen.note}; {extra}" if chosen.note else extra
    return chosen


def run_workload(workload: Workload, sides: list[Side], features: dict[str, dict],
                 sizes: Sizes, log_dir: Path, repeat: int,
                 original: Side | None) -> WorkloadResult:
    """Run the sides alternately ``repeat`` times each; keep each side's best run."""
    runs: dict[str, list[Outcome]] = {side.key: [] for side in sides}
    for _ in range(repeat):
        for side in sides:
            missing = [features[side.key][f] for f in sorted(workload.features)
                       if features[side.key].get(f)]
            if missing:
                outcome = Outcome(Status.UNAVAILABLE, note=f"not available: {missing[0]}")
            else:
                progress(f"{workload.name}: {side.label} ...")
                outcome = measure(workload.name, side, sizes, log_dir, original)
            progress(f"{workload.name}: {side.label}: {outcome.status.value} "
                     f"{json.dumps(outcome.values)[:300]}")
            runs[side.key].append(outcome)
    chosen = {key: best(workload.metrics[0], outcomes) for key, outcomes in runs.items()}
    return WorkloadResult(workload, chosen.get(ORIGINAL, Outcome(Status.SKIPPED)),
                          chosen.get(OURS, Outcome(Status.SKIPPED)))


def progress(line: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {line}", file=sys.stderr, flush=True)


def selected(only: list[str] | None) -> list[str]:
    if not only:
        return list(NAMES)
    names = [name.strip() for item in only for name in item.split(",") if name.strip()]
    unknown = [name for name in names if name not in RUNNERS]
    if unknown:
        raise SystemExit(f"--only: unknown benchmark {unknown[0]!r}; choose from "
                         f"{', '.join(NAMES)}")
    return names


def preamble(args: argparse.Namespace, sizes: Sizes, load_before: float) -> list[str]:
    command = "python benchmarks/palm_bench.py " + shlex.join(sys.argv[1:])
    return [
        "# Benchmarks: pylm against pylm 0.14.4",
        "",
        f"Measured {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')} with `{command.strip()}`",
        f"on {platform.machine()} Linux, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}; {sizes.job:,} job messages, {sizes.pipeline:,} pipeline "
        f"messages, {sizes.eval_ours:,} evals ({sizes.eval_original:,} for pylm 0.14.4, whose "
        f"lost replies each cost a {sizes.original_eval_timeout_s:g} s timeout), "
        f"{sizes.http:,} HTTP requests. Load average (other work on the machine): "
        f"{load_before:.1f} before, {os.getloadavg()[0]:.1f} after.",
        "",
        "*gain* = how many times better this project is (rate ratio, or inverse latency "
        "ratio). Latencies are over the replies that arrived; *lost replies* counts the "
        "evals that got no answer within the timeout. How to run and what each workload "
        "measures: [benchmarks/README.md](../benchmarks/README.md).",
    ]


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer messages (a smoke run)")
    parser.add_argument("--only", action="append", metavar="NAME",
                        help=f"run only these (repeat or comma-separate): {', '.join(NAMES)}")
    parser.add_argument("--side", choices=["both", OURS, ORIGINAL], default="both")
    parser.add_argument("--repeat", type=int, default=1, metavar="N",
                        help="run each workload N times per project, alternating, and keep "
                             "each project's best run (steadier on a shared machine)")
    parser.add_argument("--markdown", type=Path, metavar="PATH",
                        help="also write the table as markdown (e.g. docs/benchmarks.md)")
    parser.add_argument("--keep-logs", action="store_true",
                        help="keep the process logs even when everything succeeded")
    return parser.parse_args(argv)


def _terminate(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    signal.signal(signal.SIGTERM, _terminate)
    if args.repeat < 1:
        raise SystemExit("--repeat: give a number of runs >= 1")
    sizes = QUICK if args.quick else FULL
    names = selected(args.only)
    sides = build_sides(args.side)
    log_dir = Path(tempfile.mkdtemp(prefix="palm-bench-"))
    features = {side.key: detect_features(side) for side in sides}
    original = original_client(features)
    load_before = os.getloadavg()[0]
    results, baselines = [], []
    try:
        for workload in WORKLOADS:
            if workload.name in names:
                results.append(run_workload(workload, sides, features, sizes, log_dir,
                                            args.repeat, original))
        for baseline in BASELINES:
            if baseline.name in names:
                progress(f"{baseline.name} ...")
                outcomes = [measure(baseline.name, sides[-1], sizes, log_dir)
                            for _ in range(args.repeat)]
                baselines.append(BaselineResult(baseline, best(baseline.metric, outcomes)))
    except KeyboardInterrupt:
        progress(f"interrupted; every process started was stopped (logs in {log_dir})")
        return 130
    print(render_text(results, baselines), flush=True)
    if args.markdown:
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        args.markdown.write_text(render_markdown(results, baselines,
                                                      preamble(args, sizes, load_before)))
        progress(f"wrote {args.markdown}")
    failed = any(r.original.status is Status.FAILED or r.ours.status is Status.FAILED
                 for r in results) or any(b.outcome.status is Status.FAILED for b in baselines)
    if failed or args.keep_logs:
        progress(f"process logs kept in {log_dir}")
    else:
        shutil.rmtree(log_dir, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
