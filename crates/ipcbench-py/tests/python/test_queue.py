"""pytest suite for ipcbench.Queue: every numpy dtype and layout, nested
objects, timeouts and errors, several producers and consumers with every
message counted and checksummed, a worker SIGKILLed while it holds a message,
and the fork, spawn and forkserver start methods."""

from __future__ import annotations

import multiprocessing as mp
import os
import pickle
import queue
import signal
import threading
import time
import zlib

import numpy as np
import pytest

import ipcbench

START_METHODS = ["fork", "spawn", "forkserver"]


def roundtrip(obj, q=None):
    q = q or ipcbench.Queue()
    q.put(obj)
    return q.get(timeout=10)


def assert_same_array(got, want):
    assert isinstance(got, np.ndarray)
    assert got.dtype == want.dtype
    assert got.shape == want.shape
    if want.dtype.kind == "f" or want.dtype.kind == "c":
        np.testing.assert_array_equal(got, want)  # NaN-aware
    else:
        assert (got == want).all() if want.size else True
    assert got.tobytes(order="A") == np.asarray(want).tobytes(order="A") or not want.size


# -- dtypes ----------------------------------------------------------------

def sample(dtype: np.dtype, shape=(3, 4)) -> np.ndarray:
    n = int(np.prod(shape))
    kind = dtype.kind
    if kind == "b":
        flat = np.arange(n) % 3 == 0
    elif kind in "iu":
        flat = np.arange(n) * 7 % 100
    elif kind == "f":
        flat = np.linspace(-1, 1, n)
        flat[0] = np.nan
    elif kind == "c":
        flat = np.linspace(-1, 1, n) + 1j * np.arange(n)
    elif kind == "S":
        flat = [f"b{i}".encode() for i in range(n)]
    elif kind == "U":
        flat = [f"ü{i}" for i in range(n)]
    elif kind == "V":
        return np.frombuffer(bytes(range(n * dtype.itemsize)), dtype=dtype).reshape(shape)
    elif kind == "M":
        flat = np.arange(n).astype("datetime64[D]")
    elif kind == "m":
        flat = np.arange(n).astype("timedelta64[s]")
    elif kind == "O":
        flat = [{"i": i} for i in range(n)]
        out = np.empty(n, dtype=object)
        out[:] = flat
        return out.reshape(shape)
    else:  # pragma: no cover - a new kind would need a sample
        raise AssertionError(f"no sample for dtype kind {kind!r}")
    return np.array(flat).astype(dtype).reshape(shape)


ALL_DTYPES = [np.dtype(c) for c in "?bhilqpBHILQPefdgFDG"] + [
    np.dtype("S5"),
    np.dtype("U3"),
    np.dtype("V6"),
    np.dtype("datetime64[ns]"),
    np.dtype("timedelta64[s]"),
    np.dtype(object),
    np.dtype(">i4"),
    np.dtype(">f8"),
    np.dtype([("a", "<i4"), ("b", "<f8"), ("c", "S3")]),
    np.dtype([("v", "<f4", (2,)), ("n", "u1")]),
]


@pytest.mark.parametrize("dtype", ALL_DTYPES, ids=lambda d: str(d))
def test_every_dtype(dtype):
    if dtype.fields is None:
        a = sample(dtype)
    else:  # structured: distinct bytes in every field
        a = np.frombuffer(bytes(range(6 * dtype.itemsize)), dtype=dtype)
    got = roundtrip(a)
    if dtype.kind == "O":
        assert got.dtype == object and got.shape == a.shape
        assert got.tolist() == a.tolist()
    else:
        assert got.dtype == a.dtype and got.shape == a.shape
        assert got.tobytes() == a.tobytes()


def test_zero_d_empty_and_large():
    for a in [np.array(3.5), np.array(7, dtype=np.int8), np.array("x")]:
        got = roundtrip(a)
        assert got.shape == () and got.dtype == a.dtype and got == a
    for shape in [(0,), (3, 0), (0, 0, 5)]:
        got = roundtrip(np.empty(shape, dtype=np.float32))
        assert got.shape == shape and got.dtype == np.float32
    big = np.random.default_rng(1).integers(0, 1 << 60, size=2_000_000, dtype=np.int64)
    q = ipcbench.Queue(maxsize=2, capacity_bytes=2 * 17_000_000)
    got = roundtrip(big, q)
    assert got.dtype == np.int64 and (got == big).all()
    assert got.flags.writeable and got.flags.owndata is False or got.base is not None


