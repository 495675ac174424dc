"""The queues the Python baseline compares, behind one small interface:
``put(obj)``, ``get(timeout=None)`` (raising ``queue.Empty`` on timeout),
``close()`` and ``join_thread()`` -- what ``multiprocessing.Queue`` offers, so
the workloads in mpqueue_workloads.py run unchanged on each.

Every queue is created in the parent before the worker processes fork and is
used from the children (the baseline uses the fork start method). ``role``
says who binds where it matters: ``"task"`` (one putter, one or more
getters) or ``"ack"`` (one or more putters, one getter).

Names (each is a transport name in the JSON):

- ``mp-queue``: ``multiprocessing.Queue`` (feeder thread, pickle).
- ``simple-queue``: ``multiprocessing.SimpleQueue`` (pickle, written in the
  caller's thread; no feeder thread).
- ``pipe``: ``multiprocessing.Pipe`` connections, with a lock per side when
  several processes share it (as ``mp.Queue`` does).
- ``faster-fifo``: ``faster_fifo.Queue`` (a C ring in shared memory; pickle).
- ``zmq``: pyzmq PUSH/PULL over ``ipc://``; arrays as a header frame plus the
  array's memory sent with ``copy=False`` and received as a view of the frame.
  PUSH deals messages round-robin to connected PULL peers.
- ``shared-memory``: each array copied into a fresh
  ``multiprocessing.shared_memory.SharedMemory`` block whose name travels on
  an ``mp.Queue``; the receiver copies it out and unlinks the block.
- ``ipcbench``: ``ipcbench.Queue`` (this repository's crates/ipcbench-py), as
  a new user makes it (``ipcbench.Queue()``): a message up to 64 KiB is copied
  through a slot, a larger one into a pooled shared-memory block and received
  as a view of it.

Opt-in (``OPT_IN``: accepted by ``--modes`` and ``--fanout-modes`` but not
part of ``all``): ``ray``, ``ray.put`` to long-lived Ray actors. Ray is no
queue between the user's own processes, so it is not made here but run its
own way by ray_alternative.py.
"""

from __future__ import annotations

import importlib.util
import itertools
import os
import pickle
import queue
import tempfile
from typing import Any

import numpy as np

NAMES = ("mp-queue", "simple-queue", "pipe", "faster-fifo", "zmq", "shared-memory", "ipcbench")
#: Names whose put then get in one process cannot deadlock on a full pipe.
INPROC = ("mp-queue", "faster-fifo", "zmq", "shared-memory", "ipcbench")
#: Names that can feed one shared task queue to N workers. Not zmq: PUSH deals
#: only to peers already connected, so tasks and the closing sentinels can
#: all go to the workers that connected first and leave a late one waiting
#: forever; a fair zmq fanout would need a ready handshake per worker.
FANOUT = ("mp-queue", "simple-queue", "pipe", "faster-fifo", "shared-memory", "ipcbench")
#: Alternatives run only when named (not in ``all``): Ray, which bench-all
#: installs and measures in --full runs only (see ray_alternative.py).
OPT_IN = ("ray",)
#: Longest wait faster-fifo accepts without overflowing (its default is 10 s).
FOREVER = 3600.0
#: Bytes faster-fifo's buffer is sized for (far above the largest message).
CAPACITY = 64 << 20


def missing(name: str) -> str | None:
    """Why ``name`` cannot run here (a package is not installed), or None."""
    if name == "ray":
        # Found, not imported: importing ray takes ~0.5 s, and this process
        # forks every trial.
        return None if importlib.util.find_spec("ray") else "ray: No module named 'ray'"
    module = {"faster-fifo": "faster_fifo", "zmq": "zmq", "ipcbench": "ipcbench"}.get(name)
    if module is None:
        return None
    try:
        __import__(module)
    except ImportError as e:
        return f"{name}: {e}"
    return None


