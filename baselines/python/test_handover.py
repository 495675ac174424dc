"""Tests of the hand-over workload (handover.py): messages chosen by size,
every mode moving and verifying arrays end to end on a tiny case (the
modes whose package is missing are skipped with the reason), a loan mode
whose arrays arrive as views of the queue's memory, and a corrupted array
failing the trial. No timed assertions: the machine is shared and noisy.

Run: ``python3 -m unittest -v test_handover`` in this directory.
"""

import multiprocessing as mp
import os
import types
import unittest

import numpy as np

import alternatives
import handover
import mpqueue_bench as mb

MiB = 1 << 20


def args(messages=4, warmup=1):
    return types.SimpleNamespace(messages=messages, warmup=warmup, placement="none", timeout=60.0)


class MessagesBySize(unittest.TestCase):
    def test_large_sizes_run_few_messages_small_sizes_all(self):
        self.assertEqual(handover.messages_for(100, 1000, 50), (1000, 50))
        m, w = handover.messages_for(4 * MiB // 8, 1000, 50)
        self.assertEqual((m, w), (32, 3))
        m, w = handover.messages_for(64 * MiB // 8, 1000, 50)
        self.assertEqual((m, w), (handover.MIN_MESSAGES, 1))
        self.assertEqual(handover.messages_for(64 * MiB // 8, 3, 0), (3, 0))

    def test_unknown_mode_names_the_valid_ones(self):
        with self.assertRaises(ValueError) as e:
            handover.Ends("nope", mp.get_context("fork"), alternatives)
        self.assertIn("ipcbench-loan", str(e.exception))


class EndToEnd(unittest.TestCase):
    def run_mode(self, mode, elements):
        why = handover.missing(mode)
        if why:
            self.skipTest(why)
        put, get, warm = handover.run_trial(mb, alternatives, mp.get_context("fork"), mode,
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
        real = mb.stamp
        try:
            # The producer marks message 2 wrongly: the consumer's check
            # (off the clock) must catch it and fail the trial.
            def bad(buf, seq):
                real(buf, seq)
                if seq == 2:
                    buf[len(buf) // 2] = -7

            mb.stamp = bad
            with self.assertRaises(mb.TrialError) as e:
                handover.run_trial(mb, alternatives, mp.get_context("fork"), "mp-queue", 1000,
                                   args())
            self.assertIn("message 2", str(e.exception))
        finally:
            mb.stamp = real

    def test_nothing_left_in_dev_shm(self):
        before = set(os.listdir("/dev/shm"))
        for mode in ("ipcbench", "ipcbench-loan", "shared-memory", "py-sharedmemory"):
            if not handover.missing(mode):
                handover.run_trial(mb, alternatives, mp.get_context("fork"), mode,
                                   MiB // 8, args())
        self.assertEqual(set(os.listdir("/dev/shm")) - before, set())


if __name__ == "__main__":
    unittest.main()
