"""Tests of the hand-over workload (handover.py) and its checks
(handover_checks.py: the memcpy floor, the sum check): messages chosen by size,
every mode moving and verifying arrays end to end on a tiny case (the
modes whose package is missing are skipped with the reason), a loan mode
whose arrays arrive as views of the queue's memory, and a corrupted array
failing the trial. No timed assertions: the machine is shared and noisy.

Run: ``python3 -m unittest -v test_handover`` in this directory.
"""

import json
import multiprocessing as mp
import os
import subprocess
import sys
import tempfile
import types
import unittest

import numpy as np

import alternatives
import handover
import handover_checks as checks
import mpqueue_workloads as workloads

MiB = 1 << 20


def args(messages=4, warmup=1):
    return types.SimpleNamespace(messages=messages, warmup=warmup, placement="none", timeout=60.0)


class MessagesBySize(unittest.TestCase):
    def test_large_sizes_run_few_messages_small_sizes_all(self):
        self.assertEqual(handover.messages_for(100, 1000, 50), (1000, 50))
        m, w = handover.messages_for(4 * MiB // 8, 1000, 50)
        self.assertEqual((m, w), (handover.TRIAL_BYTES // (4 * MiB), 1))
        self.assertEqual(m, 16)
        m, w = handover.messages_for(64 * MiB // 8, 1000, 50)
        self.assertEqual((m, w), (handover.MIN_MESSAGES, 1))
        self.assertEqual(handover.messages_for(64 * MiB // 8, 3, 0), (3, 0))

    def test_unknown_mode_names_the_valid_ones(self):
        with self.assertRaises(ValueError) as e:
            handover.Ends("nope", mp.get_context("fork"), alternatives)
        self.assertIn("ipcbench-loan", str(e.exception))


class Checks(unittest.TestCase):
    def test_copies_by_size_and_the_expected_sum(self):
        self.assertEqual(checks.copies_for(800), checks.MAX_COPIES)
        self.assertEqual(checks.copies_for(64 * MiB), 8)
        self.assertEqual(checks.copies_for(1 << 40), checks.MIN_COPIES)
        for n in (1, 2, 5, 1000):
            base = workloads.payload(n)
            a = base.copy()
            workloads.stamp(a, 7)
            self.assertEqual(checks.expected_sum(base, 7), int(a.sum()))

    def test_huge_page_settings_name_both_memories(self):
        text = checks.huge_pages()
        self.assertTrue(text.startswith("enabled=") and ", shmem_enabled=" in text, text)

    def test_memcpy_floor_leaves_nothing_in_dev_shm(self):
        before = set(os.listdir("/dev/shm"))
        floor, extra = checks.memcpy_floor(workloads, mp.get_context("fork"), [100, MiB // 8],
                                           "none", 60.0)
        self.assertEqual([m["size_bytes"] for m in floor], [800, MiB])
        self.assertEqual(len(extra), 3)
        self.assertEqual(set(os.listdir("/dev/shm")) - before, set())

    def test_a_wrong_sum_fails_the_sum_check(self):
        if checks.sum_missing():
            self.skipTest(checks.sum_missing())
        real = workloads.stamp
        try:
            def bad(buf, seq):
                real(buf, seq)
                if seq == 2:
                    buf[len(buf) // 2] += 1

            workloads.stamp = bad
            with self.assertRaises(workloads.TrialError) as e:
                checks.sum_trial(workloads, mp.get_context("fork"), 1000, args())
            self.assertIn("message 2", str(e.exception))
        finally:
            workloads.stamp = real


class EndToEnd(unittest.TestCase):
    def run_mode(self, mode, elements):
        why = handover.missing(mode)
        if why:
            self.skipTest(why)
        put, get, warm = handover.run_trial(workloads, alternatives, mp.get_context("fork"), mode,
                                            elements, args())
        self.assertEqual(len(put), 4)
        self.assertEqual(len(get), 4)
        self.assertTrue((put > 0).all() and (get >= 0).all() and warm > 0)

    def test_every_mode_small_and_out_of_line(self):
        for mode in handover.MODES:
            for elements in (100, 3 * MiB // 8):
                with self.subTest(mode=mode, elements=elements):
                    self.run_mode(mode, elements)

    def test_a_corrupted_array_fails_the_trial(self):
        real = workloads.stamp
        try:
            # The producer marks message 2 wrongly: the consumer's check
            # (off the clock) must catch it and fail the trial.
            def bad(buf, seq):
                real(buf, seq)
                if seq == 2:
                    buf[len(buf) // 2] = -7

            workloads.stamp = bad
            with self.assertRaises(workloads.TrialError) as e:
                handover.run_trial(workloads, alternatives, mp.get_context("fork"), "mp-queue", 1000,
                                   args())
            self.assertIn("message 2", str(e.exception))
        finally:
            workloads.stamp = real

    def test_nothing_left_in_dev_shm(self):
        before = set(os.listdir("/dev/shm"))
        for mode in ("ipcbench", "ipcbench-loan", "shared-memory", "py-sharedmemory"):
            if not handover.missing(mode):
                handover.run_trial(workloads, alternatives, mp.get_context("fork"), mode,
                                   MiB // 8, args())
        self.assertEqual(set(os.listdir("/dev/shm")) - before, set())


HERE = os.path.dirname(os.path.abspath(__file__))


class CommandLine(unittest.TestCase):
    def run_bench(self, *extra):
        with tempfile.TemporaryDirectory() as d:
            out = os.path.join(d, "out.json")
            r = subprocess.run(
                [sys.executable, os.path.join(HERE, "mpqueue_bench.py"), "--sizes", "10",
                 "--messages", "6", "--trials", "2", "--warmup", "1", "--placement", "none",
                 "--modes", "mp-queue", "--fanout-modes", "mp-queue", "--workers", "1",
                 "--fanout-min-ms", "0", *extra, "--json", out],
                capture_output=True, text=True, timeout=300)
            cells = json.load(open(out))["cells"] if os.path.exists(out) else []
            return r, cells

    def test_handover_cells_and_large_sizes_for_the_large_modes(self):
        r, cells = self.run_bench("--workloads", "seed,fanout,handover", "--large-sizes", "3000",
                                  "--large-modes", "mp-queue", "--handover-modes",
                                  "mp-queue,shared-memory")
        self.assertEqual(r.returncode, 0, r.stderr)
        got = {(c["workload"], c["transport"], c["size_bytes"], c["metric"]) for c in cells}
        for mode in ("mp-queue", "shared-memory"):
            # As ipcbench's Rust hand-over cells: latency is the hand-over.
            for metric in handover.METRICS:
                self.assertIn(("handover", mode, 24000, metric), got)
        self.assertIn(("seed", "mp-queue", 24000, "total"), got)
        self.assertIn(("fanout1", "mp-queue", 24000, "throughput"), got)
        self.assertTrue(all(c["status"] == "ok" and c["trials"] == 2 for c in cells))
        self.assertFalse({c["workload"] for c in cells if c["size_bytes"] == 24000} - {
            "seed", "fanout1", "handover"})

    def run_doc(self, *extra):
        """The whole results document of a tiny run, and the process."""
        with tempfile.TemporaryDirectory() as d:
            out = os.path.join(d, "out.json")
            r = subprocess.run(
                [sys.executable, os.path.join(HERE, "mpqueue_bench.py"), "--sizes", "10",
                 "--messages", "4", "--trials", "2", "--warmup", "1", "--placement", "none",
                 "--workloads", "handover", *extra, "--json", out],
                capture_output=True, text=True, timeout=300)
            return r, (json.load(open(out)) if os.path.exists(out) else None)

    def test_handover_sizes_memcpy_floor_and_sum_check(self):
        r, doc = self.run_doc("--handover-sizes", "100,3000", "--handover-modes", "mp-queue",
                              "--sum-sizes", "3000")
        self.assertEqual(r.returncode, 0, r.stderr)
        cells = doc["cells"]
        got = {(c["transport"], c["size_bytes"], c["metric"]) for c in cells}
        self.assertIn(("mp-queue", 800, "latency"), got)
        self.assertIn(("mp-queue", 24000, "latency"), got)
        # One memcpy at every hand-over size, each placement's floors alike.
        (floor,) = doc["floors"]
        self.assertEqual(floor["placement"], "none")
        self.assertEqual([m["size_bytes"] for m in floor["memcpy"]], [800, 24000])
        self.assertTrue(all(m["p50_ns"] > 0 and m["bytes_per_s"] > 0 for m in floor["memcpy"]))
        extra = dict(doc["environment"]["extra"])
        self.assertIn("into:", extra["memcpy floor (hand-over)"])
        self.assertIn("shmem_enabled=", extra["transparent huge pages"])
        self.assertEqual(extra["handover sizes (int64 elements)"], "100,3000")
        sums = {c["transport"]: c for c in cells if c["metric"] == "throughput"}
        if checks.sum_missing():
            self.assertEqual(sums, {})
            self.assertIn("ipcbench", extra["skipped (package missing)"])
            return
        self.assertEqual(set(sums), {checks.SUM_WORKER, checks.SUM_INPROC})
        for c in sums.values():
            self.assertEqual((c["workload"], c["size_bytes"], c["status"], c["trials"]),
                             ("handover", 24000, "ok", 2))
            self.assertEqual(c["n"], 2 * checks.SUM_MESSAGES)
            self.assertGreater(c["msgs_per_s"], 0)
            self.assertAlmostEqual(c["bytes_per_s"], c["msgs_per_s"] * 24000)
            self.assertTrue(c["note"])

    def test_the_sum_check_runs_at_the_largest_size_only_from_1_mib(self):
        r, doc = self.run_doc("--handover-sizes", "100", "--handover-modes", "mp-queue")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertFalse([c for c in doc["cells"] if c["metric"] == "throughput"])
        self.assertEqual(dict(doc["environment"]["extra"])["sum check sizes (int64 elements)"],
                         "not run")

    def test_bad_handover_sizes_are_named(self):
        r, _ = self.run_doc("--handover-sizes", "100,lots")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("'lots'", r.stderr)

    def test_no_large_sizes_by_default_and_bad_modes_named(self):
        r, cells = self.run_bench("--workloads", "seed")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual({c["size_bytes"] for c in cells}, {80})
        r, _ = self.run_bench("--workloads", "handover", "--handover-modes", "nope")
        self.assertEqual(r.returncode, 2)
        self.assertIn("unknown handover mode", r.stderr)
        self.assertIn("ipcbench-loan", r.stderr)


if __name__ == "__main__":
    unittest.main()
