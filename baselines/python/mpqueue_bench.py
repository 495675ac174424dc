#!/usr/bin/env python3
"""Python multiprocessing.Queue baseline for ipcbench.

Reproduces the seed notebook's workload -- numpy int64 arrays of a range of
sizes through ``multiprocessing.Queue``, put and get timed per message -- and
writes the results in ipcbench's JSON schema (docs/results-schema.md), so the
report can set Python's numbers beside every transport's.

Two modes, each a transport name in the JSON:

``mp-queue-inproc``
    As the notebook ran it: one process puts an array and gets it back from
    the same queue, ``time.perf_counter_ns`` around each call. ``get`` then
    includes the queue's feeder thread pickling and writing the array.

``mp-queue``
    As ipcbench runs its seed workload: a producer process and a consumer
    process in lockstep. The producer puts array *i* (sequence number in its
    first and last element); the consumer gets it, takes a
    ``CLOCK_MONOTONIC`` timestamp, verifies every element off the clock, and
    acks with ``(i, timestamp)`` on a second queue; the producer waits for
    the ack before array *i + 1*. put = the put call; get = from put's return
    to the consumer holding the array; total = put + get.

With ``--workloads seed,fanout`` it also runs ``fanoutN`` (transport
``mp-queue``), the seed's real use case as Python code writes it: one
producer hands tasks to N worker processes through ONE shared task queue and
collects acknowledgements from ONE shared ack queue, keeping N tasks in
flight (each ack releases the next task). A worker gets whichever task comes,
timestamps it, verifies every element off the clock and acks ``(seq,
timestamp)``. Metrics as ipcbench's fanout: ``throughput`` (tasks/s from the
first measured put to the last measured ack) and ``latency`` (put start to
the worker holding the task). ipcbench's transports are point to point, so
its fanout uses one channel per worker dealt round-robin instead; the task
and its acknowledgement are the same. The paced workloads have no
counterpart here (they pace at a stream rate this baseline does not measure).

``--modes`` and ``--fanout-modes`` also take the queues of alternatives.py
(each its own transport name) and ``ray`` (ray_alternative.py: a Ray driver
and Ray actors, run only when named and installed).

Every (trial, size) runs in fresh processes; trials are the outer loop so
drift over time hits all sizes alike. The first ``--warmup`` messages of each
are discarded. Only the standard library and numpy are used.

Example::

    python3 mpqueue_bench.py --sizes 100,200 --messages 1000 --trials 3 \\
        --warmup 50 --placement split --workloads seed,fanout --json out.json

``--placement split,same,none`` runs the placements one after the other and
writes every cell into the one file.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import multiprocessing as mp
import os
import platform
import shlex
import subprocess
import sys
import time
from typing import Any

import numpy as np

import alternatives
import ray_alternative

SCHEMA_VERSION = 2
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
METRICS = ("total", "put", "get")
WORKLOADS = ("seed", "fanout")
PLACEMENTS = ("split", "same", "none")
FANOUT_METRICS = ("throughput", "latency")
DEFAULT_WORKERS = [1, 2, 4]
DEFAULT_SIZES = [int(x) for x in np.around(np.geomspace(100, 51200, 10)).astype(int)]

class TrialError(Exception):
    """A trial that did not deliver every message intact."""


# --------------------------------------------------------------------------
# Placement


def cpus_for(placement: str, role: str) -> set[int] | None:
    """The CPUs a role runs on: ``split`` puts the producer on CPU 0 and the
    consumer on CPU 1, ``same`` both on CPU 0, ``none`` leaves the scheduler
    free. The in-process mode gets both split CPUs, so the queue's feeder
    thread can run beside the main thread as it could in the notebook."""
    if placement == "none":
        return None
    if placement == "same":
        return {0}
    return {"producer": {0}, "consumer": {1}, "inproc": {0, 1}}[role]


def pin(placement: str, role: str) -> None:
    cpus = cpus_for(placement, role)
    if cpus is not None:
        os.sched_setaffinity(0, cpus)


# --------------------------------------------------------------------------
# The workloads (run in child processes)


def payload(elements: int) -> np.ndarray:
    # As the notebook built it: np.array([i for i in range(dim)]), int64.
    return np.arange(elements, dtype=np.int64)


def stamp(buf: np.ndarray, seq: int) -> None:
    """Marks the array with its sequence number so loss, duplication and
    reordering are caught; the rest of the array stays the base pattern."""
    buf[0] = seq
    buf[-1] = seq


def verify(arr: Any, base: np.ndarray, seq: int) -> str | None:
    """Why ``arr`` is not message ``seq``, or None if every element is right."""
    n = base.shape[0]
    if not isinstance(arr, np.ndarray) or arr.dtype != np.int64 or arr.shape != (n,):
        return f"message {seq}: expected int64[{n}], got {type(arr).__name__} {getattr(arr, 'shape', '')}"
    if arr[0] != seq or arr[-1] != seq:
        return f"message {seq}: sequence mismatch (first {int(arr[0])}, last {int(arr[-1])})"
    if n > 2 and not np.array_equal(arr[1:-1], base[1:-1]):
        return f"message {seq}: payload corrupted"
    return None


def report_error(conn, e: BaseException) -> None:
    """Sends a worker's failure to the parent, which may have given up on it
    already (then the pipe is closed and there is nobody left to tell)."""
    try:
        conn.send(("error", f"{type(e).__name__}: {e}"))
    except OSError:
        pass


def base_name(mode: str) -> str:
    """The queue a mode uses (``mp-queue-inproc`` -> ``mp-queue``)."""
    return mode.removesuffix("-inproc")


def inproc_trial(mode: str, elements: int, messages: int, warmup: int, placement: str, conn) -> None:
    """The notebook's loop: put then get in one process."""
    try:
        pin(placement, "inproc")
        q = alternatives.make(base_name(mode), mp, inproc=True)
        base = payload(elements)
        buf = base.copy()
        total = warmup + messages
        put_ns = np.empty(messages, dtype=np.int64)
        get_ns = np.empty(messages, dtype=np.int64)
        clock = time.perf_counter_ns
        warm_start = clock()
        warm_ns = 0
        for i in range(total):
            if i == warmup:
                warm_ns = clock() - warm_start
            stamp(buf, i)
            t0 = clock()
            q.put(buf)
            t1 = clock()
            arr = q.get()
            t2 = clock()
            err = verify(arr, base, i)
            if err:
                raise TrialError(err)
            if i >= warmup:
                put_ns[i - warmup] = t1 - t0
                # A send that blocks until the consumer has read (mp.Pipe above
                # its buffer) returns after the get completed: 0, as ipcbench
                # records it, never a negative time.
                get_ns[i - warmup] = max(t2 - t1, 0)
        if warmup >= total:
            warm_ns = clock() - warm_start
        q.close()
        q.join_thread()
        conn.send(("ok", put_ns, get_ns, warm_ns))
    except BaseException as e:  # report every failure, never hang the parent
        report_error(conn, e)
    finally:
        conn.close()


