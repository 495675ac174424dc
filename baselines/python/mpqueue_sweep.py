"""A placement's sweep: every trial of every mode and size, trials the outer
loop so drift over time hits all sizes alike, folded into cells."""

from __future__ import annotations

import sys
import time
from typing import Any

import numpy as np

import alternatives
import handover
import handover_checks as checks
import mpqueue_workloads
import ray_alternative
from mpqueue_common import TrialError
from mpqueue_schema import FANOUT_METRICS, METRICS, cell, failed_cell, summarize, throughput_summary
from mpqueue_workloads import run_fanout_trial, run_trial


def placement_modes(args) -> tuple[list[str], list[str]]:
    """The seed and fanout modes run at ``args.placement``: Ray only at
    ``--ray-placements``."""
    def here(m: str) -> bool:
        return m != ray_alternative.NAME or args.placement in args.ray_placements
    return [m for m in args.modes if here(m)], [m for m in args.fanout_modes if here(m)]


def sizes_of(args, mode: str, sizes: list[int]) -> list[int]:
    """``sizes``, and the large sizes if ``mode`` is one of --large-modes."""
    extra = args.large_sizes if mode in args.large_modes else []
    return sizes + [n for n in extra if n not in sizes]


def measure_placement(ctx, args) -> tuple[list[dict[str, Any]], dict[tuple, str], list[float]]:
    """Every trial of every mode and size at ``args.placement``: (cells,
    errors by configuration, warm-up times in ms)."""
    samples: dict[tuple[str, int], dict[str, list[np.ndarray]]] = {}
    # Per (fanoutN, elements): latency arrays, rates and CPU per trial.
    fan: dict[tuple, dict[str, list]] = {}
    errors: dict[tuple, str] = {}
    warm_ms: list[float] = []
    # Per size: the sum check's per-trial sum times, worker and in one process.
    sums: dict[int, dict[str, list[np.ndarray]]] = {}
    fanouts = [f"fanout{n}" for n in args.workers] if "fanout" in args.workloads else []
    modes, fanout_modes = placement_modes(args)
    for trial in range(args.trials):
        for mode in modes if "seed" in args.workloads else []:
            for elements in sizes_of(args, mode, args.sizes):
                key = (mode, elements)
                if key in errors:
                    continue
                t0 = time.monotonic()
                try:
                    put_ns, get_ns, warm_ns = run_trial(ctx, mode, elements, args)
                except TrialError as e:
                    errors[key] = str(e)
                    print(f"trial {trial + 1}/{args.trials} {mode} {elements} elements: FAILED: {e}",
                          file=sys.stderr)
                    continue
                warm_ms.append(warm_ns / 1e6)
                s = samples.setdefault(key, {"put": [], "get": [], "total": []})
                s["put"].append(put_ns)
                s["get"].append(get_ns)
                s["total"].append(put_ns + get_ns)
                print(f"trial {trial + 1}/{args.trials} {mode:>15} {elements:>6} elements: "
                      f"put {np.mean(put_ns) / 1e3:8.2f} µs  get {np.mean(get_ns) / 1e3:8.2f} µs  "
                      f"({time.monotonic() - t0:.2f} s)", file=sys.stderr)
        for fmode, w in [(fm, w) for fm in fanout_modes for w in fanouts]:
            workers = int(w[len("fanout"):])
            for elements in sizes_of(args, fmode, args.fanout_sizes):
                key = (fmode, w, elements)
                if key in errors:
                    continue
                t0 = time.monotonic()
                try:
                    lat, rate, cpu_p, cpu_c = run_fanout_trial(ctx, fmode, workers, elements, args)
                except TrialError as e:
                    errors[key] = str(e)
                    print(f"trial {trial + 1}/{args.trials} {fmode} {w} {elements} elements: FAILED: {e}",
                          file=sys.stderr)
                    continue
                f = fan.setdefault(key, {"latency": [], "rates": [], "cpu_p": [], "cpu_c": []})
                f["latency"].append(lat)
                f["rates"].append(rate)
                f["cpu_p"].append(cpu_p)
                f["cpu_c"].append(cpu_c)
                print(f"trial {trial + 1}/{args.trials} {fmode} {w:>8} {elements:>6} elements: "
                      f"{rate / 1e3:8.2f} k tasks/s  latency {np.mean(lat) / 1e3:8.2f} µs  "
                      f"({time.monotonic() - t0:.2f} s)", file=sys.stderr)
        for hmode in args.handover_modes if handover.NAME in args.workloads else []:
            for elements in args.handover_sizes:
                key = (handover.NAME, hmode, elements)
                if key in errors:
                    continue
                t0 = time.monotonic()
                try:
                    put_ns, get_ns, _ = handover.run_trial(
                        mpqueue_workloads, alternatives, ctx, hmode, elements, args)
                except TrialError as e:
                    errors[key] = str(e)
                    print(f"trial {trial + 1}/{args.trials} handover {hmode} {elements} elements: "
                          f"FAILED: {e}", file=sys.stderr)
                    continue
                s = samples.setdefault(key, {"put": [], "get": [], "latency": []})
                s["put"].append(put_ns)
                s["get"].append(get_ns)
                s["latency"].append(put_ns + get_ns)
                print(f"trial {trial + 1}/{args.trials} handover {hmode:>15} {elements:>7} elements: "
                      f"hand-over {np.median(put_ns + get_ns) / 1e3:10.2f} µs (median)  "
                      f"({time.monotonic() - t0:.2f} s)", file=sys.stderr)
        for elements in args.sum_sizes if handover.NAME in args.workloads else []:
            key = (handover.NAME, checks.SUM_WORKER, elements)
            if key in errors:
                continue
            t0 = time.monotonic()
            try:
                worker, inproc = checks.sum_trial(mpqueue_workloads, ctx, elements, args)
            except TrialError as e:
                errors[key] = str(e)
                print(f"trial {trial + 1}/{args.trials} sum check {elements} elements: FAILED: {e}",
                      file=sys.stderr)
                continue
            s = sums.setdefault(elements, {checks.SUM_WORKER: [], checks.SUM_INPROC: []})
            s[checks.SUM_WORKER].append(worker)
            s[checks.SUM_INPROC].append(inproc)
            print(f"trial {trial + 1}/{args.trials} sum check {elements:>7} elements: worker "
                  f"{np.median(worker) / 1e3:9.1f} µs, in one process {np.median(inproc) / 1e3:9.1f} µs "
                  f"per sum ({time.monotonic() - t0:.2f} s)", file=sys.stderr)

    cells = []
    for mode in modes if "seed" in args.workloads else []:
        for elements in sizes_of(args, mode, args.sizes):
            key = (mode, elements)
            for metric in METRICS:
                if key in errors:
                    cells.append(failed_cell(mode, args.placement, elements, metric, errors[key]))
                    continue
                trials = samples[key][metric]
                c = cell(mode, args.placement, elements, metric)
                c.update(status="ok", trials=len(trials), **summarize(trials))
                cells.append(c)
    for hmode in args.handover_modes if handover.NAME in args.workloads else []:
        for elements in args.handover_sizes:
            key = (handover.NAME, hmode, elements)
            for metric in handover.METRICS:
                if key in errors:
                    cells.append(failed_cell(hmode, args.placement, elements, metric, errors[key],
                                             handover.NAME))
                    continue
                trials = samples[key][metric]
                c = cell(hmode, args.placement, elements, metric, handover.NAME)
                c.update(status="ok", trials=len(trials), **summarize(trials))
                cells.append(c)
    for elements in args.sum_sizes if handover.NAME in args.workloads else []:
        cells += sum_cells(args, elements, sums.get(elements),
                           errors.get((handover.NAME, checks.SUM_WORKER, elements)))
    for fmode, w in [(fm, w) for fm in fanout_modes for w in fanouts]:
        for elements in sizes_of(args, fmode, args.fanout_sizes):
            key = (fmode, w, elements)
            for metric in FANOUT_METRICS:
                if key in errors:
                    cells.append(failed_cell(fmode, args.placement, elements, metric,
                                             errors[key], w))
                    continue
                f = fan[key]
                c = cell(fmode, args.placement, elements, metric, w)
                if metric == "throughput":
                    c.update(status="ok", trials=len(f["rates"]),
                             **throughput_summary(f["rates"], sum(len(lat) for lat in f["latency"])))
                    c["bytes_per_s"] = c["msgs_per_s"] * elements * 8
                else:
                    c.update(status="ok", trials=len(f["latency"]), **summarize(f["latency"]))
                c["cpu_producer_ns"] = float(np.mean(f["cpu_p"]))
                c["cpu_consumer_ns"] = float(np.mean(f["cpu_c"]))
                cells.append(c)

    return cells, errors, warm_ms


def sum_cells(args, elements: int, trials: dict[str, list[np.ndarray]] | None,
              error: str | None) -> list[dict[str, Any]]:
    """The sum check's two throughput cells at one size (sums per second):
    the worker summing what ``get`` returned, and one process summing the
    same array in its own memory."""
    out = []
    for name in (checks.SUM_WORKER, checks.SUM_INPROC):
        if error is not None or not trials:
            c = failed_cell(name, args.placement, elements, "throughput",
                            error or "no trial ran", handover.NAME)
        else:
            ns = trials[name]
            c = cell(name, args.placement, elements, "throughput", handover.NAME)
            c.update(status="ok", trials=len(ns),
                     **throughput_summary(checks.rates(ns), sum(len(t) for t in ns)))
            c["bytes_per_s"] = c["msgs_per_s"] * elements * 8
        c.update(checks.note(name))
        out.append(c)
    return out
