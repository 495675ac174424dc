"""Ray as an alternative to ``multiprocessing.Queue`` (issue 13): the engine
users move to when they outgrow one machine, measured on the baseline's seed
and fanout workloads in the way Ray is used, not behind a queue interface.

Ray has no queue between two processes of the user's own: the process that
calls ``ray.init`` (the *driver*) starts Ray's own processes (GCS, raylet,
object store, and the worker processes that run actors), and arrays travel
as objects in Ray's shared-memory object store. So here:

- The **producer** is a driver process forked for the trial. It calls
  ``ray.init`` with a fresh temporary directory, then pins itself (after
  ``ray.init``: Ray's processes inherit the affinity of the process that
  starts them and must not inherit the producer's CPU) and starts the
  actors.
- The **consumer** (seed) and the **workers** (fanout) are long-lived Ray
  actors, each a worker process started by Ray's raylet. Ray places and
  schedules them; they are not pinned (they are not ours to pin).

seed: put = ``ray.put(array)`` plus ``actor.take.remote(ref)``, the two calls
a Ray producer makes to hand an array to a consumer (``.remote`` returns a
future at once; ``mp.Queue.put`` likewise returns once its feeder thread has
the object). get = from those calls' return to the actor's method holding
the array: Ray resolves the object reference passed as the argument (the
actor's ``ray.get``, zero-copy from the object store for numpy) before the
method runs, and the method's first act is the ``CLOCK_MONOTONIC``
timestamp. The actor verifies every element off the clock against its own
count (loss and reordering are caught) and returns ``(seq, timestamp)``: the
ack is the method's return value, which the driver waits for (``ray.get``)
before the next array, as the other alternatives wait for their ack queue.

fanout: N actors; the driver keeps N tasks in flight, one per actor, and
hands the next task to the actor whose return value (the ack) came back
first (``ray.wait``), so a free worker takes the next task as it would from
one shared queue. Latency = just before ``ray.put`` to the actor holding
the array; throughput and CPU as for the other alternatives. CPU counts the
driver and the actor processes (all their threads), not Ray's daemons.

Ray is started once per (trial, size) -- every trial of this baseline runs in
fresh processes -- and shut down at its end (``ray.init`` took ~2.8 s and
``ray.shutdown`` ~1.4 s here; 6.5-9.5 s a trial with the actors' start and
25 messages; ~9 minutes of a --full run, which runs Ray at placement split
only: long, not prohibitive, and no trial shares Ray's processes with
another). The driver
leads its own process group, which Ray's processes inherit; after every
trial, success or not, the parent kills what is left of that group (a driver
killed outright takes the raylet and GCS with it, but not Ray's dashboard
and runtime-env agents) and removes the temporary directory (session logs,
sockets). Once Ray runs, SIGTERM (a timeout) and
the parent's death (bench-all interrupted) make the driver shut Ray down
and remove the directory itself. Ray keeps ``~/.ray/auth_token``, which it
writes on the first start on a machine. Usage statistics are switched off.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import shutil
import signal
import tempfile
import time
from typing import Any, Iterator

import numpy as np

NAME = "ray"
#: The note every Ray cell carries (the report shows it as a footnote).
NOTE = (
    "Ray's processes (GCS, raylet, object store, the actors' worker processes) are started "
    "and scheduled by Ray and not pinned; only the driver (producer) is pinned to the "
    "placement's producer CPU. CPU per task counts the driver and the actors, not Ray's daemons"
)
HERE = os.path.dirname(os.path.abspath(__file__))


def run(ctx, driver, params: tuple, timeout: float, supervise) -> tuple:
    """Runs ``driver(*params, session directory, conn)`` in a fresh process
    under the caller's ``supervise`` and returns its result; afterwards no
    process of that Ray instance is left and its directory is gone."""
    recv, send = ctx.Pipe(duplex=False)
    with _session_dir() as d:
        proc = ctx.Process(target=driver, args=(*params, d, send))
        try:
            return supervise([proc], recv, send, timeout)
        finally:
            _reap(proc.pid)


def _reap(pgid: int | None) -> None:
    """Kills what is left of the driver's process group. ``ray.shutdown``
    stops everything, and a killed driver takes the raylet and GCS with it,
    but not their dashboard and runtime-env agents (which ignore SIGTERM)."""
    if pgid is None:
        return
    # Twice: a process the group was forking at the first kill may join it.
    for pause in (0.1, 0.0):
        try:
            os.killpg(pgid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            return
        time.sleep(pause)


@contextlib.contextmanager
def _session_dir() -> Iterator[str]:
    """A fresh directory for one Ray instance's session (logs, sockets),
    removed afterwards. Ray's processes may still be writing for a moment
    after they were killed: one retry."""
    d = tempfile.mkdtemp(prefix="ipcbench-ray-")
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)
        if os.path.exists(d):
            time.sleep(1.0)
            shutil.rmtree(d, ignore_errors=True)


def start(temp_dir: str):
    """Starts a private single-node Ray instance and returns the ray module.
    Called in the driver before it pins itself. The driver leads a process
    group of its own first, which Ray's processes inherit: what remains of it
    after the trial is killed by ``run``."""
    os.setpgid(0, 0)
    # Workers must import this module (the actor classes live here) and the
    # caller's helpers; they inherit the raylet's environment, which
    # inherits the driver's.
    path = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = HERE + (os.pathsep + path if path else "")
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    import ray

    ray.init(
        _temp_dir=temp_dir,
        include_dashboard=False,
        log_to_driver=False,
        logging_level=logging.ERROR,
    )
    _stop_on_term()
    return ray


def _stop_on_term() -> None:
    """Makes SIGTERM (a trial's timeout) and the parent's death (bench-all
    interrupted) end the driver through its ``finally``, which shuts Ray down
    and removes the session directory: killed outright, the driver would
    leave Ray's agents running and, with no parent left, the directory.
    SIGALRM ends a shutdown that takes longer than 10 s."""

    def terminated(signum, _frame):
        signal.alarm(10)
        raise SystemExit(f"stopped by signal {signum}")

    signal.signal(signal.SIGTERM, terminated)
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    parent = multiprocessing.parent_process()
    if parent is not None and os.getppid() != parent.pid:  # it died before prctl
        os.kill(os.getpid(), signal.SIGTERM)


def stop(ray, temp_dir: str) -> None:
    """Shuts Ray down and removes its session directory (the parent does too,
    unless it is gone)."""
    ray.shutdown()
    shutil.rmtree(temp_dir, ignore_errors=True)


class Consumer:
    """The seed consumer actor: takes array after array, in order."""

    def __init__(self, elements: int, payload, verify):
        self.base = payload(elements)
        self.verify = verify
        self.next = 0

    def ready(self) -> int:
        return os.getpid()

    def take(self, arr: np.ndarray) -> tuple[Any, Any]:
        t = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
        seq = self.next
        self.next += 1
        err = self.verify(arr, self.base, seq)
        return ("error", f"consumer: {err}") if err else (seq, t)


class Worker:
    """A fanout worker actor: takes whichever task it is handed."""

    def __init__(self, wid: int, elements: int, warmup: int, payload, verify):
        self.wid = wid
        self.base = payload(elements)
        self.verify = verify
        self.warmup = warmup
        self.cpu0: int | None = None
        self.measured = 0

    def ready(self) -> int:
        return os.getpid()

    def take(self, arr: np.ndarray) -> tuple[Any, Any]:
        t = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
        seq = int(arr[0]) if isinstance(arr, np.ndarray) and arr.size else -1
        err = self.verify(arr, self.base, seq)
        if err:
            return ("error", f"worker {self.wid}: {err}")
        if seq >= self.warmup:
            if self.cpu0 is None:
                self.cpu0 = time.process_time_ns()
            self.measured += 1
        return (seq, t)

    def cpu(self) -> tuple[int, int]:
        """CPU time since the first measured task, and tasks measured."""
        return (time.process_time_ns() - self.cpu0 if self.cpu0 is not None else 0, self.measured)


def _ack(ray, ref, stall_s: float, what: str):
    try:
        return ray.get(ref, timeout=stall_s)
    except ray.exceptions.GetTimeoutError:
        raise TimeoutError(f"{what}: no answer within {stall_s:g} s") from None


def seed_driver(
    bench, elements: int, messages: int, warmup: int, placement: str, stall_s: float,
    temp_dir: str, conn,
) -> None:
    """The producer of one seed trial (a child process); ``bench`` is the
    calling mpqueue_workloads module (passed, not imported: it imports this
    one). Sends ``("ok", put ns, get ns, warm-up ns)``."""
    try:
        ray = start(temp_dir)
        try:
            bench.pin(placement, "producer")
            actor = ray.remote(Consumer).remote(elements, bench.payload, bench.verify)
            _ack(ray, actor.ready.remote(), stall_s, "starting the consumer actor")
            # The task holds the object's reference; the returned one is the ack.
            put_ns, get_ns, warm_ns = bench.lockstep(
                lambda buf: actor.take.remote(ray.put(buf)),
                lambda i, out: _ack(ray, out, stall_s, f"message {i}"),
                elements, messages, warmup)
        finally:
            stop(ray, temp_dir)
        conn.send(("ok", put_ns, get_ns, warm_ns))
    except BaseException as e:
        bench.report_error(conn, e)
    finally:
        conn.close()


def fanout_driver(
    bench, elements: int, workers: int, messages: int, warmup: int, placement: str,
    stall_s: float, min_ms: float, temp_dir: str, conn,
) -> None:
    """The producer of one fanout trial (a child process). Sends ``("ok",
    latencies ns, tasks/s, producer CPU ns per task, workers' CPU ns per
    task)``."""
    try:
        ray = start(temp_dir)
        try:
            bench.pin(placement, "producer")
            cls = ray.remote(Worker)
            actors = [cls.remote(w, elements, warmup, bench.payload, bench.verify) for w in range(workers)]
            _ack(ray, [a.ready.remote() for a in actors], stall_s, "starting the worker actors")
            result = _fanout(ray, bench, actors, elements, messages, warmup, stall_s, min_ms)
        finally:
            stop(ray, temp_dir)
        conn.send(("ok", *result))
    except BaseException as e:
        bench.report_error(conn, e)
    finally:
        conn.close()


def _fanout(ray, bench, actors, elements, messages, warmup, stall_s, min_ms):
    """Runs the warm-up and the measured tasks, N in flight; (latencies,
    rate, producer CPU ns per task, workers' CPU ns per task)."""
    # One buffer is enough: ray.put has copied it into the object store
    # when it returns.
    buf = bench.payload(elements)
    idle = list(actors)
    pending: dict[Any, tuple[int, Any]] = {}
    clock = time.clock_gettime_ns
    mono = time.CLOCK_MONOTONIC

    def put(seq: int) -> int:
        actor = idle.pop()
        bench.stamp(buf, seq)
        t0 = clock(mono)
        pending[actor.take.remote(ray.put(buf))] = (seq, actor)
        return t0

    def ack(in_flight: dict[int, int]) -> tuple[int, int, int]:
        done, _ = ray.wait(list(pending), num_returns=1, timeout=stall_s)
        if not done:
            raise bench.TrialError(f"no ack within {stall_s:g} s with {len(in_flight)} tasks in flight")
        arrived = clock(mono)
        sent, actor = pending.pop(done[0])
        seq, t = ray.get(done[0])
        if seq == "error":
            raise bench.TrialError(str(t))
        if seq != sent:
            raise bench.TrialError(f"task {sent}: ack for task {seq}")
        idle.append(actor)
        return seq, t, arrived

    latency, rate, cpu = bench.keep_in_flight(put, ack, lambda: bool(idle), messages, warmup, min_ms)
    worker_cpu = sum(ns for ns, _ in _ack(ray, [a.cpu.remote() for a in actors], stall_s, "worker CPU"))
    return latency, rate, cpu, worker_cpu / len(latency)
