"""Tests of the Python baseline: its statistics, its verification, and a tiny
end-to-end run whose JSON must match ipcbench's results schema.

Run: ``python3 -m unittest -v`` in this directory (needs numpy). No timed
assertions: the machine is shared and noisy.
"""

import glob
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import unittest

import numpy as np

import mpqueue_bench as mb
import mpqueue_common as common
import mpqueue_schema as schema
import mpqueue_sweep as sweep
import mpqueue_workloads as workloads

HERE = os.path.dirname(os.path.abspath(__file__))

SUMMARY_FIELDS = {
    "n", "mean_ns", "sd_ns", "ci95_low_ns", "ci95_high_ns", "p50_ns", "p90_ns",
    "p99_ns", "p999_ns", "min_ns", "max_ns", "outliers",
}
CELL_FIELDS = {
    "transport", "codec", "workload", "placement", "size_bytes", "metric", "status",
    "trials", "trial_means_ns",
} | SUMMARY_FIELDS


class Statistics(unittest.TestCase):
    def test_trial_medians_and_means(self):
        # The intervals are ipcbench's bootstrap, filled in when it reads the
        # file; the script records what they are computed from.
        s = schema.summarize([np.array([10, 10]), np.array([12, 13]), np.array([14, 14])])
        self.assertIsNone(s["ci95_low_ns"])
        self.assertEqual(s["n"], 6)
        self.assertEqual(s["trial_means_ns"], [10.0, 12.5, 14.0])
        self.assertEqual(s["trial_medians_ns"], [10.0, 12.5, 14.0])
        self.assertEqual(s["median_ns"], 12.5)

    def test_one_trial_has_no_interval(self):
        s = schema.summarize([np.arange(1, 1001)])
        self.assertIsNone(s["ci95_low_ns"])
        self.assertIsNone(s["ci95_high_ns"])
        self.assertAlmostEqual(s["mean_ns"], 500.5)
        self.assertAlmostEqual(s["p50_ns"], 500.5)
        self.assertEqual((s["min_ns"], s["max_ns"]), (1.0, 1000.0))
        self.assertEqual(s["outliers"], 0)

    def test_outliers_counted_not_dropped(self):
        s = schema.summarize([np.array([100] * 99 + [1_000_000])])
        self.assertEqual(s["outliers"], 1)
        self.assertEqual(s["n"], 100)
        self.assertEqual(s["max_ns"], 1_000_000.0)

    def test_throughput_summary_inverts_rates(self):
        s = schema.throughput_summary([1000.0, 2000.0], 10)
        self.assertEqual(s["n"], 10)
        self.assertAlmostEqual(s["mean_ns"], 1e9 / 1500.0)
        self.assertEqual(s["trial_means_ns"], [1e6, 5e5])
        self.assertEqual((s["min_ns"], s["max_ns"]), (5e5, 1e6))
        self.assertEqual(s["trial_medians_ns"], [1e6, 5e5])
        self.assertAlmostEqual(s["msgs_per_s"], 1e9 / 7.5e5)


class Verification(unittest.TestCase):
    def test_accepts_the_right_message(self):
        base = common.payload(100)
        buf = base.copy()
        common.stamp(buf, 7)
        self.assertIsNone(common.verify(buf, base, 7))

    def test_rejects_wrong_sequence_size_type_and_content(self):
        base = common.payload(100)
        buf = base.copy()
        common.stamp(buf, 7)
        self.assertIn("sequence", common.verify(buf, base, 8))
        self.assertIn("int64[100]", common.verify(buf[:50], base, 7))
        self.assertIn("int64[100]", common.verify(buf.astype(np.int32), base, 7))
        self.assertIn("int64[100]", common.verify([7] * 100, base, 7))
        buf[50] = -1
        self.assertIn("corrupted", common.verify(buf, base, 7))

    def test_one_element_payload(self):
        base = common.payload(1)
        buf = base.copy()
        common.stamp(buf, 3)
        self.assertIsNone(common.verify(buf, base, 3))


