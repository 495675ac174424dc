"""The hand-over workload for Python queues (issue 23): lockstep like seed,
but the producer *produces* each array before the clock starts (fills its
own buffer, or, for ``ipcbench-loan`` and ``torch``, memory the queue lends
it), and the clock runs from the start of ``put`` until the consumer's
``get()`` has returned the array. The consumer then reads every element off
the clock (the verification), acks ``(sequence, its timestamp, verdict)`` on
a pipe, and only then lets the array go. Metrics: ``latency`` (put start to
get's return: the hand-over, the workload's figure as in ipcbench's Rust
``handover`` cells), ``put`` (the put call) and ``get`` (put's return to
get's return).

Queues (each a transport name in the JSON, workload ``handover``):

- ``mp-queue``: ``multiprocessing.Queue`` (pickled by the feeder thread,
  written through a pipe, unpickled into a new array);
- ``ipcbench``: ``ipcbench.Queue`` with an ordinary array: copied once into
  a pooled shared-memory block, received as a view of it (no copy out);
- ``ipcbench-loan``: the array is ``q.array(...)``, filled in place and put
  by reference (no copy at all);
- ``py-sharedmemory``: py-sharedmemory's sender/receiver pair (PyPI;
  payload copied into a reused block, copied out by ``get``);
- ``shared-memory``: a fresh ``multiprocessing.shared_memory`` block per
  array, its name on an ``mp.Queue`` (copied in and out);
- ``torch`` (opt-in: ``--full`` installs torch): ``torch.multiprocessing``
  with a CPU tensor in shared memory per message (``share_memory_()`` before
  the clock), moved by handle; received as a tensor over the same memory.

Messages per trial are chosen by size (``messages_for``): a 64 MiB hand-over
through mp.Queue costs ~0.35 s, so large sizes run few messages (3 at
64 MiB, 16 at 4 MiB, after one warm-up).
"""

from __future__ import annotations

import importlib.util
from typing import Any

import numpy as np

NAME = "handover"
#: The cells of each (mode, size): ``latency`` (put start to get's return:
#: the hand-over), ``put`` (the put call), ``get`` (put's return to get's).
METRICS = ("latency", "put", "get")
MODES = ("mp-queue", "ipcbench", "ipcbench-loan", "py-sharedmemory", "shared-memory")
#: Run only when named (``--handover-modes all,torch``): a large install.
OPT_IN = ("torch",)
#: Default sizes (int64 elements): 4 MiB and 64 MiB.
DEFAULT_SIZES = [4 << 17, 64 << 17]
#: Bytes a trial moves at most (beyond its minimum message count): with the
#: minimum below, this keeps the Python large sizes and the hand-over within
#: the default run's 60 s (docs/methodology.md has the count).
TRIAL_BYTES = 64 << 20
#: Fewest measured messages of a trial, however large: a 64 MiB hand-over
#: through mp.Queue costs ~0.35 s, and seed, fanout 1/2/4 and handover each
#: run it three trials.
MIN_MESSAGES = 3


