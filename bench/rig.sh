#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# make bench-rig: xlb, nftables full-NAT (dnat numgen + snat) and HAProxy (TCP mode) on the same
# netns rig in the same run, each the load balancer in the LB namespace in turn. Per LB: keep-alive
# requests/s; new connections/s sustained for RIG_SUSTAIN_SECONDS in 10 s rounds (first and last
# round reported); wrk's p50/p99; CPU seconds per 1,000 requests; and new connections/s during an
# hping3 random-source SYN flood, and during one from a single source (xlb blocks it), each
# divided by the same without it (the single-source one also by the same flood sent to a sink in
# the client's namespace: what the flood tool itself costs this machine); and DNS queries/s (dnsperf, 20
# sockets, dnsmasq backends) through xlb and nftables (HAProxy does not balance UDP) and straight
# to one backend; and (bench/cluster.sh) wrk through one and three clustered xlbd instances and
# the extra hop a flow moved by the router takes. RIG_RUNS runs (default 3); the report
# (bench/rig_report.py) takes medians and writes JSON, Markdown and PNG plots.
# Usage: bench/rig.sh OUT_DIR     (root; every load is bounded in time and count)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-build/bench}
RUNS=${RIG_RUNS:-3}
SUSTAIN=${RIG_SUSTAIN_SECONDS:-60}
KEEPALIVE=${RIG_KEEPALIVE_SECONDS:-10}
FLOOD=${RIG_FLOOD_SECONDS:-10}
DNS=${RIG_DNS_SECONDS:-15}
LBS=${RIG_LBS:-"xlb haproxy nftables"}
RAW=$OUT/rig-raw
VIP=10.100.0.100
URL=http://$VIP/
[[ $(id -u) -eq 0 ]] || { echo "bench-rig: needs root (network namespaces, XDP)" >&2; exit 1; }
for t in wrk hping3 haproxy nft conntrack dnsperf dnsmasq /usr/bin/python3; do
  command -v "$t" >/dev/null || { echo "bench-rig: $t missing (run ci/deps.sh)" >&2; exit 1; }
done
rm -rf "$RAW"
mkdir -p "$RAW"

# shellcheck source=../scripts/netns/lib.sh
source scripts/netns/lib.sh
rig_init bench
rig_up 2 3 >/dev/null
for i in 1 2 3; do rig_backend_nginx "$i" >/dev/null; rig_backend_dns "$i"; done
# Three disjoint port ranges, so that no LB meets the tuples another one left in the backends'
# TIME_WAIT (60 s): HAProxy's own connections use the LB namespace's ephemeral ports 1024-9999,
# xlb SNATs to 10000-32767, nftables keeps the clients' ports (32768-60999).
rig_exec lb sysctl -qw net.ipv4.ip_local_port_range="1024 9999"
# A sink inside the flooding client's namespace: frames to 10.99.0.9 leave on a veth and are
# dropped on arrival, touching no load balancer. The same flood sent there measures what the
# flood tool itself takes from this 2-core machine (hping3 spends half a core), so that a
# blocked flood can be judged by what the load balancer adds.
rig_sink c2
WORK=$(mktemp -d "/tmp/${RIG_PREFIX}-bench.XXXX")
for i in $(seq 1000); do echo "n$i.xlb.test A"; done >"$WORK/queries"

LB_PID=""
# Busy, total and steal jiffies of the whole machine. Steal (the hypervisor running another
# guest while this one had work) is not this machine's work: it is left out of busy and reported
# on its own, since a host that steals time moves every rate (in the runs recorded so far,
# xlb's userspace hop more than the kernel-only peers).
cpu_ticks() {
  awk '/^cpu / {busy=$2+$3+$4+$7+$8; total=busy+$5+$6+$9; print busy, total, $9}' /proc/stat
}
proc_ticks() {  # utime + stime of a process (all its threads), in jiffies
  [[ -n "$1" && -r /proc/$1/stat ]] || { echo 0; return; }
  awk '{print $14 + $15}' "/proc/$1/stat"
}

