#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Turns bench/rig.sh's raw outputs into build/bench/rig.json, rig.md and PNG plots.

Every figure is the median over the runs; ratios are to nftables measured in the same runs.
Usage: rig_report.py RAW_DIR OUT_DIR
"""
import json
import os
import re
import statistics
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def parse_wrk(path):
    """Requests/s, requests, errors and latency percentiles (ms) from wrk --latency output."""
    out = {"rps": 0.0, "requests": 0, "errors": 0, "p50_ms": None, "p99_ms": None}
    if not os.path.exists(path):
        return out
    text = open(path).read()
    m = re.search(r"Requests/sec:\s+([\d.]+)", text)
    if m:
        out["rps"] = float(m.group(1))
    m = re.search(r"(\d+) requests in", text)
    if m:
        out["requests"] = int(m.group(1))
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    if m:
        out["errors"] += sum(int(x) for x in m.groups())
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    if m:
        out["errors"] += int(m.group(1))
    for pct, key in (("50", "p50_ms"), ("99", "p99_ms")):
        m = re.search(r"^\s+%s%%\s+([\d.]+)(us|ms|s)\s*$" % pct, text, re.M)
        if m:
            out[key] = float(m.group(1)) * UNITS[m.group(2)]
    return out


def parse_dnsperf(path):
    """Queries/s and the share lost from dnsperf's summary (None when it did not run)."""
    if not os.path.exists(path):
        return {"qps": None, "lost": None}
    text = open(path).read()
    qps = re.search(r"Queries per second:\s+([\d.]+)", text)
    sent = re.search(r"Queries sent:\s+(\d+)", text)
    lost = re.search(r"Queries lost:\s+(\d+)", text)
    return {"qps": float(qps.group(1)) if qps else 0.0,
            "lost": int(lost.group(1)) / int(sent.group(1)) if lost and sent and int(sent.group(1))
            else None}


def hping_sent(path):
    """Packets hping3 says it sent (its summary line), or None."""
    if not os.path.exists(path):
        return None
    m = re.search(r"(\d+) packets transmitted", open(path).read())
    return int(m.group(1)) if m else None


def one_run(d):
    ka = parse_wrk(os.path.join(d, "keepalive.txt"))
    rounds = []
    r = 1
    while os.path.exists(os.path.join(d, "sustained-%d.txt" % r)):
        rounds.append(parse_wrk(os.path.join(d, "sustained-%d.txt" % r)))
        r += 1
    tw_path = os.path.join(d, "client-time-wait.txt")
    client_tw = [int(x) for x in open(tw_path).read().split()] if os.path.exists(tw_path) else []
    cpu = json.load(open(os.path.join(d, "cpu.json")))
    requests = sum(x["requests"] for x in rounds) or 1
    hz = cpu["ticks_per_second"]
    noflood = parse_wrk(os.path.join(d, "noflood.txt"))
    flood = parse_wrk(os.path.join(d, "flood.txt"))
    single_path = os.path.join(d, "flood-single.txt")
    single = parse_wrk(single_path) if os.path.exists(single_path) else None
    sink_path = os.path.join(d, "flood-sink.txt")
    sink = parse_wrk(sink_path) if os.path.exists(sink_path) else None
    dns = parse_dnsperf(os.path.join(d, "dns.txt"))
    return {
        "dns_qps": dns["qps"],
        "dns_lost": dns["lost"],
        "keepalive_rps": ka["rps"],
        "keepalive_p50_ms": ka["p50_ms"],
        "keepalive_p99_ms": ka["p99_ms"],
        "keepalive_errors": ka["errors"],
        "sustained_rounds_rps": [x["rps"] for x in rounds],
        "sustained_first_rps": rounds[0]["rps"] if rounds else 0.0,
        "sustained_last_rps": rounds[-1]["rps"] if rounds else 0.0,
        "sustained_rps": statistics.mean(x["rps"] for x in rounds) if rounds else 0.0,
        "sustained_p50_ms": rounds[-1]["p50_ms"] if rounds else None,
        "sustained_p99_ms": rounds[-1]["p99_ms"] if rounds else None,
        "sustained_errors": sum(x["errors"] for x in rounds),
        "client_time_wait_max": max(client_tw) if client_tw else None,
        "lb_process_cpu_ms_per_1k": (cpu["lb_process_ticks"] / hz) / requests * 1e6
        if cpu["lb_process"] else None,
        "machine_cpu_ms_per_1k": (cpu["machine_busy_ticks"] / hz) / requests * 1e6,
        # Runs recorded before steal was split out have no steal figure.
        "machine_steal_share": cpu["machine_steal_ticks"] / cpu["machine_total_ticks"]
        if "machine_steal_ticks" in cpu and cpu["machine_total_ticks"] else None,
        "noflood_rps": noflood["rps"],
        "flood_rps": flood["rps"],
        "flood_ratio": flood["rps"] / noflood["rps"] if noflood["rps"] else 0.0,
        "flood_errors": flood["errors"],
        "single_flood_rps": single["rps"] if single else None,
        "single_flood_ratio": single["rps"] / noflood["rps"] if single and noflood["rps"] else None,
        "sink_flood_rps": sink["rps"] if sink else None,
        "sink_flood_ratio": sink["rps"] / noflood["rps"] if sink and noflood["rps"] else None,
        "single_flood_vs_sink": single["rps"] / sink["rps"] if single and sink and sink["rps"]
        else None,
        "single_flood_syns": hping_sent(os.path.join(d, "hping3-single.txt")),
        "sink_flood_syns": hping_sent(os.path.join(d, "hping3-sink.txt")),
    }