class Placement(unittest.TestCase):
    def test_cpus_without_ipcbench_are_the_notebooks(self):
        env = {}
        self.assertEqual(common.cpus_for("split", "producer", env), {0})
        self.assertEqual(common.cpus_for("split", "consumer", env), {1})
        self.assertEqual(common.cpus_for("same", "consumer", env), {0})
        self.assertIsNone(common.cpus_for("none", "producer", env))
        self.assertIn("not set", common.placement_cpus(env)["fallback"])

    def test_cpus_chosen_by_ipcbench_are_used_and_recorded(self):
        allowed = sorted(os.sched_getaffinity(0))
        if len(allowed) < 2:
            self.skipTest("needs two CPUs")
        a, b = allowed[-1], allowed[0]
        env = {common.CPUS_ENV: json.dumps({"split": [a, b], "split_relation": "llc", "same": b})}
        self.assertEqual(common.cpus_for("split", "producer", env), {a})
        self.assertEqual(common.cpus_for("split", "consumer", env), {b})
        self.assertEqual(common.cpus_for("split", "inproc", env), {a, b})
        self.assertEqual(common.cpus_for("same", "producer", env), {b})
        self.assertEqual(common.placement_cpus(env),
                         {"split": [a, b], "same": b, "split_relation": "llc"})

    def test_bad_cpus_are_refused_by_name(self):
        for raw in ["not json", '{"split": [0]}', '{"split": [0, 0], "same": 0}',
                    '{"split": [0, 100000], "same": 0}', '{"same": 0}']:
            with self.assertRaises(common.BadCpus) as e:
                common.cpus_for("split", "producer", {common.CPUS_ENV: raw})
            self.assertIn(common.CPUS_ENV, str(e.exception))
            self.assertIn(raw, str(e.exception))


