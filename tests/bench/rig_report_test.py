#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""bench/rig_report.py on recorded tool outputs (data/rig-raw: wrk and dnsperf from a real
bench-rig run) with cpu.json written per case: the host's steal time (which bench/rig.sh keeps
out of the busy ticks) is reported as its own row and warned about, in rig.md and on stderr,
from 5 % on."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
REPORT = os.path.join(HERE, "..", "..", "bench", "rig_report.py")
STEAL_ROW = "| host steal, share of the machine's time in those rounds |"


class RigReportSteal(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="xlb-rig-report-")
        self.raw = os.path.join(self.tmp, "raw")
        shutil.copytree(os.path.join(HERE, "data", "rig-raw"), self.raw)

    def tearDown(self):
        shutil.rmtree(self.tmp)

    def report(self, cpu):
        """Runs the report with `cpu` (lb -> cpu.json fields) and returns rig.md, rig.json,
        stderr."""
        for lb, fields in cpu.items():
            with open(os.path.join(self.raw, "run1", lb, "cpu.json"), "w") as f:
                json.dump(dict(fields, lb_process=False, lb_process_ticks=0, lb_pid=0,
                               ticks_per_second=100), f)
        out = os.path.join(self.tmp, "out")
        p = subprocess.run([sys.executable, REPORT, self.raw, out], capture_output=True,
                           text=True, check=False)
        self.assertEqual(p.returncode, 0, p.stderr)
        with open(os.path.join(out, "rig.md")) as f:
            md = f.read()
        with open(os.path.join(out, "rig.json")) as f:
            return md, json.load(f), p.stderr

    def test_steal_is_its_own_row_and_warned_about(self):
        md, result, err = self.report({
            "xlb": {"machine_busy_ticks": 1000, "machine_total_ticks": 2000,
                    "machine_steal_ticks": 920},
            "nftables": {"machine_busy_ticks": 900, "machine_total_ticks": 2000,
                         "machine_steal_ticks": 20},
        })
        self.assertAlmostEqual(result["lbs"]["xlb"]["machine_steal_share"], 0.46)
        self.assertAlmostEqual(result["lbs"]["nftables"]["machine_steal_share"], 0.01)
        row = next(line for line in md.splitlines() if line.startswith(STEAL_ROW))
        self.assertIn("46", row)
        self.assertIn("**The host took up to 46% of this VM's CPU time (steal)", md)
        self.assertIn("xlb 46%", md)
        self.assertIn("nftables 1%", md)
        self.assertIn("The host took up to 46%", err)

    def test_a_quiet_host_gets_no_warning(self):
        md, result, err = self.report({
            "xlb": {"machine_busy_ticks": 1000, "machine_total_ticks": 2000,
                    "machine_steal_ticks": 99},
            "nftables": {"machine_busy_ticks": 900, "machine_total_ticks": 2000,
                         "machine_steal_ticks": 0},
        })
        self.assertAlmostEqual(result["lbs"]["xlb"]["machine_steal_share"], 0.0495)
        self.assertNotIn("The host took", md)
        self.assertNotIn("The host took", err)

    def test_runs_recorded_before_steal_was_split_have_no_figure(self):
        md, result, err = self.report({
            lb: {"machine_busy_ticks": 1000, "machine_total_ticks": 2000}
            for lb in ("xlb", "nftables")})
        self.assertIsNone(result["lbs"]["xlb"]["machine_steal_share"])
        row = next(line for line in md.splitlines() if line.startswith(STEAL_ROW))
        self.assertEqual(row, STEAL_ROW + " n/a | n/a |")
        self.assertNotIn("The host took", md + err)


if __name__ == "__main__":
    unittest.main()
