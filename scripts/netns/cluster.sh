# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash
# The cluster rig, on top of lib.sh (source lib.sh first): a router namespace running BIRD with
# ECMP over BGP, clients behind the router, N load-balancer namespaces each running xlbd and a
# BIRD that announces the VIP only while its xlbd routes it, and shared backends.
#
#   cluster_up NLB NCLIENTS NBACKENDS
#   cluster_lb_exec I CMD...    run in LB I's namespace with bpffs mounted
#   cluster_yaml I              the xlbd configuration of LB I (same cluster: section for all)
#   cluster_start_xlbd I        xlbd in LB I until its API answers; sets CLUSTER_XLBD_PID
#   cluster_kill_xlbd I         kill -9 LB I's xlbd (a crash: its route device goes with it)
#   cluster_kill_host I         kill -9 LB I's xlbd and BIRD together (the machine is gone: the
#                               router's BFD notices)
#   cluster_nexthops            the router's next hops for the VIP, as "10.100.0.2 10.100.0.3"
#   cluster_wait_nexthops N [S] until the router has N next hops for the VIP (at most S s)
#
# Addresses (all inside the rig's namespaces):
#   LB segment 10.100.0.0/24 (the lib.sh bridge): router 10.100.0.1, LB I 10.100.0.(1+I) (its
#     SNAT address and cluster member address), backends 10.100.0.11..
#   client segment 10.101.0.0/24, a bridge inside the router namespace: router 10.101.0.1,
#     clients 10.101.0.21..
#   VIP 10.100.0.100 on no interface: the router reaches it through the BGP routes, one per LB
#     that announces it (ECMP, hashed on the L4 tuple).
#   ASNs: router 65000, every LB 65001. BGP hold 3 s, keepalive 1 s, BFD 100 ms x 3.

CLUSTER_VIP=10.100.0.100
CLUSTER_TABLE=100
CLUSTER_PORT=9190
CLUSTER_LBS=0

cluster_lb_addr() { echo "10.100.0.$((1 + $1))"; }

cluster_lb_exec() {
  local i=$1
  shift
  ip netns exec "$(rig_ns "lb$i")" sh -c 'mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf; exec "$@"' sh "$@"
}

_cluster_bird() {  # NS CONF: BIRD in namespace NS with its own control socket and pid file
  local ns=$1 conf=$2 dir
  dir=$(dirname "$conf")
  ip netns exec "$(rig_ns "$ns")" bird -c "$conf" -s "$dir/bird-$ns.ctl" -P "$dir/bird-$ns.pid" || {
    rig_log "BIRD did not start in $ns"
    return 1
  }
}

cluster_birdc() {  # NS CMD...
  local ns=$1
  shift
  birdc -s "$CLUSTER_DIR/bird-$ns.ctl" "$@"
}

