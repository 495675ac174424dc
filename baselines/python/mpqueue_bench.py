#!/usr/bin/env python3
"""Python multiprocessing.Queue baseline for ipcbench: the command line.

Reproduces the seed notebook's workload -- numpy int64 arrays of a range of
sizes through ``multiprocessing.Queue``, put and get timed per message -- and
writes the results in ipcbench's JSON schema (docs/results-schema.md), so the
report can set Python's numbers beside every transport's.

The modes (``mp-queue``, ``mp-queue-inproc``) and the ``fanoutN`` workload
are described in mpqueue_workloads.py, ``gatherN`` (N producers into one
queue) in gather.py. ``--modes`` and ``--fanout-modes``
also take the queues of alternatives.py (each its own transport name) and
``ray`` (ray_alternative.py: a Ray driver and Ray actors, run only when named
and installed).

Every (trial, size) runs in fresh processes; trials are the outer loop so
drift over time hits all sizes alike. The first ``--warmup`` messages of each
are discarded. Only the standard library and numpy are used.

Example::

    python3 mpqueue_bench.py --sizes 100,200 --messages 1000 --trials 3 \\
        --warmup 50 --placement split --workloads seed,fanout --json out.json

``--placement split,same,none`` runs the placements one after the other and
writes every cell into the one file.

The parts: mpqueue_common.py (payload, verification, pinning, the clock),
mpqueue_workloads.py (the workloads and one trial of each),
mpqueue_sweep.py (a placement's trials folded into cells) and
mpqueue_schema.py (statistics, environment, the results document).
"""

from __future__ import annotations

import argparse
import datetime
import multiprocessing as mp
import os
import sys
from typing import Any

import numpy as np

import alternatives
import gather
import handover
import handover_checks as checks
import mpqueue_schema
import mpqueue_workloads
from mpqueue_common import base_name
from mpqueue_schema import results_document, write_results
from mpqueue_sweep import measure_placement

#: Seed modes: every queue of alternatives.py in two processes, and those
#: that can run the notebook's one-process loop with an ``-inproc`` suffix.
MODES = ("mp-queue", "mp-queue-inproc") + tuple(
    m
    for name in alternatives.NAMES[1:]
    for m in ((name, name + "-inproc") if name in alternatives.INPROC else (name,))
)
#: Modes run only when named, never by ``all`` (alternatives.OPT_IN: Ray).
OPT_IN_MODES = alternatives.OPT_IN
#: What ``--modes`` / ``--fanout-modes`` run by default (the tool's original scope).
DEFAULT_MODES = ("mp-queue", "mp-queue-inproc")
WORKLOADS = ("seed", "fanout", handover.NAME, gather.NAME)
PLACEMENTS = ("split", "same", "none")
DEFAULT_WORKERS = [1, 2, 4]
DEFAULT_SIZES = [int(x) for x in np.around(np.geomspace(100, 51200, 10)).astype(int)]
#: Large sizes (int64 elements, 4 and 64 MiB), which bench-all passes as
#: ``--large-sizes``: seed and fanout run them for ``--large-modes`` only,
#: handover runs them; messages per trial are chosen by size.
LARGE_SIZES = handover.DEFAULT_SIZES
#: Seed and fanout modes that also run at the large sizes by default.
DEFAULT_LARGE_MODES = ("mp-queue", "ipcbench")


