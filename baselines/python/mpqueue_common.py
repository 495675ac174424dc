"""What every part of the Python baseline shares: the payload and its
verification, CPU pinning, the one clock the two-process workloads read, and
the error a failed trial raises."""

from __future__ import annotations

import os
import time
from typing import Any

import numpy as np

#: The clock of every two-process measurement, read as ``clock(MONO)``:
#: CLOCK_MONOTONIC, the clock ipcbench's Rust roles read, so a timestamp
#: taken in one process can be compared with one taken in another.
clock = time.clock_gettime_ns
MONO = time.CLOCK_MONOTONIC


class TrialError(Exception):
    """A trial that did not deliver every message intact."""


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
