#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Plots of `make bench`'s JSON (Google Benchmark, medians of the repetitions):

  replay.png  xlb-sim replay throughput (Mpps) per capture: engine alone, the XDP program's
              native build + engine, the kernel's XDP (BPF_PROG_TEST_RUN) + engine;
  xdp.png     XDP cost per packet (ns), kernel and native build, per path.
  flows.png   the engine's throughput on established flows (Mpps, one core) by the number of
              flows in the table, with the table's bytes per connection.

Usage: bench/plot.py OUT_DIR (reads OUT_DIR/xlb-bench-replay.json, xlb-bench-xdp.json and
xlb-bench-core.json; a plot whose JSON is missing is skipped).
Prints the replay table as Markdown too.
"""
import json
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

MODES = ["engine", "native", "kernel"]
LABELS = {"engine": "engine only", "native": "XDP native + engine",
          "kernel": "XDP kernel + engine"}


def medians(path):
    """name (without the _median suffix) -> the median benchmark entry."""
    with open(path) as f:
        doc = json.load(f)
    out = {}
    for b in doc.get("benchmarks", []):
        if b.get("aggregate_name", "median") != "median" or b.get("error_occurred"):
            continue
        out[b["run_name"]] = b
    return out


def replay_plot(out_dir):
    path = os.path.join(out_dir, "xlb-bench-replay.json")
    if not os.path.exists(path):
        return
    # BM_Replay/<capture>/<mode>/iterations:N/manual_time -> BM_Replay/<capture>/<mode>
    m = {"/".join(name.split("/")[:3]): b for name, b in medians(path).items()}
    captures = []
    for name in m:
        parts = name.split("/")
        if parts[0] == "BM_Replay" and len(parts) == 3 and parts[1] not in captures:
            captures.append(parts[1])
    mpps = {(c, mode): m.get(f"BM_Replay/{c}/{mode}", {}).get("items_per_second", 0) / 1e6
            for c in captures for mode in MODES}
    print("| capture | " + " | ".join(LABELS[x] for x in MODES) + " | native / engine |")
    print("|---|" + "---:|" * (len(MODES) + 1))
    for c in captures:
        e, n = mpps[(c, "engine")], mpps[(c, "native")]
        ratio = f"{n / e:.2f}" if e else "-"
        print(f"| {c} | " + " | ".join(f"{mpps[(c, x)]:.2f}" for x in MODES) + f" | {ratio} |")
    fig, ax = plt.subplots(figsize=(8, 4.5))
    width = 0.27
    for i, mode in enumerate(MODES):
        xs = [k + (i - 1) * width for k in range(len(captures))]
        ys = [mpps[(c, mode)] for c in captures]
        bars = ax.bar(xs, ys, width, label=LABELS[mode])
        ax.bar_label(bars, fmt="%.2f", fontsize=8)
    ax.set_xticks(range(len(captures)))
    ax.set_xticklabels(captures)
    ax.set_ylabel("Mpps (one core)")
    ax.set_title("xlb-sim replay throughput")
    ax.legend()
    fig.tight_layout()
    fig.savefig(os.path.join(out_dir, "replay.png"), dpi=100)


def xdp_plot(out_dir):
    path = os.path.join(out_dir, "xlb-bench-xdp.json")
    if not os.path.exists(path):
        return
    m = medians(path)
    cases = []
    for name in m:
        if "/native:" not in name:
            continue  # the reference programs (BM_FloorPass) have no native build
        case = name.split("/")[0].removeprefix("BM_")
        if case not in cases:
            cases.append(case)

    def ns(case, native):
        for name, b in m.items():
            if name.startswith(f"BM_{case}/native:{native}/"):
                return b.get("ns_per_pkt", 0)
        return 0

    fig, ax = plt.subplots(figsize=(9, 4.5))
    width = 0.4
    for i, (native, label) in enumerate([(0, "kernel (BPF_PROG_TEST_RUN)"), (1, "native")]):
        xs = [k + (i - 0.5) * width for k in range(len(cases))]
        bars = ax.bar(xs, [ns(c, native) for c in cases], width, label=label)
        ax.bar_label(bars, fmt="%.0f", fontsize=7)
    ax.set_xticks(range(len(cases)))
    ax.set_xticklabels(cases, rotation=30, ha="right", fontsize=8)
    ax.set_ylabel("ns per packet")
    ax.set_title("XDP program cost per packet")
    ax.legend()
    fig.tight_layout()
    fig.savefig(os.path.join(out_dir, "xdp.png"), dpi=100)


def flows_plot(out_dir):
    path = os.path.join(out_dir, "xlb-bench-core.json")
    if not os.path.exists(path):
        return
    points = []
    for name, b in medians(path).items():
        parts = name.split("/")
        if parts[0] == "BM_PipelineEstablished" and len(parts) > 1 and parts[1].isdigit():
            points.append((int(parts[1]), b.get("items_per_second", 0) / 1e6,
                           b.get("bytes_per_conn", 0)))
    if not points:
        return
    points.sort()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    ax.plot([p[0] for p in points], [p[1] for p in points], marker="o")
    for flows, mpps, per_conn in points:
        ax.annotate(f"{mpps:.2f} Mpps\n{per_conn:.0f} B/conn", (flows, mpps),
                    textcoords="offset points", xytext=(0, 8), ha="center", fontsize=8)
    ax.set_xscale("log")
    ax.set_xlabel("established flows in the table")
    ax.set_ylabel("Mpps (one core)")
    ax.set_ylim(bottom=0, top=max(p[1] for p in points) * 1.3)
    ax.set_title("engine throughput by flow count (established TCP)")
    fig.tight_layout()
    fig.savefig(os.path.join(out_dir, "flows.png"), dpi=100)


def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else "build/bench"
    replay_plot(out_dir)
    xdp_plot(out_dir)
    flows_plot(out_dir)


if __name__ == "__main__":
    main()
