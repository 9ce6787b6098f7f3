#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Judges a soak run (scripts/soak.sh) and plots its series.

Passes when, after warm-up, no series grows (RSS, connection entries, SNAT ports, UMEM frames
held by the application or the TX ring), the clients saw no error in chunks that overlap no
deliberate fault, every API operation was answered as expected, and at the end created ==
closed with 0 entries and 0 ports in use. Usage: soak_report.py OUT_DIR WARMUP_SECONDS
"""
import json
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def lines(path):
    with open(path) as f:
        return [json.loads(x) for x in f if x.strip()]


def with_stats(samples):
    """The samples whose /stats answered (soak.sh writes null when curl got no answer in 5 s)."""
    return [s for s in samples if isinstance(s.get("stats"), dict)]


def errors(chunk):
    return sum(chunk["kinds"].values())


def series(stats):
    out = {"t": [], "rss_mb": [], "entries": [], "snat_ports": [], "frames_free": [],
           "frames_fill": [], "frames_in_app": [], "frames_in_tx": [], "internal_errors": []}
    for s in stats:
        st = s["stats"]
        q = (st.get("afxdp") or [{}])[0].get("frames", {})
        out["t"].append(s["t"])
        out["rss_mb"].append(s["rss_kb"] / 1024)
        out["entries"].append(st["conntrack"]["active"])
        out["snat_ports"].append(st["snat"]["ports_in_use"])
        out["frames_free"].append(q.get("free", 0))
        out["frames_fill"].append(q.get("fill", 0))
        out["frames_in_app"].append(q.get("in_app", 0))
        out["frames_in_tx"].append(q.get("in_tx", 0))
        out["internal_errors"].append(sum(st.get("internal_errors", {}).values()))
    return out


# Counters that say where packets went or why a connection ended: their change over a chunk
# with client errors is printed beside it (traffic volume itself is left out).
WHY = ("xdp", "engine", "syncookies", "workers")
VOLUME = {"xdp.to_engine", "xdp.pass_not_ours", "engine.tx_to_backend", "engine.tx_to_client",
          "workers.batches", "workers.count"}


def why_counters(st):
    flat = {}
    for group in WHY:
        for k, v in (st.get(group) or {}).items():
            if isinstance(v, int) and "%s.%s" % (group, k) not in VOLUME:
                flat["%s.%s" % (group, k)] = v
    for k, v in st["conntrack"]["closed"].items():
        flat["closed." + k] = v
    for k in ("exhausted", "time_wait_collisions"):
        flat["snat." + k] = st["snat"].get(k, 0)
    for k, v in (st.get("afxdp") or [{}])[0].items():
        if isinstance(v, int) and k not in ("queue", "rx", "tx"):
            flat["afxdp." + k] = v
    return flat


def explain(chunk, stats, faults, ops):
    """One line on a chunk with client errors: its error kinds, the faults and API operations
    within 10 s of it, and what xlbd's counters did between the samples around it."""
    lo, hi = chunk["start"] - 10, chunk["end"] + 10
    near = ["%s %d-%d" % (f["fault"], f["start"], f["end"]) for f in faults
            if f["start"] <= hi and lo <= f["end"]]
    near += ["%s at %d (%s)" % (o["op"], o["at"], o["status"]) for o in ops
             if lo <= o["at"] <= hi and o["op"] not in ("block", "unblock")]
    before = [x for x in stats if x["t"] <= chunk["start"]]
    after = [x for x in stats if x["t"] >= chunk["end"]]
    moved = {}
    if before and after:
        a, b = why_counters(before[-1]["stats"]), why_counters(after[0]["stats"])
        moved = {k: b[k] - a.get(k, 0) for k in b if b[k] != a.get(k, 0)}
    return "%s %d-%d s: %s; near: %s; counters %s-%s s: %s" % (
        chunk["client"], chunk["start"], chunk["end"], chunk["kinds"],
        ", ".join(near) or "nothing", before[-1]["t"] if before else "?",
        after[0]["t"] if after else "?", moved)


