"""pytest suite for ipcbench.Queue's large messages: any size goes out of
line into a pooled shared-memory block, get() returns an array viewing it
(writable, its own, released when collected), loans from Queue.array() are
sent by reference, killed holders leak nothing, descriptors stay constant,
low `ulimit -n`, no resource-tracker warnings, /dev/shm full is a clear
error; JoinableQueue and SimpleQueue; the README example runs as printed."""

from __future__ import annotations

import gc
import multiprocessing as mp
import os
import pickle
import re
import resource
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

import ipcbench
from ipcbench._native import Block

MiB = 1 << 20
REPO = Path(__file__).resolve().parents[4]


def owner(a: np.ndarray):
    """The object at the end of an array's base chain."""
    while isinstance(a, np.ndarray) and a.base is not None:
        a = a.base
    return a


def names(q_name: str) -> list[str]:
    return sorted(n for n in os.listdir("/dev/shm") if n.startswith(q_name))


def wait_until(cond, what, timeout=30.0):
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


# -- any size, zero-copy get ---------------------------------------------------

def test_small_in_slot_large_out_of_line_any_size():
    q = ipcbench.Queue()
    small = np.arange(1000, dtype=np.int64)  # 8 KB: through the slot
    q.put(small)
    got = q.get(timeout=10)
    assert (got == small).all() and not isinstance(owner(got), Block)
    for n in [q.max_message_bytes + 1, 4 * MiB, 64 * MiB]:
        a = np.frombuffer(np.random.default_rng(n).bytes(n), dtype=np.uint8)
        q.put(a)
        got = q.get(timeout=30)
        assert isinstance(owner(got), Block), "received without a copy"
        assert got.flags.writeable and got.nbytes == n and np.array_equal(got, a)
        del got
    q.close()


def sender(q, n, shape, dtype):
    for i in range(n):
        q.put(np.full(shape, i, dtype=dtype))


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_large_arrays_between_processes(method):
    q = ipcbench.Queue(maxsize=4)
    p = mp.get_context(method).Process(target=sender, args=(q, 20, (512, 1024), np.float32))
    p.start()
    held = [q.get(timeout=60) for _ in range(20)]
    p.join(60)
    assert p.exitcode == 0
    for i, a in enumerate(held):
        assert a.shape == (512, 1024) and a.dtype == np.float32 and (a == i).all()
        assert isinstance(owner(a), Block)
    n, _ = q.blocks()
    assert n >= 20, "every held array keeps its own block"
    del held, a
    gc.collect()
    n, nbytes = q.blocks()
    assert n <= 2 and nbytes <= 2 * 2 * MiB, "collected arrays return the pool to its idle size"
    q.close()


def large_producer(q, tag, count, loan):
    for i in range(count):
        n = 20_000 + 1000 * (i % 7)  # several size classes
        a = q.array(n, np.int64) if loan and i % 2 else np.empty(n, dtype=np.int64)
        a[:] = np.arange(n) * (tag + 1) + i
        q.put((tag, i, a) if i % 3 == 0 else a)


def large_consumer(q, out):
    seen, held = [], []
    while (m := q.get(timeout=60)) is not None:
        tag_i = (m[0], m[1]) if isinstance(m, tuple) else None
        a = m[2] if isinstance(m, tuple) else m
        n = a.size
        i = int(a[0]) if tag_i is None else tag_i[1]
        tag = (int(a[1]) - i - 1) if tag_i is None else tag_i[0]
        if not np.array_equal(a, np.arange(n) * (tag + 1) + i):
            out.put(("corrupt", tag, i))
            return
        seen.append((tag, i))
        held.append(a)  # some are kept a while, some let go at once
        if len(held) > 5:
            held.pop(0)
    out.put(("ok", seen))


