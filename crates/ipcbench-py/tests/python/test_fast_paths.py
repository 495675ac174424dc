"""pytest suite for ipcbench.Queue's per-call fast paths: which payload
object the native get hands over (bytes for in-band pickles, a writable
uint8 ndarray otherwise, on the ready and on the waiting path, small and
large), the header caches (bounded, and right across dtypes, shapes and
orders that share a key's parts), the native raw-array paths (put_array
puts nothing for an unknown header; get_any builds known arrays itself, on
the ready and on the waiting path, each queue handle learning on its own),
and corrupt records (they raise naming the
queue, and the queue goes on working)."""

from __future__ import annotations

import pickle
import threading
import time

import numpy as np
import pytest

import ipcbench
from ipcbench._native import NativeQueue

BIG = 200_000  # over the native side's 64 KiB copy-with-the-GIL limit


def native_get_after(q, obj, wait=False, get="get"):
    """Puts ``obj`` through the Queue and returns what the native ``get``
    (or ``get_any``) hands over; with ``wait``, the get is waiting before
    the put (its slow path)."""
    native = getattr(q._q, get)
    if not wait:
        q.put(obj)
        return native(10)
    t = threading.Timer(0.2, q.put, args=(obj,))
    t.start()
    try:
        return native(10)
    finally:
        t.join()


@pytest.mark.parametrize("wait", [False, True], ids=["ready", "waiting"])
@pytest.mark.parametrize("size", [10, BIG], ids=["small", "large"])
def test_in_band_pickle_arrives_as_bytes(wait, size):
    q = ipcbench.Queue(maxsize=4, capacity_bytes=4 << 20)
    obj = (7, "x" * size, b"y" * size)
    kind, header, payload = native_get_after(q, obj, wait)
    assert kind & NativeQueue.as_bytes and header == b""
    assert type(payload) is bytes and pickle.loads(payload) == obj
    q.put(obj)
    assert q.get(timeout=10) == obj


def test_in_band_arrays_in_a_pickle_arrive_writable():
    # A non-contiguous array has no out-of-band buffer: pickle copies it
    # into its stream, and the record arrives as bytes. The array unpickled
    # from it is still a new, writable array.
    q = ipcbench.Queue()
    a = np.arange(20).reshape(4, 5)[:, ::2]
    kind, _, payload = native_get_after(q, (1, a))
    assert kind & NativeQueue.as_bytes and type(payload) is bytes
    q.put((1, a))
    got = q.get(timeout=10)[1]
    assert got.flags.writeable and (got == a).all()
    got[0, 0] = 99
    assert a[0, 0] == 0


@pytest.mark.parametrize("wait", [False, True], ids=["ready", "waiting"])
@pytest.mark.parametrize("n", [100, BIG], ids=["small", "large"])
def test_arrays_arrive_in_a_writable_array_of_their_own(wait, n):
    q = ipcbench.Queue(maxsize=4, capacity_bytes=16 << 20)
    a = np.arange(n, dtype=np.int64)
    kind, header, payload = native_get_after(q, a, wait)
    assert kind == 0 and header == f"<i8;{n};C".encode()
    assert isinstance(payload, np.ndarray) and payload.dtype == np.uint8
    assert payload.flags.writeable and payload.nbytes == a.nbytes
    assert payload.tobytes() == a.tobytes()
    q.put(a)
    got = q.get(timeout=10)
    got[0] = -1  # writable, and not the sender's memory
    assert a[0] == 0 and got[0] == -1 and (got[1:] == a[1:]).all()