def consumer(elements: int, total: int, placement: str, q, ack) -> None:
    """Gets each array, timestamps it, verifies it off the clock, acks."""
    pin(placement, "consumer")
    base = payload(elements)
    clock = time.clock_gettime_ns
    mono = time.CLOCK_MONOTONIC
    try:
        for i in range(total):
            arr = q.get()
            t2 = clock(mono)
            err = verify(arr, base, i)
            if err:
                ack.put(("error", err))
                return
            ack.put((i, t2))
    except BaseException as e:
        ack.put(("error", f"consumer: {type(e).__name__}: {e}"))
    finally:
        ack.close()
        ack.join_thread()


def lockstep(send, wait_ack, elements: int, messages: int, warmup: int) -> tuple[np.ndarray, np.ndarray, int]:
    """The seed producer's loop, whatever carries the arrays: ``send(buf)``
    hands array i over (timed as put) and returns a token; ``wait_ack(i,
    token)`` waits for its ack, ``(i, consumer's timestamp)`` or ``("error",
    why)``, raising TrialError on a stall. Returns (put ns, get ns, warm-up
    ns)."""
    base = payload(elements)
    buf = base.copy()
    total = warmup + messages
    put_ns = np.empty(messages, dtype=np.int64)
    get_ns = np.empty(messages, dtype=np.int64)
    clock = time.clock_gettime_ns
    mono = time.CLOCK_MONOTONIC
    warm_start = clock(mono)
    warm_ns = 0
    for i in range(total):
        if i == warmup:
            warm_ns = clock(mono) - warm_start
        stamp(buf, i)
        t0 = clock(mono)
        token = send(buf)
        t1 = clock(mono)
        seq, t2 = wait_ack(i, token)
        if seq == "error":
            raise TrialError(str(t2))
        if seq != i:
            raise TrialError(f"message {i}: ack for message {seq}")
        if i >= warmup:
            put_ns[i - warmup] = t1 - t0
            # A send that blocks until the consumer has read (mp.Pipe above
            # its buffer) returns after the get completed: 0, as ipcbench
            # records it, never a negative time.
            get_ns[i - warmup] = max(t2 - t1, 0)
    if warmup >= total:
        warm_ns = clock(mono) - warm_start
    return put_ns, get_ns, warm_ns