def make(name: str, ctx, role: str = "task", shared: bool = False, inproc: bool = False):
    """A queue of kind ``name`` made with multiprocessing context ``ctx``;
    ``shared``: several processes use one side; ``inproc``: one process puts
    and gets."""
    if name == "mp-queue":
        return ctx.Queue()
    if name == "simple-queue":
        return SimpleQueue(ctx)
    if name == "pipe":
        return PipeQueue(ctx, shared)
    if name == "faster-fifo":
        return FasterFifo()
    if name == "zmq":
        return ZmqQueue("put" if role == "task" else "get", eager=inproc)
    if name == "shared-memory":
        return SharedMemoryQueue(ctx)
    if name == "ipcbench":
        import ipcbench

        return ipcbench.Queue()
    raise ValueError(f"unknown queue {name!r}: choose from {', '.join(NAMES)}")


class _NoThread:
    def close(self) -> None:
        pass

    def join_thread(self) -> None:
        pass


class SimpleQueue(_NoThread):
    def __init__(self, ctx):
        self.q = ctx.SimpleQueue()

    def put(self, obj: Any) -> None:
        self.q.put(obj)

    def get(self, timeout: float | None = None) -> Any:
        # SimpleQueue.get has no timeout; polling its pipe gives one (used
        # only by single readers here).
        if timeout is not None and not self.q._reader.poll(timeout):
            raise queue.Empty
        return self.q.get()


class PipeQueue(_NoThread):
    def __init__(self, ctx, shared: bool):
        self.r, self.w = ctx.Pipe(duplex=False)
        self.rlock = ctx.Lock() if shared else None
        self.wlock = ctx.Lock() if shared else None

    def put(self, obj: Any) -> None:
        if self.wlock is None:
            self.w.send(obj)
        else:
            with self.wlock:
                self.w.send(obj)

    def _get(self, timeout: float | None) -> Any:
        if timeout is not None and not self.r.poll(timeout):
            raise queue.Empty
        return self.r.recv()

    def get(self, timeout: float | None = None) -> Any:
        if self.rlock is None:
            return self._get(timeout)
        with self.rlock:
            return self._get(timeout)


class FasterFifo(_NoThread):
    def __init__(self):
        import faster_fifo

        self.q = faster_fifo.Queue(max_size_bytes=CAPACITY)

    def put(self, obj: Any) -> None:
        self.q.put(obj, timeout=FOREVER)

    def get(self, timeout: float | None = None) -> Any:
        # With several readers faster-fifo's get can raise Empty before its
        # timeout when another reader took the message it woke up for:
        # retry until our own deadline.
        import time

        end = None if timeout is None else time.monotonic() + timeout
        while True:
            left = FOREVER if end is None else max(end - time.monotonic(), 0.0)
            try:
                return self.q.get(timeout=left)
            except queue.Empty:
                if end is not None and time.monotonic() >= end:
                    raise


_counter = itertools.count()
#: (directory, creating pid) of the zmq socket files of this run.
_zmq_dir: tuple[str, int] | None = None


def _zmq_path() -> str:
    """A fresh socket path in a directory the creating process removes at
    exit (worker processes end with os._exit and run no cleanup)."""
    global _zmq_dir
    if _zmq_dir is None or _zmq_dir[1] != os.getpid():
        import atexit
        import shutil

        _zmq_dir = (tempfile.mkdtemp(prefix="ipcbench-zmq-"), os.getpid())
        d, pid = _zmq_dir
        atexit.register(lambda: os.getpid() == pid and shutil.rmtree(d, ignore_errors=True))
    return os.path.join(_zmq_dir[0], f"q{next(_counter)}")