class EndToEnd(unittest.TestCase):
    def test_several_placements_write_one_file(self):
        if 0 not in os.sched_getaffinity(0):
            self.skipTest("placement same needs CPU 0")
        with tempfile.TemporaryDirectory() as d:
            out = os.path.join(d, "out.json")
            r = subprocess.run(
                [sys.executable, os.path.join(HERE, "mpqueue_bench.py"), "--sizes", "1",
                 "--messages", "5", "--trials", "1", "--warmup", "2",
                 "--placement", "none,same", "--json", out],
                capture_output=True, text=True, timeout=120,
            )
            self.assertEqual(r.returncode, 0, r.stderr)
            with open(out, encoding="utf-8") as f:
                res = json.load(f)
        self.assertEqual(res["config"]["placements"], ["none", "same"])
        by_placement = {}
        for c in res["cells"]:
            by_placement.setdefault(c["placement"], []).append((c["transport"], c["metric"]))
        self.assertEqual(sorted(by_placement), ["none", "same"])
        self.assertEqual(by_placement["none"], by_placement["same"])
        self.assertEqual(len(by_placement["none"]), len(mb.DEFAULT_MODES) * len(schema.METRICS))

    def test_an_unknown_placement_is_refused_by_name(self):
        r = subprocess.run(
            [sys.executable, os.path.join(HERE, "mpqueue_bench.py"), "--placement", "split,both",
             "--json", "-"],
            capture_output=True, text=True, timeout=60,
        )
        self.assertEqual(r.returncode, 2)
        self.assertIn("both", r.stderr)
        self.assertIn("split, same, none", r.stderr)

    def test_tiny_run_writes_the_schema(self):
        placement = "split" if {0, 1} <= os.sched_getaffinity(0) else "none"
        with tempfile.TemporaryDirectory() as d:
            out = os.path.join(d, "out.json")
            r = subprocess.run(
                [sys.executable, os.path.join(HERE, "mpqueue_bench.py"), "--sizes", "1,100",
                 "--messages", "20", "--trials", "2", "--warmup", "5",
                 "--placement", placement, "--json", out],
                capture_output=True, text=True, timeout=120,
            )
            self.assertEqual(r.returncode, 0, r.stderr)
            with open(out, encoding="utf-8") as f:
                res = json.load(f)
        self.assertEqual(res["schema_version"], 2)
        self.assertEqual(res["config"]["trials"], 2)
        self.assertEqual(res["config"]["messages"], 20)
        self.assertEqual(res["config"]["placements"], [placement])
        self.assertEqual(res["floors"], [])
        env = res["environment"]
        for k in ("tool", "cpu_model", "cores", "kernel", "rustc", "git_commit", "date",
                  "command_line", "clock_overhead_ns", "extra"):
            self.assertIn(k, env)
        extra = dict(env["extra"])
        for k in ("python", "numpy", "MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_"):
            self.assertIn(k, extra)
        cells = res["cells"]
        self.assertEqual(len(cells), 2 * 2 * 3)  # modes x sizes x metrics
        for c in cells:
            self.assertLessEqual(CELL_FIELDS, set(c), c)
            self.assertEqual(c["status"], "ok")
            self.assertEqual(c["codec"], "pickle")
            self.assertEqual(c["workload"], "seed")
            self.assertIn(c["transport"], mb.MODES)
            self.assertIn(c["size_bytes"], (8, 800))
            self.assertEqual(c["n"], 40)
            self.assertEqual(len(c["trial_means_ns"]), 2)
            self.assertEqual(len(c["trial_medians_ns"]), 2)
            self.assertGreater(c["mean_ns"], 0)
            self.assertLessEqual(c["min_ns"], c["p50_ns"])
            self.assertLessEqual(c["p50_ns"], c["max_ns"])

    def test_a_failed_trial_gives_failed_cells_and_exit_1(self):
        # No worker can start and answer within 0.1 ms: every trial fails.
        with tempfile.TemporaryDirectory() as d:
            out = os.path.join(d, "out.json")
            r = subprocess.run(
                [sys.executable, os.path.join(HERE, "mpqueue_bench.py"), "--sizes", "10",
                 "--messages", "5", "--trials", "2", "--warmup", "0", "--placement", "none",
                 "--timeout", "0.0001", "--json", out],
                capture_output=True, text=True, timeout=120,
            )
            self.assertEqual(r.returncode, 1, r.stderr)
            with open(out, encoding="utf-8") as f:
                cells = json.load(f)["cells"]
        self.assertEqual(len(cells), 2 * 3)
        for c in cells:
            self.assertEqual(c["status"], "failed")
            self.assertIn("0.0001", c["error"])
            self.assertEqual(c["trials"], 0)

    def test_fanout_writes_throughput_and_latency_cells(self):
        placement = "split" if {0, 1} <= os.sched_getaffinity(0) else "none"
        with tempfile.TemporaryDirectory() as d:
            out = os.path.join(d, "out.json")
            r = subprocess.run(
                [sys.executable, os.path.join(HERE, "mpqueue_bench.py"), "--sizes", "1,100",
                 "--messages", "20", "--trials", "2", "--warmup", "5", "--workloads", "fanout",
                 "--workers", "1,2", "--placement", placement, "--fanout-min-ms", "0", "--json", out],
                capture_output=True, text=True, timeout=120,
            )
            self.assertEqual(r.returncode, 0, r.stderr)
            with open(out, encoding="utf-8") as f:
                cells = json.load(f)["cells"]
        self.assertEqual(len(cells), 2 * 2 * 2)  # worker counts x sizes x metrics
        for c in cells:
            self.assertLessEqual(CELL_FIELDS, set(c), c)
            self.assertEqual(c["status"], "ok")
            self.assertEqual(c["transport"], "mp-queue")
            self.assertIn(c["workload"], ("fanout1", "fanout2"))
            self.assertEqual(c["workers"], int(c["workload"][-1]))
            self.assertEqual(c["n"], 40)
            self.assertEqual(c["trials"], 2)
            self.assertGreater(c["cpu_producer_ns"], 0)
            self.assertIn(c["metric"], schema.FANOUT_METRICS)
            if c["metric"] == "throughput":
                self.assertGreater(c["msgs_per_s"], 0)
                self.assertGreater(c["bytes_per_s"], 0)
                self.assertAlmostEqual(c["median_ns"], 1e9 / c["msgs_per_s"])
            self.assertLessEqual(c["min_ns"], c["p50_ns"])
            self.assertLessEqual(c["p50_ns"], c["max_ns"])

    def test_the_measured_phase_lasts_at_least_min_ms(self):
        # A fake carrier whose every ack takes 1 ms of a fake clock (the
        # workloads read the one clock of mpqueue_common, so the test can
        # stand in for it; a real sleep on a loaded machine lasts far longer
        # than asked). 3 tasks are asked for, but 20 ms too: the measured
        # phase starts at 2 ms (after 2 warm-up tasks) and puts a task after
        # every ack until 20 ms have passed, so 20 tasks, each 1 ms, over 20 ms.
        in_flight: list[int] = []
        now = [0]

        def put(seq: int) -> int:
            in_flight.append(seq)
            return now[0]

        def ack(_sent: dict) -> tuple[int, int, int]:
            now[0] += 1_000_000
            return in_flight.pop(0), now[0], now[0]

        real = workloads.clock
        workloads.clock = lambda _clock_id: now[0]
        try:
            lat, rate, _cpu = workloads.keep_in_flight(put, ack, lambda: not in_flight, 3, 2, 20.0)
            self.assertEqual(len(lat), 20)
            self.assertTrue((lat == 1_000_000).all())
            self.assertAlmostEqual(rate, 1000.0)
            lat, rate, _cpu = workloads.keep_in_flight(put, ack, lambda: not in_flight, 3, 2, 0.0)
            self.assertEqual(len(lat), 3)
            self.assertAlmostEqual(rate, 1000.0)
        finally:
            workloads.clock = real

    def test_a_negative_fanout_window_is_refused_by_value(self):
        r = subprocess.run(
            [sys.executable, os.path.join(HERE, "mpqueue_bench.py"), "--fanout-min-ms", "-5",
             "--json", "-"], capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 2)
        self.assertIn("invalid --fanout-min-ms -5", r.stderr)

    def test_every_alternative_runs_or_is_skipped_with_a_note(self):
        import alternatives

        with tempfile.TemporaryDirectory() as d:
            out = os.path.join(d, "out.json")
            r = subprocess.run(
                [sys.executable, os.path.join(HERE, "mpqueue_bench.py"), "--sizes", "2,1000",
                 "--messages", "10", "--trials", "1", "--warmup", "2", "--modes", "all",
                 "--workloads", "seed,fanout", "--workers", "2", "--fanout-modes", "all",
                 "--placement", "none", "--timeout", "60", "--json", out],
                capture_output=True, text=True, timeout=600,
            )
            self.assertEqual(r.returncode, 0, r.stderr)
            with open(out, encoding="utf-8") as f:
                res = json.load(f)
        missing = {n for n in alternatives.NAMES if alternatives.missing(n)}
        extra = dict(res["environment"]["extra"])
        for n in missing:
            self.assertIn(n, extra["skipped (package missing)"])
            self.assertIn(f"skipped (package missing): {n}", r.stderr)
        seed = {c["transport"] for c in res["cells"] if c["workload"] == "seed"}
        fan = {c["transport"] for c in res["cells"] if c["workload"] == "fanout2"}
        self.assertEqual(seed, {m for m in mb.MODES if common.base_name(m) not in missing})
        self.assertEqual(fan, set(alternatives.FANOUT) - missing)
        for c in res["cells"]:
            self.assertEqual(c["status"], "ok", c)
            self.assertLessEqual(CELL_FIELDS, set(c), c)

    def test_unknown_workload_is_refused(self):
        r = subprocess.run(
            [sys.executable, os.path.join(HERE, "mpqueue_bench.py"), "--workloads", "seed,paced",
             "--json", "-"],
            capture_output=True, text=True, timeout=60,
        )
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("paced", r.stderr)

    def test_bad_size_is_refused_with_the_value_named(self):
        r = subprocess.run(
            [sys.executable, os.path.join(HERE, "mpqueue_bench.py"), "--sizes", "abc",
             "--json", "-"],
            capture_output=True, text=True, timeout=60,
        )
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("'abc'", r.stderr)


