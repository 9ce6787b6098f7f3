#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Runs every benchmark binary in BIN_DIR, writing Google Benchmark JSON to OUT_DIR, then the
# plots (replay.png, xdp.png, flows.png) and the replay table (bench/plot.py).
# Usage: bench/run.sh BIN_DIR OUT_DIR [extra google-benchmark flags]
set -euo pipefail
bin=${1:?bin dir}
out=${2:?output dir}
shift 2
mkdir -p "$out"
reps=${XLB_BENCH_REPETITIONS:-3}
for b in "$bin"/xlb-bench-*; do
  name=$(basename "$b")
  echo "== $name (repetitions: $reps, median reported)"
  "$b" --benchmark_repetitions="$reps" --benchmark_report_aggregates_only=true \
       --benchmark_out="$out/$name.json" --benchmark_out_format=json "$@"
done
"$(dirname "$0")/plot.py" "$out"
echo "JSON and plots written to $out/"
