"""ipcbench: a multiprocessing.Queue work-alike that hands numpy arrays (and any
picklable object) to other processes through a shared-memory queue.

numpy arrays of plain dtypes travel as their raw bytes plus a small header
(dtype, shape, memory order) and arrive as a new ndarray: C- and
Fortran-ordered arrays are copied once into shared memory and once out,
other layouts are made contiguous first (one more copy). Everything else,
including arrays of object or structured dtypes, goes through pickle
protocol 5 with out-of-band buffers, so arrays nested in other objects are
not copied into the pickle stream either.

The queue is a bounded multi-producer multi-consumer queue in one POSIX
shared-memory segment (see the shm-queue crate): a process killed while it
puts or gets loses at most the message it held, never the queue; such
losses are counted by ``Queue.lost()``.
"""

from __future__ import annotations

import pickle
import queue as _queue
from typing import Any

import numpy as np

from ipcbench._native import NativeQueue

__all__ = ["Queue", "Full", "Empty", "DEFAULT_CAPACITY_BYTES", "DEFAULT_SLOTS"]

Full = _queue.Full
Empty = _queue.Empty

#: Shared-memory bytes a queue reserves when ``capacity_bytes`` is not given.
#: The segment is sparse: memory is used only as far as messages fill it.
DEFAULT_CAPACITY_BYTES = 64 << 20
#: Slots (messages held at once) when ``maxsize`` is 0.
DEFAULT_SLOTS = 64

_ARRAY = 0
_PICKLE = 1


def _array_record(obj: np.ndarray) -> tuple[bytes, list[Any]] | None:
    """Header and parts for an ndarray sent raw, or None if it must be pickled."""
    dt = obj.dtype
    if dt.hasobject or dt.fields is not None or dt.subdtype is not None:
        return None
    if obj.flags.c_contiguous:
        order = "C"
    elif obj.flags.f_contiguous:
        order = "F"
    else:
        obj = np.ascontiguousarray(obj)
        order = "C"
    shape = ",".join(map(str, obj.shape))
    header = f"{dt.str};{shape};{order}".encode()
    # ravel(order="K") of a contiguous array is a view in memory order.
    flat = obj.ravel(order="K").view(np.uint8) if obj.size else np.empty(0, np.uint8)
    return header, [flat]


def _encode(obj: Any) -> tuple[int, bytes, list[Any]]:
    if type(obj) is np.ndarray:
        rec = _array_record(obj)
        if rec is not None:
            return _ARRAY, rec[0], rec[1]
    buffers: list[pickle.PickleBuffer] = []
    main = pickle.dumps(obj, protocol=5, buffer_callback=buffers.append)
    raws = [b.raw() for b in buffers]
    lengths = [len(main)] + [r.nbytes for r in raws]
    header = ",".join(map(str, lengths)).encode()
    return _PICKLE, header, [main, *raws]


def _decode(kind: int, header: bytes, payload: np.ndarray) -> Any:
    if kind == _ARRAY:
        dtype_str, shape_str, order = header.decode().split(";")
        dtype = np.dtype(dtype_str)
        shape = tuple(int(s) for s in shape_str.split(",")) if shape_str else ()
        if dtype.itemsize == 0 or payload.size == 0:
            return np.empty(shape, dtype=dtype, order=order)
        return payload.view(dtype).reshape(shape, order=order)
    if kind == _PICKLE:
        lengths = [int(n) for n in header.decode().split(",")]
        if sum(lengths) != payload.size:
            raise RuntimeError(
                f"corrupt ipcbench record: parts of {sum(lengths)} bytes in {payload.size}"
            )
        mem = memoryview(payload)
        offsets = np.cumsum([0] + lengths).tolist()
        parts = [mem[a:b] for a, b in zip(offsets, offsets[1:])]
        return pickle.loads(parts[0], buffers=parts[1:])
    raise RuntimeError(f"corrupt ipcbench record: unknown kind {kind}")


