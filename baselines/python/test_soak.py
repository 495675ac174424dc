"""Tests of the ipcbench.Queue memory soak (soak.py): the growth rule on
made-up samples, a tiny soak of both modes end to end (its results file and
summary), and bad arguments refused with a message. No timed assertions.

Run: ``python3 -m unittest -v test_soak`` in this directory.
"""

import contextlib
import io
import json
import os
import tempfile
import unittest

import soak

MiB = 1 << 20


def row(message, rss, fds=9, blocks=1):
    side = {"rss": rss, "anon": rss // 2, "shmem": rss // 4, "fds": fds}
    return {"message": message, "producer": dict(side), "consumer": dict(side),
            "blocks": blocks, "block_bytes": blocks * MiB}


class Verdict(unittest.TestCase):
    def test_growth_counts_from_the_sample_after_the_warm_up(self):
        rows = [row(1, 100 * MiB), row(soak.WARMUP + 1, 200 * MiB), row(500, 201 * MiB)]
        v = soak.verdict(rows)
        self.assertEqual(v["from_message"], soak.WARMUP + 1)
        self.assertEqual(v["growth"]["producer"]["rss"], MiB)
        self.assertTrue(v["flat"])

    def test_a_leak_a_descriptor_or_a_block_more_is_not_flat(self):
        ref = row(soak.WARMUP + 1, 200 * MiB)
        self.assertFalse(soak.verdict([ref, row(900, 264 * MiB)])["flat"])
        self.assertFalse(soak.verdict([ref, row(900, 200 * MiB, fds=10)])["flat"])
        self.assertFalse(soak.verdict([ref, row(900, 200 * MiB, blocks=2)])["flat"])

    def test_samples_cover_the_first_the_warm_up_and_the_last_message(self):
        at = soak.sample_at(1000)
        self.assertTrue({0, soak.WARMUP, 999} <= at)
        self.assertLessEqual(len(at), soak.SAMPLES + 3)


class EndToEnd(unittest.TestCase):
    @unittest.skipIf((os.cpu_count() or 1) < 2, "the soak pins to CPUs 0 and 1")
    def test_a_tiny_soak_of_both_modes_is_recorded_and_flat(self):
        with tempfile.TemporaryDirectory() as d:
            out, md = os.path.join(d, "soak.json"), os.path.join(d, "soak.md")
            with contextlib.redirect_stderr(io.StringIO()):
                rc = soak.main(["--messages", "40", "--size-mib", "1", "--json", out,
                                "--summary", md])
            with open(out, encoding="utf-8") as f:
                doc = json.load(f)
            with open(md, encoding="utf-8") as f:
                text = f.read()
        self.assertEqual(rc, 0, text)
        self.assertEqual(doc["schema"], soak.SCHEMA)
        self.assertEqual((doc["messages"], doc["size_bytes"]), (40, MiB))
        self.assertEqual([m["mode"] for m in doc["modes"]], list(soak.MODES))
        # Where it pinned: the env ipcbench gives, or CPUs 0/1 and why.
        self.assertIn("split", doc["environment"]["placement_cpus"])
        for m in doc["modes"]:
            self.assertTrue(m["flat"], m)
            self.assertEqual(m["samples"][-1]["message"], 40)
            # 1 MiB is out of line: the pool has a block, the consumer maps it.
            self.assertGreaterEqual(m["samples"][-1]["blocks"], 1)
            self.assertGreater(m["samples"][-1]["consumer"]["shmem"], 0)
        self.assertIn("loan: flat", text)


class BadInput(unittest.TestCase):
    def check_refused(self, argv, words):
        err = io.StringIO()
        with contextlib.redirect_stderr(err), self.assertRaises(SystemExit) as cm:
            soak.main(argv + ["--json", "-"])
        self.assertEqual(cm.exception.code, 2)
        for w in words:
            self.assertIn(w, err.getvalue())

    def test_unknown_mode_names_the_valid_ones(self):
        self.check_refused(["--modes", "loan,bogus"], ["bogus", "loan, copy"])

    def test_too_few_messages_or_a_zero_size(self):
        self.check_refused(["--messages", "1"], ["--messages must be >= 2"])
        self.check_refused(["--size-mib", "0"], ["--size-mib >= 1"])


if __name__ == "__main__":
    unittest.main()
