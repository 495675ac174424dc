"""What the hand-over is judged against, measured in the same run (issue 23):

- **the memcpy floor** at each hand-over size: one copy of the payload from
  the producer's own numpy array into the memory an ordinary ``put`` copies
  it into, timed in one process pinned to the producer's core. Which buffers
  matters here: /dev/shm has no transparent huge pages where
  ``/sys/kernel/mm/transparent_hugepage/shmem_enabled`` is ``never``, while
  numpy's large private arrays may get them, so a copy into shared memory
  can be slower than one between two private arrays. The floor's
  destination is therefore the queue's own memory: a loan of
  ``ipcbench.Queue`` (``q.array``: a block of the pool ``put`` copies into,
  pre-faulted) where the queue lends at that size, else a
  ``multiprocessing.shared_memory`` block (POSIX shm in /dev/shm, faulted in
  by a first copy). The private-to-private copy is recorded beside it, as
  an environment figure, with the huge-page settings.
- **no cost hidden after get**: a worker that sums every array
  ``ipcbench.Queue.get`` hands it (lockstep, ordinary put) against summing
  the same array, in private memory, in the same process on the same core.
  Lazily mapped memory would pay its page faults in the worker's sums.
  Each is a throughput cell of workload ``handover`` (sums per second):
  transports ``ipcbench-sum`` and ``sum-inproc``.
"""

from __future__ import annotations

import importlib.util
from typing import Any

import numpy as np

#: The worker summing what ``ipcbench.Queue.get`` returned.
SUM_WORKER = "ipcbench-sum"
#: The same sums over a private array in one process.
SUM_INPROC = "sum-inproc"
SUM_NOTES = {
    SUM_WORKER: "a worker sums every array ipcbench.Queue.get hands it (lockstep, ordinary "
                "put); sums per second, the sum alone timed",
    SUM_INPROC: "the same array, in private memory, summed in one process on the worker's "
                "core; sums per second",
}
#: Copies timed per size: at most this many bytes copied (at least MIN_COPIES).
COPY_BYTES = 512 << 20
MIN_COPIES = 5
MAX_COPIES = 2000
#: Sums per sum-check trial (after one warm-up sum).
SUM_MESSAGES = 5
THP = "/sys/kernel/mm/transparent_hugepage"


