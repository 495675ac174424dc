"""ipcbench: a multiprocessing.Queue work-alike that hands numpy arrays (and any
picklable object) to other processes through shared memory.

numpy arrays of plain dtypes travel as their raw bytes plus a small header
(dtype, shape, memory order). Other layouts are made contiguous first (one
more copy). Everything else, including arrays of object or structured
dtypes, goes through pickle protocol 5 with out-of-band buffers, so arrays
nested in other objects are not copied into the pickle stream either.

Any size goes, as with multiprocessing.Queue:

- A message that fits a slot (``max_message_bytes``, 64 KiB by default) is
  copied into the slot and out of it into a new array.
- A larger one goes *out of line*: its bytes are copied once into a
  shared-memory block taken from the queue's pool (blocks are reused), the
  slot carries a reference, and ``get()`` returns an array **viewing the
  block, without a copy**. That array is writable and its own (the block is
  handed over: nobody else writes it, and it is not reused while the array
  or any view of it lives); its ``base`` chain ends in an
  ``ipcbench._native.Block``, and the block returns to the pool when the
  last view is collected. Pickling the array, or putting it into any queue,
  copies its data like any array's. It stays valid after its queue is
  closed.
- ``Queue.array(shape, dtype)`` lends an array in the queue's own memory:
  fill it and ``put`` it, and the block is sent by reference (no copy at
  all). See ``Queue.array`` for what using it after ``put`` does.

The bound is a count of messages (``maxsize``): arrays a consumer keeps are
outside it, so a consumer holding many never blocks a producer. Shared
memory grows with the messages in flight and the arrays held, and shrinks
back (a couple of free blocks per size are kept) as they are collected. The
space for a block is reserved before anything is written: a /dev/shm too
small is an ``OSError`` naming the size and what is free, never a SIGBUS.

The queue is a bounded multi-producer multi-consumer queue in POSIX shared
memory (see the shm-queue crate): a process killed while it puts or gets
loses at most the message it held, never the queue; such losses are counted
by ``Queue.lost()``. Blocks a killed process held (mid-fill, or received
arrays) are reclaimed; the creator's ``close()`` removes every name from
/dev/shm. ``JoinableQueue`` and ``SimpleQueue`` complete the family.
"""

from __future__ import annotations

import math
import operator
import pickle
import queue as _queue
from typing import Any

import numpy as np

from ipcbench._native import NativeQueue

__all__ = [
    "Queue",
    "JoinableQueue",
    "SimpleQueue",
    "Full",
    "Empty",
    "DEFAULT_CAPACITY_BYTES",
    "DEFAULT_SLOT_BYTES",
    "DEFAULT_SLOTS",
]

Full = _queue.Full
Empty = _queue.Empty

#: Bytes of a slot when ``capacity_bytes`` is not given: larger messages go
#: out of line (a block of the pool, received without a copy).
DEFAULT_SLOT_BYTES = 64 << 10
#: Slots (messages held at once) when ``maxsize`` is 0.
DEFAULT_SLOTS = 64
#: Slot memory of a queue of ``DEFAULT_SLOTS`` slots by default. The segment
#: is sparse: memory is used only as far as messages fill it.
DEFAULT_CAPACITY_BYTES = DEFAULT_SLOTS * DEFAULT_SLOT_BYTES

#: Record kinds (the native side's opaque byte; ``NativeQueue.as_bytes``
#: asks it to hand the payload over as ``bytes`` rather than a uint8 array).
_ARRAY = 0  # raw ndarray; header "dtype;shape;order"
_PICKLE = 1  # pickle with out-of-band buffers; header "len,len,..."
_PICKLE_INBAND = 2 | NativeQueue.as_bytes  # pickle, no buffers; empty header