@pytest.mark.parametrize("loan", [False, True], ids=["copied", "loaned"])
def test_many_producers_and_consumers_of_large_arrays(loan):
    ctx = mp.get_context("fork")
    q, out = ipcbench.Queue(maxsize=8), ipcbench.Queue()
    count = 150
    prods = [ctx.Process(target=large_producer, args=(q, t, count, loan)) for t in range(2)]
    cons = [ctx.Process(target=large_consumer, args=(q, out)) for _ in range(2)]
    for p in prods + cons:
        p.start()
    for p in prods:
        p.join(120)
    for _ in cons:
        q.put(None)
    got = [out.get(timeout=120) for _ in cons]
    for p in cons:
        p.join(60)
    assert all(g[0] == "ok" for g in got), got
    seen = sorted(m for g in got for m in g[1])
    assert seen == [(t, i) for t in range(2) for i in range(count)]
    assert all(p.exitcode == 0 for p in prods + cons)
    q.reclaim()
    n, _ = q.blocks()
    assert n <= 2 * 7, "only kept free blocks remain, a couple per size"
    q.close()


def test_received_array_is_its_own():
    q = ipcbench.Queue()
    src = np.zeros(MiB, dtype=np.uint8)
    q.put(src)
    src[:] = 7  # reusing the producer's array after put changes nothing sent
    q.put(src)
    first = q.get(timeout=10)
    first[:] = 9  # mutating a received array never changes a later message
    q.put(np.zeros(MiB, dtype=np.uint8))
    second, third = q.get(timeout=10), q.get(timeout=10)
    assert (first == 9).all() and (second == 7).all() and (third == 0).all()
    # Pickled again: the data is copied into the pickle (nothing shared).
    back = pickle.loads(pickle.dumps(second))
    assert type(back) is np.ndarray and (back == 7).all() and not isinstance(owner(back), Block)
    # Put into another queue: copied into that queue's own block.
    other = ipcbench.Queue()
    other.put(second)
    moved = other.get(timeout=10)
    second[:] = 1
    assert (moved == 7).all() and owner(moved) is not owner(second)
    with pytest.raises(TypeError):
        pickle.dumps(owner(second))
    q.close()
    other.close()


