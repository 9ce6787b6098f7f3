#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# make demo: the rig with three nginx backends, xlbd with its built-in configuration, real
# traffic, and a summary of what happened. Everything runs inside namespaces this script creates
# and removes (also on failure or Ctrl-C). Bounded: every load has a count and a time limit.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/netns/lib.sh

[[ $(id -u) -eq 0 ]] || { echo "demo: needs root (network namespaces, XDP)" >&2; exit 1; }
rig_init demo
rig_up 3 3 1
for i in 1 2 3; do rig_backend_nginx "$i"; done
STATE=/tmp/${RIG_PREFIX}-state
LOG=/tmp/${RIG_PREFIX}-xlbd.log
STATS=/tmp/${RIG_PREFIX}-stats.json  # /tmp/${RIG_PREFIX}-* goes with rig_down
# The built-in configuration; only state_dir and runtime_dir move to a scratch directory so the
# demo leaves nothing behind in /var/lib/xlb and /run/xlb.
rig_lb_exec "$RIG_BIN/xlbd" --state-dir "$STATE" --runtime-dir "$STATE/run" >"$LOG" 2>&1 &
for _ in $(seq 50); do grep -q "xlbd started" "$LOG" 2>/dev/null && break; sleep 0.1; done
grep -q "xlbd started" "$LOG" || { echo "demo: xlbd did not start:"; cat "$LOG"; exit 1; }
# Everything below reads xlbd's REST API (inside the LB namespace), as an operator would.
xlbctl() { rig_lb_exec "$RIG_BIN/xlbctl" --token-file "$STATE/api-token" "$@"; }
fetch_stats() { sleep 0.3; rig_lb_exec curl -s -m 5 http://127.0.0.1:9180/api/v1/stats >"$STATS"; }
stat_of() { python3 -c "import json,sys; d=json.load(open('$STATS')); print(eval(sys.argv[1]))" "$1"; }

echo "== xlbd =="
grep "xlbd started" "$LOG" | sed 's/^[^ ]* [^ ]* //'
sleep 0.5  # two health-check rounds
xlbctl health | sed 's/^/  /'

echo
echo "== 300 HTTP requests from client 10.100.0.21 with curl (new connection each) =="
declare -A per=()
errors=0
for _ in $(seq 300); do
  if out=$(rig_exec c1 curl -s -m 2 http://$RIG_VIP/); then per[$out]=$(( ${per[$out]:-0} + 1 )); else errors=$((errors + 1)); fi
done
for k in "${!per[@]}"; do printf '  %-10s %4d requests\n' "$k" "${per[$k]}"; done | sort
echo "  errors     $errors"

echo
echo "== wrk: 4 s, 20 connections, Connection: close (a new TCP connection per request) =="
rig_exec c1 wrk -t2 -c20 -d4s -H "Connection: close" "http://$RIG_VIP/" | grep -E "requests in|Socket errors|Non-2xx" | sed 's/^/  /'

echo
echo "== blocked client 10.100.0.23 (on the built-in blocklist) =="
if rig_exec c3 curl -s -m 2 "http://$RIG_VIP/" >/dev/null; then echo "  UNEXPECTED: it connected"; else echo "  curl failed, as it should"; fi
echo "== blocklist over the API: block 10.100.0.21 for 60 s, try, look, unblock =="
xlbctl blocklist add 10.100.0.21 --ttl 60 --comment demo | sed 's/^/  /'
if rig_exec c1 curl -s -m 1 "http://$RIG_VIP/" >/dev/null; then echo "  UNEXPECTED: it connected"; else echo "  curl from 10.100.0.21 failed, as it should"; fi
xlbctl blocklist list | sed 's/^/  /'
xlbctl blocklist del 10.100.0.21 | sed 's/^/  /'
rig_exec c1 curl -s -m 2 "http://$RIG_VIP/" | sed 's/^/  after unblocking: /'
echo "== probe to VIP port 22 =="
if rig_exec c1 curl -s -m 2 "http://$RIG_VIP:22/" >/dev/null; then echo "  UNEXPECTED: it answered"; else echo "  no answer, as it should"; fi

echo
echo "== SYN flood: hping3 from 10.100.0.22, random sources, 40000 SYNs over ~4 s, while wrk runs =="
rig_exec c2 timeout 10 hping3 -q -S -p 80 -i u100 -c 40000 --rand-source "$RIG_VIP" >/dev/null 2>&1 &
flood=$!
rig_exec c1 wrk -t2 -c20 -d4s -H "Connection: close" "http://$RIG_VIP/" | grep -E "requests in|Socket errors|Non-2xx" | sed 's/^/  wrk during the flood: /'
wait "$flood" || true
fetch_stats
echo "  cookie mode switched on: $(stat_of "d['vips'][0]['syn_flood_switches']") time(s)"
echo "  connection entries right after the flood: $(stat_of "d['conntrack']['active']")"

echo
echo "== waiting for the close timers (time_wait 2 s) =="
for _ in $(seq 60); do
  fetch_stats
  [[ $(stat_of "d['conntrack']['active']") == 0 ]] && break
done

echo
echo "== backends (xlbctl backends list 10.100.0.100) =="
xlbctl backends list "$RIG_VIP" | sed 's/^/  /'

echo
echo "== summary (GET /api/v1/stats) =="
python3 - "$STATS" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
c = d["conntrack"]
print(f"  connections created {c['created']}, closed {sum(c['closed'].values())} "
      f"({', '.join(f'{k} {v}' for k, v in c['closed'].items() if v)}), active now {c['active']}")
sn = d["snat"]
print(f"  SNAT ports in use {sn['ports_in_use']}; backends' TIME_WAIT met {sn['time_wait_collisions']} times "
      f"(reset and the SYN resent at once), SYNs stamped with xlb's clock {sn['syn_timestamped']}")
s = d["syncookies"]
print(f"  SYN cookies sent {s['sent']}, validated {s['validated']}, invalid {s['invalid']}")
drops = {f"xdp/{k}": v for k, v in d["xdp"].items() if k not in ("to_engine", "pass_not_ip", "pass_not_ours", "syncookie_sent")}
drops.update({f"engine/{k}": v for k, v in d["engine"].items() if not k.startswith("tx_") and k not in ("synproxy_handshake", "synproxy_held", "time_wait_reset")})
print("  drops by reason: " + (", ".join(f"{k} {v}" for k, v in sorted(drops.items())) or "none"))
print(f"  XDP: {d['xdp'].get('to_engine', 0)} to the engine, {d['xdp'].get('pass_not_ours', 0) + d['xdp'].get('pass_not_ip', 0)} passed to the kernel")
PY
echo
echo "== the same figures as Prometheus scrapes them (GET /metrics, excerpt) =="
rig_lb_exec curl -s -m 5 http://127.0.0.1:9180/metrics |
  grep -E '^xlb_(conntrack_created_total|conntrack_entries\{state="established"\}|snat_ports_in_use|syncookies_(sent|validated|invalid)_total|blocklist_drops_total|backend_connections_total|backend_up)' |
  sed 's/^/  /'
kill %1 2>/dev/null || true
wait 2>/dev/null || true
echo
echo "demo: done; tearing the rig down"
