#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""The cluster suite's figures from cluster_events.sh's work directory, as one JSON object:
per event the long-lived connections broken in its window (failures whose time falls between
the event and the next one, counted once per connection), wrk's requests and errors in the run
that spans it (from a second before the event to the end of its window), the
router's convergence time and next hops; for the kill, what the killed instance held just
before; per instance its XDP forwarding to peers and its cluster figures at the end.

usage: cluster_report.py WORK_DIR
"""
import json
import os
import re
import sys

work = sys.argv[1]


def load(name, default=None):
    path = os.path.join(work, name)
    if not os.path.exists(path):
        return default
    with open(path) as f:
        return json.load(f)


def wrk(path):
    out = {"requests": 0, "errors": 0}
    if not os.path.exists(path):
        out["missing"] = True
        return out
    text = open(path).read()
    m = re.search(r"(\d+) requests in", text)
    out["requests"] = int(m.group(1)) if m else 0
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    if m:
        out["errors"] = sum(int(x) for x in m.groups())
        out["connect_errors"], out["read_errors"], out["write_errors"], out["timeouts"] = (
            int(x) for x in m.groups())
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    if m:
        out["errors"] += int(m.group(1))
    return out


events = [json.loads(line) for line in open(os.path.join(work, "events.jsonl"))]
ends = [json.loads(line) for line in open(os.path.join(work, "events-end.jsonl"))]
longlived = load("longlived.json", {})
failed = longlived.get("failed", [])
report = {"longlived": {k: longlived.get(k) for k in
                        ("connections", "requests", "failures", "resets", "reconnects", "max_ms")},
          "events": []}
# Failures before the first event belong to no event: the baseline must have none.
first = events[0]["at"] if events else float("inf")
report["baseline_broken"] = len({f[1] for f in failed if f[0] < first})
report["baseline_wrk"] = wrk(os.path.join(work, "wrk-baseline.txt"))
for i, e in enumerate(events):
    end = events[i + 1]["at"] if i + 1 < len(events) else ends[0]["at"]
    broken = {f[1] for f in failed if e["at"] <= f[0] < end}
    item = {"event": e["event"], "converged_s": round(float(e["converged_s"]), 2),
            "next_hops": e["next_hops"], "broken": len(broken),
            "failures": sum(1 for f in failed if e["at"] <= f[0] < end),
            "wrk": wrk(os.path.join(work, "wrk-%s.txt" % e["event"]))}
    clusters = e.get("clusters") or {}
    item["members_up"] = {name: [m["name"] for m in (c or {}).get("members", [])
                                 if m["state"] in ("self", "up")]
                          for name, c in clusters.items() if c}
    report["events"].append(item)
drain = (load("drain.json", {}) or {}).get("drain_status") or {}
report["drain"] = drain.get("drain", {})
report["drain"]["announced"] = drain.get("announced")
for name, key, out in (("before-kill.json", "before_kill", "kill"),
                       ("before-fail.json", "before_fail", "host_failure")):
    doc = load(name, {}) or {}
    report[out] = {"held_flows": (doc.get(key) or {}).get("local_flows"),
                   "held_longlived": doc.get("longlived_held")}
stats = load("stats.json", {}) or {}
report["instances"] = {}
for name, s in stats.items():
    if not s:
        continue
    report["instances"][name] = {
        "xdp_cluster_forward": s["xdp"].get("cluster_forward", 0),
        "xdp_cluster_forward_loop": s["xdp"].get("cluster_forward_loop", 0),
        "xdp_to_engine": s["xdp"].get("to_engine", 0),
        "created": s["conntrack"]["created"],
    }
print(json.dumps(report, indent=1))