def grows(values, slack):
    """True when the last third's peak is above the first third's by more than 25 % + slack."""
    if len(values) < 3:
        return False
    k = max(1, len(values) // 3)
    return max(values[-k:]) > max(values[:k]) * 1.25 + slack


def main():
    out, warmup = sys.argv[1], int(sys.argv[2])
    stats = with_stats(lines(os.path.join(out, "samples.jsonl")))
    chunks = lines(os.path.join(out, "chunks.jsonl"))
    faults = lines(os.path.join(out, "faults.jsonl"))
    ops = lines(os.path.join(out, "ops.jsonl"))
    final = json.load(open(os.path.join(out, "final-stats.json")))
    s = series(stats)
    after = [i for i, t in enumerate(s["t"]) if t >= warmup]
    checks = []

    def check(name, ok, detail):
        checks.append({"check": name, "ok": bool(ok), "detail": detail})

    slack = {"rss_mb": 8, "entries": 3000, "snat_ports": 3000, "frames_in_app": 64,
             "frames_in_tx": 64}
    for key, sl in slack.items():
        v = [s[key][i] for i in after]
        check("%s does not grow after warm-up" % key, not grows(v, sl),
              "first third peak %s, last third peak %s" % (
                  max(v[:max(1, len(v) // 3)]) if v else None,
                  max(v[-max(1, len(v) // 3):]) if v else None))
    total = [s["frames_free"][i] + s["frames_fill"][i] + s["frames_in_app"][i] +
             s["frames_in_tx"][i] for i in range(len(s["t"]))]
    check("UMEM frames all accounted for", len(set(total)) <= 1, "sum by sample: %s" % sorted(set(total)))

    def overlaps(c):
        return any(c["start"] <= f["end"] and f["start"] <= c["end"] and f["errors_expected"]
                   for f in faults)

    clean = [c for c in chunks if not overlaps(c)]
    faulty = [c for c in chunks if overlaps(c)]
    clean_errors = sum(errors(c) for c in clean)
    failed = [explain(c, stats, faults, ops) for c in clean if errors(c)]
    check("no client error outside deliberate faults", clean_errors == 0,
          "%d errors in %d clean chunks (%d requests); %d errors in %d chunks overlapping a health flap%s" % (
              clean_errors, len(clean), sum(c["requests"] for c in clean),
              sum(errors(c) for c in faulty), len(faulty),
              "".join("\n  " + x for x in failed[:6])))
    check("clients were served", sum(c["requests"] for c in chunks) > 0,
          "%d requests in all" % sum(c["requests"] for c in chunks))
    want = {"block": (201,), "unblock": (204, 404), "add b4": (201,), "drain b4": (200,),
            "remove b4": (204,)}
    bad_ops = [o for o in ops if o["status"] not in want.get(o["op"], (o["status"],))]
    check("every API operation answered as expected", not bad_ops,
          "%d operations, unexpected: %s" % (len(ops), bad_ops[:5]))
    check("no internal error", max(s["internal_errors"] or [0]) == 0,
          "internal errors: %s" % (s["internal_errors"][-1:] or [0]))
    ct = final["conntrack"]
    closed = sum(ct["closed"].values())
    check("drained: 0 entries, 0 ports, created == closed",
          ct["active"] == 0 and final["snat"]["ports_in_use"] == 0 and ct["created"] == closed,
          "active %d, ports %d, created %d, closed %d" % (
              ct["active"], final["snat"]["ports_in_use"], ct["created"], closed))
    ok = all(c["ok"] for c in checks)
    summary = {"pass": ok, "samples": len(s["t"]), "duration_s": s["t"][-1] if s["t"] else 0,
               "checks": checks, "series": s}
    with open(os.path.join(out, "summary.json"), "w") as f:
        json.dump(summary, f, indent=2)

    fig, ax = plt.subplots(2, 2, figsize=(12, 7))
    plots = ((ax[0][0], "RSS (MiB)", ["rss_mb"]), (ax[0][1], "connection entries", ["entries"]),
             (ax[1][0], "SNAT ports in use", ["snat_ports"]),
             (ax[1][1], "UMEM frames by place",
              ["frames_free", "frames_fill", "frames_in_app", "frames_in_tx"]))
    for a, title, keys in plots:
        for k in keys:
            a.plot(s["t"], s[k], label=k)
        a.axvline(warmup, color="grey", linestyle=":")
        a.set_title(title)
        a.set_xlabel("seconds")
        a.set_ylim(bottom=0)
        if len(keys) > 1:
            a.legend(fontsize=8)
    fig.suptitle("xlb soak: %s" % ("pass" if ok else "FAIL"))
    fig.tight_layout()
    fig.savefig(os.path.join(out, "soak.png"), dpi=100)
    for c in checks:
        print("%s %s: %s" % ("ok  " if c["ok"] else "FAIL", c["check"], c["detail"]))
    print("soak: %s (%d samples over %d s); %s/summary.json, soak.png" % (
        "PASS" if ok else "FAIL", len(s["t"]), summary["duration_s"], out))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