STEAL_WARN = 0.05  # a host taking 5 % of the VM's time already moves the rates visibly


def steal_warning(result, order):
    """A line saying the host stole CPU time during the runs, or None on a quiet host."""
    per_run = {lb: [r["machine_steal_share"] for r in result["lbs"][lb]["runs"]] for lb in order}
    seen = [v for vs in per_run.values() for v in vs if v is not None]
    if not seen or max(seen) < STEAL_WARN:
        return None
    runs = "; ".join("%s %s" % (lb, " / ".join("n/a" if v is None else "%.0f%%" % (v * 100)
                                               for v in vs)) for lb, vs in per_run.items())
    return ("**The host took up to %.0f%% of this VM's CPU time (steal) in the new-connection "
            "rounds** (per run: %s). Rates from such runs are lower and noisier than on a quiet "
            "host, and in the runs recorded so far xlb's userspace hop lost more to it than the "
            "kernel-only nftables (docs/ARCHITECTURE.md, bench-rig)." % (max(seen) * 100, runs))


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def cluster_part(raw):
    """bench/cluster.sh's runs: medians of wrk through one and three instances, and of the
    forwarding run (None when the cluster part did not run)."""
    base = os.path.join(raw, "cluster")
    if not os.path.isdir(base):
        return None
    runs = []
    for r in sorted(os.listdir(base)):
        d = os.path.join(base, r)
        w = {k: parse_wrk(os.path.join(d, k + ".txt")) for k in
             ("one-keepalive", "one-newconn", "three-keepalive", "three-newconn",
              "moved-keepalive")}
        moved, steady = {}, {}
        if os.path.exists(os.path.join(d, "moved.json")):
            moved = json.load(open(os.path.join(d, "moved.json")))
        if os.path.exists(os.path.join(d, "steady.json")):
            steady = json.load(open(os.path.join(d, "steady.json")))
        one = {k.replace("-", "_") + "_rps": (v or {}).get("rps") for k, v in w.items()}
        one["errors"] = sum((v or {}).get("errors", 0) for v in w.values())
        one["extra_hop_share"] = (moved["forwarded"] / moved["client_packets"]
                                  if moved.get("client_packets") else None)
        one["steady_extra_hop_share"] = (steady["forwarded"] / steady["client_packets"]
                                         if steady.get("client_packets") else None)
        runs.append(one)
    if not runs:
        return None
    keys = [k for k in runs[0]]
    med = {k: median([r[k] for r in runs]) for k in keys}
    med["runs"] = runs
    return med