def producer(
    elements: int, messages: int, warmup: int, placement: str, stall_s: float, q, ack, conn
) -> None:
    """Puts each array and waits for its ack before the next (lockstep), so
    the buffer is never changed while the feeder thread may still pickle it."""
    try:
        pin(placement, "producer")

        def wait_ack(i: int, _token) -> tuple[Any, Any]:
            try:
                return ack.get(timeout=stall_s)
            except Exception as e:  # queue.Empty: the consumer stalled or died
                raise TrialError(f"message {i}: no ack within {stall_s:g} s ({type(e).__name__})")

        put_ns, get_ns, warm_ns = lockstep(q.put, wait_ack, elements, messages, warmup)
        q.close()
        q.join_thread()
        conn.send(("ok", put_ns, get_ns, warm_ns))
    except BaseException as e:
        report_error(conn, e)
    finally:
        conn.close()




# --------------------------------------------------------------------------
# Fanout: one producer, N workers, one shared task queue and one ack queue


def fanout_worker(wid: int, elements: int, warmup: int, placement: str, tasks, acks) -> None:
    """Gets tasks until a ``None`` sentinel, timestamps and verifies each,
    acks ``(seq, timestamp)``; finally reports its CPU time over the measured
    tasks as ``("cpu", worker, ns, tasks)``."""
    pin(placement, "consumer")
    base = payload(elements)
    clock = time.clock_gettime_ns
    mono = time.CLOCK_MONOTONIC
    cpu0, measured = None, 0
    try:
        while True:
            arr = tasks.get()
            t = clock(mono)
            if arr is None:
                break
            seq = int(arr[0]) if isinstance(arr, np.ndarray) and arr.size else -1
            err = verify(arr, base, seq)
            if err:
                acks.put(("error", f"worker {wid}: {err}"))
                return
            if seq >= warmup:
                if cpu0 is None:
                    cpu0 = time.process_time_ns()
                measured += 1
            acks.put((seq, t))
        cpu = time.process_time_ns() - cpu0 if cpu0 is not None else 0
        acks.put(("cpu", wid, cpu, measured))
    except BaseException as e:
        acks.put(("error", f"worker {wid}: {type(e).__name__}: {e}"))
    finally:
        acks.close()
        acks.join_thread()


