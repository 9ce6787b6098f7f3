#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The cluster suite's run: three xlbd instances behind a BIRD router (cluster.sh), 300 long-lived
# keep-alive connections each sending a request every 100 ms (longlived.py) and wrk opening a
# new connection per request, through six events: lb3 added, lb1 drained, lb1 back, lb2's xlbd
# killed with -9, lb2 started again, lb3's whole host gone (xlbd and BIRD killed with -9). Writes one JSON object to OUT: per event its time, the router's
# next hops after it, how long the router took to get there, the long-lived connections broken
# in the event's window, wrk's requests and errors in it, and what each instance reported.
# Bounded: every wait has a limit, every load its duration; the rig goes on exit.
# Usage: cluster_events.sh OUT [EVENT_SECONDS]
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT=$1
WINDOW=${2:-10}
# shellcheck source=lib.sh
source scripts/netns/lib.sh
# shellcheck source=cluster.sh
source scripts/netns/cluster.sh
rig_init cluster
# The work directory (logs, BIRD's and xlbd's included) is kept beside OUT either way.
keep() { [[ -n "${CLUSTER_DIR:-}" ]] && rm -rf "${OUT%.json}-work" && cp -r "$CLUSTER_DIR" "${OUT%.json}-work"; }
fail() { echo "cluster_events: $*" >&2; keep; exit 1; }

cluster_up 3 2 3 || fail "rig"
for i in 1 2 3; do rig_backend_nginx "$i" >/dev/null || fail "nginx $i"; done
WORK=$CLUSTER_DIR
EV=$WORK/events.jsonl
: >"$EV"
cluster_start_xlbd 1 || fail "xlbd lb1"
cluster_start_xlbd 2 || fail "xlbd lb2"
cluster_wait_nexthops 2 30 || fail "the router never had lb1 and lb2"

api() {  # I METHOD PATH: the LB's API with its token
  local tok
  tok=$(cat "$WORK/state-lb$1/api-token")
  ip netns exec "$(rig_ns "lb$1")" curl -s -m 3 -X "$2" -H "Authorization: Bearer $tok" \
    "http://127.0.0.1:9180$3"
}
now() { date +%s.%N; }
# I: how many established connections of client c1 (the long-lived ones) LB I holds, every page
# of the listing followed (at most 50).
held_longlived() {
  local next="" page n=0 count
  for _ in $(seq 50); do
    page=$(api "$1" GET "/api/v1/connections?client=10.101.0.21&state=established&limit=1000${next:+&next=$next}")
    echo "$page" >>"$WORK/held-lb$1.json"
    count=$(echo "$page" | /usr/bin/python3 -c 'import json,sys; print(len(json.load(sys.stdin)["items"]))') || break
    n=$((n + count))
    next=$(echo "$page" | /usr/bin/python3 -c 'import json,sys; v=json.load(sys.stdin)["next"]; print("" if v is None else v)')
    [[ -n "$next" ]] || break
  done
  echo "$n"
}
# Waits until the router has exactly the next hops given, at most 20 s; prints the seconds taken.
converge() {
  local want=$1 start=$2 t
  for _ in $(seq 200); do
    if [[ "$(cluster_nexthops)" == "$want" ]]; then
      t=$(now)
      awk -v a="$t" -v b="$start" 'BEGIN { printf "%.3f\n", a - b }'
      return 0
    fi
    sleep 0.1
  done
  echo -1
}
every() {  # PATH: every instance's GET PATH as one JSON object by name (null when it is down)
  local i first=1
  echo -n "{"
  for i in 1 2 3; do
    [[ $first -eq 1 ]] || echo -n ","
    first=0
    echo -n "\"lb$i\":"
    api "$i" GET "$1" | tr -d '\n' || echo -n null
  done
  echo -n "}"
}
event() {  # NAME WANT_HOPS START: one line of events.jsonl after the action ran
  local name=$1 want=$2 start=$3 took
  took=$(converge "$want" "$start")
  echo "{\"event\":\"$name\",\"at\":$start,\"converged_s\":$took,\"next_hops\":\"$(cluster_nexthops)\",\"clusters\":$(every /api/v1/cluster)}" >>"$EV"
}

# The long-lived load outlasts the events (each waits for the router too); it is ended after them.
TOTAL=$((WINDOW * 9 + 20))
ip netns exec "$(rig_ns c1)" /usr/bin/python3 scripts/netns/longlived.py "$CLUSTER_VIP" 80 300 0.1 \
  "$TOTAL" >"$WORK/longlived.json" 2>"$WORK/longlived.err" &
LONGLIVED=$!
# wrk, a new connection per request: one run per event, from a second before it until its
# window ends, so that each error belongs to the event it happened in.
wrk_for() {  # NAME: starts the run (WRK_PID); the next wrk_for or wrk_done waits for it
  [[ -n "${WRK_PID:-}" ]] && wait "$WRK_PID"
  ip netns exec "$(rig_ns c2)" wrk -t1 -c10 -d"$((WINDOW - 1))s" --timeout 3s \
    -H "Connection: close" "http://$CLUSTER_VIP/" >"$WORK/wrk-$1.txt" 2>&1 &
  WRK_PID=$!
  sleep 1
}

wrk_for baseline
sleep "$((WINDOW - 1))"
wrk_for add_lb3
t=$(now); cluster_start_xlbd 3 || fail "xlbd lb3"
event add_lb3 "10.100.0.2 10.100.0.3 10.100.0.4" "$t"
sleep "$((WINDOW - 1))"
wrk_for drain_lb1
t=$(now); api 1 POST /api/v1/cluster/drain >/dev/null
event drain_lb1 "10.100.0.3 10.100.0.4" "$t"
sleep "$((WINDOW - 3))"
echo "{\"drain_status\":$(api 1 GET /api/v1/cluster)}" >"$WORK/drain.json"
sleep 2
wrk_for return_lb1
t=$(now); api 1 DELETE /api/v1/cluster/drain >/dev/null
event return_lb1 "10.100.0.2 10.100.0.3 10.100.0.4" "$t"
sleep "$((WINDOW - 1))"
# What lb2 holds of the long-lived connections (client c1, established): the most a kill may
# break.
echo "{\"before_kill\":$(api 2 GET /api/v1/cluster | tr -d '\n'),\"longlived_held\":$(held_longlived 2)}" >"$WORK/before-kill.json"
wrk_for kill_lb2
t=$(now); cluster_kill_xlbd 2
event kill_lb2 "10.100.0.2 10.100.0.4" "$t"
sleep "$((WINDOW - 1))"
wrk_for restart_lb2
t=$(now); cluster_start_xlbd 2 || fail "xlbd lb2 again"
event restart_lb2 "10.100.0.2 10.100.0.3 10.100.0.4" "$t"
sleep "$((WINDOW - 1))"
echo "{\"before_fail\":$(api 3 GET /api/v1/cluster | tr -d '\n'),\"longlived_held\":$(held_longlived 3)}" >"$WORK/before-fail.json"
wrk_for fail_lb3_host
t=$(now); cluster_kill_host 3
event fail_lb3_host "10.100.0.2 10.100.0.3" "$t"
sleep "$((WINDOW - 1))"
wait "$WRK_PID"
echo "{\"event\":\"end\",\"at\":$(now)}" >>"$WORK/events-end.jsonl"
kill "$LONGLIVED" 2>/dev/null
wait "$LONGLIVED"
every /api/v1/stats >"$WORK/stats.json"
keep
/usr/bin/python3 scripts/netns/cluster_report.py "$WORK" >"$OUT" || fail "report"
