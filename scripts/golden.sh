#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# make golden: regenerates the committed golden inputs (from their seeds) and the reports the
# replay of each must produce. Run it when a change of behaviour is intended, then review the
# diff of pcaps/golden/*.report.json like any other change. Needs root (the XDP stage).
set -euo pipefail
cd "$(dirname "$0")/.."
SIM=${SIM:-build/bin/xlb-sim}
G=pcaps/golden
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
strip_rate() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); d.pop('rate'); print(json.dumps(d, indent=2, sort_keys=True))" "$1"; }

"$SIM" generate --kind mixed --seed 1 --out "$G/mixed.pcap"
"$SIM" replay --config pcaps/sim.yaml --in "$G/mixed.pcap" --out "$tmp/out.pcap" --report "$tmp/r.json"
strip_rate "$tmp/r.json" >"$G/mixed.report.json"
"$SIM" replay --no-xdp --config pcaps/sim.yaml --in "$G/mixed.pcap" --out "$tmp/out.pcap" --report "$tmp/r.json"
strip_rate "$tmp/r.json" >"$G/mixed.engine.report.json"
echo "golden: regenerated $(ls $G | tr '\n' ' ')"
