"""The memory soak of ``ipcbench.Queue`` (issue 23): many lockstep hand-overs
of one large array, recording the producer's and the consumer's resident
memory as they go, to show that neither grows with the number of messages.

Two modes, each in fresh processes (producer on CPU 0, consumer on CPU 1):

- ``loan``: the producer takes ``q.array(...)``, writes its sequence stamps
  and one element per page (so every page of the block is touched), and puts
  it by reference;
- ``copy``: the producer stamps its own array and ``put`` copies it into a
  pooled block.

The consumer gets each array (a view of the block), checks the stamps and
one element per page against the pattern, acks on a pipe, and drops the
array before the next ``get``. Nothing is timed but the whole soak.

Every ``messages / SAMPLES`` messages (and after the first and the last)
each side reads its own ``/proc/self/status`` (VmRSS, RssAnon, RssShmem)
and counts its open descriptors; the producer adds the queue's pool
(blocks and their bytes). The verdict ``flat`` uses the rule of
``ipcbench soak`` (docs/reliability.md): from the sample after the warm-up
(``WARMUP`` messages) to the last, neither process's VmRSS grew by more
than 20 % plus 8 MiB (less than one leaked 64 MiB block); besides, neither's
descriptor count grew, and the pool has no more blocks than after the
warm-up.

    python3 soak.py --json soak.json                  # 10 000 x 64 MiB, both modes
    python3 soak.py --messages 200 --size-mib 4 --json -
"""

from __future__ import annotations

import argparse
import datetime
import multiprocessing as mp
import os
import platform
import sys
import time
from typing import Any

import numpy as np

from mpqueue_common import TrialError, payload, pin, placement_cpus, report_error, stamp
from mpqueue_schema import cpu_model, git_commit, recorded_command, virtualization, write_results
from mpqueue_workloads import supervise

SCHEMA = "ipcbench-python-soak/1"
MODES = ("loan", "copy")
#: Samples per mode, besides the first and the last message.
SAMPLES = 50
#: Messages before the reference sample: the pool's blocks are made and
#: mapped, numpy's and pickle's caches are warm.
WARMUP = 20
#: A process is flat if its last VmRSS is at most GROWTH_FACTOR times the
#: one after the warm-up plus GROWTH_SLACK (ipcbench soak's rule).
GROWTH_FACTOR = 1.2
GROWTH_SLACK = 8 << 20
#: One int64 element per 4 KiB page.
PAGE_STRIDE = 4096 // 8


def status() -> dict[str, int]:
    """This process's resident memory (bytes) and open descriptors."""
    want = {"VmRSS": "rss", "RssAnon": "anon", "RssShmem": "shmem"}
    got = {v: 0 for v in want.values()}
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            key, _, rest = line.partition(":")
            if key in want:
                got[want[key]] = int(rest.split()[0]) * 1024
    got["fds"] = len(os.listdir("/proc/self/fd"))
    return got