def parse_args(argv: list[str]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        description="multiprocessing.Queue baseline for ipcbench (seed workload), JSON in ipcbench's schema",
    )
    ap.add_argument("--sizes", help="comma-separated int64 element counts "
                    f"(default: the notebook's {','.join(map(str, DEFAULT_SIZES))})")
    ap.add_argument("--messages", type=int, help="measured messages per trial and size (default 1000)")
    ap.add_argument("--trials", type=int, help="independent trials, fresh processes each (default 5)")
    ap.add_argument("--warmup", type=int, help="messages discarded before measuring (default 50)")
    ap.add_argument("--placement", default="split",
                    help="comma-separated, each run in turn into the one output file: "
                         "split: producer CPU 0, consumer CPU 1; same: both CPU 0; none: unpinned")
    ap.add_argument("--modes", default=",".join(DEFAULT_MODES),
                    help=f"seed workload: comma-separated subset of {','.join(MODES + OPT_IN_MODES)}, or 'all' "
                         f"(every one but {','.join(OPT_IN_MODES)}, which run only when named) "
                         f"(default {','.join(DEFAULT_MODES)}); a mode whose package is missing is skipped with a note")
    ap.add_argument("--fanout-modes", default="mp-queue",
                    help=f"fanout workload: comma-separated subset of "
                         f"{','.join(alternatives.FANOUT + OPT_IN_MODES)}, or 'all' (every one but "
                         f"{','.join(OPT_IN_MODES)}; default mp-queue)")
    ap.add_argument("--ray-placements", default="split",
                    help="placements at which ray runs, when named in --modes or --fanout-modes "
                         "(default split: Ray starts, places and schedules its own processes, so "
                         "the other placements would only move the driver, at ~8 s per trial)")
    ap.add_argument("--workloads", default="seed",
                    help=f"comma-separated subset of {','.join(WORKLOADS)} (default seed)")
    ap.add_argument("--fanout-messages", type=int, help="fanout: measured tasks per trial and size (default: --messages)")
    ap.add_argument("--fanout-min-ms", type=float, default=50.0,
                    help="fanout: each trial's measured phase goes on past --fanout-messages until "
                         "this many milliseconds have passed (default 50: with several workers on "
                         "one core, a window of a few ms is decided by the scheduler's slices)")
    ap.add_argument("--fanout-sizes", help="fanout: comma-separated int64 element counts (default: --sizes)")
    ap.add_argument("--large-sizes", default="none",
                    help="comma-separated int64 element counts that seed and fanout also run for "
                         "--large-modes, and that handover runs (default none; bench-all passes 4 "
                         f"and 64 MiB: {','.join(map(str, LARGE_SIZES))}); messages per trial are "
                         "chosen by size: at most 64 MiB of payload, at least 3")
    ap.add_argument("--large-modes", default=",".join(DEFAULT_LARGE_MODES),
                    help="seed and fanout modes that also run at --large-sizes (default "
                         f"{','.join(DEFAULT_LARGE_MODES)}; 'all' for every one)")
    ap.add_argument("--handover-sizes", default="large",
                    help="handover workload: comma-separated int64 element counts, or 'large' for "
                         "--large-sizes (the default); bench-all adds 100 (800 B) so that small "
                         "messages can be read beside the large ones. The memcpy floor is "
                         "measured at each (handover_checks.py)")
    ap.add_argument("--sum-sizes", default="largest",
                    help="handover workload: int64 element counts at which a worker sums every "
                         "array ipcbench.Queue.get returns, against summing it in one process "
                         "(handover_checks.py); 'largest' (default): the largest --handover-sizes "
                         "if it is at least 1 MiB; 'none': not run")
    ap.add_argument("--handover-modes", default="all",
                    help=f"handover workload: comma-separated subset of "
                         f"{','.join(handover.MODES + handover.OPT_IN)}, or 'all' (every one but "
                         f"{','.join(handover.OPT_IN)}, which runs only when named; default all)")
    ap.add_argument("--gather-modes", default="mp-queue",
                    help=f"gather workload (N producers into one queue): comma-separated subset of "
                         f"{','.join(alternatives.FANOUT)}, or 'all' (default mp-queue)")
    ap.add_argument("--producers", default=",".join(map(str, gather.DEFAULT_PRODUCERS)),
                    help="gather: comma-separated producer counts (default 2,4)")
    ap.add_argument("--gather-sizes", help="gather: comma-separated int64 element counts (default: --sizes)")
    ap.add_argument("--gather-messages", type=int,
                    help="gather: arrays per trial and size, shared among the producers (default: "
                         "--messages; at most 8 MiB of payload per producer)")
    ap.add_argument("--workers", default=",".join(map(str, DEFAULT_WORKERS)),
                    help="fanout: comma-separated worker counts (default 1,2,4)")
    ap.add_argument("--timeout", type=float, default=120.0,
                    help="seconds a trial may take, and a message may wait for its ack, before failing")
    ap.add_argument("--quick", action="store_true",
                    help="a few seconds: sizes 100,3200,51200, 200 messages, 2 trials, 20 warm-up (explicit options win)")
    ap.add_argument("--json", required=True, help="output file ('-' for stdout)")
    args = ap.parse_args(argv)

    q = args.quick
    args.sizes = parse_sizes(args.sizes) if args.sizes else ([100, 3200, 51200] if q else DEFAULT_SIZES)
    args.fanout_sizes = parse_sizes(args.fanout_sizes) if args.fanout_sizes else args.sizes
    args.messages = args.messages if args.messages is not None else (200 if q else 1000)
    args.fanout_messages = args.fanout_messages or args.messages
    args.gather_sizes = parse_sizes(args.gather_sizes) if args.gather_sizes else args.sizes
    args.gather_messages = args.gather_messages or args.messages
    if args.gather_messages < 1:
        ap.error(f"invalid --gather-messages {args.gather_messages}: at least 1")
    args.trials = args.trials if args.trials is not None else (2 if q else 5)
    args.warmup = args.warmup if args.warmup is not None else (20 if q else 50)
    if args.messages < 1 or args.trials < 1 or args.warmup < 0 or args.timeout <= 0:
        ap.error("--messages and --trials must be at least 1, --warmup at least 0, --timeout positive")
    if not 0 <= args.fanout_min_ms <= 60_000:
        ap.error(f"invalid --fanout-min-ms {args.fanout_min_ms:g}: expected 0 to 60000 milliseconds")
    args.modes = mode_list(args.modes, MODES)
    unknown = [m for m in args.modes if m not in MODES + OPT_IN_MODES]
    if unknown or not args.modes:
        ap.error(f"unknown mode(s) {unknown}: choose from {', '.join(MODES + OPT_IN_MODES)}, or all")
    args.fanout_modes = mode_list(args.fanout_modes, alternatives.FANOUT)
    fanout_names = alternatives.FANOUT + OPT_IN_MODES
    unknown = [m for m in args.fanout_modes if m not in fanout_names]
    if unknown or not args.fanout_modes:
        ap.error(f"unknown fanout mode(s) {unknown}: choose from {', '.join(fanout_names)}, or all")
    # A queue whose package is not installed is skipped, with a note.
    args.skipped = sorted({r for m in args.modes + args.fanout_modes
                           if (r := alternatives.missing(base_name(m)))})
    args.modes = [m for m in args.modes if not alternatives.missing(base_name(m))]
    args.fanout_modes = [m for m in args.fanout_modes if not alternatives.missing(m)]
    for note in args.skipped:
        print(f"skipped (package missing): {note}", file=sys.stderr)
    args.gather_modes = mode_list(args.gather_modes, alternatives.FANOUT)
    unknown = [m for m in args.gather_modes if m not in alternatives.FANOUT]
    if unknown or not args.gather_modes:
        ap.error(f"unknown gather mode(s) {unknown}: choose from {', '.join(alternatives.FANOUT)}, or all")
    gone = sorted({r for m in args.gather_modes if (r := alternatives.missing(m))})
    for note in gone:
        print(f"skipped (package missing): {note}", file=sys.stderr)
    args.skipped = sorted(set(args.skipped) | set(gone))
    args.gather_modes = [m for m in args.gather_modes if not alternatives.missing(m)]
    try:
        args.producers = sorted({int(n) for n in args.producers.split(",") if n.strip()})
    except ValueError:
        ap.error(f"invalid --producers {args.producers!r}: expected counts such as 2,4")
    if not args.producers or min(args.producers) < 1 or max(args.producers) > 64:
        ap.error("--producers must be between 1 and 64")
    args.large_sizes = ([] if args.large_sizes.strip() in ("", "none")
                        else parse_sizes(args.large_sizes))
    args.large_modes = mode_list(args.large_modes, tuple(dict.fromkeys(MODES + alternatives.FANOUT)))
    args.handover_modes = mode_list(args.handover_modes, handover.MODES)
    every = handover.MODES + handover.OPT_IN
    unknown = [m for m in args.handover_modes if m not in every]
    if unknown or not args.handover_modes:
        ap.error(f"unknown handover mode(s) {unknown}: choose from {', '.join(every)}, or all")
    gone = sorted({r for m in args.handover_modes if (r := handover.missing(m))})
    for note in gone:
        print(f"skipped (package missing): {note}", file=sys.stderr)
    args.skipped = sorted(set(args.skipped) | set(gone))
    args.handover_modes = [m for m in args.handover_modes if not handover.missing(m)]
    args.workloads = [w.strip() for w in args.workloads.split(",") if w.strip()]
    unknown = [w for w in args.workloads if w not in WORKLOADS]
    if unknown or not args.workloads:
        ap.error(f"unknown workload(s) {unknown}: choose from {', '.join(WORKLOADS)}")
    hs = args.handover_sizes.strip()
    args.handover_sizes = args.large_sizes if hs == "large" else (
        [] if hs in ("", "none") else parse_sizes(hs))
    ss = args.sum_sizes.strip()
    if ss == "largest":
        big = max(args.handover_sizes, default=0)
        args.sum_sizes = [big] if big * 8 >= 1 << 20 else []
    else:
        args.sum_sizes = [] if ss in ("", "none") else parse_sizes(ss)
    if args.sum_sizes and "handover" in args.workloads and (why := checks.sum_missing()):
        print(f"skipped (package missing): {why}", file=sys.stderr)
        args.skipped = sorted(set(args.skipped) | {why})
        args.sum_sizes = []
    try:
        args.workers = sorted({int(w) for w in args.workers.split(",") if w.strip()})
    except ValueError:
        ap.error(f"invalid --workers {args.workers!r}: expected counts such as 1,2,4")
    if not args.workers or min(args.workers) < 1 or max(args.workers) > 64:
        ap.error("--workers must be between 1 and 64")

    args.placements = []
    for p in (p.strip() for p in args.placement.split(",")):
        if p and p not in args.placements:
            args.placements.append(p)
    unknown = [p for p in args.placements if p not in PLACEMENTS]
    if unknown or not args.placements:
        ap.error(f"unknown placement(s) {unknown}: choose from {', '.join(PLACEMENTS)}")
    have = os.sched_getaffinity(0)
    for p in args.placements:
        need = {"split": {0, 1}, "same": {0}, "none": set()}[p]
        if not need <= have:
            ap.error(f"placement {p} needs CPUs {sorted(need)}, this process may use {sorted(have)}")
    args.ray_placements = [p.strip() for p in args.ray_placements.split(",") if p.strip()]
    unknown = [p for p in args.ray_placements if p not in PLACEMENTS]
    if unknown:
        ap.error(f"unknown --ray-placements {unknown}: choose from {', '.join(PLACEMENTS)}")
    # The placement being measured, which the trial functions read.
    args.placement = args.placements[0]
    return args