def ray_processes() -> dict[int, str]:
    """Live processes of a Ray instance (pid: command line): the daemons name
    the session directory in their arguments, the agents and workers retitle
    themselves ``ray::...``. Zombies have no command line."""
    found = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if "ipcbench-ray-" in cmd or cmd.startswith("ray::"):
            found[int(pid)] = cmd[:120]
    return found


def run_ray(*extra: str) -> tuple[subprocess.CompletedProcess, dict | None, dict[int, str], set[str]]:
    """Runs the baseline with Ray on 100 elements: (the run, its results,
    Ray processes and session directories it left behind)."""
    dirs = lambda: set(glob.glob(os.path.join(tempfile.gettempdir(), "ipcbench-ray-*")))  # noqa: E731
    procs, before = ray_processes(), dirs()
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "out.json")
        r = subprocess.run(
            [sys.executable, os.path.join(HERE, "mpqueue_bench.py"), "--sizes", "100",
             "--trials", "1", "--warmup", "2", "--placement", "none", "--ray-placements", "none",
             "--fanout-min-ms", "0", "--json", out, *extra],
            capture_output=True, text=True, timeout=600,
        )
        res = None
        if os.path.exists(out):
            with open(out, encoding="utf-8") as f:
                res = json.load(f)
    left = {p: c for p, c in ray_processes().items() if p not in procs}
    return r, res, left, dirs() - before