def sample_at(messages: int) -> set[int]:
    """The message indices after which both sides sample."""
    every = max(1, messages // SAMPLES)
    return {0, min(WARMUP, messages - 1), messages - 1, *range(every - 1, messages, every)}


def check(arr: Any, base: np.ndarray, seq: int) -> str | None:
    """Why ``arr`` is not message ``seq`` (stamps and one element per page), or None."""
    n = base.shape[0]
    if not isinstance(arr, np.ndarray) or arr.dtype != np.int64 or arr.shape != (n,):
        return f"message {seq}: expected int64[{n}], got {type(arr).__name__}"
    if arr[0] != seq or arr[-1] != seq:
        return f"message {seq}: sequence mismatch (first {int(arr[0])}, last {int(arr[-1])})"
    if n > 2 and not np.array_equal(arr[1:-1:PAGE_STRIDE], base[1:-1:PAGE_STRIDE]):
        return f"message {seq}: payload corrupted"
    return None


def consumer(q, elements: int, messages: int, ack) -> None:
    pin("split", "consumer")
    base = payload(elements)
    at = sample_at(messages)
    try:
        for i in range(messages):
            arr = q.get()
            err = check(arr, base, i)
            del arr
            if err:
                ack.send(("error", err))
                return
            ack.send((i, status() if i in at else None))
    except BaseException as e:
        report_error(ack, e)
    finally:
        ack.close()


def producer(q, mode: str, elements: int, messages: int, stall_s: float, ack, conn) -> None:
    try:
        pin("split", "producer")
        base = payload(elements)
        own = base.copy()
        at = sample_at(messages)
        rows = []
        started = time.monotonic()
        for i in range(messages):
            if mode == "loan":
                a = q.array(elements, np.int64)
                a[1:-1:PAGE_STRIDE] = base[1:-1:PAGE_STRIDE]
            else:
                a = own
            stamp(a, i)
            q.put(a)
            del a
            if not ack.poll(stall_s):
                raise TrialError(f"message {i}: no ack within {stall_s:g} s")
            reply = ack.recv()
            if reply[0] == "error":
                raise TrialError(str(reply[1]))
            seq, theirs = reply
            if seq != i:
                raise TrialError(f"message {i}: ack for message {seq}")
            if i in at:
                blocks, block_bytes = q.blocks()
                rows.append({"message": i + 1, "producer": status(), "consumer": theirs,
                             "blocks": blocks, "block_bytes": block_bytes})
        conn.send(("ok", rows, time.monotonic() - started))
    except BaseException as e:
        report_error(conn, e)
    finally:
        conn.close()


def verdict(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Growth from the sample after the warm-up to the last, and ``flat``."""
    ref = next((r for r in rows if r["message"] > WARMUP), rows[0])
    last = rows[-1]
    growth = {side: {k: last[side][k] - ref[side][k] for k in ("rss", "anon", "shmem", "fds")}
              for side in ("producer", "consumer")}
    flat = (all(last[side]["rss"] <= ref[side]["rss"] * GROWTH_FACTOR + GROWTH_SLACK
                    and growth[side]["fds"] <= 0 for side in growth)
            and last["blocks"] <= ref["blocks"])
    return {"from_message": ref["message"], "to_message": last["message"], "growth": growth,
            "blocks_growth": last["blocks"] - ref["blocks"], "flat": flat}


def run_mode(ctx, mode: str, elements: int, messages: int, timeout: float) -> dict[str, Any]:
    import ipcbench

    q = ipcbench.Queue(maxsize=2)
    recv, send = ctx.Pipe(duplex=False)
    ack_recv, ack_send = ctx.Pipe(duplex=False)
    procs = [
        ctx.Process(target=consumer, args=(q, elements, messages, ack_send)),
        ctx.Process(target=producer, args=(q, mode, elements, messages, timeout, ack_recv, send)),
    ]
    try:
        rows, seconds = supervise(procs, recv, send, timeout + 60.0 + messages * 1.0)
    finally:
        ack_recv.close()
        ack_send.close()
        q.close()
    return {"mode": mode, "seconds": round(seconds, 3), "samples": rows, **verdict(rows)}


def summary(doc: dict[str, Any]) -> str:
    mib = 1 << 20
    lines = [f"ipcbench.Queue RSS soak: {doc['messages']} hand-overs of {doc['size_bytes'] // mib} MiB "
             f"per mode ({doc['environment']['cpu_model']}, {doc['environment']['date']})"]
    for m in doc["modes"]:
        g = m["growth"]
        lines.append(
            f"- {m['mode']}: {'flat' if m['flat'] else 'NOT FLAT'} in {m['seconds']:.0f} s; "
            f"VmRSS growth after message {m['from_message']}: producer "
            f"{g['producer']['rss'] / mib:+.2f} MiB, consumer {g['consumer']['rss'] / mib:+.2f} MiB; "
            f"descriptors {g['producer']['fds']:+d}/{g['consumer']['fds']:+d}; "
            f"pool blocks {m['blocks_growth']:+d}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--messages", type=int, default=10_000, help="hand-overs per mode (default 10000)")
    ap.add_argument("--size-mib", type=int, default=64, help="array size in MiB (default 64)")
    ap.add_argument("--modes", default=",".join(MODES), help=f"comma-separated, of {', '.join(MODES)}")
    ap.add_argument("--timeout", type=float, default=60.0, help="seconds a single hand-over may take")
    ap.add_argument("--json", required=True, help="results file to write (- for stdout)")
    ap.add_argument("--summary", help="also write the summary lines (Markdown) to this file")
    args = ap.parse_args(argv)
    modes = [m for m in args.modes.split(",") if m]
    bad = [m for m in modes if m not in MODES]
    if bad or not modes:
        ap.error(f"--modes: unknown {', '.join(bad) or '(none)'}; choose from {', '.join(MODES)}")
    if args.messages < 2 or args.size_mib < 1:
        ap.error(f"--messages must be >= 2 and --size-mib >= 1 (got {args.messages}, {args.size_mib})")
    if (os.cpu_count() or 1) < 2:
        ap.error("the soak pins its two processes to two CPUs (those of ipcbench's split "
                 "placement); this machine has one")
    elements = (args.size_mib << 20) // 8
    start = datetime.datetime.now(datetime.timezone.utc)
    ctx = mp.get_context("spawn")
    results = [run_mode(ctx, m, elements, args.messages, args.timeout) for m in modes]
    doc = {
        "schema": SCHEMA,
        "environment": {
            "cpu_model": cpu_model(), "cores": os.cpu_count() or 0, "kernel": platform.release(),
            "virtualization": virtualization(), "git_commit": git_commit(),
            "python": platform.python_version(), "numpy": np.__version__,
            "date": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "command_line": recorded_command(os.path.abspath(__file__)),
            "placement_cpus": placement_cpus(),
        },
        "messages": args.messages, "size_bytes": elements * 8, "warmup_messages": WARMUP,
        "rule": f"last VmRSS <= {GROWTH_FACTOR} x after warm-up + {GROWTH_SLACK >> 20} MiB; "
                "descriptors and pool blocks do not grow",
        "modes": results,
    }
    write_results(doc, args.json)
    text = summary(doc)
    if args.summary:
        with open(args.summary, "w", encoding="utf-8") as f:
            f.write(text + "\n")
    print(text, file=sys.stderr)
    return 0 if all(m["flat"] for m in results) else 1


if __name__ == "__main__":
    sys.exit(main())