def mode_list(text: str, every: tuple[str, ...]) -> list[str]:
    """The modes of a comma-separated list, ``all`` standing for ``every``
    (so ``all,ray`` adds an opt-in mode to all the others)."""
    modes: list[str] = []
    for m in (p.strip() for p in text.split(",")):
        for name in every if m == "all" else (m,) if m else ():
            if name not in modes:
                modes.append(name)
    return modes


def parse_sizes(text: str) -> list[int]:
    sizes = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        try:
            n = int(part)
        except ValueError:
            raise SystemExit(f"invalid size {part!r}: expected an int64 element count such as 100") from None
        if n < 1:
            raise SystemExit(f"invalid size {part!r}: at least one element is needed (it carries the sequence number)")
        if n not in sizes:
            sizes.append(n)
    if not sizes:
        raise SystemExit("no sizes given")
    return sizes


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    start = datetime.datetime.now(datetime.timezone.utc)
    # fork is fastest and inherits the imported numpy; elsewhere use the default.
    method = "fork" if "fork" in mp.get_all_start_methods() else mp.get_start_method()
    ctx = mp.get_context(method)

    cells: list[dict[str, Any]] = []
    errors: dict[tuple, str] = {}
    warm_ms: list[float] = []
    # The hand-over's memcpy floor, once, pinned as the first placement's
    # producer (placement-independent: repeated for each placement).
    floors: list[dict[str, Any]] = []
    args.handover_extra = []
    if "handover" in args.workloads and args.handover_sizes:
        try:
            memcpy, args.handover_extra = checks.memcpy_floor(
                mpqueue_workloads, ctx, args.handover_sizes, args.placements[0], args.timeout)
            floors = [{"placement": p, "cacheline_rtt": None, "raw_pipe_rtt": None,
                       "memcpy": memcpy} for p in args.placements]
        except mpqueue_workloads.TrialError as e:
            errors[("memcpy floor",)] = str(e)
            print(f"memcpy floor: FAILED: {e}", file=sys.stderr)
            args.handover_extra = [["memcpy floor (hand-over)", f"failed: {e}"]]
    # One placement after the other, into one file (as bench-all's
    # placement sweep runs them).
    for placement in args.placements:
        args.placement = placement
        c, e, w = measure_placement(ctx, args)
        cells += c
        errors.update({(placement, *k): v for k, v in e.items()})
        warm_ms += w
        if gather.NAME in args.workloads:
            c, e = gather.measure(ctx, args, alternatives, mpqueue_workloads.supervise,
                                  mpqueue_schema)
            cells += c
            errors.update({(placement, gather.NAME, *k): v for k, v in e.items()})

    results = results_document(args, method, start, os.path.abspath(__file__), cells, warm_ms,
                               floors)
    write_results(results, args.json)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