def test_layouts_and_dtypes_out_of_line():
    q = ipcbench.Queue()
    base = np.arange(4 * MiB // 8, dtype=np.float64).reshape(1024, 512)
    cases = {
        "fortran": np.asfortranarray(base),
        "strided": base[::2, ::-1],  # made contiguous first (one more copy)
        "structured": np.zeros(100_000, dtype=[("a", "<i4"), ("b", "<f8")]),  # pickled
        "object": np.array([{"i": i} for i in range(20_000)], dtype=object),  # pickled
    }
    for name, a in cases.items():
        q.put(a)
        got = q.get(timeout=30)
        assert got.dtype == a.dtype and got.shape == a.shape, name
        assert got.tolist() == a.tolist() if a.dtype == object else np.array_equal(got, a), name
    nested = {"x": np.ones(2 * MiB, dtype=np.uint8), "meta": "m"}
    q.put(nested)
    got = q.get(timeout=10)
    assert got["meta"] == "m" and (got["x"] == 1).all() and got["x"].flags.writeable
    q.close()


def test_array_outlives_its_queue_and_names_are_removed_on_close():
    q = ipcbench.Queue()
    name = q.name
    q.put(np.full(2 * MiB, 3, dtype=np.uint8))
    got = q.get(timeout=10)
    assert names(name), "slots, table and block exist while open"
    q.close()
    del q
    gc.collect()
    assert names(name) == [], "nothing of the queue is left in /dev/shm"
    assert (got == 3).all() and got.sum() == 6 * MiB  # still mapped, still valid


# -- loaned put ----------------------------------------------------------------

def test_loaned_array_is_sent_by_reference():
    q = ipcbench.Queue()
    a = q.array((1024, 1024), np.int64)
    assert a.flags.writeable and a.flags.c_contiguous and a.shape == (1024, 1024)
    a[:] = np.arange(1024)
    q.put(a)
    got = q.get(timeout=10)
    # One process: the consumer's view is the very memory the producer filled.
    assert got.ctypes.data == a.ctypes.data and np.array_equal(got, np.broadcast_to(np.arange(1024), (1024, 1024)))
    # After put the loan is read-only, and a loan is put once.
    assert not a.flags.writeable
    with pytest.raises(ValueError):
        a[0, 0] = 5
    with pytest.raises(ValueError, match="put already"):
        q.put(a)
    # While the loan lives its block is not reused, even after the consumer
    # is done: a stale loan can only ever alias its own message.
    del got
    gc.collect()
    b = q.array((1024, 1024), np.int64)
    assert b.ctypes.data != a.ctypes.data
    b[:] = 1
    assert a[0, 5] == 5
    del a, b
    gc.collect()
    c = q.array((1024, 1024), np.int64)  # a freed block is reused
    assert q.blocks()[0] <= 2
    del c
    q.close()


def test_loan_views_and_small_loans():
    q = ipcbench.Queue()
    a = q.array((512, 1024), np.float32, order="F")
    a[:] = 2.5
    q.put(a.T)  # a view of all of the loan: still by reference
    got = q.get(timeout=10)
    assert got.shape == (1024, 512) and got.ctypes.data == a.ctypes.data and (got == 2.5).all()
    part = q.array(MiB, np.uint8)
    part[:] = 4
    q.put(part[10:])  # part of a loan: copied
    got2 = q.get(timeout=10)
    assert got2.ctypes.data != part.ctypes.data and (got2 == 4).all() and got2.size == MiB - 10
    small = q.array(10, np.int64)  # fits a slot: a plain array, copied
    assert not isinstance(owner(small), Block)
    small[:] = 1
    q.put(small)
    q.put(small)
    assert (q.get(timeout=10) == 1).all() and (q.get(timeout=10) == 1).all()
    with pytest.raises(ValueError):
        q.array((-1, 4))
    assert q.array(np.int64(MiB), np.uint8).shape == (MiB,)
    assert q.array((np.int32(512), 1024), np.float32).shape == (512, 1024)
    with pytest.raises(TypeError):
        q.array((2.5, 4))
    q.close()


def loan_filler(q, ready):
    a = q.array(8 * MiB, np.uint8)
    a[: MiB] = 1
    ready.set()
    time.sleep(600)


def holder(q, n, ready):
    held = [q.get(timeout=60) for _ in range(n)]
    assert all(isinstance(owner(a), Block) for a in held)
    ready.set()
    time.sleep(600)


def test_killed_holders_leak_nothing():
    ctx = mp.get_context("fork")
    q = ipcbench.Queue()
    name = q.name
    # A producer killed mid-fill of a loan.
    ready = ctx.Event()
    p = ctx.Process(target=loan_filler, args=(q, ready))
    p.start()
    assert ready.wait(60)
    os.kill(p.pid, signal.SIGKILL)
    p.join(30)
    assert q.blocks()[0] == 1
    assert q.reclaim() == 1, "the dead filler's loan is reclaimed"
    # A consumer killed while it holds received arrays.
    for i in range(3):
        q.put(np.full(2 * MiB, i, dtype=np.uint8))
    ready = ctx.Event()
    c = ctx.Process(target=holder, args=(q, 3, ready))
    c.start()
    assert ready.wait(60)
    assert q.blocks()[0] == 4
    os.kill(c.pid, signal.SIGKILL)
    c.join(30)
    assert q.reclaim() == 3, "the dead holder's blocks are reclaimed"
    # Reclaimed blocks are reused: the pool does not grow.
    for i in range(8):
        q.put(np.full(2 * MiB, i, dtype=np.uint8))
        assert (q.get(timeout=10) == i).all()
    assert q.blocks()[0] <= 4
    q.close()
    del q
    gc.collect()
    assert names(name) == []


# -- resources -----------------------------------------------------------------

def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_descriptor_count_constant_over_100k_messages_of_1_mib():
    q = ipcbench.Queue()
    for _ in range(10):  # warm: the pool's blocks exist and are mapped
        a = q.array(MiB, np.uint8)
        q.put(a)
        del a
        q.get(timeout=10)
    before = open_fds()
    for i in range(100_000):
        a = q.array(MiB, np.uint8)
        a[0] = i & 0xFF
        q.put(a)
        del a
        got = q.get(timeout=10)
        if got[0] != i & 0xFF:
            raise AssertionError(f"message {i} read {got[0]}")
    del got
    for i in range(200):  # the copying path too
        q.put(np.full(MiB, i & 0xFF, dtype=np.uint8))
        assert q.get(timeout=10)[-1] == i & 0xFF
    assert open_fds() == before
    assert q.blocks()[0] <= 3
    q.close()


SCRIPT = """
import multiprocessing as mp, numpy as np, ipcbench

def consumer(q, out):
    total = 0
    for _ in range(200):
        total += int(q.get(timeout=60)[::4096].sum())
    out.put(total)

if __name__ == "__main__":
    ctx = mp.get_context("spawn")
    q, out = ipcbench.Queue(maxsize=4), ipcbench.Queue()
    p = ctx.Process(target=consumer, args=(q, out))
    p.start()
    for i in range(200):
        if i % 2:
            a = q.array(MiB, np.uint8)
            a[:] = 1
            q.put(a)
        else:
            q.put(np.ones(MiB, dtype=np.uint8))
    assert out.get(timeout=60) == 200 * (MiB // 4096), "every message read"
    p.join(60)
    assert p.exitcode == 0
    name = q.name
    q.close()
    import os
    assert not [n for n in os.listdir("/dev/shm") if n.startswith(name)]
    print("ok")
""".replace("MiB", str(MiB))


def run_script(tmp_path, script, limit_fds=None):
    path = tmp_path / "script.py"
    path.write_text(script)

    def limit():
        if limit_fds:
            resource.setrlimit(resource.RLIMIT_NOFILE, (limit_fds, limit_fds))

    return subprocess.run(
        [sys.executable, str(path)], capture_output=True, text=True, timeout=300,
        preexec_fn=limit, cwd=tmp_path,
    )


def test_works_under_ulimit_n_64_without_resource_tracker_warnings(tmp_path):
    r = run_script(tmp_path, SCRIPT, limit_fds=64)
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stdout + r.stderr
    assert "resource_tracker" not in r.stderr and "leaked" not in r.stderr, r.stderr
    assert r.stderr.strip() == "", r.stderr


def test_dev_shm_too_small_is_a_clear_error():
    st = os.statvfs("/dev/shm")
    limit = st.f_blocks * st.f_frsize
    q = ipcbench.Queue()
    n = limit + 4096 * 1024
    with pytest.raises(OSError) as e:
        q.array(n, np.uint8)
    msg = str(e.value)
    assert "cannot reserve" in msg and str(limit) in msg, msg
    assert q.blocks() == (0, 0), "nothing is left of the failed block"
    q.close()


# -- the family --------------------------------------------------------------

def joinable_worker(q, results):
    while True:
        x = q.get(timeout=60)
        if x is None:
            q.task_done()
            return
        results.put(int(x.sum()))
        q.task_done()


def test_joinable_queue():
    ctx = mp.get_context("fork")
    q, results = ipcbench.JoinableQueue(), ipcbench.Queue()
    workers = [ctx.Process(target=joinable_worker, args=(q, results)) for _ in range(2)]
    for w in workers:
        w.start()
    for i in range(20):
        q.put(np.full(MiB // 8, i, dtype=np.int64))
    for _ in workers:
        q.put(None)
    q.join()  # returns once every task was marked done
    assert sorted(results.get(timeout=10) for _ in range(20)) == [i * (MiB // 8) for i in range(20)]
    for w in workers:
        w.join(30)
    with pytest.raises(ValueError, match="too many times"):
        q.task_done()
    q.close()


def test_simple_queue():
    q = ipcbench.SimpleQueue()
    assert q.empty()
    q.put(np.ones(2 * MiB))
    assert not q.empty() and q.get().sum() == 2 * MiB
    q.close()


# -- the README example --------------------------------------------------------

def test_readme_example_runs_as_printed(tmp_path):
    text = (REPO / "README.md").read_text()
    section = text.split("\n## From Python\n", 1)[1]
    blocks = re.findall(r"```python\n(.*?)```", section, re.S)
    assert blocks, "the From Python section has a python example"
    r = run_script(tmp_path, textwrap.dedent(blocks[0]))
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stderr.strip() == "", r.stderr
