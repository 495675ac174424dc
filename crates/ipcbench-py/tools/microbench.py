"""Per-call microbenchmark of ipcbench.Queue: one process, put then get on
one queue, no hand-over between processes (so no wake-up, no second core).
It measures the binding's own cost per call (Python and native), not a
transport: the fanout and seed cells of `cargo xtask bench-all` measure that.

Two figures per message type, each the minimum over repeats (the machine is
shared; the minimum is the least disturbed run):
- put / get: batches of 32 puts then 32 gets, each batch timed with
  perf_counter_ns, mean per call;
- pair: timeit of one put followed by one get.

    python tools/microbench.py            # the installed ipcbench
"""

from __future__ import annotations

import time
import timeit

import numpy as np

import ipcbench

REPEATS = 15


def batched(q: ipcbench.Queue, obj: object, batches: int = 400, batch: int = 32) -> tuple[float, float]:
    pc = time.perf_counter_ns
    put, get = q.put, q.get
    best_put = best_get = float("inf")
    for _ in range(REPEATS):
        tp = tg = 0
        for _ in range(batches):
            t0 = pc()
            for _ in range(batch):
                put(obj)
            t1 = pc()
            for _ in range(batch):
                get()
            t2 = pc()
            tp += t1 - t0
            tg += t2 - t1
        n = batches * batch
        best_put = min(best_put, tp / n / 1e3)
        best_get = min(best_get, tg / n / 1e3)
    return best_put, best_get


def pair(q: ipcbench.Queue, obj: object, number: int = 20_000) -> float:
    put, get = q.put, q.get
    times = timeit.repeat(lambda: (put(obj), get()), number=number, repeat=REPEATS)
    return min(times) / number * 1e6


def main() -> None:
    q = ipcbench.Queue()
    cases = {
        "int64[100] (800 B)": np.arange(100, dtype=np.int64),
        "(seq, t) tuple": (12345, time.monotonic_ns()),
        "float32[10,10] F order": np.asfortranarray(np.ones((10, 10), np.float32)),
        "dict with an int64[100]": {"a": np.arange(100)},
    }
    print(f"ipcbench from {ipcbench.__file__}")
    print(f"{'message':26s} {'put':>8s} {'get':>8s} {'pair':>8s}  (µs per call, min of {REPEATS})")
    for name, obj in cases.items():
        p, g = batched(q, obj)
        print(f"{name:26s} {p:8.2f} {g:8.2f} {pair(q, obj):8.2f}")


if __name__ == "__main__":
    main()