def main():
    raw, out = sys.argv[1], sys.argv[2]
    meta = json.load(open(os.path.join(raw, "meta.json")))
    runs = sorted(d for d in os.listdir(raw) if d.startswith("run"))
    direct_dir = os.path.join(raw, "direct")
    direct = [parse_dnsperf(os.path.join(direct_dir, r, "dns.txt"))
              for r in sorted(os.listdir(direct_dir))] if os.path.isdir(direct_dir) else []
    lbs = sorted({lb for r in runs for lb in os.listdir(os.path.join(raw, r))})
    per = {lb: [one_run(os.path.join(raw, r, lb)) for r in runs
                if os.path.isdir(os.path.join(raw, r, lb))] for lb in lbs}
    keys = [k for k in next(iter(per.values()))[0] if k != "sustained_rounds_rps"]
    result = {"meta": meta, "lbs": {}}
    for lb, rs in per.items():
        med = {k: median([r[k] for r in rs]) for k in keys}
        n = max(len(r["sustained_rounds_rps"]) for r in rs)
        med["sustained_rounds_rps"] = [
            median([r["sustained_rounds_rps"][i] for r in rs if i < len(r["sustained_rounds_rps"])])
            for i in range(n)]
        med["runs"] = rs
        result["lbs"][lb] = med
    base = result["lbs"].get("nftables")
    goals = {}
    if base and "xlb" in result["lbs"]:
        x = result["lbs"]["xlb"]
        goals = {
            "keepalive_vs_nftables": x["keepalive_rps"] / base["keepalive_rps"],
            "sustained_vs_nftables": x["sustained_rps"] / base["sustained_rps"],
            "sustained_last_vs_nftables": x["sustained_last_rps"] / base["sustained_last_rps"],
            "xlb_flood_ratio": x["flood_ratio"],
            "xlb_single_flood_ratio": x["single_flood_ratio"],
            "xlb_single_flood_vs_sink": x["single_flood_vs_sink"],
        }
    result["dns_direct_qps"] = median([d["qps"] for d in direct])
    if base and "xlb" in result["lbs"] and base["dns_qps"] and result["lbs"]["xlb"]["dns_qps"]:
        goals["dns_vs_nftables"] = result["lbs"]["xlb"]["dns_qps"] / base["dns_qps"]
        if result["dns_direct_qps"]:
            goals["dns_vs_direct"] = result["lbs"]["xlb"]["dns_qps"] / result["dns_direct_qps"]
    result["goals"] = goals
    result["cluster"] = cluster_part(raw)
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "rig.json"), "w") as f:
        json.dump(result, f, indent=2)

    def fmt(v, spec="{:,.0f}"):
        return "n/a" if v is None else spec.format(v)

    rows = [
        ("keep-alive requests/s", "keepalive_rps", "{:,.0f}"),
        ("new connections/s, 1st 10 s", "sustained_first_rps", "{:,.0f}"),
        ("new connections/s, last 10 s", "sustained_last_rps", "{:,.0f}"),
        ("new connections/s, whole run", "sustained_rps", "{:,.0f}"),
        ("p50 latency, keep-alive (ms)", "keepalive_p50_ms", "{:.2f}"),
        ("p99 latency, keep-alive (ms)", "keepalive_p99_ms", "{:.2f}"),
        ("p50 latency, new connections (ms)", "sustained_p50_ms", "{:.2f}"),
        ("p99 latency, new connections (ms)", "sustained_p99_ms", "{:.2f}"),
        ("LB process CPU ms per 1,000 requests", "lb_process_cpu_ms_per_1k", "{:.1f}"),
        ("machine CPU ms per 1,000 requests", "machine_cpu_ms_per_1k", "{:.1f}"),
        ("host steal, share of the machine's time in those rounds", "machine_steal_share",
         "{:.1%}"),
        ("new connections/s under SYN flood", "flood_rps", "{:,.0f}"),
        ("... as a share of no flood", "flood_ratio", "{:.1%}"),
        ("new connections/s under a single-source SYN flood", "single_flood_rps", "{:,.0f}"),
        ("... as a share of no flood", "single_flood_ratio", "{:.1%}"),
        ("... SYNs hping3 sent", "single_flood_syns", "{:,.0f}"),
        ("new connections/s, the same flood to a sink in the client namespace", "sink_flood_rps",
         "{:,.0f}"),
        ("... as a share of no flood (the flood tool's own cost)", "sink_flood_ratio", "{:.1%}"),
        ("... SYNs hping3 sent", "sink_flood_syns", "{:,.0f}"),
        ("single-source flood as a share of the sink flood", "single_flood_vs_sink", "{:.1%}"),
        ("client TIME_WAIT sockets, most after a round", "client_time_wait_max", "{:,.0f}"),
        ("DNS queries/s (dnsperf, 20 sockets)", "dns_qps", "{:,.0f}"),
        ("... queries lost", "dns_lost", "{:.2%}"),
        ("errors (sustained, flood)", None, None),
    ]
    order = [lb for lb in ("xlb", "nftables", "haproxy") if lb in result["lbs"]]
    md = ["# Rig benchmark (`make bench-rig`)", "",
          "Median of %d runs; %d s of new connections per LB in 10 s rounds; kernel %s, %d CPUs."
          % (meta["runs"], meta["sustain_seconds"], meta["kernel"], meta["cpus"]), "",
          "| | " + " | ".join(order) + " |", "|---|" + "---|" * len(order)]
    for label, key, spec in rows:
        if key is None:
            cells = ["%d, %d" % (result["lbs"][lb]["sustained_errors"],
                                 result["lbs"][lb]["flood_errors"]) for lb in order]
        else:
            cells = [fmt(result["lbs"][lb][key], spec) for lb in order]
        md.append("| %s | %s |" % (label, " | ".join(cells)))
    if goals:
        md += ["", "Ratios to nftables: keep-alive %.2f, new connections %.2f (last 10 s %.2f); "
               "xlb keeps %.0f%% of its rate under the flood." % (
                   goals["keepalive_vs_nftables"], goals["sustained_vs_nftables"],
                   goals["sustained_last_vs_nftables"], goals["xlb_flood_ratio"] * 100)]
    warning = steal_warning(result, order)
    if warning:
        md += ["", warning]
        print("bench-rig: " + warning, file=sys.stderr)
    if result["dns_direct_qps"]:
        md += ["", "DNS straight to one backend (no load balancer): %s queries/s%s." % (
            fmt(result["dns_direct_qps"]),
            "; xlb %.2f of it, %.2f of nftables" % (goals["dns_vs_direct"], goals["dns_vs_nftables"])
            if "dns_vs_direct" in goals else "")]
    c = result["cluster"]
    if c:
        md += ["", "Cluster (three xlbd instances behind a BIRD router's ECMP, `bench/cluster.sh`, "
               "median of %d runs):" % len(c["runs"]), "",
               "| | 1 instance | 3 instances | 3, two of them joined after the connections opened |",
               "|---|---|---|---|",
               "| keep-alive requests/s | %s | %s | %s |" % (
                   fmt(c["one_keepalive_rps"]), fmt(c["three_keepalive_rps"]),
                   fmt(c["moved_keepalive_rps"])),
               "| new connections/s | %s | %s | |" % (
                   fmt(c["one_newconn_rps"]), fmt(c["three_newconn_rps"])),
               "| client packets that took an extra hop | (no peer) | %s | %s |" % (
                   fmt(c["steady_extra_hop_share"], "{:.2%}"), fmt(c["extra_hop_share"], "{:.1%}")),
               "| wrk errors, all runs | %d | | |" % sum(r["errors"] for r in c["runs"])]
    md += ["", "LB process CPU counts the load balancer's own process (xlbd, haproxy); XDP and "
           "netfilter run in the kernel's softirq and show only in the machine figure, which also "
           "counts the clients and backends sharing the machine."]
    with open(os.path.join(out, "rig.md"), "w") as f:
        f.write("\n".join(md) + "\n")

    colors = {"xlb": "tab:blue", "nftables": "tab:orange", "haproxy": "tab:green"}
    fig, ax = plt.subplots(1, 3, figsize=(14, 4))
    for i, (title, key) in enumerate((("keep-alive requests/s", "keepalive_rps"),
                                      ("new connections/s (whole run)", "sustained_rps"),
                                      ("share kept under SYN flood", "flood_ratio"))):
        ax[i].bar(order, [result["lbs"][lb][key] for lb in order],
                  color=[colors[lb] for lb in order])
        ax[i].set_title(title)
    fig.tight_layout()
    fig.savefig(os.path.join(out, "rig-comparison.png"), dpi=100)
    fig, ax = plt.subplots(figsize=(7, 4))
    for lb in order:
        series = result["lbs"][lb]["sustained_rounds_rps"]
        ax.plot([10 * (i + 1) for i in range(len(series))], series, marker="o", label=lb,
                color=colors[lb])
    ax.set_xlabel("seconds of connection-per-request load")
    ax.set_ylabel("new connections/s (10 s round)")
    ax.set_ylim(bottom=0)
    ax.legend()
    ax.set_title("Sustained new connections")
    fig.tight_layout()
    fig.savefig(os.path.join(out, "rig-sustained.png"), dpi=100)
    print("\n".join(md))
    print("\nwritten: %s/rig.json, rig.md, rig-comparison.png, rig-sustained.png" % out)


if __name__ == "__main__":
    main()
