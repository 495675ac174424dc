"""The results file in ipcbench's schema (docs/results-schema.md): the
summaries of a cell's trials, the cells, the environment the run recorded,
and the document itself."""

from __future__ import annotations

import datetime
import json
import math
import os
import platform
import shlex
import subprocess
import sys
from typing import Any

import numpy as np

import ray_alternative
from mpqueue_common import MONO, clock, placement_cpus

SCHEMA_VERSION = 2
METRICS = ("total", "put", "get")
FANOUT_METRICS = ("throughput", "latency")


def summarize(trials: list[np.ndarray]) -> dict[str, Any]:
    """The schema's summary of one metric: pooled percentiles, mean and sd;
    the CI of the mean from the independent trial means (per-message samples
    are autocorrelated and would give a falsely narrow interval)."""
    all_ns = np.concatenate(trials).astype(np.float64)
    p25, p50, p75, p90, p99, p999 = np.percentile(all_ns, [25, 50, 75, 90, 99, 99.9])
    iqr = p75 - p25
    outliers = int(np.count_nonzero((all_ns < p25 - 1.5 * iqr) | (all_ns > p75 + 1.5 * iqr)))
    means = [float(t.mean()) for t in trials]
    medians = [float(np.median(t)) for t in trials]
    return {
        "n": int(all_ns.size),
        "mean_ns": float(all_ns.mean()),
        # Population sd, as the Rust harness's histograms report it.
        "sd_ns": float(all_ns.std()),
        # Intervals are percentile bootstraps over the trials, filled in by
        # ipcbench when it reads this file (one implementation for both).
        "ci95_low_ns": None,
        "ci95_high_ns": None,
        "p50_ns": float(p50),
        "p90_ns": float(p90),
        "p99_ns": float(p99),
        "p999_ns": float(p999),
        "min_ns": float(all_ns.min()),
        "max_ns": float(all_ns.max()),
        "outliers": outliers,
        "trial_means_ns": means,
        "trial_medians_ns": medians,
        "median_ns": float(np.median(medians)),
    }


def throughput_summary(rates: list[float], tasks: int) -> dict[str, Any]:
    """A throughput cell as ipcbench writes it: one rate per trial, the
    distribution in nanoseconds per task (1 / rate), the CI from the rates."""
    r = np.array(rates, dtype=np.float64)
    ns = np.sort(1e9 / r)
    k = len(ns)
    mean_rate = float(r.mean())
    q = lambda p: float(ns[int(round((k - 1) * p))])  # noqa: E731  (nearest rank, as ipcbench)
    return {
        "n": tasks,
        "mean_ns": 1e9 / mean_rate,
        "sd_ns": float(np.std(ns, ddof=1)) if k > 1 else 0.0,
        "ci95_low_ns": None,
        "ci95_high_ns": None,
        "p50_ns": q(0.5),
        "p90_ns": q(0.9),
        "p99_ns": q(0.99),
        "p999_ns": q(0.999),
        "min_ns": float(ns[0]),
        "max_ns": float(ns[-1]),
        "outliers": 0,
        "trial_means_ns": [float(x) for x in 1e9 / r],
        "trial_medians_ns": [float(x) for x in 1e9 / r],
        "median_ns": float(np.median(ns)),
        # The headline rate is the median trial's, as ipcbench reports it.
        "msgs_per_s": 1e9 / float(np.median(ns)),
    }


def cell(mode: str, placement: str, elements: int, metric: str, workload: str = "seed") -> dict[str, Any]:
    c = {
        "transport": mode,
        "codec": "pickle",
        "workload": workload,
        "placement": placement,
        "size_bytes": elements * 8,
        "metric": metric,
    }
    for family in ("fanout", "gather"):
        if workload.startswith(family):
            c["workers"] = int(workload[len(family):])
    if mode == ray_alternative.NAME:
        c["note"] = ray_alternative.NOTE
    return c


def failed_cell(
    mode: str, placement: str, elements: int, metric: str, error: str, workload: str = "seed"
) -> dict[str, Any]:
    c = cell(mode, placement, elements, metric, workload)
    c.update(
        status="failed", error=error, trials=0, n=0, mean_ns=0.0, sd_ns=0.0,
        ci95_low_ns=None, ci95_high_ns=None, p50_ns=0.0, p90_ns=0.0, p99_ns=0.0,
        p999_ns=0.0, min_ns=0.0, max_ns=0.0, outliers=0, trial_means_ns=[],
    )
    return c


# --------------------------------------------------------------------------
# Environment