@pytest.mark.parametrize("wait", [False, True], ids=["ready", "waiting"])
def test_out_of_band_buffers_arrive_writable(wait):
    q = ipcbench.Queue()
    obj = {"a": np.arange(10), "b": np.zeros(3, np.float32), "c": 3}
    kind, header, payload = native_get_after(q, obj, wait)
    assert not kind & NativeQueue.as_bytes
    assert isinstance(payload, np.ndarray) and payload.flags.writeable
    assert header.count(b",") == 2  # the pickle and two buffers
    q.put(obj)
    got = q.get(timeout=10)
    got["a"][0] = 5
    got["b"][0] = 2.5
    assert (got["a"][1:] == np.arange(1, 10)).all() and got["b"].tolist() == [2.5, 0, 0]
    assert obj["a"][0] == 0 and obj["b"][0] == 0 and got["c"] == 3


def check_same(got, want):
    assert type(got) is np.ndarray
    assert got.dtype == want.dtype and got.dtype.str == want.dtype.str
    assert got.shape == want.shape
    assert got.flags.f_contiguous == want.flags.f_contiguous or not want.flags.c_contiguous
    assert got.tobytes(order="A") == np.ascontiguousarray(want).tobytes() or (
        want.flags.f_contiguous and got.tobytes(order="F") == want.tobytes(order="F")
    )


def test_cache_keeps_dtypes_shapes_and_orders_apart():
    q = ipcbench.Queue()
    base = np.arange(24, dtype=np.int64)
    cases = [
        base,
        base.astype(np.float64),
        base.astype(">i8"),  # same itemsize, other byte order
        base.astype("datetime64[ns]"),
        base.astype("datetime64[s]"),  # same kind, other unit
        base.astype(np.int32),
        base.reshape(4, 6),
        base.reshape(6, 4),
        np.asfortranarray(base.reshape(4, 6)),  # same dtype and shape, F order
        base.reshape(4, 6)[:, ::2],  # not contiguous
        base.reshape(4, 6).T,  # F-contiguous view
        np.array(5, dtype=np.int64),  # 0-d
        np.empty((0, 6), dtype=np.int64),
        np.empty((6, 0), dtype=np.int64),
        base.astype("S3"),
        base.astype("U2"),
    ]
    for _ in range(3):  # the first pass fills the caches, the others hit them
        for a in cases:
            q.put(a)
            check_same(q.get(timeout=10), a)
    # Equal dtypes spelled differently share entries and give the same result.
    for spelling in ["=i8", "<i8", "int64", "i8"]:
        a = np.arange(24, dtype=np.dtype(spelling))
        q.put(a)
        check_same(q.get(timeout=10), a)


def test_caches_stay_bounded_and_evicted_entries_still_work():
    q = ipcbench.Queue()
    limit = ipcbench._CACHE_MAX
    shapes = [(n,) for n in range(1, limit + 60)] + [(2, n) for n in range(1, 40)]
    for shape in shapes + shapes[:10]:  # the first ones again, after eviction
        a = np.full(shape, len(shape) * 1000 + shape[-1], dtype=np.int16)
        q.put(a)
        got = q.get(timeout=10)
        assert got.shape == shape and got.dtype == np.int16 and (got == a).all()
    assert 0 < len(ipcbench._HEADERS) <= limit
    assert 0 < len(ipcbench._SPECS) <= limit


def test_put_array_puts_nothing_for_an_unknown_header():
    q = ipcbench.Queue()
    a = np.arange(7, dtype=np.int32)
    assert q._q.put_array(a) is False
    assert q.qsize() == 0
    assert q._q.put_array(a[::2]) is False  # not contiguous, no header given
    q.put(a)  # the Python side hands the header down once
    assert q.get(timeout=10).tolist() == a.tolist()
    assert q._q.put_array(a) is True and q.qsize() == 1