def copies_for(nbytes: int) -> int:
    """Copies timed at ``nbytes``: at most COPY_BYTES in all, MIN_COPIES to
    MAX_COPIES."""
    return max(MIN_COPIES, min(MAX_COPIES, COPY_BYTES // max(nbytes, 1)))


def huge_pages() -> str:
    """The kernel's transparent huge page settings for private and shared
    memory, as one figure: ``enabled=madvise, shmem_enabled=never``."""
    def setting(name: str) -> str:
        try:
            with open(f"{THP}/{name}", encoding="utf-8") as f:
                text = f.read()
        except OSError:
            return "unknown"
        chosen = [w.strip("[]") for w in text.split() if w.startswith("[")]
        return chosen[0] if chosen else text.strip()
    return f"enabled={setting('enabled')}, shmem_enabled={setting('shmem_enabled')}"


def _destination(elements: int, keep: list):
    """A view of the memory an ordinary put of ``elements`` int64s copies
    into, and how it is named in the results."""
    if importlib.util.find_spec("ipcbench") is not None:
        import ipcbench

        q = ipcbench.Queue(maxsize=1)
        keep.append(q)
        a = q.array(elements, np.int64)
        # A lent array views the loan's memory; a small one is a plain
        # np.empty, which owns its data.
        if a.base is not None:
            return a, "an ipcbench.Queue loan (a pooled /dev/shm block)"
        del a
    from multiprocessing import shared_memory

    shm = shared_memory.SharedMemory(create=True, size=elements * 8)
    keep.append(shm)
    return (np.ndarray(elements, np.int64, buffer=shm.buf),
            "a multiprocessing.shared_memory block (/dev/shm)")


def _release(keep: list) -> None:
    for k in keep:
        if hasattr(k, "unlink"):
            k.close()
            k.unlink()
        else:
            k.close()


def _median_copy_ns(bench, dst: np.ndarray, src: np.ndarray, copies: int) -> float:
    clock, mono = bench.clock, bench.MONO
    np.copyto(dst, src)  # faults the destination in, if it is not yet
    times = np.empty(copies, dtype=np.int64)
    for i in range(copies):
        t0 = clock(mono)
        np.copyto(dst, src)
        times[i] = clock(mono) - t0
    return float(np.median(times))


def _memcpy_child(bench, sizes: list[int], placement: str, conn) -> None:
    try:
        bench.pin(placement, "producer")
        rows = []
        for elements in sizes:
            src = bench.payload(elements)
            keep: list = []
            try:
                dst, where = _destination(elements, keep)
                copies = copies_for(elements * 8)
                shared = _median_copy_ns(bench, dst, src, copies)
                private = _median_copy_ns(bench, np.empty_like(src), src, copies)
                del dst
            finally:
                _release(keep)
            rows.append((elements * 8, shared, private, where, copies))
        conn.send(("ok", rows))
    except BaseException as e:
        bench.report_error(conn, e)
    finally:
        conn.close()


def memcpy_floor(bench, ctx, sizes: list[int], placement: str, timeout: float):
    """One copy at each size (int64 elements), in a fresh process pinned to
    the producer's core: (the schema's ``memcpy`` rows of the queue's memory,
    environment rows naming the buffers and the private-to-private copy)."""
    recv, send = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_memcpy_child, args=(bench, sizes, placement, send))
    (rows,) = bench.supervise([proc], recv, send, timeout)
    floor = [{"size_bytes": n, "p50_ns": shared, "bytes_per_s": n * 1e9 / shared}
             for n, shared, _, _, _ in rows]
    extra = [
        ["memcpy floor (hand-over)",
         "one np.copyto from the producer's own numpy array, median of several, pinned to "
         "the producer's core, into: "
         + "; ".join(f"{n} B: {where} ({c} copies)" for n, _, _, where, c in rows)],
        ["memcpy private to private (hand-over sizes)",
         ", ".join(f"{n} B: {p / 1e3:.1f} µs" for n, _, p, _, _ in rows)],
        ["transparent huge pages", huge_pages()],
    ]
    return floor, extra


# --------------------------------------------------------------------------
# The sum check


def expected_sum(base: np.ndarray, seq: int) -> int:
    """The sum of message ``seq`` (first and last element stamped)."""
    if base.shape[0] == 1:
        return seq
    return int(base[1:-1].sum()) + 2 * seq


def _sum_consumer(bench, q, elements: int, total: int, placement: str, ack) -> None:
    """Gets each array, sums it (timed), acks (seq, ns, whether the sum is
    right); then sums a private copy of the same payload as many times."""
    bench.pin(placement, "consumer")
    clock, mono = bench.clock, bench.MONO
    base = bench.payload(elements)
    try:
        for i in range(total):
            arr = q.get()
            t0 = clock(mono)
            s = int(arr.sum())
            t1 = clock(mono)
            del arr
            ack.send((i, t1 - t0, s == expected_sum(base, i)))
        own = base.copy()
        bench.stamp(own, 0)
        want = expected_sum(base, 0)
        inproc = []
        for _ in range(total):
            t0 = clock(mono)
            s = int(own.sum())
            t1 = clock(mono)
            inproc.append(t1 - t0)
            if s != want:
                raise bench.TrialError("in-process sum wrong")
        ack.send(("inproc", inproc))
    except BaseException as e:
        bench.report_error(ack, e)
    finally:
        ack.close()


def _sum_producer(bench, q, elements: int, messages: int, warmup: int, placement: str,
                  stall_s: float, ack, conn) -> None:
    """Puts each array (ordinary put: one copy into the queue's block) and
    waits for its ack, so the copy never competes with the worker's sum."""
    try:
        bench.pin(placement, "producer")
        own = bench.payload(elements)
        total = warmup + messages
        worker = np.empty(messages, dtype=np.int64)
        for i in range(total):
            bench.stamp(own, i)
            q.put(own)
            if not ack.poll(stall_s):
                raise bench.TrialError(f"sum check, message {i}: no ack within {stall_s:g} s")
            reply = ack.recv()
            if reply[0] == "error":
                raise bench.TrialError(str(reply[1]))
            seq, ns, ok = reply
            if seq != i or not ok:
                raise bench.TrialError(f"sum check, message {i}: wrong sum (ack {seq})")
            if i >= warmup:
                worker[i - warmup] = ns
        if not ack.poll(stall_s):
            raise bench.TrialError("sum check: no in-process sums")
        reply = ack.recv()
        if reply[0] != "inproc":
            raise bench.TrialError(str(reply[1]))
        inproc = np.array(reply[1][warmup:], dtype=np.int64)
        conn.send(("ok", worker, inproc))
    except BaseException as e:
        bench.report_error(conn, e)
    finally:
        conn.close()


def sum_trial(bench, ctx, elements: int, args) -> tuple[np.ndarray, np.ndarray]:
    """One sum-check trial in fresh processes: (ns of each worker sum, ns of
    each in-process sum), SUM_MESSAGES each after one warm-up."""
    import ipcbench

    q = ipcbench.Queue(maxsize=2)
    recv, send = ctx.Pipe(duplex=False)
    ack_recv, ack_send = ctx.Pipe(duplex=False)
    total = SUM_MESSAGES + 1
    procs = [
        ctx.Process(target=_sum_consumer,
                    args=(bench, q, elements, total, args.placement, ack_send)),
        ctx.Process(target=_sum_producer,
                    args=(bench, q, elements, SUM_MESSAGES, 1, args.placement, args.timeout,
                          ack_recv, send)),
    ]
    try:
        return bench.supervise(procs, recv, send, args.timeout)
    finally:
        ack_recv.close()
        ack_send.close()
        q.close()


def sum_missing() -> str | None:
    """Why the sum check cannot run here, or None."""
    if importlib.util.find_spec("ipcbench") is None:
        return "sum check: No module named 'ipcbench'"
    return None


def rates(ns: list[np.ndarray]) -> list[float]:
    """Sums per second of each trial: messages over the summed time."""
    return [len(t) * 1e9 / float(np.sum(t)) for t in ns]


def note(transport: str) -> dict[str, Any]:
    return {"note": SUM_NOTES[transport]}