class ZmqQueue:
    """One PUSH/PULL pair; sockets are made lazily in the process that uses
    them (a zmq context must not cross a fork). The single side binds."""

    def __init__(self, bind_side: str, eager: bool = False):
        self.path = _zmq_path()
        self.addr = "ipc://" + self.path
        self.bind_side = bind_side
        # One process using both ends: make both at once, or the first put
        # would wait forever for a peer that its own later get would create.
        self.eager = eager
        self.socks: dict[tuple[int, str], Any] = {}
        self.ctx = None
        self.ctx_pid = None

    def _sock(self, side: str):
        import zmq

        key = (os.getpid(), side)
        s = self.socks.get(key)
        if s is None:
            if self.ctx_pid != os.getpid():
                self.ctx, self.ctx_pid = zmq.Context(), os.getpid()
            s = self.ctx.socket(zmq.PUSH if side == "put" else zmq.PULL)
            s.setsockopt(zmq.LINGER, 2000)
            if side == self.bind_side:
                s.bind(self.addr)
            else:
                # Connecting before the peer has bound sometimes never
                # completes here: wait (bounded) for its socket file.
                import time

                end = time.monotonic() + 30
                while not os.path.exists(self.path) and time.monotonic() < end:
                    time.sleep(0.001)
                s.connect(self.addr)
            self.socks[key] = s
            if self.eager:
                self._sock("get" if side == "put" else "put")
        return s

    def put(self, obj: Any) -> None:
        s = self._sock("put")
        if type(obj) is np.ndarray and obj.flags.c_contiguous and not obj.dtype.hasobject:
            s.send_multipart([pickle.dumps((obj.dtype.str, obj.shape)), obj], copy=False)
        else:
            s.send_multipart([b"p", pickle.dumps(obj, protocol=5)], copy=False)

    def get(self, timeout: float | None = None) -> Any:
        s = self._sock("get")
        if timeout is not None and not s.poll(timeout * 1000):
            raise queue.Empty
        head, body = s.recv_multipart(copy=False)
        hb = head.bytes
        if hb == b"p":
            return pickle.loads(body.buffer)
        dtype, shape = pickle.loads(hb)
        # A view of the received frame: no copy.
        return np.frombuffer(body.buffer, dtype=dtype).reshape(shape)

    def close(self) -> None:
        """Closes this process's sockets and waits (up to the linger time)
        until what they queued is delivered: the process may end with
        os._exit next, which would drop it."""
        pid = os.getpid()
        for (p, side), s in list(self.socks.items()):
            if p == pid:
                s.close()
                del self.socks[(p, side)]
                if side == self.bind_side:
                    try:
                        os.unlink(self.path)
                    except OSError:
                        pass
        if self.ctx is not None and self.ctx_pid == pid:
            self.ctx.term()
            self.ctx = None
        if _zmq_dir is not None and _zmq_dir[1] == pid:
            # A directory this process made (the one-process mode): remove
            # it once empty; it would outlive an os._exit.
            try:
                os.rmdir(_zmq_dir[0])
            except OSError:
                pass

    def join_thread(self) -> None:
        pass


class SharedMemoryQueue(_NoThread):
    """Arrays through fresh shared-memory blocks, names through an mp.Queue."""

    def __init__(self, ctx):
        self.q = ctx.Queue()

    def put(self, obj: Any) -> None:
        from multiprocessing import resource_tracker
        from multiprocessing.shared_memory import SharedMemory

        if type(obj) is not np.ndarray or obj.dtype.hasobject:
            self.q.put(("obj", obj))
            return
        shm = SharedMemory(create=True, size=max(obj.nbytes, 1))
        # The receiver unlinks the block (and its own registration does the
        # tracker's bookkeeping); ours would report it as leaked.
        resource_tracker.unregister(shm._name, "shared_memory")
        np.ndarray(obj.shape, obj.dtype, buffer=shm.buf)[...] = obj
        name = shm.name
        shm.close()
        self.q.put(("shm", name, obj.dtype.str, obj.shape))

    def get(self, timeout: float | None = None) -> Any:
        from multiprocessing.shared_memory import SharedMemory

        msg = self.q.get(timeout=timeout)
        if msg[0] == "obj":
            return msg[1]
        _, name, dtype, shape = msg
        shm = SharedMemory(name=name)
        arr = np.ndarray(shape, dtype, buffer=shm.buf).copy()
        shm.close()
        shm.unlink()
        return arr

    def close(self) -> None:
        self.q.close()

    def join_thread(self) -> None:
        self.q.join_thread()