start_xlb() {
  # Automatic blocking on, as an operator facing floods runs it: the meter's cost is in every
  # figure, and the single-source flood below is blocked.
  rig_xlb_yaml 10000-32767 20000 "$WORK/xlb-state" "conntrack: {capacity: 200000}
auto_block: {mode: block, window: 1s, limits: {syn_without_handshake: 1000, filtered_port: 500, packets: 0}, ttl: 60s}" \
    "$(printf '  - address: %s\n    protocol: udp\n    ports: [53]\n    backends: [{address: 10.100.0.11}, {address: 10.100.0.12}, {address: 10.100.0.13}]' "$VIP")" \
    >"$WORK/xlb.yaml"
  rig_start_xlbd "$WORK/xlb.yaml" "$WORK/xlbd.log"
  LB_PID=$RIG_XLBD_PID
}
stop_xlb() {
  kill -TERM "$LB_PID" 2>/dev/null || true
  # Not a child of this shell (rig_pid found it): wait for it to be gone, at most 10 s.
  for _ in $(seq 100); do [[ -e /proc/$LB_PID ]] || break; sleep 0.1; done
  # A stop leaves the program attached for the next start; the peers measured next need the
  # interface to themselves, and each xlb run starts from empty tables.
  rig_lb_exec "$RIG_BIN/xlbd" --config "$WORK/xlb.yaml" --detach >/dev/null
}

start_haproxy() {
  cat >"$WORK/haproxy.cfg" <<EOF
global
  # The fd limit cannot be raised here (20,000): two descriptors per proxied connection.
  maxconn 9000
  nbthread 1
defaults
  mode tcp
  timeout connect 5s
  timeout client 60s
  timeout server 60s
frontend vip
  bind $VIP:80
  default_backend web
backend web
  balance roundrobin
  source 10.100.0.2
  server b1 10.100.0.11:80
  server b2 10.100.0.12:80
  server b3 10.100.0.13:80
EOF
  rig_exec lb haproxy -D -p "$WORK/haproxy.pid" -f "$WORK/haproxy.cfg"
  sleep 0.3
  LB_PID=$(rig_pid lb haproxy)
}
stop_haproxy() {
  kill -TERM "$LB_PID" 2>/dev/null || true
  sleep 0.5
}

start_nftables() {
  rig_exec lb sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.all.send_redirects=0 \
    net.ipv4.conf.eth0.send_redirects=0
  rig_exec lb nft -f - <<EOF
table ip xlbbench {
  chain pre {
    type nat hook prerouting priority dstnat;
    ip daddr $VIP tcp dport 80 dnat to numgen inc mod 3 map { 0 : 10.100.0.11, 1 : 10.100.0.12, 2 : 10.100.0.13 }
    ip daddr $VIP udp dport 53 dnat to numgen inc mod 3 map { 0 : 10.100.0.11, 1 : 10.100.0.12, 2 : 10.100.0.13 }
  }
  chain post {
    type nat hook postrouting priority srcnat;
    ct status dnat snat to 10.100.0.2
  }
}
EOF
  LB_PID=""
}
stop_nftables() {
  rig_exec lb nft delete table ip xlbbench
  rig_exec lb sysctl -qw net.ipv4.ip_forward=0
  rig_exec lb conntrack -F >/dev/null 2>&1 || true
}

wrk_run() {  # wrk_run SECONDS OUTFILE [extra wrk args]
  local secs=$1 out=$2
  shift 2
  rig_exec c1 timeout $((secs + 15)) wrk -t1 -c50 -d"${secs}s" --latency "$@" "$URL" >"$out" 2>&1 || true
}

dns_run() {  # dns_run SERVER OUTFILE: dnsperf at its full rate, 20 sockets, 200 outstanding
  rig_exec c1 timeout $((DNS + 15)) dnsperf -s "$1" -d "$WORK/queries" -l "$DNS" -c 20 -q 200 \
    >"$2" 2>&1 || true
}