_cluster_router() {
  local nlb=$1 nclients=$2 r i
  _rig_add_ns rt
  _rig_link rt
  r=$(rig_ns rt)
  ip -n "$r" addr add 10.100.0.1/24 dev eth0
  ip -n "$r" link add brc type bridge
  ip -n "$r" link set brc up
  ip -n "$r" addr add 10.101.0.1/24 dev brc
  ip netns exec "$r" sysctl -qw net.ipv4.ip_forward=1
  # ECMP on the L4 tuple, from the headers: a connection stays on one LB while the set of next
  # hops holds. Policy 1 would take the hash a local sender's socket left on the skb (veth keeps
  # it), which is random per connection and changes on every SYN timeout: a reused tuple would
  # land anywhere, as no router's hash does. Policy 3 hashes the packet's own fields: addresses,
  # protocol and ports (0x37; the default 0x07 leaves the ports out).
  ip netns exec "$r" sysctl -qw net.ipv4.fib_multipath_hash_policy=3
  ip netns exec "$r" sysctl -qw net.ipv4.fib_multipath_hash_fields=0x0037
  for ((i = 1; i <= nclients; i++)); do
    _rig_add_ns "c$i"
    ip -n "$r" link add "p-c$i" type veth peer name eth0 netns "$(rig_ns "c$i")"
    ip -n "$r" link set "p-c$i" master brc up
    ip -n "$(rig_ns "c$i")" link set eth0 up
    _rig_offloads_off "$r" "p-c$i"
    _rig_offloads_off "$(rig_ns "c$i")" eth0
    ip -n "$(rig_ns "c$i")" addr add "10.101.0.$((20 + i))/24" dev eth0
    ip -n "$(rig_ns "c$i")" route add default via 10.101.0.1
    ip netns exec "$(rig_ns "c$i")" sysctl -qw net.ipv4.tcp_tw_reuse=1
  done
  {
    echo "router id 10.100.0.1;"
    echo "log \"$CLUSTER_DIR/bird-rt.log\" all;"
    echo "debug protocols { states };"
    echo "protocol device { scan time 1; }"
    echo "protocol kernel { ipv4 { import none; export all; }; merge paths on; }"
    echo "protocol bfd { interface \"eth0\" { min rx interval 100 ms; min tx interval 100 ms; multiplier 3; }; }"
    echo "template bgp lb { local 10.100.0.1 as 65000; hold time 3; keepalive time 1;"
    echo "  connect retry time 1; error wait time 1, 2; bfd on; ipv4 { import all; export none; }; }"
    for ((i = 1; i <= nlb; i++)); do
      echo "protocol bgp lb$i from lb { neighbor $(cluster_lb_addr "$i") as 65001; }"
    done
  } >"$CLUSTER_DIR/bird-rt.conf"
  _cluster_bird rt "$CLUSTER_DIR/bird-rt.conf"
}

_cluster_lb() {
  local i=$1 ns addr
  _rig_add_ns "lb$i"
  _rig_link "lb$i"
  ns=$(rig_ns "lb$i")
  addr=$(cluster_lb_addr "$i")
  ip -n "$ns" addr add "$addr/24" dev eth0
  ip -n "$ns" route add 10.101.0.0/24 via 10.100.0.1
  # XDP_TX (a flow sent on to its holder) and AF_XDP's sends leave a veth only if its peer runs
  # an XDP program too.
  ip -n "$(rig_ns br)" link set dev "p-lb$i" xdpdrv obj "$RIG_BIN/xdp_pass.bpf.o" sec xdp || {
    rig_log "cannot attach $RIG_BIN/xdp_pass.bpf.o to p-lb$i"
    return 1
  }
  cat >"$CLUSTER_DIR/bird-lb$i.conf" <<EOF
router id $addr;
log "$CLUSTER_DIR/bird-lb$i.log" all;
debug protocols { states };
protocol device { scan time 1; }
ipv4 table xlb;
# xlbd routes each VIP in kernel table $CLUSTER_TABLE through its xlb-announce device while it is
# ready and not draining; the device goes away with the process, routes included.
protocol kernel kxlb { kernel table $CLUSTER_TABLE; learn; scan time 1; ipv4 { table xlb; import all; export none; }; }
protocol bfd { interface "eth0" { min rx interval 100 ms; min tx interval 100 ms; multiplier 3; }; }
protocol bgp uplink {
  local $addr as 65001; neighbor 10.100.0.1 as 65000;
  hold time 3; keepalive time 1; connect retry time 1; error wait time 1, 2; bfd on;
  ipv4 { table xlb; import none; export all; next hop self; };
}
EOF
  _cluster_bird "lb$i" "$CLUSTER_DIR/bird-lb$i.conf"
}

cluster_up() {
  local nlb=$1 nclients=$2 nbackends=$3 i
  [[ -n "$RIG_PREFIX" ]] || rig_init cluster
  CLUSTER_DIR=$(mktemp -d "/tmp/${RIG_PREFIX}-cluster.XXXX")
  chmod 755 "$CLUSTER_DIR"
  CLUSTER_LBS=$nlb
  _rig_bridge
  _cluster_router "$nlb" "$nclients" || return 1
  for ((i = 1; i <= nlb; i++)); do _cluster_lb "$i" || return 1; done
  for ((i = 1; i <= nbackends; i++)); do
    _rig_host "b$i" $((10 + i))
    # Replies to clients never pass here (full NAT), but health checks' answers stay local.
    ip -n "$(rig_ns "b$i")" route add 10.101.0.0/24 via 10.100.0.1
  done
  rig_log "cluster up: $RIG_PREFIX ($nlb LBs, $nbackends backends, $nclients clients) in $CLUSTER_DIR"
}

