#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# make bench-rig's cluster part, on the cluster rig (scripts/netns/cluster.sh: a BIRD router with
# ECMP, three xlbd instances): wrk keep-alive requests/s and new connections/s through one
# instance and through three, and the cost of forwarding between instances: a keep-alive run
# whose 50 connections are opened while one instance is announced, two more joining 5 s in, so
# that the router moves about two thirds of them and the instance that joined sends their
# packets on to the one that holds them (the extra hop's share of client packets, from the XDP
# counters). RUNS runs; one JSON object per run under OUT.
# Usage: bench/cluster.sh OUT_DIR RUNS     (root; every load bounded in time)
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=$1
RUNS=${2:-3}
SECS=${CLUSTER_SECONDS:-10}
mkdir -p "$OUT"
# shellcheck source=../scripts/netns/lib.sh
source scripts/netns/lib.sh
# shellcheck source=../scripts/netns/cluster.sh
source scripts/netns/cluster.sh

figure() {  # I STAGE REASON: LB I's count of a reason at stage xdp or engine (0 without xlbd)
  ip netns exec "$(rig_ns "lb$1")" curl -s -m 3 http://127.0.0.1:9180/api/v1/stats 2>/dev/null |
    /usr/bin/python3 -c "import json,sys; print(json.load(sys.stdin)['$2'].get('$3', 0))" 2>/dev/null ||
    echo 0
}
forwarded() {  # packets the three instances sent on to a peer
  local n=0 i
  for i in 1 2 3; do n=$((n + $(figure "$i" xdp cluster_forward))); done
  echo "$n"
}
client_packets() {  # client packets the three instances passed on to backends
  local n=0 i
  for i in 1 2 3; do n=$((n + $(figure "$i" engine tx_to_backend))); done
  echo "$n"
}
wrk_c1() {  # SECONDS OUTFILE [args]: wrk from c1, 50 connections, bounded
  local secs=$1 out=$2
  shift 2
  rig_exec c1 timeout $((secs + 15)) wrk -t1 -c50 -d"${secs}s" "$@" "http://$CLUSTER_VIP/" >"$out" 2>&1 || true
}

for run in $(seq "$RUNS"); do
  dir=$OUT/run$run
  mkdir -p "$dir"
  (
    rig_init benchcl
    cluster_up 3 2 3 >/dev/null || exit 1
    for i in 1 2 3; do rig_backend_nginx "$i" >/dev/null || exit 1; done
    cluster_start_xlbd 1 || exit 1
    cluster_wait_nexthops 1 30 || exit 1
    echo "bench-rig: cluster run $run/$RUNS: one instance"
    wrk_c1 "$SECS" "$dir/one-keepalive.txt"
    wrk_c1 "$SECS" "$dir/one-newconn.txt" -H 'Connection: close'
    cluster_start_xlbd 2 && cluster_start_xlbd 3 || exit 1
    cluster_wait_nexthops 3 30 || exit 1
    echo "bench-rig: cluster run $run/$RUNS: three instances"
    s0=$(forwarded)
    c0=$(client_packets)
    wrk_c1 "$SECS" "$dir/three-keepalive.txt"
    wrk_c1 "$SECS" "$dir/three-newconn.txt" -H 'Connection: close'
    echo "{\"forwarded\": $(($(forwarded) - s0)), \"client_packets\": $(($(client_packets) - c0))}" >"$dir/steady.json"
    # The forwarding run: lb2 and lb3 leave and forget what they held (--detach), wrk opens its
    # connections on lb1 alone, and they come back.
    sleep 3
    for i in 2 3; do
      cluster_kill_xlbd "$i"
      cluster_lb_exec "$i" "$RIG_BIN/xlbd" --config "$CLUSTER_DIR/xlb-lb$i.yaml" --detach >/dev/null
    done
    cluster_wait_nexthops 1 30 || exit 1
    sleep 2
    f0=$(forwarded)
    r0=$(figure 1 engine tx_to_backend)
    wrk_c1 $((SECS + 10)) "$dir/moved-keepalive.txt" &
    w=$!
    sleep 3
    cluster_start_xlbd 2 && cluster_start_xlbd 3 || exit 1
    cluster_wait_nexthops 3 30 || exit 1
    wait "$w"
    f1=$(forwarded)
    r1=$(figure 1 engine tx_to_backend)
    # Every client packet of lb1's flows becomes one packet to a backend there.
    echo "{\"forwarded\": $((f1 - f0)), \"client_packets\": $((r1 - r0)), \"seconds\": $((SECS + 10))}" >"$dir/moved.json"
  ) || echo "bench-rig: cluster run $run failed" >&2
done