measure() {  # measure LB RUN
  local lb=$1 dir=$RAW/run$2/$1 rounds c0 c1 t0 t1 s0 s1 p0 p1
  mkdir -p "$dir"
  sleep 1
  wrk_run "$KEEPALIVE" "$dir/keepalive.txt"
  rounds=$((SUSTAIN / 10))
  read -r c0 t0 s0 < <(cpu_ticks)
  p0=$(proc_ticks "$LB_PID")
  for r in $(seq "$rounds"); do
    wrk_run 10 "$dir/sustained-$r.txt" -H 'Connection: close'
    # The load generator's own TIME_WAIT sockets, so that a limit of the client shows as one.
    rig_exec c1 ss -Htan state time-wait | wc -l >>"$dir/client-time-wait.txt"
  done
  read -r c1 t1 s1 < <(cpu_ticks)
  p1=$(proc_ticks "$LB_PID")
  echo "{\"machine_busy_ticks\": $((c1 - c0)), \"machine_total_ticks\": $((t1 - t0)), \"machine_steal_ticks\": $((s1 - s0)), \"lb_process_ticks\": $((p1 - p0)), \"lb_process\": $([[ -n $LB_PID ]] && echo true || echo false), \"lb_pid\": ${LB_PID:-0}, \"ticks_per_second\": $(getconf CLK_TCK)}" >"$dir/cpu.json"
  wrk_run "$FLOOD" "$dir/noflood.txt" -H 'Connection: close'
  # Spoofed SYNs from random sources: nominally 10,000/s, bounded in count and time.
  rig_exec c2 timeout $((FLOOD + 3)) hping3 -q -S -p 80 --rand-source -i u100 -c $((FLOOD * 10000)) "$VIP" \
    >"$dir/hping3.txt" 2>&1 &
  local hp=$!
  sleep 1
  wrk_run "$FLOOD" "$dir/flood.txt" -H 'Connection: close'
  wait "$hp" 2>/dev/null || true
  # The same single-source flood into the sink: the sender's own cost, the baseline of the next.
  sleep 1
  rig_exec c2 timeout $((FLOOD + 3)) hping3 -q -S -p 80 -i u100 -c $((FLOOD * 10000)) 10.99.0.9 \
    >"$dir/hping3-sink.txt" 2>&1 &
  hp=$!
  wrk_run "$FLOOD" "$dir/flood-sink.txt" -H 'Connection: close'
  wait "$hp" 2>/dev/null || true
  # One source at the same rate: xlb blocks it within its first window (auto_block); the peers,
  # without a per-source rule, take it as they take the random one. wrk starts with the flood.
  sleep 1
  rig_exec c2 timeout $((FLOOD + 3)) hping3 -q -S -p 80 -i u100 -c $((FLOOD * 10000)) "$VIP" \
    >"$dir/hping3-single.txt" 2>&1 &
  hp=$!
  wrk_run "$FLOOD" "$dir/flood-single.txt" -H 'Connection: close'
  wait "$hp" 2>/dev/null || true
  if [[ $lb != haproxy ]]; then
    sleep 1
    dns_run "$VIP" "$dir/dns.txt"
  fi
  if [[ $lb == xlb ]]; then
    rig_exec lb curl -s -m 5 http://127.0.0.1:9180/api/v1/stats >"$dir/xlb-stats.json" || true
  fi
  sleep 2
}

for run in $(seq "$RUNS"); do
  mkdir -p "$RAW/direct/run$run"
  echo "bench-rig: run $run/$RUNS: DNS straight to one backend"
  dns_run 10.100.0.11 "$RAW/direct/run$run/dns.txt"
  for lb in $LBS; do
    echo "bench-rig: run $run/$RUNS: $lb"
    "start_$lb"
    measure "$lb" "$run"
    "stop_$lb"
  done
done
# One instance against three, and the cost of the extra hop (bench/cluster.sh); RIG_CLUSTER=0
# leaves it out.
if [[ ${RIG_CLUSTER:-1} != 0 ]]; then
  command -v bird >/dev/null || { echo "bench-rig: bird missing (run ci/deps.sh)" >&2; exit 1; }
  bench/cluster.sh "$RAW/cluster" "$RUNS"
fi
echo "{\"runs\": $RUNS, \"sustain_seconds\": $SUSTAIN, \"keepalive_seconds\": $KEEPALIVE, \"flood_seconds\": $FLOOD, \"kernel\": \"$(uname -r)\", \"cpus\": $(nproc)}" >"$RAW/meta.json"
/usr/bin/python3 bench/rig_report.py "$RAW" "$OUT"