class RayAlternative(unittest.TestCase):
    """Ray is opt-in; its actors verify like every other consumer."""

    def test_all_leaves_ray_out_and_all_ray_adds_it(self):
        import alternatives

        self.assertNotIn("ray", mb.mode_list("all", mb.MODES))
        self.assertNotIn("ray", mb.mode_list("all", alternatives.FANOUT))
        self.assertEqual(mb.mode_list("all,ray", alternatives.FANOUT), list(alternatives.FANOUT) + ["ray"])
        self.assertEqual(mb.mode_list("ray, ray,", mb.MODES), ["ray"])

    def test_ray_runs_only_at_its_placements(self):
        import argparse

        args = argparse.Namespace(modes=["mp-queue", "ray"], fanout_modes=["ray", "zmq"],
                                  ray_placements=["split"], placement="split")
        self.assertEqual(sweep.placement_modes(args), (["mp-queue", "ray"], ["ray", "zmq"]))
        args.placement = "same"
        self.assertEqual(sweep.placement_modes(args), (["mp-queue"], ["zmq"]))

    def test_consumer_actor_catches_loss_and_corruption(self):
        import ray_alternative as ra

        c = ra.Consumer(100, common.payload, common.verify)
        buf = common.payload(100)
        common.stamp(buf, 0)
        seq, t = c.take(buf)
        self.assertEqual(seq, 0)
        self.assertGreater(t, 0)
        common.stamp(buf, 2)  # message 1 lost
        kind, err = c.take(buf)
        self.assertEqual(kind, "error")
        self.assertIn("sequence", err)
        common.stamp(buf, 2)
        buf[50] = -1
        kind, err = c.take(buf)
        self.assertEqual(kind, "error")
        self.assertIn("corrupted", err)

    def test_worker_actor_counts_measured_tasks_and_catches_corruption(self):
        import ray_alternative as ra

        w = ra.Worker(1, 10, 2, common.payload, common.verify)
        buf = common.payload(10)
        for seq in (0, 2, 3):
            common.stamp(buf, seq)
            self.assertEqual(w.take(buf)[0], seq)
        self.assertEqual(w.cpu()[1], 2)  # tasks 2 and 3; 0 was warm-up
        buf[5] = -1
        err = w.take(buf)
        self.assertEqual(err[0], "error")
        self.assertIn("worker 1", err[1])

    @unittest.skipUnless(importlib.util.find_spec("ray"), "ray is not installed (bench-all installs it for --full runs)")
    def test_tiny_ray_run_seed_and_fanout(self):
        had_tmp_ray = os.path.exists("/tmp/ray")
        r, res, left, dirs = run_ray("--messages", "10", "--modes", "ray", "--workloads", "seed,fanout",
                                     "--workers", "2", "--fanout-modes", "ray", "--timeout", "120")
        self.assertEqual(r.returncode, 0, r.stderr)
        cells = res["cells"]
        self.assertEqual(len(cells), 3 + 2)  # seed put/get/total, fanout2 throughput/latency
        for c in cells:
            self.assertLessEqual(CELL_FIELDS, set(c), c)
            self.assertEqual(c["status"], "ok", c)
            self.assertEqual(c["transport"], "ray")
            self.assertEqual(c["n"], 10)
            self.assertIn("not pinned", c["note"])
            self.assertGreater(c["mean_ns"], 0)
        self.assertIn("ray", dict(res["environment"]["extra"]))
        # Ray shut down and its session directory removed.
        self.assertEqual((left, dirs), ({}, set()))
        self.assertEqual(os.path.exists("/tmp/ray"), had_tmp_ray)

    @unittest.skipUnless(importlib.util.find_spec("ray"), "ray is not installed (bench-all installs it for --full runs)")
    def test_a_ray_trial_killed_on_timeout_leaves_nothing(self):
        # Killed while Ray starts (3 s: its agents outlived a killed driver
        # before the process group was reaped) and while messages flow.
        for timeout in ("3", "8"):
            with self.subTest(timeout=timeout):
                r, res, left, dirs = run_ray("--messages", "1000000", "--modes", "ray", "--timeout", timeout)
                self.assertEqual(r.returncode, 1, r.stderr)
                self.assertTrue(all(c["status"] == "failed" for c in res["cells"]), res["cells"])
                self.assertIn(f"no result within {timeout} s", res["cells"][0]["error"])
                self.assertEqual((left, dirs), ({}, set()))


    @unittest.skipUnless(importlib.util.find_spec("ray"), "ray is not installed (bench-all installs it for --full runs)")
    def test_ray_stops_when_the_baseline_is_killed(self):
        # As bench-all stops the baseline on Ctrl-C: SIGTERM to the parent
        # alone, mid-trial; the driver notices and shuts Ray down.
        import signal
        import time

        procs = ray_processes()
        before = set(glob.glob(os.path.join(tempfile.gettempdir(), "ipcbench-ray-*")))
        with tempfile.TemporaryDirectory() as d:
            p = subprocess.Popen(
                [sys.executable, os.path.join(HERE, "mpqueue_bench.py"), "--sizes", "100",
                 "--trials", "1", "--warmup", "2", "--placement", "none", "--ray-placements",
                 "none", "--modes", "ray", "--messages", "1000000", "--timeout", "300", "--json", os.path.join(d, "o.json")],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )
            try:
                end = time.monotonic() + 120
                while not any("ray::Consumer" in c for c in ray_processes().values()):
                    self.assertLess(time.monotonic(), end, "the Ray consumer never started")
                    self.assertIsNone(p.poll(), "the baseline ended early")
                    time.sleep(0.2)
            finally:
                p.send_signal(signal.SIGTERM)
                p.wait(timeout=60)
        end = time.monotonic() + 30
        while True:
            left = {q: c for q, c in ray_processes().items() if q not in procs}
            dirs = set(glob.glob(os.path.join(tempfile.gettempdir(), "ipcbench-ray-*"))) - before
            if (left, dirs) == ({}, set()) or time.monotonic() > end:
                break
            time.sleep(0.5)
        self.assertEqual((left, dirs), ({}, set()))


if __name__ == "__main__":
    unittest.main()