def messages_for(elements: int, messages: int, warmup: int) -> tuple[int, int]:
    """Measured and warm-up messages of a trial at ``elements`` int64s: at most
    ``TRIAL_BYTES`` of payload (at least ``MIN_MESSAGES``), warm-up scaled
    alike (at least 1: the first hand-over makes the blocks)."""
    nbytes = max(elements * 8, 1)
    cap = max(MIN_MESSAGES, TRIAL_BYTES // nbytes)
    m = min(messages, cap)
    w = min(warmup, max(1, cap // 10))
    return m, w


def missing(mode: str) -> str | None:
    """Why ``mode`` cannot run here (a package is not installed), or None."""
    module = {
        "ipcbench": "ipcbench",
        "ipcbench-loan": "ipcbench",
        "py-sharedmemory": "py_sharedmemory",
        "torch": "torch",
    }.get(mode)
    if module is None:
        return None
    # Found, not imported: importing torch takes seconds, and every trial forks.
    if importlib.util.find_spec(module) is None:
        return f"{mode}: No module named '{module}'"
    return None


class Ends:
    """The producer's and consumer's ends of one mode, made in the parent
    before the children fork."""

    def __init__(self, mode: str, ctx, alternatives):
        self.mode = mode
        self.sender = self.receiver = self.q = None
        if mode in ("ipcbench", "ipcbench-loan"):
            import ipcbench

            self.q = ipcbench.Queue(maxsize=2)
        elif mode == "py-sharedmemory":
            from py_sharedmemory import create_shared_memory_pair

            self.sender, self.receiver = create_shared_memory_pair(capacity=2, ctx=ctx)
        elif mode == "torch":
            import torch.multiprocessing as tmp

            self.q = tmp.get_context(ctx.get_start_method()).Queue()
        elif mode in ("mp-queue", "shared-memory"):
            self.q = alternatives.make(mode, ctx, role="task")
        else:
            raise ValueError(f"unknown hand-over mode {mode!r}: choose from {', '.join(MODES + OPT_IN)}")

    # -- producer side --
    def buffer(self, base: np.ndarray) -> tuple[Any, np.ndarray]:
        """A filled array to send (the object ``put`` takes, and its numpy
        view): a fresh loan where the queue lends, else ``base`` itself."""
        if self.mode == "ipcbench-loan":
            a = self.q.array(base.shape, base.dtype)
            a[:] = base
            return a, a
        if self.mode == "torch":
            import torch

            t = torch.empty(base.shape[0], dtype=torch.int64).share_memory_()
            v = t.numpy()
            v[:] = base
            return t, v
        return base, base

    def put(self, obj: Any) -> None:
        if self.sender is not None:
            self.sender.put(obj)
        else:
            self.q.put(obj)

    def close_producer(self) -> None:
        if self.sender is not None:
            self.sender.close()
        elif self.mode in ("mp-queue", "shared-memory", "torch"):
            self.q.close()
            self.q.join_thread()

    # -- consumer side --
    def get(self) -> Any:
        return self.receiver.get() if self.receiver is not None else self.q.get()

    def close_consumer(self) -> None:
        if self.receiver is not None:
            self.receiver.close()


def consumer(bench, ends: Ends, elements: int, total: int, placement: str, ack) -> None:
    """Gets each array, timestamps get's return, verifies every element off
    the clock, acks, then drops the array."""
    import time

    bench.pin(placement, "consumer")
    base = bench.payload(elements)
    clock, mono = time.clock_gettime_ns, time.CLOCK_MONOTONIC
    try:
        for i in range(total):
            got = ends.get()
            t2 = clock(mono)
            arr = got.numpy() if ends.mode == "torch" else got
            err = bench.verify(arr, base, i)
            ack.send((i, t2, err))
            del got, arr
            if err:
                return
        ends.close_consumer()
    except BaseException as e:
        bench.report_error(ack, e)
    finally:
        ack.close()


def producer(bench, ends: Ends, elements: int, messages: int, warmup: int, placement: str,
             stall_s: float, ack, conn) -> None:
    """Produces each array (off the clock), puts it, waits for its ack."""
    import time

    try:
        bench.pin(placement, "producer")
        base = bench.payload(elements)
        total = warmup + messages
        put_ns = np.empty(messages, dtype=np.int64)
        get_ns = np.empty(messages, dtype=np.int64)
        clock, mono = time.clock_gettime_ns, time.CLOCK_MONOTONIC
        warm_start = clock(mono)
        warm_ns = 0
        own = base.copy()
        for i in range(total):
            if i == warmup:
                warm_ns = clock(mono) - warm_start
            obj, view = ends.buffer(own)
            bench.stamp(view, i)
            t0 = clock(mono)
            ends.put(obj)
            t1 = clock(mono)
            del obj, view
            if not ack.poll(stall_s):
                raise bench.TrialError(f"message {i}: no ack within {stall_s:g} s")
            reply = ack.recv()
            if reply[0] == "error":
                raise bench.TrialError(str(reply[1]))
            seq, t2, err = reply
            if err:
                raise bench.TrialError(err)
            if seq != i:
                raise bench.TrialError(f"message {i}: ack for message {seq}")
            if i >= warmup:
                put_ns[i - warmup] = t1 - t0
                get_ns[i - warmup] = max(t2 - t1, 0)
        if warmup >= total:
            warm_ns = clock(mono) - warm_start
        ends.close_producer()
        conn.send(("ok", put_ns, get_ns, warm_ns))
    except BaseException as e:
        bench.report_error(conn, e)
    finally:
        conn.close()


def run_trial(bench, alternatives, ctx, mode: str, elements: int, args) -> tuple:
    """One hand-over trial in fresh processes: (put ns, get ns, warm-up ns).
    ``bench`` provides pin, payload, stamp, verify, report_error, TrialError
    and supervise; ``args`` messages, warmup, placement and timeout."""
    messages, warmup = messages_for(elements, args.messages, args.warmup)
    recv, send = ctx.Pipe(duplex=False)
    ack_recv, ack_send = ctx.Pipe(duplex=False)
    ends = Ends(mode, ctx, alternatives)
    procs = [
        ctx.Process(target=consumer,
                    args=(bench, ends, elements, warmup + messages, args.placement, ack_send)),
        ctx.Process(target=producer,
                    args=(bench, ends, elements, messages, warmup, args.placement, args.timeout,
                          ack_recv, send)),
    ]
    try:
        return bench.supervise(procs, recv, send, args.timeout)
    finally:
        ack_recv.close()
        ack_send.close()
        if ends.q is not None and mode in ("ipcbench", "ipcbench-loan"):
            ends.q.close()
