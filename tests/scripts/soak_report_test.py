#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""scripts/soak_report.py on a small made-up soak output: a clean run passes; errors in a chunk
that overlaps no deliberate fault fail the run, and the failed check names the chunk with wrk's
error kinds, the faults and API operations near it (not the blocklist churn) and the counters
that moved over it; errors under a health flap do not fail it; a sample without stats is
skipped."""
import ast
import copy
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
REPORT = os.path.join(HERE, "..", "..", "scripts", "soak_report.py")
CLEAN_CHECK = "no client error outside deliberate faults"


def stats(t):
    """xlbd's /stats at second t of a steady run: the counters the report reads."""
    return {
        "conntrack": {"active": 100, "created": 1000 + t, "closed": {"fin": 900 + t, "rst": 0}},
        "snat": {"ports_in_use": 100, "exhausted": 0, "time_wait_collisions": 0},
        "afxdp": [{"queue": 0, "rx": 10 * t, "tx": 10 * t, "fill_ring_empty": 0,
                   "frames": {"free": 3000, "fill": 1000, "in_app": 40, "in_tx": 56}}],
        "xdp": {"to_engine": 50 * t, "pass_not_ours": 0, "blocklist_drop": 0},
        "engine": {"tx_to_backend": 40 * t, "tx_to_client": 40 * t, "no_backend": 0},
        "syncookies": {"sent": 0},
        "workers": {"count": 1, "batches": 7 * t},
        "internal_errors": {"api": 0, "worker": 0},
    }


class SoakReport(unittest.TestCase):
    def setUp(self):
        self.out = tempfile.mkdtemp(prefix="xlb-soak-report-")
        self.samples = [{"t": t, "rss_kb": 20480, "stats": stats(t)} for t in range(0, 130, 10)]
        self.chunks = [{"client": c, "start": t, "end": t + 10, "requests": 5000, "kinds": {}}
                       for c in ("keepalive", "close") for t in range(0, 120, 10)]
        self.faults = [{"fault": "syn_flood", "start": 22, "end": 28, "errors_expected": False},
                       {"fault": "health_flap b3", "start": 92, "end": 100,
                        "errors_expected": True}]
        self.ops = [{"op": "block", "at": 55, "status": 201},
                    {"op": "add b4", "at": 56, "status": 201},
                    {"op": "remove b4", "at": 68, "status": 204}]

    def tearDown(self):
        shutil.rmtree(self.out)

    def chunk(self, client, start):
        return next(c for c in self.chunks if c["client"] == client and c["start"] == start)

    def report(self):
        """Writes the run's files, runs the report; returns its exit code and checks by name."""
        for name, rows in (("samples", self.samples), ("chunks", self.chunks),
                           ("faults", self.faults), ("ops", self.ops)):
            with open(os.path.join(self.out, name + ".jsonl"), "w") as f:
                f.writelines(json.dumps(r) + "\n" for r in rows)
        final = copy.deepcopy(self.samples[-1]["stats"])
        final["conntrack"].update(active=0, created=2000, closed={"fin": 2000})
        final["snat"]["ports_in_use"] = 0
        with open(os.path.join(self.out, "final-stats.json"), "w") as f:
            json.dump(final, f)
        p = subprocess.run([sys.executable, REPORT, self.out, "30"], capture_output=True,
                           text=True, check=False)
        self.assertTrue(os.path.exists(os.path.join(self.out, "soak.png")), p.stderr)
        with open(os.path.join(self.out, "summary.json")) as f:
            summary = json.load(f)
        self.assertEqual(summary["pass"], p.returncode == 0)
        return p.returncode, {c["check"]: c for c in summary["checks"]}

    def test_clean_run_passes(self):
        rc, checks = self.report()
        self.assertEqual(rc, 0, [c for c in checks.values() if not c["ok"]])
        self.assertIn("0 errors in 20 clean chunks (100000 requests)",
                      checks[CLEAN_CHECK]["detail"])

    def test_errors_in_a_clean_chunk_name_it_with_kinds_neighbours_and_counters(self):
        self.chunk("close", 50)["kinds"] = {"read": 2, "connect": 1}
        self.samples[6]["stats"]["xdp"]["blocklist_drop"] = 7          # t = 60
        self.samples[6]["stats"]["snat"]["exhausted"] = 3
        rc, checks = self.report()
        self.assertEqual(rc, 1)
        c = checks[CLEAN_CHECK]
        self.assertFalse(c["ok"])
        self.assertIn("3 errors in 20 clean chunks", c["detail"])
        line = c["detail"].splitlines()[1].strip()
        self.assertTrue(line.startswith("close 50-60 s: {'read': 2, 'connect': 1}"), line)
        self.assertIn("near: add b4 at 56 (201), remove b4 at 68 (204);", line)
        self.assertNotIn("block at", line)           # blocklist churn is not a neighbour
        self.assertNotIn("syn_flood", line)          # 22-28 is more than 10 s before 50
        self.assertIn("counters 50-60 s:", line)
        moved = ast.literal_eval(line.split("counters 50-60 s: ", 1)[1])
        self.assertEqual(moved["xdp.blocklist_drop"], 7)
        self.assertEqual(moved["snat.exhausted"], 3)
        self.assertEqual(moved["closed.fin"], 10)
        for volume in ("xdp.to_engine", "engine.tx_to_backend", "workers.batches", "afxdp.rx"):
            self.assertNotIn(volume, moved)
        self.assertNotIn("engine.no_backend", moved)  # unchanged counters are left out

    def test_errors_under_a_health_flap_do_not_fail_the_run(self):
        self.chunk("close", 90)["kinds"] = {"timeout": 20}
        rc, checks = self.report()
        self.assertEqual(rc, 0)
        self.assertIn("20 errors in 4 chunks overlapping a health flap",
                      checks[CLEAN_CHECK]["detail"])

    def test_a_sample_without_stats_is_skipped(self):
        self.samples[6]["stats"] = None               # t = 60: /stats did not answer
        self.chunk("keepalive", 50)["kinds"] = {"timeout": 1}
        rc, checks = self.report()
        self.assertEqual(rc, 1)
        line = checks[CLEAN_CHECK]["detail"].splitlines()[1]
        self.assertIn("counters 50-70 s:", line)     # the next sample that answered

    def test_growing_entries_fail_the_run(self):
        for s in self.samples[9:]:
            s["stats"]["conntrack"]["active"] = 5000
        rc, checks = self.report()
        self.assertEqual(rc, 1)
        self.assertFalse(checks["entries does not grow after warm-up"]["ok"])


if __name__ == "__main__":
    unittest.main()
