"""What every part of the Python baseline shares: the payload and its
verification, CPU pinning, the one clock the two-process workloads read, and
the error a failed trial raises."""

from __future__ import annotations

import json
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


#: The environment variable through which ``cargo xtask`` hands over the CPUs
#: ipcbench's topology chose for ``split`` and ``same`` (the JSON of the
#: results' ``placement_cpus``), so the baseline runs on the same CPUs as the
#: Rust roles. Spawned workers inherit it.
CPUS_ENV = "IPCBENCH_PLACEMENT_CPUS"


class BadCpus(ValueError):
    """``IPCBENCH_PLACEMENT_CPUS`` does not name CPUs this process may use."""


def placement_cpus(environ: dict[str, str] | None = None) -> dict[str, Any]:
    """The CPUs ``split`` and ``same`` stand for: from ``CPUS_ENV`` when set
    (checked against the CPUs this process may run on), else CPUs 0/1 and 0
    with the reason in ``fallback``, as the Rust results record it."""
    raw = (os.environ if environ is None else environ).get(CPUS_ENV)
    if not raw:
        return {"split": [0, 1], "same": 0,
                "fallback": f"{CPUS_ENV} not set: CPUs 0/1 as in the notebook"}
    try:
        got = json.loads(raw)
        split = [int(c) for c in got["split"]]
        same = int(got["same"])
    except (ValueError, KeyError, TypeError) as e:
        raise BadCpus(f"{CPUS_ENV}={raw!r} is not the placement CPUs' JSON "
                      f'(expected e.g. {{"split": [0, 1], "same": 0}}): {e}') from None
    allowed = os.sched_getaffinity(0)
    bad = [c for c in [*split, same] if c not in allowed]
    if len(split) != 2 or split[0] == split[1] or bad:
        raise BadCpus(f"{CPUS_ENV}={raw!r}: split needs two distinct CPUs and every CPU must be "
                      f"one this process may use ({', '.join(map(str, sorted(allowed)))}); "
                      f"bad: {bad or split}")
    out = {"split": split, "same": same}
    if got.get("split_relation"):
        out["split_relation"] = str(got["split_relation"])
    return out


def cpus_for(placement: str, role: str, environ: dict[str, str] | None = None) -> set[int] | None:
    """The CPUs a role runs on: ``split`` puts the producer and the consumer
    on the two CPUs of :func:`placement_cpus` (0 and 1 unless ipcbench chose
    others), ``same`` both on its one CPU, ``none`` leaves the scheduler free.
    The in-process mode gets both split CPUs, so the queue's feeder thread can
    run beside the main thread as it could in the notebook."""
    if placement == "none":
        return None
    cpus = placement_cpus(environ)
    if placement == "same":
        return {cpus["same"]}
    a, b = cpus["split"]
    return {"producer": {a}, "consumer": {b}, "inproc": {a, b}}[role]


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