def test_orders_and_views():
    a = np.arange(60, dtype=np.float64).reshape(3, 4, 5)
    cases = {
        "fortran": np.asfortranarray(a),
        "strided": a[::2, 1::2, ::-1],
        "transposed": a.transpose(1, 2, 0),
        "column": a[:, 1, :],
        "readonly": np.frombuffer(a.tobytes(), dtype=np.float64),
    }
    for name, v in cases.items():
        got = roundtrip(v)
        assert got.shape == v.shape, name
        assert (got == v).all(), name
    f = roundtrip(np.asfortranarray(a))
    assert f.flags.f_contiguous, "Fortran order is kept"
    # The received array is a new array, not a view of the sender's.
    src = np.zeros(4)
    got = roundtrip(src)
    got[0] = 1
    assert src[0] == 0


class Box:
    def __init__(self, arrays, meta):
        self.arrays = arrays
        self.meta = meta


def test_nested_objects_with_arrays():
    obj = {
        "a": np.arange(10),
        "list": [np.ones((2, 3), dtype=np.float32), "text", 5, None],
        "tuple": (np.zeros(3, dtype=np.complex128), b"raw"),
        "box": Box([np.arange(4, dtype=np.uint16)], {"k": 1.5}),
    }
    got = roundtrip(obj)
    assert (got["a"] == obj["a"]).all()
    assert (got["list"][0] == 1).all() and got["list"][1:] == ["text", 5, None]
    assert got["tuple"][1] == b"raw" and got["tuple"][0].dtype == np.complex128
    assert isinstance(got["box"], Box) and got["box"].meta == {"k": 1.5}
    assert (got["box"].arrays[0] == np.arange(4)).all()
    for plain in [1, "s", None, [1, 2], {"x": (1, 2)}, b"", 3.25]:
        assert roundtrip(plain) == plain


# -- semantics and errors ------------------------------------------------------

def test_timeouts_full_empty_and_sizes():
    q = ipcbench.Queue(maxsize=2)
    assert q.empty() and not q.full() and q.qsize() == 0
    t0 = time.monotonic()
    with pytest.raises(queue.Empty):
        q.get(timeout=0.2)
    assert time.monotonic() - t0 >= 0.19
    with pytest.raises(queue.Empty):
        q.get_nowait()
    with pytest.raises(queue.Empty):
        q.get(block=False)
    q.put(1)
    q.put_nowait(2)
    assert q.full() and q.qsize() == 2
    with pytest.raises(queue.Full):
        q.put(3, timeout=0.1)
    with pytest.raises(queue.Full):
        q.put_nowait(3)
    with pytest.raises(ValueError):
        q.put(3, timeout=-1)
    assert q.get() == 1 and q.get() == 2
    assert ipcbench.Full is queue.Full and ipcbench.Empty is queue.Empty


def test_larger_than_a_slot_goes_out_of_line():
    q = ipcbench.Queue(maxsize=4, capacity_bytes=4 * 4096)
    big = np.arange(10_000, dtype=np.uint8)
    assert big.nbytes > q.max_message_bytes
    q.put(big)
    assert q.blocks()[0] == 1 and q.qsize() == 1
    got = q.get()
    assert (got == big).all() and got.flags.writeable
    q.put(np.zeros(10, dtype=np.uint8))
    assert q.get().shape == (10,)


def test_closed_queue_raises_value_error():
    q = ipcbench.Queue()
    q.put(1)
    q.close()
    for call in [lambda: q.put(1), q.get, q.qsize, q.get_nowait, q.empty]:
        with pytest.raises(ValueError):
            call()


def test_unpicklable_object_raises_in_caller():
    q = ipcbench.Queue()
    with pytest.raises((pickle.PicklingError, AttributeError, TypeError)):
        q.put(lambda: 1)
    lock = threading.Lock()
    with pytest.raises(TypeError):
        q.put({"lock": lock})
    assert q.qsize() == 0


def test_gil_released_while_waiting():
    q = ipcbench.Queue()
    ticks = 0
    stop = time.monotonic() + 0.4

    def waiter():
        with pytest.raises(queue.Empty):
            q.get(timeout=0.3)

    t = threading.Thread(target=waiter)
    t.start()
    while time.monotonic() < stop:
        ticks += 1
    t.join()
    # With the GIL held by the waiting thread, the loop would barely run.
    assert ticks > 10_000


def test_invalid_arguments():
    with pytest.raises(ValueError):
        ipcbench.Queue(maxsize=-1)
    with pytest.raises(ValueError):
        ipcbench.Queue(maxsize=10, capacity_bytes=5)


# -- several processes ---------------------------------------------------------

def producer(q, results, pid_tag, count):
    rng = np.random.default_rng(pid_tag)
    crc = 0
    for i in range(count):
        arr = rng.integers(0, 1000, size=int(rng.integers(0, 300)), dtype=np.int64)
        msg = (pid_tag, i, arr) if i % 3 else {"tag": pid_tag, "i": i, "arr": arr}
        crc ^= zlib.crc32(arr.tobytes()) ^ (pid_tag << 20) ^ i
        q.put(msg)
    results.put(("produced", pid_tag, count, crc))


