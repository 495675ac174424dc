"""Tests of the Python ``gatherN`` baseline (gather.py): a tiny run fills
throughput cells in ipcbench's schema, and the consumer refuses an array out
of its producer's order. No timed assertions: the machine is shared.

Run: ``python3 -m pytest -q test_gather.py`` in this directory (needs numpy).
"""

import json
import multiprocessing as mp
import os
import subprocess
import sys
import tempfile
import unittest

import mpqueue_common as common
import gather

HERE = os.path.dirname(os.path.abspath(__file__))


class Gather(unittest.TestCase):
    def test_a_tiny_run_writes_throughput_cells_per_producer_count(self):
        with tempfile.TemporaryDirectory() as d:
            out = os.path.join(d, "g.json")
            r = subprocess.run(
                [sys.executable, os.path.join(HERE, "mpqueue_bench.py"), "--workloads", "gather",
                 "--producers", "2,3", "--sizes", "4,64", "--gather-messages", "12",
                 "--trials", "1", "--placement", "none", "--json", out],
                capture_output=True, text=True, timeout=120,
            )
            self.assertEqual(r.returncode, 0, r.stderr)
            with open(out, encoding="utf-8") as f:
                cells = json.load(f)["cells"]
        got = sorted((c["workload"], c["size_bytes"]) for c in cells)
        self.assertEqual(got, [("gather2", 32), ("gather2", 512), ("gather3", 32), ("gather3", 512)])
        for c in cells:
            self.assertEqual((c["transport"], c["metric"], c["status"]), ("mp-queue", "throughput", "ok"))
            self.assertEqual(c["workers"], int(c["workload"][len("gather"):]))
            self.assertGreater(c["msgs_per_s"], 0)
            # Every producer puts at least two arrays: 12 shared by 2 or 3.
            self.assertEqual(c["n"], 12)

    def test_each_producer_puts_its_share_within_the_byte_budget(self):
        self.assertEqual(gather.arrays_for(100, 400, 4), 100)
        self.assertEqual(gather.arrays_for(100, 5, 4), 2)
        big = 8 << 20  # elements of 64 MiB
        self.assertEqual(gather.arrays_for(big, 400, 2), 2)

    def test_an_array_out_of_its_producers_order_fails_the_trial(self):
        ctx = mp.get_context("fork")
        q = ctx.Queue()
        base = common.payload(8)
        # Producer 1's arrays 1 then 0, producer 0's in order.
        for seq in [(1 << gather.SHIFT) | 1, 0, (1 << gather.SHIFT), 1]:
            a = base.copy()
            common.stamp(a, seq)
            q.put(a)
        recv, send = ctx.Pipe(duplex=False)
        gather.consumer(8, 2, 2, "none", 5.0, ctx.Barrier(1), q, send)
        msg = recv.recv()
        self.assertEqual(msg[0], "error", msg)
        self.assertIn("producer 1", msg[1])
        self.assertIn("order or contents", msg[1])


if __name__ == "__main__":
    unittest.main()