class Queue:
    """A process-shared FIFO queue with the interface of ``multiprocessing.Queue``.

    ``maxsize`` is the number of messages the queue holds at once (0 means
    the default of 64; the queue is always bounded). ``capacity_bytes`` is
    the shared memory it reserves, split evenly between the messages: one
    message may be at most ``capacity_bytes // slots`` bytes (a little less
    for its header), which ``max_message_bytes`` tells. A larger message
    raises ``ValueError`` naming both sizes, before anything is written.

    A queue can be passed to child processes under the fork, spawn and
    forkserver start methods (it pickles as the name of its segment and the
    child reopens it), as long as the process that created it keeps it open
    until the children have started. Waiting ``put``/``get`` calls release
    the GIL.
    """

    def __init__(self, maxsize: int = 0, capacity_bytes: int = DEFAULT_CAPACITY_BYTES):
        if maxsize < 0:
            raise ValueError(f"maxsize must be >= 0, not {maxsize}")
        slots = max(maxsize, 2) if maxsize else DEFAULT_SLOTS
        if capacity_bytes < slots:
            raise ValueError(
                f"capacity_bytes={capacity_bytes} is too small for {slots} messages"
            )
        self._maxsize = maxsize
        self._q: NativeQueue | None = NativeQueue(slots, capacity_bytes // slots)

    # -- pickling: by name, reopened in the receiving process ---------------
    def __getstate__(self) -> dict[str, Any]:
        q = self._live()
        return {"name": q.name, "maxsize": self._maxsize}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self._maxsize = state["maxsize"]
        self._q = NativeQueue.open(state["name"])

    def __repr__(self) -> str:
        name = self._q.name if self._q is not None else "closed"
        return f"<ipcbench.Queue {name}>"

    def _live(self) -> NativeQueue:
        if self._q is None:
            raise ValueError(f"Queue {self!r} is closed")
        return self._q

    @property
    def name(self) -> str:
        """The shared-memory segment's name."""
        return self._live().name

    @property
    def max_message_bytes(self) -> int:
        """Largest encoded message (header included) one slot holds."""
        return self._live().max_record

    def put(self, obj: Any, block: bool = True, timeout: float | None = None) -> None:
        """Put ``obj`` into the queue, waiting up to ``timeout`` seconds (forever
        if None) for a free slot when ``block`` is true; raises ``queue.Full``
        if none frees in time."""
        q = self._live()
        kind, header, parts = _encode(obj)
        q.put(kind, header, parts, _timeout(block, timeout))

    def get(self, block: bool = True, timeout: float | None = None) -> Any:
        """Remove and return the oldest message, waiting up to ``timeout``
        seconds (forever if None) when ``block`` is true; raises
        ``queue.Empty`` if none arrives in time."""
        q = self._live()
        kind, header, payload = q.get(_timeout(block, timeout))
        return _decode(kind, header, payload)

    def put_nowait(self, obj: Any) -> None:
        """``put(obj, False)``."""
        self.put(obj, False)

    def get_nowait(self) -> Any:
        """``get(False)``."""
        return self.get(False)

    def qsize(self) -> int:
        """Approximate number of messages waiting."""
        return self._live().qsize()

    def empty(self) -> bool:
        """Whether no message is waiting (approximate)."""
        return self.qsize() == 0

    def full(self) -> bool:
        """Whether every slot is taken (approximate)."""
        q = self._live()
        return q.qsize() >= q.capacity

    def lost(self) -> int:
        """Messages lost because a process was killed while it held them
        (mid-put or mid-get), counted across every process using the queue.
        Slots of dead holders are reclaimed by waiting calls on their own;
        call this after ``reclaim()`` for an up-to-date count."""
        return self._live().lost()

    def reclaim(self) -> int:
        """Free the slots of processes that died holding them now; returns
        how many were freed."""
        return self._live().reclaim()

    def close(self) -> None:
        """Close this handle: later calls on it raise ``ValueError``. Other
        handles (other processes) are unaffected; the segment's name is removed
        when the creating process's queue is closed or collected."""
        self._q = None

    def join_thread(self) -> None:
        """No-op, for ``multiprocessing.Queue`` compatibility (there is no
        feeder thread: ``put`` writes to shared memory directly)."""

    def cancel_join_thread(self) -> None:
        """No-op, for ``multiprocessing.Queue`` compatibility."""


def _timeout(block: bool, timeout: float | None) -> float | None:
    if not block:
        return 0.0
    if timeout is not None and timeout < 0:
        raise ValueError("'timeout' must be a non-negative number")
    return timeout