def fanout_producer(
    elements: int, workers: int, messages: int, warmup: int, placement: str, stall_s: float,
    min_ms: float, tasks, acks, conn,
) -> None:
    """Keeps ``workers`` tasks in flight: puts tasks 0..N-1, then one new task
    per ack. Warm-up tasks (sequence < warmup) are all acked before the
    measured ones start. Sends ``("ok", latencies ns, rate, cpu producer ns
    per task, cpu workers ns per task)``."""
    try:
        pin(placement, "producer")
        base = payload(elements)
        # One buffer per task in flight: the feeder thread pickles a buffer
        # after put returns, so it is reused only once its task was acked.
        free = [base.copy() for _ in range(workers)]
        busy: dict[int, np.ndarray] = {}
        clock = time.clock_gettime_ns
        mono = time.CLOCK_MONOTONIC

        def put(seq: int) -> int:
            buf = free.pop()
            stamp(buf, seq)
            busy[seq] = buf
            t0 = clock(mono)
            tasks.put(buf)
            return t0

        def ack(in_flight: dict[int, int]) -> tuple[int, int, int]:
            try:
                msg = acks.get(timeout=stall_s)
            except Exception as e:  # queue.Empty: a worker stalled or died
                raise TrialError(f"no ack within {stall_s:g} s with {len(in_flight)} tasks in flight ({type(e).__name__})")
            arrived = clock(mono)
            seq, t = msg[0], msg[1]
            if seq == "error":
                raise TrialError(str(t))
            if seq not in in_flight:
                raise TrialError(f"ack for task {seq}, which is not in flight (duplicate or stray)")
            free.append(busy.pop(seq))
            return seq, t, arrived

        latency, rate, cpu = keep_in_flight(put, ack, lambda: bool(free), messages, warmup, min_ms)
        for _ in range(workers):
            tasks.put(None)
        worker_cpu = 0
        for _ in range(workers):
            msg = acks.get(timeout=stall_s)
            if msg[0] == "error":
                raise TrialError(str(msg[1]))
            if msg[0] != "cpu":
                raise TrialError(f"unexpected message {msg[0]!r} after the last task")
            worker_cpu += msg[2]
        tasks.close()
        tasks.join_thread()
        conn.send(("ok", latency, rate, cpu, worker_cpu / len(latency)))
    except BaseException as e:
        report_error(conn, e)
    finally:
        conn.close()


def keep_in_flight(
    put, ack, can_put, messages: int, warmup: int, min_ms: float = 0.0,
) -> tuple[np.ndarray, float, float]:
    """The fanout producer's loop, whatever carries the tasks: puts tasks
    while ``can_put()`` (a worker is free), then one new task per ack, the
    warm-up tasks (sequence < warmup) all acked before the measured ones
    start. The measured phase hands over at least ``messages`` tasks and goes
    on until ``min_ms`` have passed: with several workers sharing a core, a
    window of a few milliseconds is decided by where the scheduler's slices
    fall (200 tasks at 150 k tasks/s read 61 k to 167 k from trial to
    trial here). ``put(seq)`` hands task seq over and returns the clock read
    just before; ``ack(in_flight)`` waits for the next ack, frees its worker
    and returns (seq, worker's timestamp, arrival time), raising TrialError
    for a stall, a worker's error or a task not in flight. Returns
    (latencies ns, one per measured task; tasks/s; producer CPU ns per
    task)."""
    clock = time.clock_gettime_ns
    mono = time.CLOCK_MONOTONIC
    latency = np.empty(messages, dtype=np.int64)
    sent_at: dict[int, int] = {}

    def phase(first: int, more) -> tuple[int, int, int]:
        """Tasks from ``first`` while ``more(next seq, start)``: (first put
        time, last ack time, tasks)."""
        nonlocal latency
        nxt = first
        start = clock(mono)
        while more(nxt, start) and can_put():
            sent_at[nxt] = put(nxt)
            nxt += 1
        last = start
        while sent_at:
            seq, t, last = ack(sent_at)
            t0 = sent_at.pop(seq)
            if seq >= warmup:
                if seq - warmup >= len(latency):
                    # Off the ack path's common case: doubles, so rarely.
                    latency = np.resize(latency, 2 * len(latency))
                latency[seq - warmup] = max(t - t0, 0)
            if more(nxt, start):
                sent_at[nxt] = put(nxt)
                nxt += 1
        return start, last, nxt - first

    phase(0, lambda nxt, _start: nxt < warmup)
    cpu0 = time.process_time_ns()
    min_ns = int(min_ms * 1e6)
    start, last, done = phase(
        warmup, lambda nxt, start: nxt < warmup + messages or clock(mono) - start < min_ns)
    cpu = (time.process_time_ns() - cpu0) / done
    rate = done * 1e9 / (last - start) if last > start else float("nan")
    return latency[:done].copy(), rate, cpu