def consumer(q, results):
    seen = []
    crc = 0
    while True:
        msg = q.get(timeout=60)
        if msg is None:
            break
        if isinstance(msg, dict):
            tag, i, arr = msg["tag"], msg["i"], msg["arr"]
        else:
            tag, i, arr = msg
        seen.append((tag, i))
        crc ^= zlib.crc32(arr.tobytes()) ^ (tag << 20) ^ i
    results.put(("consumed", seen, crc))


def run_mpmc(method, producers=3, consumers=3, count=400):
    ctx = mp.get_context(method)
    q = ipcbench.Queue(maxsize=16)
    results = ctx.Queue()
    prods = [ctx.Process(target=producer, args=(q, results, t, count)) for t in range(producers)]
    cons = [ctx.Process(target=consumer, args=(q, results)) for _ in range(consumers)]
    for p in prods + cons:
        p.start()
    got = [results.get(timeout=120) for _ in prods]
    for p in prods:
        p.join(60)
    for _ in cons:
        q.put(None)
    got += [results.get(timeout=120) for _ in cons]
    for p in cons:
        p.join(60)
    assert all(p.exitcode == 0 for p in prods + cons)
    sent_crc = 0
    for kind, *rest in got:
        if kind == "produced":
            sent_crc ^= rest[2]
    seen = [m for kind, *rest in got if kind == "consumed" for m in rest[0]]
    got_crc = 0
    for kind, *rest in got:
        if kind == "consumed":
            got_crc ^= rest[1]
    assert len(seen) == producers * count, "lost or duplicated messages"
    assert sorted(seen) == [(t, i) for t in range(producers) for i in range(count)]
    assert got_crc == sent_crc
    assert q.lost() == 0


def test_many_producers_and_consumers_every_message_once():
    run_mpmc("fork")


def echo_child(q_in, q_out):
    while True:
        x = q_in.get(timeout=60)
        if x is None:
            return
        q_out.put(x * 2 if isinstance(x, np.ndarray) else x)


@pytest.mark.parametrize("method", START_METHODS)
def test_start_methods(method):
    ctx = mp.get_context(method)
    q_in, q_out = ipcbench.Queue(), ipcbench.Queue()
    p = ctx.Process(target=echo_child, args=(q_in, q_out))
    p.start()
    a = np.arange(1000, dtype=np.float32).reshape(10, 100)
    q_in.put(a)
    q_in.put({"k": [a]})
    got = q_out.get(timeout=60)
    assert (got == a * 2).all() and got.dtype == np.float32
    assert (q_out.get(timeout=60)["k"][0] == a).all()
    q_in.put(None)
    p.join(60)
    assert p.exitcode == 0


@pytest.mark.parametrize("method", ["spawn"])
def test_mpmc_under_spawn(method):
    run_mpmc(method, producers=2, consumers=2, count=150)


def pickled_child(blob, out):
    q = pickle.loads(blob)
    out.put(q.get(timeout=30))


def test_pickles_by_name():
    q = ipcbench.Queue()
    blob = pickle.dumps(q)
    assert q.name.encode() in blob and len(blob) < 200
    out = ipcbench.Queue()
    q.put("hello")
    p = mp.get_context("spawn").Process(target=pickled_child, args=(blob, out))
    p.start()
    assert out.get(timeout=60) == "hello"
    p.join(60)


def holder(q, ready):
    ready.set()
    q._q._hold_for_test(600.0)


def worker_count(q, results):
    n = 0
    while True:
        x = q.get(timeout=60)
        if x is None:
            break
        n += 1
    results.put(n)


def test_worker_killed_holding_a_message():
    ctx = mp.get_context("fork")
    q = ipcbench.Queue(maxsize=8)
    total = 200
    q.put("held")
    ready = ctx.Event()
    h = ctx.Process(target=holder, args=(q, ready))
    h.start()
    assert ready.wait(30)
    deadline = time.monotonic() + 30
    while q.qsize() != 0 and time.monotonic() < deadline:
        time.sleep(0.01)  # the holder has claimed the one message
    results = ctx.Queue()
    workers = [ctx.Process(target=worker_count, args=(q, results)) for _ in range(2)]
    for w in workers:
        w.start()
    # Killed while it holds the message (inside get, before it returned).
    os.kill(h.pid, signal.SIGKILL)
    h.join(30)
    for i in range(total):
        q.put(i, timeout=30)  # wraps onto the dead holder's slot: reclaimed
    for _ in workers:
        q.put(None)
    counts = [results.get(timeout=60) for _ in workers]
    for w in workers:
        w.join(30)
    assert sum(counts) == total, "the other workers finished every other message"
    q.reclaim()
    assert q.lost() == 1, "the held message is reported lost"


def test_segment_removed_when_creator_drops():
    q = ipcbench.Queue()
    path = f"/dev/shm/{q.name}"
    assert os.path.exists(path)
    del q
    import gc

    gc.collect()
    assert not os.path.exists(path)
