#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# make soak: xlbd on the netns rig for SOAK_MINUTES (default 30) under mixed traffic: keep-alive
# and connection-per-request clients, SYN-flood bursts, blocklist churn over the API, and a
# backend added, drained and removed while another is health-flapped, every minute. Every 10 s
# it samples xlbd's RSS, where the UMEM frames are, connection entries, SNAT ports in use and
# errors. It passes (exit 0) when nothing grows after warm-up, clients saw no error outside the
# deliberate faults, and at the end created == closed with no entry and no port left.
# Writes OUT_DIR/samples.jsonl, chunks.jsonl, summary.json and soak.png (scripts/soak_report.py).
# Usage: scripts/soak.sh [OUT_DIR]      (root; every load is bounded in time and count)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-build/soak}
MINUTES=${SOAK_MINUTES:-30}
WARMUP=${SOAK_WARMUP_SECONDS:-30}
VIP=10.100.0.100
URL=http://$VIP/
[[ $(id -u) -eq 0 ]] || { echo "soak: needs root (network namespaces, XDP)" >&2; exit 1; }
for t in wrk hping3 nft curl /usr/bin/python3; do
  command -v "$t" >/dev/null || { echo "soak: $t missing (run ci/deps.sh)" >&2; exit 1; }
done
rm -rf "$OUT"
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)

# shellcheck source=netns/lib.sh
source scripts/netns/lib.sh
rig_init soak
rig_up 3 4 >/dev/null
for i in 1 2 3 4; do rig_backend_nginx "$i" >/dev/null; done
WORK=$(mktemp -d "/tmp/${RIG_PREFIX}-soak.XXXX")
rig_xlb_yaml 20000-29999 2000 "$WORK/state" "conntrack:
  capacity: 100000
  timeouts: {syn: 3s, established: 30s, fin: 3s, time_wait: 2s, rst: 1s}