def run_fanout_trial(
    ctx, mode: str, workers: int, elements: int, args
) -> tuple[np.ndarray, float, float, float]:
    """One fanout trial in fresh processes: (latency ns, tasks/s, producer CPU
    ns per task, workers' CPU ns per task)."""
    if mode == ray_alternative.NAME:
        return ray_alternative.run(ctx, ray_alternative.fanout_driver, (
            sys.modules[__name__], elements, workers, args.fanout_messages, args.warmup,
            args.placement, args.timeout, args.fanout_min_ms), args.timeout, supervise)
    recv, send = ctx.Pipe(duplex=False)
    tasks = alternatives.make(mode, ctx, role="task", shared=True)
    acks = alternatives.make(mode, ctx, role="ack", shared=True)
    procs = [
        ctx.Process(target=fanout_worker, args=(w, elements, args.warmup, args.placement, tasks, acks))
        for w in range(workers)
    ]
    procs.append(ctx.Process(
        target=fanout_producer,
        args=(elements, workers, args.fanout_messages, args.warmup, args.placement, args.timeout,
              args.fanout_min_ms, tasks, acks, send),
    ))
    return supervise(procs, recv, send, args.timeout)


# --------------------------------------------------------------------------
# Supervision (parent process)


def run_trial(ctx, mode: str, elements: int, args) -> tuple[np.ndarray, np.ndarray, int]:
    """One trial in fresh processes: (put ns, get ns, warm-up ns)."""
    if mode == ray_alternative.NAME:
        return ray_alternative.run(ctx, ray_alternative.seed_driver, (
            sys.modules[__name__], elements, args.messages, args.warmup, args.placement,
            args.timeout), args.timeout, supervise)
    recv, send = ctx.Pipe(duplex=False)
    if mode.endswith("-inproc"):
        procs = [
            ctx.Process(
                target=inproc_trial,
                args=(mode, elements, args.messages, args.warmup, args.placement, send),
            )
        ]
    else:
        q = alternatives.make(mode, ctx, role="task")
        ack = alternatives.make(mode, ctx, role="ack")
        total = args.warmup + args.messages
        procs = [
            ctx.Process(target=consumer, args=(elements, total, args.placement, q, ack)),
            ctx.Process(
                target=producer,
                args=(elements, args.messages, args.warmup, args.placement, args.timeout, q, ack, send),
            ),
        ]
    put_ns, get_ns, warm_ns = supervise(procs, recv, send, args.timeout)
    return put_ns, get_ns, warm_ns


def supervise(procs, recv, send, timeout: float) -> tuple:
    """Starts the processes, waits for the one result on ``recv``, and makes
    sure none outlives the trial; returns the result's fields after "ok"."""
    for p in procs:
        p.start()
    send.close()
    ok = False
    try:
        if not recv.poll(timeout):
            raise TrialError(f"no result within {timeout:g} s")
        msg = recv.recv()
        ok = msg[0] == "ok"
    except EOFError:
        raise TrialError("worker exited without a result") from None
    finally:
        recv.close()
        # After a success the workers are finishing; after a failure one may
        # be blocked on a queue for good, so it gets only a moment.
        for p in procs:
            p.join(timeout=10 if ok else 0.5)
        for p in procs:
            if p.is_alive():
                p.terminate()
                p.join()
    if not ok:
        raise TrialError(msg[1])
    bad = [p.exitcode for p in procs if p.exitcode != 0]
    if bad:
        raise TrialError(f"worker exit codes {bad}")
    return tuple(msg[1:])


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
    if workload.startswith("fanout"):
        c["workers"] = int(workload[len("fanout"):])
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
    clock, mono = time.clock_gettime_ns, time.CLOCK_MONOTONIC
    reads = [clock(mono) for _ in range(20001)]
    return float(np.median(np.diff(np.array(reads, dtype=np.int64))))


