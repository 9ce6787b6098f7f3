#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Runs one libFuzzer target for a set time:
#   run.sh <binary> <seed corpus> <work dir> <seconds> [<longest input, bytes>]
# New inputs go to <work dir>/corpus (the seed corpus in the repo is only read), a finding to
# <work dir>/findings/ and fails the run. Prints the executions done, for the note's figures.
set -euo pipefail
bin=$1 seeds=$2 work=$3 seconds=$4 max_len=${5:-4200}
# The XDP target's coverage of bpf/ (`make fuzz` names its own file).
export LLVM_PROFILE_FILE=${LLVM_PROFILE_FILE:-$work/default.profraw}
mkdir -p "$work/corpus" "$work/findings" "$seeds"
log="$work/last.log"
status=0
"$bin" "$work/corpus" "$seeds" -max_total_time="$seconds" -max_len="$max_len" -rss_limit_mb=2048 \
  -timeout=10 -print_final_stats=1 -artifact_prefix="$work/findings/" >"$log" 2>&1 || status=$?
grep -E '^stat::number_of_executed_units|^stat::peak_rss_mb|^#[0-9]+ *DONE' "$log" || true
if [ "$status" -ne 0 ]; then
  tail -n 60 "$log"
  echo "finding(s) in $work/findings:" && ls "$work/findings"
fi
exit "$status"