health_check: {interval: 500ms, timeout: 200ms, rise: 2, fall: 2}" >"$WORK/xlb.yaml"
rig_start_xlbd "$WORK/xlb.yaml" "$OUT/xlbd.log"
XLBD=$RIG_XLBD_PID
api() {  # api METHOD PATH [BODY] -> HTTP status on stdout
  rig_exec lb curl -s -o /dev/null -w '%{http_code}' -m 5 -X "$1" \
    -H "Authorization: Bearer $(cat "$WORK/state/api-token")" \
    ${3:+-H 'Content-Type: application/json' -d "$3"} "http://127.0.0.1:9180$2" || true
}
stats() { rig_exec lb curl -s -m 5 http://127.0.0.1:9180/api/v1/stats; }

START=$(date +%s)
END=$((START + MINUTES * 60))
now() { echo $(($(date +%s) - START)); }

# A client loop: wrk in 10 s chunks until the end; one JSON line per chunk.
client() {  # client NS NAME WRK_ARGS...
  local ns=$1 name=$2 t0 out
  shift 2
  while (($(date +%s) + 10 <= END)); do
    t0=$(now)
    out=$(rig_exec "$ns" timeout 25 wrk -t1 "$@" -d10s "$URL" 2>&1 || true)
    /usr/bin/python3 - "$name" "$t0" "$(now)" "$out" >>"$OUT/chunks.jsonl" <<'PY'
import json, re, sys
name, t0, t1, text = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
m = re.search(r"(\d+) requests in", text)
e = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
n = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
# By kind, so a failed run says what the clients saw (refused, reset, stalled, a bad status).
kinds = dict(zip(("connect", "read", "write", "timeout"), map(int, e.groups()) if e else ()))
kinds["non2xx"] = int(n.group(1)) if n else 0
kinds = {k: v for k, v in kinds.items() if v}
# One write per line: clients append to the same file at the same moments (O_APPEND keeps a
# single write whole; print() may write the object and its newline apart).
sys.stdout.write(json.dumps({"client": name, "start": t0, "end": t1,
                             "requests": int(m.group(1)) if m else 0,
                             "kinds": kinds}) + "\n")
sys.stdout.flush()
PY
  done
}

# Deliberate faults, one cycle a minute: a SYN-flood burst, then b4 added, drained and removed,
# then b3's SYNs dropped for 4 s (health checks take it out and bring it back). Each fault's
# window goes to faults.jsonl; client chunks that overlap a flap may see errors, a flood not.
faults() {
  local c t cycle
  while (($(date +%s) + 60 <= END)); do
    cycle=$(now)
    c=$cycle
    # Cookies absorb the flood: clients must see no error for it.
    echo "{\"fault\": \"syn_flood\", \"start\": $c, \"end\": $((c + 6)), \"errors_expected\": false}" >>"$OUT/faults.jsonl"
    rig_exec c3 timeout 6 hping3 -q -S -p 80 --rand-source -i u200 -c 25000 "$VIP" >/dev/null 2>&1 || true
    t=$(api POST /api/v1/vips/$VIP/backends '{"address": "10.100.0.14"}')
    echo "{\"op\": \"add b4\", \"at\": $(now), \"status\": $t}" >>"$OUT/ops.jsonl"
    sleep 12
    t=$(api PATCH /api/v1/vips/$VIP/backends/10.100.0.14 '{"state": "draining"}')
    echo "{\"op\": \"drain b4\", \"at\": $(now), \"status\": $t}" >>"$OUT/ops.jsonl"
    sleep 12
    t=$(api DELETE /api/v1/vips/$VIP/backends/10.100.0.14)
    echo "{\"op\": \"remove b4\", \"at\": $(now), \"status\": $t}" >>"$OUT/ops.jsonl"
    sleep 5
    c=$(now)
    # New connections sent to b3 before health checks take it out time out: errors expected.
    echo "{\"fault\": \"health_flap b3\", \"start\": $c, \"end\": $((c + 8)), \"errors_expected\": true}" >>"$OUT/faults.jsonl"
    rig_exec b3 nft -f - <<'EOF'
table inet soakflap {
  chain in {
    type filter hook input priority 0;
    tcp dport 80 tcp flags syn drop
  }
}
EOF
    sleep 4
    rig_exec b3 nft delete table inet soakflap
    t=$((cycle + 60 - $(now)))
    ((t > 0)) && sleep "$t"
  done
}

# Blocklist churn: an entry added every 5 s with a 15 s TTL (most expire, every other one is
# deleted first), from a range no client uses.
churn() {
  local i=0 t
  while (($(date +%s) + 5 <= END)); do
    i=$((i + 1))
    t=$(api POST /api/v1/blocklist "{\"cidr\": \"198.18.$((i / 250 % 250)).$((i % 250 + 1))\", \"ttl_seconds\": 15}")
    echo "{\"op\": \"block\", \"at\": $(now), \"status\": $t}" >>"$OUT/ops.jsonl"
    if ((i % 2 == 0)); then
      t=$(api DELETE "/api/v1/blocklist/198.18.$(((i - 1) / 250 % 250)).$(((i - 1) % 250 + 1))/32")
      echo "{\"op\": \"unblock\", \"at\": $(now), \"status\": $t}" >>"$OUT/ops.jsonl"
    fi
    sleep 5
  done
}

sampler() {
  while (($(date +%s) <= END)); do
    local rss
    rss=$(awk '/^VmRSS/ {print $2}' "/proc/$XLBD/status" 2>/dev/null || echo 0)
    echo "{\"t\": $(now), \"rss_kb\": ${rss:-0}, \"stats\": $(stats || echo null)}" >>"$OUT/samples.jsonl"
    sleep 10
  done
}

touch "$OUT/chunks.jsonl" "$OUT/faults.jsonl" "$OUT/ops.jsonl" "$OUT/samples.jsonl"
loops=()
client c1 keepalive -c10 &
loops+=($!)
client c2 close -c20 -H 'Connection: close' &
loops+=($!)
faults &
loops+=($!)
churn &
loops+=($!)
sampler &
loops+=($!)
echo "soak: ${MINUTES} min on $RIG_PREFIX (xlbd pid $XLBD); writing $OUT"
wait "${loops[@]}"
# Drain: every entry leaves within its timers once the clients stop.
for _ in $(seq 60); do
  [[ $(stats | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["conntrack"]["active"])') == 0 ]] && break
  sleep 1
done
stats >"$OUT/final-stats.json"
kill -TERM "$XLBD" 2>/dev/null || true
/usr/bin/python3 scripts/soak_report.py "$OUT" "$WARMUP"