@pytest.mark.parametrize("wait", [False, True], ids=["ready", "waiting"])
def test_get_any_builds_known_arrays_itself_and_they_are_their_own(wait):
    q = ipcbench.Queue()
    cases = [
        np.arange(100, dtype=np.int64),
        np.asfortranarray(np.arange(12, dtype=np.float32).reshape(3, 4)),
        np.array(2.5),
        np.arange(5, dtype=">u2"),
        np.array(["ab", "c"]),
    ]
    for a in cases:
        q.put(a)  # first of its header: the Python path, which teaches the native side
        check_same(q.get(timeout=10), a)
    for a in cases:
        got = native_get_after(q, a, wait, "get_any")
        assert isinstance(got, np.ndarray), type(got)
        check_same(got, a)
        assert got.flags.writeable and got.flags.owndata
    # The array received is the consumer's own: writing it changes no later message.
    a = cases[0]
    q.put(a)
    q.put(a)
    first = q.get(timeout=10)
    first[:] = -1
    assert (q.get(timeout=10) == a).all()


def test_each_handle_learns_headers_on_its_own():
    one, two = ipcbench.Queue(), ipcbench.Queue()
    a = np.arange(9, dtype=np.int16).reshape(3, 3)
    for q in (one, two, one, two):
        q.put(a)
        check_same(q.get(timeout=10), a)
    for q in (one, two):
        q.put(a)
        assert isinstance(q._q.get_any(10), np.ndarray)


def corrupt(q, kind, header, payload):
    q._q.put(kind, header, (payload,), 10)
    with pytest.raises(RuntimeError) as e:
        q.get(timeout=10)
    msg = str(e.value)
    assert q.name in msg and "corrupt" in msg, msg
    return msg


def test_corrupt_records_raise_naming_the_queue_and_the_queue_goes_on():
    q = ipcbench.Queue()
    q.put(np.arange(5, dtype=np.int64))  # caches the header of a good record
    q.get(timeout=10)
    # A cached header with a payload of the wrong size.
    assert "40 bytes" in corrupt(q, 0, b"<i8;5;C", b"abc")
    # Headers that are not ours.
    for bad in [b"garbage", b"<i8;x;C", b"<i8;5;Q", b"O;5;C", b"<i8;-1;C", b"\xff;;"]:
        corrupt(q, 0, bad, b"")
    # Out-of-band parts that do not add up, or do not parse.
    corrupt(q, 1, b"10,5", b"abc")
    corrupt(q, 1, b"x,y", b"abc")
    corrupt(q, 1, b"5,-2", b"abc")
    # A kind nobody writes.
    assert "kind 7" in corrupt(q, 7, b"", b"abc")
    # The bad records are gone; good ones still pass, cached or not.
    assert q.qsize() == 0
    for obj in [np.arange(5, dtype=np.int64), (1, 2), {"a": np.ones(3)}]:
        q.put(obj)
        got = q.get(timeout=10)
        assert type(got) is type(obj)
    assert (got["a"] == 1).all()


def test_put_parts_are_tuples_or_lists_of_contiguous_buffers():
    q = ipcbench.Queue()
    nq = q._q
    a = np.arange(6, dtype=np.int32).reshape(2, 3)
    # bytes, bytearray, memoryview and ndarrays (C and F order) in memory order.
    nq.put(9, b"h", [b"ab", bytearray(b"cd"), memoryview(b"ef"), a, np.asfortranarray(a)], 10)
    kind, header, payload = nq.get(10)
    want = b"abcdef" + a.tobytes() + a.tobytes(order="F")
    assert (kind, header, payload.tobytes()) == (9, b"h", want)
    with pytest.raises((BufferError, ValueError)):
        nq.put(9, b"", (a[:, ::2],), 10)  # not contiguous
    with pytest.raises(ValueError):
        nq.put(9, b"", a, 10)  # not a tuple or list
    with pytest.raises(TypeError):
        nq.put(9, b"", (1,), 10)  # no buffer
    assert q.qsize() == 0


def test_a_waiting_get_is_woken_by_a_put_from_another_thread():
    q = ipcbench.Queue()
    t0 = time.monotonic()
    got = native_get_after(q, "late", wait=True)
    assert time.monotonic() - t0 >= 0.15
    assert pickle.loads(got[2]) == "late"