#: Most entries each header cache holds: a program sends few distinct
#: (dtype, shape, order) combinations; one that sends many pays the parse
#: for the oldest again, never unbounded memory.
_CACHE_MAX = 256
#: (dtype, shape, order) -> header, for arrays sent raw.
_HEADERS: dict[tuple[np.dtype, tuple[int, ...], str], bytes] = {}
#: header -> (dtype, shape, order, nbytes), for arrays received.
_SPECS: dict[bytes, tuple[np.dtype, tuple[int, ...], str, int]] = {}


def _remember(cache: dict, key: Any, value: Any) -> None:
    if len(cache) >= _CACHE_MAX:
        del cache[next(iter(cache))]  # the oldest entry
    cache[key] = value


def _raw_dtype(dt: np.dtype) -> bool:
    """Whether arrays of ``dt`` travel as raw bytes (else pickled)."""
    return not (dt.hasobject or dt.fields is not None or dt.subdtype is not None)


def _array_record(obj: np.ndarray) -> tuple[bytes, np.ndarray] | None:
    """Header and the (contiguous) array to send raw, or None if it must be
    pickled; caches the header."""
    dt = obj.dtype
    if not _raw_dtype(dt):
        return None
    flags = obj.flags
    if flags.c_contiguous:
        order = "C"
    elif flags.f_contiguous:
        order = "F"
    else:
        obj = np.ascontiguousarray(obj)
        order = "C"
    shape = ",".join(map(str, obj.shape))
    header = f"{dt.str};{shape};{order}".encode()
    _remember(_HEADERS, (dt, obj.shape, order), header)
    return header, obj


def _array_spec(header: bytes, queue: str) -> tuple[np.dtype, tuple[int, ...], str, int]:
    """Parses (and caches) a raw array's header; RuntimeError naming the
    queue if it is not one we write."""
    try:
        dtype_str, shape_str, order = header.decode().split(";")
        dtype = np.dtype(dtype_str)
        shape = tuple(int(s) for s in shape_str.split(",")) if shape_str else ()
        if order not in ("C", "F") or not _raw_dtype(dtype) or min(shape, default=0) < 0:
            raise ValueError(f"not a raw array header: {header!r}")
        nbytes = dtype.itemsize * math.prod(shape)
    except (ValueError, TypeError, UnicodeDecodeError, OverflowError) as e:
        raise RuntimeError(
            f"corrupt ipcbench record in queue {queue}: bad array header {header[:80]!r} ({e})"
        ) from None
    spec = (dtype, shape, order, nbytes)
    _remember(_SPECS, header, spec)
    return spec


def _pickled(main: bytes, buffers: list[pickle.PickleBuffer]) -> tuple[bytes, tuple[Any, ...]]:
    """Header and parts of a pickle with out-of-band buffers."""
    raws = [b.raw() for b in buffers]
    lengths = [len(main)] + [r.nbytes for r in raws]
    return ",".join(map(str, lengths)).encode(), (main, *raws)


def _decode(kind: int, header: bytes, payload: Any, q: NativeQueue) -> Any:
    """The object a record holds (the slow paths of ``Queue.get``)."""
    if kind == _PICKLE_INBAND:
        return pickle.loads(payload)
    if kind == _ARRAY:
        spec = _SPECS.get(header) or _array_spec(header, q.name)
        if payload.base is None:
            # Copied out of a slot (a block's view has its Block as base):
            # the native side builds the next arrays of this header itself.
            q.remember_spec(header, spec[0], spec[1], spec[2] == "F")
        return _array(spec, payload, q)
    if kind == _PICKLE:
        try:
            lengths = [int(n) for n in header.decode().split(",")]
        except (ValueError, UnicodeDecodeError):
            lengths = [-1]
        if min(lengths) < 0 or sum(lengths) != payload.size:
            raise RuntimeError(
                f"corrupt ipcbench record in queue {q.name}: parts {header[:80]!r} "
                f"in {payload.size} bytes"
            )
        mem = memoryview(payload)
        parts = []
        at = 0
        for n in lengths:
            parts.append(mem[at : at + n])
            at += n
        return pickle.loads(parts[0], buffers=parts[1:])
    raise RuntimeError(f"corrupt ipcbench record in queue {q.name}: unknown kind {kind}")