def recorded_command() -> str:
    """The command as the results record it: relative to the repository, and
    without where the file was written, so committed results name no
    directory of the machine that measured them."""
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    args, skip = [], False
    for a in sys.argv[1:]:
        if skip:
            skip = False
        elif a == "--json":
            skip = True
        elif not a.startswith("--json="):
            args.append(os.path.relpath(a, root) if os.path.isabs(a) else a)
    return shlex.join(["python3", os.path.relpath(os.path.abspath(__file__), root), *args])


def environment(args, start_method: str, start: datetime.datetime) -> dict[str, Any]:
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
        "command_line": recorded_command(),
        "virtualization": virtualization(),
        "governor": read("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor"),
        "clock_overhead_ns": clock_overhead_ns(),
        "extra": extra,
    }


# --------------------------------------------------------------------------
# Command line


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
    args.workloads = [w.strip() for w in args.workloads.split(",") if w.strip()]
    unknown = [w for w in args.workloads if w not in WORKLOADS]
    if unknown or not args.workloads:
        ap.error(f"unknown workload(s) {unknown}: choose from {', '.join(WORKLOADS)}")
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


def placement_modes(args) -> tuple[list[str], list[str]]:
    """The seed and fanout modes run at ``args.placement``: Ray only at
    ``--ray-placements``."""
    def here(m: str) -> bool:
        return m != ray_alternative.NAME or args.placement in args.ray_placements
    return [m for m in args.modes if here(m)], [m for m in args.fanout_modes if here(m)]


def measure_placement(ctx, args) -> tuple[list[dict[str, Any]], dict[tuple, str], list[float]]:
    """Every trial of every mode and size at ``args.placement``: (cells,
    errors by configuration, warm-up times in ms)."""
    samples: dict[tuple[str, int], dict[str, list[np.ndarray]]] = {}
    # Per (fanoutN, elements): latency arrays, rates and CPU per trial.
    fan: dict[tuple, dict[str, list]] = {}
    errors: dict[tuple, str] = {}
    warm_ms: list[float] = []
    fanouts = [f"fanout{n}" for n in args.workers] if "fanout" in args.workloads else []
    modes, fanout_modes = placement_modes(args)
    for trial in range(args.trials):
        for mode in modes if "seed" in args.workloads else []:
            for elements in args.sizes:
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
            for elements in args.fanout_sizes:
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

    cells = []
    for mode in modes if "seed" in args.workloads else []:
        for elements in args.sizes:
            key = (mode, elements)
            for metric in METRICS:
                if key in errors:
                    cells.append(failed_cell(mode, args.placement, elements, metric, errors[key]))
                    continue
                trials = samples[key][metric]
                c = cell(mode, args.placement, elements, metric)
                c.update(status="ok", trials=len(trials), **summarize(trials))
                cells.append(c)
    for fmode, w in [(fm, w) for fm in fanout_modes for w in fanouts]:
        for elements in args.fanout_sizes:
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


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    start = datetime.datetime.now(datetime.timezone.utc)
    # fork is fastest and inherits the imported numpy; elsewhere use the default.
    method = "fork" if "fork" in mp.get_all_start_methods() else mp.get_start_method()
    ctx = mp.get_context(method)

    cells: list[dict[str, Any]] = []
    errors: dict[tuple, str] = {}
    warm_ms: list[float] = []
    # One placement after the other, into one file (as bench-all's
    # placement sweep runs them).
    for placement in args.placements:
        args.placement = placement
        c, e, w = measure_placement(ctx, args)
        cells += c
        errors.update({(placement, *k): v for k, v in e.items()})
        warm_ms += w

    results = {
        "schema_version": SCHEMA_VERSION,
        "environment": environment(args, method, start),
        "config": {
            "trials": args.trials,
            "messages": args.messages,
            # The warm-up is a message count here; this is how long it took
            # (median over trials and sizes, rounded up).
            "warmup_ms": int(math.ceil(float(np.median(warm_ms)))) if warm_ms else 0,
            "placements": args.placements,
        },
        "floors": [],
        "cells": cells,
    }
    text = json.dumps(results, indent=2, allow_nan=False) + "\n"
    if args.json == "-":
        sys.stdout.write(text)
    else:
        tmp = args.json + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, args.json)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
