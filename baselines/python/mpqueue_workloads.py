"""The workloads, run in child processes, and one trial of each in fresh
processes under supervision.

Seed, two modes, each a transport name in the JSON:

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

Fanout (``fanoutN``, transport ``mp-queue``), the seed's real use case as
Python code writes it: one producer hands tasks to N worker processes
through ONE shared task queue and collects acknowledgements from ONE shared
ack queue, keeping N tasks in flight (each ack releases the next task). A
worker gets whichever task comes, timestamps it, verifies every element off
the clock and acks ``(seq, timestamp)``. Metrics as ipcbench's fanout:
``throughput`` (tasks/s from the first measured put to the last measured
ack) and ``latency`` (put start to the worker holding the task). ipcbench's
transports are point to point, so its fanout uses one channel per worker
dealt round-robin instead; the task and its acknowledgement are the same.
The paced workloads have no counterpart here (they pace at a stream rate
this baseline does not measure).

The queues of alternatives.py run the same loops; ``ray``
(ray_alternative.py) runs them in a Ray driver and Ray actors.
"""

from __future__ import annotations

import copy
import multiprocessing as mp
import sys
import time
from typing import Any

import numpy as np

import alternatives
import handover
import ray_alternative
from mpqueue_common import (
    MONO, TrialError, base_name, clock, payload, pin, report_error, stamp, verify,
)

# --------------------------------------------------------------------------
# Seed (run in child processes)


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
        # The notebook's timer: one process, so no clock shared across processes.
        perf = time.perf_counter_ns
        warm_start = perf()
        warm_ns = 0
        for i in range(total):
            if i == warmup:
                warm_ns = perf() - warm_start
            stamp(buf, i)
            t0 = perf()
            q.put(buf)
            t1 = perf()
            arr = q.get()
            t2 = perf()
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
            warm_ns = perf() - warm_start
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
    try:
        for i in range(total):
            arr = q.get()
            t2 = clock(MONO)
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
    warm_start = clock(MONO)
    warm_ns = 0
    for i in range(total):
        if i == warmup:
            warm_ns = clock(MONO) - warm_start
        stamp(buf, i)
        t0 = clock(MONO)
        token = send(buf)
        t1 = clock(MONO)
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
        warm_ns = clock(MONO) - warm_start
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
    cpu0, measured = None, 0
    try:
        while True:
            arr = tasks.get()
            t = clock(MONO)
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

        def put(seq: int) -> int:
            buf = free.pop()
            stamp(buf, seq)
            busy[seq] = buf
            t0 = clock(MONO)
            tasks.put(buf)
            return t0

        def ack(in_flight: dict[int, int]) -> tuple[int, int, int]:
            try:
                msg = acks.get(timeout=stall_s)
            except Exception as e:  # queue.Empty: a worker stalled or died
                raise TrialError(f"no ack within {stall_s:g} s with {len(in_flight)} tasks in flight ({type(e).__name__})")
            arrived = clock(MONO)
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
    latency = np.empty(messages, dtype=np.int64)
    sent_at: dict[int, int] = {}

    def phase(first: int, more) -> tuple[int, int, int]:
        """Tasks from ``first`` while ``more(next seq, start)``: (first put
        time, last ack time, tasks)."""
        nonlocal latency
        nxt = first
        start = clock(MONO)
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
        warmup, lambda nxt, start: nxt < warmup + messages or clock(MONO) - start < min_ns)
    cpu = (time.process_time_ns() - cpu0) / done
    rate = done * 1e9 / (last - start) if last > start else float("nan")
    return latency[:done].copy(), rate, cpu


# --------------------------------------------------------------------------
# One trial in fresh processes (parent process)


def by_size(args, elements: int, fanout: bool = False):
    """``args`` with the message and warm-up counts for ``elements``
    (handover.messages_for: a large size runs few messages)."""
    a = copy.copy(args)
    if fanout:
        a.fanout_messages, _ = handover.messages_for(elements, args.fanout_messages, args.warmup)
    a.messages, a.warmup = handover.messages_for(elements, args.messages, args.warmup)
    return a


def run_trial(ctx, mode: str, elements: int, args) -> tuple[np.ndarray, np.ndarray, int]:
    """One trial in fresh processes: (put ns, get ns, warm-up ns)."""
    args = by_size(args, elements)
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


def run_fanout_trial(
    ctx, mode: str, workers: int, elements: int, args
) -> tuple[np.ndarray, float, float, float]:
    """One fanout trial in fresh processes: (latency ns, tasks/s, producer CPU
    ns per task, workers' CPU ns per task)."""
    args = by_size(args, elements, fanout=True)
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