def _array(
    spec: tuple[np.dtype, tuple[int, ...], str, int], payload: np.ndarray, q: NativeQueue
) -> np.ndarray:
    """The array a raw record holds (a view of its payload)."""
    dtype, shape, order, nbytes = spec
    if payload.size != nbytes:
        raise RuntimeError(
            f"corrupt ipcbench record in queue {q.name}: array of {nbytes} bytes "
            f"({dtype.str}, shape {shape}) in {payload.size}"
        )
    if nbytes == 0:
        return np.empty(shape, dtype=dtype, order=order)
    if len(shape) == 1:
        return payload.view(dtype)  # already (n,)
    # A view of the payload (it owns its memory), in one call: half the cost
    # of view(dtype).reshape(shape, order=order).
    return np.ndarray(shape, dtype, payload, 0, None, order)


class Queue:
    """A process-shared FIFO queue with the interface of ``multiprocessing.Queue``.

    ``maxsize`` is the number of messages the queue holds at once (0 means
    the default of 64; the queue is always bounded). ``capacity_bytes`` is
    the slot memory, split evenly between the slots (by default
    ``DEFAULT_SLOT_BYTES`` each): a message up to ``max_message_bytes`` is
    copied through its slot, a larger one goes out of line (see the module
    doc), so any size is accepted.

    A queue can be passed to child processes under the fork, spawn and
    forkserver start methods (it pickles as the name of its segment and the
    child reopens it), as long as the process that created it keeps it open
    until the children have started. Waiting ``put``/``get`` calls release
    the GIL.
    """

    def __init__(self, maxsize: int = 0, capacity_bytes: int | None = None):
        if maxsize < 0:
            raise ValueError(f"maxsize must be >= 0, not {maxsize}")
        slots = max(maxsize, 2) if maxsize else DEFAULT_SLOTS
        if capacity_bytes is None:
            capacity_bytes = slots * DEFAULT_SLOT_BYTES
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

    def array(
        self, shape: int | tuple[int, ...], dtype: Any = float, order: str = "C"
    ) -> np.ndarray:
        """A new uninitialised array lent from the queue's shared memory: fill
        it, then ``put`` it and its block is sent by reference, with no copy.

        Only an array larger than a slot is lent (a smaller one, or one of an
        object or structured dtype, is a plain ``np.empty``, copied by
        ``put`` as any array). What is sent is the whole loan: ``put`` of the
        returned array, or of any contiguous view of all of it (reshaped,
        transposed); a part of it is copied. After ``put`` the array is made
        read-only; a loan is put once (a second ``put`` raises
        ``ValueError``). Views taken before ``put`` still see (and could
        change) the message's memory, but only that message's: the block is
        not reused until both the consumer's array and the loan are
        collected. A loan never put is returned to the pool when collected.
        """
        q = self._live()
        dt = np.dtype(dtype)
        try:
            dims: tuple[int, ...] = (operator.index(shape),)  # an int, numpy's too
        except TypeError:
            dims = tuple(operator.index(n) for n in shape)
        if order not in ("C", "F"):
            raise ValueError(f"order must be 'C' or 'F', not {order!r}")
        if min(dims, default=0) < 0:
            raise ValueError(f"negative dimensions are not allowed: {dims}")
        nbytes = dt.itemsize * math.prod(dims)
        if not _raw_dtype(dt) or nbytes <= q.max_record - q.prefix:
            return np.empty(dims, dt, order=order)
        return np.ndarray(dims, dt, q.loan(nbytes), 0, None, order)

    def put(self, obj: Any, block: bool = True, timeout: float | None = None) -> None:
        """Put ``obj`` into the queue, waiting up to ``timeout`` seconds (forever
        if None) for a free slot when ``block`` is true; raises ``queue.Full``
        if none frees in time. ``obj`` is copied (or pickled) before ``put``
        returns, so the caller may change it afterwards; a loan from
        ``array()`` is sent by reference instead."""
        # The checks of _live() and the timeout are written out here and in
        # get(): a helper call per message costs ~0.1 µs of ~0.5 µs.
        q = self._q
        if q is None:
            raise ValueError(f"Queue {self!r} is closed")
        if not block:
            timeout = 0.0
        elif timeout is not None and timeout < 0:
            raise ValueError("'timeout' must be a non-negative number")
        if type(obj) is np.ndarray:
            # The common case in one native call: the native side knows the
            # header of arrays of this dtype, shape and (contiguous) order
            # and writes the array itself. Else the header is made here once
            # and handed down with the array, and remembered there.
            if q.put_array(obj, timeout):
                return
            rec = _array_record(obj)
            if rec is not None:
                q.put_array(rec[1], timeout, rec[0])
                return
        buffers: list[pickle.PickleBuffer] = []
        main = pickle.dumps(obj, protocol=5, buffer_callback=buffers.append)
        if not buffers:
            q.put(_PICKLE_INBAND, b"", (main,), timeout)
            return
        header, parts = _pickled(main, buffers)
        q.put(_PICKLE, header, parts, timeout)

    def get(self, block: bool = True, timeout: float | None = None) -> Any:
        """Remove and return the oldest message, waiting up to ``timeout``
        seconds (forever if None) when ``block`` is true; raises
        ``queue.Empty`` if none arrives in time."""
        q = self._q
        if q is None:
            raise ValueError(f"Queue {self!r} is closed")
        if not block:
            timeout = 0.0
        elif timeout is not None and timeout < 0:
            raise ValueError("'timeout' must be a non-negative number")
        # A raw array whose header the native side has been told about comes
        # back finished; anything else as (kind, header, payload).
        got = q.get_any(timeout)
        if type(got) is not tuple:
            return got
        kind, header, payload = got
        if kind == _PICKLE_INBAND:
            return pickle.loads(payload)
        return _decode(kind, header, payload, q)

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
        """Free the slots and blocks of processes that died holding them now;
        returns how many were freed."""
        return self._live().reclaim()

    def blocks(self) -> tuple[int, int]:
        """Out-of-line blocks the queue has now (in flight, held, or free for
        reuse) and their bytes."""
        return self._live().pool_blocks()

    def close(self) -> None:
        """Close this handle: later calls on it raise ``ValueError``. Other
        handles (other processes) are unaffected; the names in /dev/shm
        (slots, blocks) are removed when the creating process's queue is
        closed or collected. Arrays already received stay valid."""
        self._q = None

    def join_thread(self) -> None:
        """No-op, for ``multiprocessing.Queue`` compatibility (there is no
        feeder thread: ``put`` writes to shared memory directly)."""

    def cancel_join_thread(self) -> None:
        """No-op, for ``multiprocessing.Queue`` compatibility."""



class JoinableQueue(Queue):
    """``Queue`` with ``task_done()`` and ``join()``, as
    ``multiprocessing.JoinableQueue``: every ``put`` counts a task (in
    shared memory, across processes), ``task_done`` marks one finished, and
    ``join`` waits until none is unfinished."""

    def put(self, obj: Any, block: bool = True, timeout: float | None = None) -> None:
        q = self._live()
        q.unfinished_add(1)
        try:
            Queue.put(self, obj, block, timeout)
        except BaseException:
            q.unfinished_add(-1)
            raise

    def task_done(self) -> None:
        """Mark one task taken with ``get`` as finished; ``ValueError`` if
        called more times than items were put."""
        self._live().unfinished_add(-1)

    def join(self) -> None:
        """Wait until every item put has been marked done."""
        self._live().join()


class SimpleQueue(Queue):
    """``Queue`` under the name and interface of
    ``multiprocessing.SimpleQueue`` (``put``, ``get``, ``empty``,
    ``close``). Unlike it, the queue is bounded (``DEFAULT_SLOTS``
    messages): a ``put`` into a full queue waits for a ``get``."""

    def __init__(self) -> None:
        super().__init__()