def read(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as f:
            return f.read().strip()
    except OSError:
        return ""


def cpu_model() -> str:
    for line in read("/proc/cpuinfo").splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor()


def run_cmd(cmd: list[str], cwd: str | None = None) -> str | None:
    try:
        r = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return r.stdout.strip() if r.returncode == 0 else None


def virtualization() -> str:
    v = run_cmd(["systemd-detect-virt"])
    if v:
        return v
    if " hypervisor" in read("/proc/cpuinfo"):
        return "hypervisor (type unknown)"
    return ""


def git_commit() -> str:
    here = os.path.dirname(os.path.abspath(__file__))
    commit = run_cmd(["git", "rev-parse", "--short", "HEAD"], cwd=here)
    if not commit:
        return ""
    dirty = run_cmd(["git", "status", "--porcelain", "--untracked-files=no"], cwd=here)
    return commit + ("-dirty" if dirty else "")


def clock_overhead_ns() -> float:
    """Median cost of one CLOCK_MONOTONIC read from Python, measured."""
    reads = [clock(MONO) for _ in range(20001)]
    return float(np.median(np.diff(np.array(reads, dtype=np.int64))))


def recorded_command(script: str) -> str:
    """The command as the results record it: relative to the repository, and
    without where the file was written, so committed results name no
    directory of the machine that measured them."""
    root = os.path.dirname(os.path.dirname(os.path.dirname(script)))
    args, skip = [], False
    for a in sys.argv[1:]:
        if skip:
            skip = False
        elif a == "--json":
            skip = True
        elif not a.startswith("--json="):
            args.append(os.path.relpath(a, root) if os.path.isabs(a) else a)
    return shlex.join(["python3", os.path.relpath(script, root), *args])


def environment(args, start_method: str, start: datetime.datetime, script: str) -> dict[str, Any]:
    """The machine, software and settings of the run; ``script`` is the
    command line's file, as the results record the command."""
    extra = [
        ["python", f"{platform.python_implementation()} {platform.python_version()}"],
        ["numpy", np.__version__],
        ["MALLOC_MMAP_THRESHOLD_", os.environ.get("MALLOC_MMAP_THRESHOLD_", "unset")],
        ["MALLOC_TRIM_THRESHOLD_", os.environ.get("MALLOC_TRIM_THRESHOLD_", "unset")],
        ["multiprocessing start method", start_method],
        ["workloads", ",".join(args.workloads)],
        ["fanout workers", ",".join(map(str, args.workers)) if "fanout" in args.workloads else "not run"],
        ["warm-up messages", str(args.warmup)],
        ["sizes (int64 elements)", ",".join(str(s) for s in args.sizes)],
        ["timers", "*-inproc: time.perf_counter_ns; two processes: time.clock_gettime_ns(CLOCK_MONOTONIC)"],
        ["fanout queues", ",".join(args.fanout_modes) if "fanout" in args.workloads else "not run"],
        ["large sizes (int64 elements)", ",".join(map(str, args.large_sizes)) or "none"],
        ["seed and fanout queues at the large sizes", ",".join(args.large_modes)],
        ["handover queues", ",".join(args.handover_modes) if "handover" in args.workloads else "not run"],
        ["handover sizes (int64 elements)",
         ",".join(map(str, args.handover_sizes)) if "handover" in args.workloads else "not run"],
        ["sum check sizes (int64 elements)",
         ",".join(map(str, args.sum_sizes)) if "handover" in args.workloads and args.sum_sizes
         else "not run"],
        *getattr(args, "handover_extra", []),
        ["skipped (package missing)", "; ".join(args.skipped) or "none"],
    ]
    if ray_alternative.NAME in args.modes + args.fanout_modes:
        from importlib.metadata import version

        extra.append(["ray", version("ray")])
    return {
        "tool": "ipcbench baselines/python/mpqueue_bench.py",
        "cpu_model": cpu_model(),
        "cores": os.cpu_count() or 0,
        "kernel": platform.release(),
        "rustc": "",
        "git_commit": git_commit(),
        "date": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "command_line": recorded_command(script),
        "virtualization": virtualization(),
        "governor": read("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor"),
        "clock_overhead_ns": clock_overhead_ns(),
        "extra": extra,
        "placement_cpus": placement_cpus(),
    }


# --------------------------------------------------------------------------
# The document


def results_document(
    args, start_method: str, start: datetime.datetime, script: str,
    cells: list[dict[str, Any]], warm_ms: list[float], floors: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The results file's content: environment, configuration and cells."""
    return {
        "schema_version": SCHEMA_VERSION,
        "environment": environment(args, start_method, start, script),
        "config": {
            "trials": args.trials,
            "messages": args.messages,
            # The warm-up is a message count here; this is how long it took
            # (median over trials and sizes, rounded up).
            "warmup_ms": int(math.ceil(float(np.median(warm_ms)))) if warm_ms else 0,
            "placements": args.placements,
        },
        # The hand-over's memcpy floor (handover_checks.py), where it ran.
        "floors": floors or [],
        "cells": cells,
    }


def write_results(results: dict[str, Any], path: str) -> None:
    """Writes the document to ``path`` (``-``: stdout), replacing a file
    only once the whole text is written."""
    text = json.dumps(results, indent=2, allow_nan=False) + "\n"
    if path == "-":
        sys.stdout.write(text)
    else:
        tmp = path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