# cluster_yaml I [MORE_YAML]: LB I's configuration. Every LB has the same VIP, backends and
# cluster members; its own SNAT address; a SNAT range outside the kernel's ephemeral ports.
cluster_yaml() {
  local i=$1 j members=""
  for ((j = 1; j <= CLUSTER_LBS; j++)); do
    members+="{name: lb$j, address: $(cluster_lb_addr "$j")}, "
  done
  cat <<EOF
interface: eth0
workers: 1
snat: {addresses: [$(cluster_lb_addr "$i")], ports: 10000-32767}
vips:
  - address: $CLUSTER_VIP
    ports: [80]
    syn_flood: {mode: auto, threshold_pps: 20000}
    backends: [{address: 10.100.0.11}, {address: 10.100.0.12}, {address: 10.100.0.13}]
conntrack: {capacity: 100000}
state_dir: $CLUSTER_DIR/state-lb$i
runtime_dir: $CLUSTER_DIR/state-lb$i/run
cluster:
  members: [${members%, }]
  port: $CLUSTER_PORT
  heartbeat: 100ms
  dead_after: 500ms
  announce: {table: $CLUSTER_TABLE}
${2:-}
EOF
}

cluster_start_xlbd() {
  local i=$1 conf log
  conf="$CLUSTER_DIR/xlb-lb$i.yaml"
  log="$CLUSTER_DIR/xlbd-lb$i.log"
  [[ -f "$conf" ]] || cluster_yaml "$i" >"$conf"
  CLUSTER_XLBD_PID=""
  cluster_lb_exec "$i" "$RIG_BIN/xlbd" --config "$conf" >>"$log" 2>&1 &
  for _ in $(seq 50); do
    if ip netns exec "$(rig_ns "lb$i")" curl -sf -m 1 http://127.0.0.1:9180/readyz >/dev/null 2>&1; then
      CLUSTER_XLBD_PID=$(rig_pid "lb$i" xlbd)
      return 0
    fi
    sleep 0.2
  done
  rig_log "xlbd in lb$i did not become ready; the end of its log:"
  tail -20 "$log" >&2
  return 1
}

cluster_kill_xlbd() {
  local pid
  pid=$(rig_pid "lb$1" xlbd) || return 0
  kill -9 "$pid"
  for _ in $(seq 50); do [[ -e /proc/$pid ]] || return 0; sleep 0.1; done
}

cluster_kill_host() {
  local pids
  # Off the wire first, as a machine that loses power: nothing it sends (a BGP close, a TCP FIN)
  # reaches the router, which learns it only from BFD.
  ip -n "$(rig_ns br)" link set "p-lb$1" down
  pids=$(ip netns pids "$(rig_ns "lb$1")")
  # shellcheck disable=SC2086
  kill -9 $pids 2>/dev/null
  for _ in $(seq 50); do
    [[ -z "$(ip netns pids "$(rig_ns "lb$1")")" ]] && return 0
    sleep 0.1
  done
}

cluster_nexthops() {
  ip -n "$(rig_ns rt)" route show "$CLUSTER_VIP/32" 2>/dev/null |
    grep -o 'via [0-9.]*' | awk '{print $2}' | sort | tr '\n' ' ' | sed 's/ $//'
}

cluster_wait_nexthops() {
  local want=$1 limit=${2:-20} n
  for _ in $(seq $((limit * 10))); do
    n=$(cluster_nexthops | wc -w)
    [[ $n -eq $want ]] && return 0
    sleep 0.1
  done
  rig_log "the router has $(cluster_nexthops | wc -w) next hop(s) for the VIP, not $want: $(cluster_nexthops)"
  return 1
}
