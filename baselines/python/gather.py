"""The ``gatherN`` workload in Python: N producer processes putting arrays
into ONE queue that one consumer process gets from -- the results path of a
worker pool, as Python code writes it, and the counterpart of ipcbench's
``gatherN`` (docs/methodology.md).

Each producer stamps its arrays before the clock (a fresh array per put, so
no buffer is changed while a feeder thread may still pickle it: the arrays a
worker pool returns are fresh too), waits at a barrier with the others and
the consumer, then puts its share back to back. The consumer reads the
clock when the barrier opens, gets every array, verifies each against its
producer's next sequence number (array ``k << 32 | i`` is producer k's i-th:
every producer's order must hold), and stops the clock at the last. Metric
``throughput``: arrays per second over that window. Placement ``split``
puts the consumer on CPU 0 and the producers on CPU 1, as ipcbench's hub and
workers. The queue is each alternative's many-putters-one-getter queue
(``role="ack"``, shared).
"""

from __future__ import annotations

import sys
import time
from typing import Any

import numpy as np

from mpqueue_common import MONO, TrialError, clock, payload, pin, report_error, stamp, verify

#: The workload family's name in results and on the command line.
NAME = "gather"
#: Producer counts run by default.
DEFAULT_PRODUCERS = (2, 4)
#: A producer's number sits above any count in an array's sequence number.
SHIFT = 32
#: Payload bytes a producer may prepare for one trial: large sizes put fewer.
BYTES_PER_PRODUCER = 8 << 20


def arrays_for(elements: int, asked: int, producers: int) -> int:
    """Arrays each producer puts: its share of ``asked``, at least 2, and no
    more than :data:`BYTES_PER_PRODUCER` of payload."""
    share = max(2, -(-asked // producers))
    return max(2, min(share, BYTES_PER_PRODUCER // (elements * 8)))


def producer(k: int, elements: int, count: int, placement: str, barrier, q) -> None:
    """Prepares ``count`` stamped arrays, waits at the barrier, puts them."""
    try:
        pin(placement, "consumer")
        base = payload(elements)
        arrays = []
        for i in range(count):
            a = base.copy()
            stamp(a, (k << SHIFT) | i)
            arrays.append(a)
        barrier.wait(timeout=120)
        for a in arrays:
            q.put(a)
        q.close()
        q.join_thread()
    except BaseException as e:  # the consumer times out and names the cause
        print(f"gather producer {k}: {type(e).__name__}: {e}", file=sys.stderr)
        raise


def consumer(
    elements: int, producers: int, count: int, placement: str, stall_s: float, barrier, q, conn
) -> None:
    """Gets every array once the barrier opens, checks each producer's order
    and contents; sends ``("ok", arrays/s, CPU ns per array)``."""
    try:
        pin(placement, "producer")
        base = payload(elements)
        nxt = [0] * producers
        total = producers * count
        barrier.wait(timeout=stall_s)
        t0 = clock(MONO)
        cpu0 = time.process_time_ns()
        for _ in range(total):
            try:
                arr = q.get(timeout=stall_s)
            except Exception as e:  # queue.Empty: a producer stalled or died
                raise TrialError(
                    f"no array within {stall_s:g} s after {sum(nxt)} of {total} ({type(e).__name__})")
            seq = int(arr[0]) if isinstance(arr, np.ndarray) and arr.size else -1
            k = seq >> SHIFT
            if not 0 <= k < producers:
                raise TrialError(f"an array names producer {k} of {producers}")
            err = verify(arr, base, (k << SHIFT) | nxt[k])
            if err:
                raise TrialError(f"producer {k}: {err} (order or contents)")
            nxt[k] += 1
        t1 = clock(MONO)
        cpu = (time.process_time_ns() - cpu0) / total
        conn.send(("ok", total * 1e9 / (t1 - t0) if t1 > t0 else float("nan"), cpu))
    except BaseException as e:
        report_error(conn, e)
    finally:
        conn.close()


def run_trial(alternatives, supervise, ctx, mode: str, producers: int, elements: int,
              args) -> tuple[float, float, int]:
    """One gather trial in fresh processes: (arrays/s, consumer CPU ns per
    array, arrays)."""
    count = arrays_for(elements, args.gather_messages, producers)
    recv, send = ctx.Pipe(duplex=False)
    q = alternatives.make(mode, ctx, role="ack", shared=True)
    barrier = ctx.Barrier(producers + 1)
    procs = [
        ctx.Process(target=producer, args=(k, elements, count, args.placement, barrier, q))
        for k in range(producers)
    ]
    procs.append(ctx.Process(
        target=consumer,
        args=(elements, producers, count, args.placement, args.timeout, barrier, q, send),
    ))
    rate, cpu = supervise(procs, recv, send, args.timeout)
    return rate, cpu, producers * count


def measure(ctx, args, alternatives, supervise, schema) -> tuple[list[dict[str, Any]], dict[tuple, str]]:
    """Every gather trial at ``args.placement`` (trials the outer loop), folded
    into throughput cells: (cells, errors by configuration)."""
    rates: dict[tuple, list[float]] = {}
    cpus: dict[tuple, list[float]] = {}
    counts: dict[tuple, int] = {}
    errors: dict[tuple, str] = {}
    keys = [(m, n, e) for m in args.gather_modes for n in args.producers for e in args.gather_sizes]
    for trial in range(args.trials):
        for key in keys:
            mode, n, elements = key
            if key in errors:
                continue
            t0 = time.monotonic()
            try:
                rate, cpu, count = run_trial(alternatives, supervise, ctx, mode, n, elements, args)
            except TrialError as e:
                errors[key] = str(e)
                print(f"trial {trial + 1}/{args.trials} {mode} gather{n} {elements} elements: "
                      f"FAILED: {e}", file=sys.stderr)
                continue
            rates.setdefault(key, []).append(rate)
            cpus.setdefault(key, []).append(cpu)
            counts[key] = counts.get(key, 0) + count
            print(f"trial {trial + 1}/{args.trials} {mode} gather{n:<3} {elements:>6} elements: "
                  f"{rate / 1e3:8.2f} k arrays/s  ({time.monotonic() - t0:.2f} s)", file=sys.stderr)
    cells = []
    for key in keys:
        mode, n, elements = key
        w = f"{NAME}{n}"
        if key in errors:
            cells.append(schema.failed_cell(mode, args.placement, elements, "throughput",
                                            errors[key], w))
            continue
        c = schema.cell(mode, args.placement, elements, "throughput", w)
        c.update(status="ok", trials=len(rates[key]),
                 **schema.throughput_summary(rates[key], counts[key]))
        c["bytes_per_s"] = c["msgs_per_s"] * elements * 8
        c["cpu_consumer_ns"] = float(np.mean(cpus[key]))
        cells.append(c)
    return cells, errors
