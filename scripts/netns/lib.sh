# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash
# The one-arm rig: a bridge namespace joining client namespaces, the LB namespace and backend
# namespaces on one L2 segment. Every address lives inside a namespace the rig created; nothing
# is added to the root namespace. Source this file, then:
#
#   rig_init [NAME]            unique prefix for this run (xlb-<NAME>-<pid>), sweeps dead rigs,
#                              and installs an EXIT trap that tears this rig down
#   rig_attach PREFIX          operate on a rig another process owns (no trap); the owner's pid
#                              is the prefix's third field, so a dead owner's rig gets swept
#   rig_up NCLIENTS NBACKENDS [LB_QUEUES]
#   rig_exec NS CMD...         run in a namespace (NS: lb, br, c1.., b1..)
#   rig_lb_exec CMD...         run in the LB namespace with bpffs mounted
#   rig_pid NS COMM            the pid of the process named COMM in namespace NS
#   rig_start_xlbd CONFIG LOG  xlbd in the LB namespace until its API is ready; sets RIG_XLBD_PID
#   rig_add_routed_backend     a router (10.100.0.1) and, behind it, backend rb1 at 10.200.0.11:
#                              the LB reaches it via a gateway
#   rig_backend_nginx I        nginx in backend I: "backend I" over HTTP (80) and HTTPS (443)
#   rig_backend_dns I [log]    dnsmasq in backend I: which.xlb.test TXT "backend I", UDP/TCP 53
#   rig_backend_quic I         ngtcp2's gtlsserver in backend I: HTTP/3 on UDP 443, /which
#   rig_backend_dsr I [ipip]   backend I holds the VIP on lo for direct server return (ipip: with
#                              xlb_decap.bpf.o on its eth0)
#   rig_sink NS                frames to 10.99.0.9 from NS die on a veth there (flood baselines)
#   rig_down                   remove everything (also run by the EXIT trap)
#
# Addresses (10.100.0.0/24 inside the rig): LB eth0 10.100.0.2 (SNAT) + VIP 10.100.0.100,
# backends 10.100.0.11.., clients 10.100.0.21.. IPv6: fd00:100::/64 with the same host numbers.

RIG_PREFIX=""
RIG_NAMESPACES=()
RIG_VIP=10.100.0.100
RIG_VIP6=fd00:100::100
RIG_SNAT=10.100.0.2
RIG_SNAT6=fd00:100::2
RIG_LB_IF=eth0
RIG_DIR=${RIG_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
RIG_BIN=${RIG_BIN:-$RIG_DIR/build/bin}

rig_log() { echo "rig: $*" >&2; }

# Removes namespaces of earlier rigs whose owning process is gone (a killed run).
rig_sweep() {
  local ns pid
  for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep '^xlb-' || true); do
    pid=$(echo "$ns" | awk -F- '{print $3}')
    if [[ -n "$pid" && "$pid" =~ ^[0-9]+$ ]] && ! kill -0 "$pid" 2>/dev/null; then
      ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null || true
      ip netns del "$ns" 2>/dev/null || true
    fi
  done
}

rig_init() {
  local name=${1:-rig}
  RIG_PREFIX="xlb-${name}-$$"
  rig_sweep
  trap rig_down EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
}

rig_attach() { RIG_PREFIX=$1; }

rig_ns() { echo "${RIG_PREFIX}-$1"; }

rig_exec() {
  local ns=$1
  shift
  ip netns exec "$(rig_ns "$ns")" "$@"
}

# bpffs is per mount namespace and `ip netns exec` remounts /sys, so mount it in the same call.
rig_lb_exec() {
  ip netns exec "$(rig_ns lb)" sh -c 'mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf; exec "$@"' sh "$@"
}

rig_pid() {
  local p
  for p in $(ip netns pids "$(rig_ns "$1")"); do
    [[ $(cat "/proc/$p/comm" 2>/dev/null) == "$2" ]] && { echo "$p"; return 0; }
  done
  return 1
}

rig_start_xlbd() {
  local config=$1 log=$2
  RIG_XLBD_PID=""
  rig_lb_exec "$RIG_BIN/xlbd" --config "$config" >"$log" 2>&1 &
  for _ in $(seq 50); do
    if rig_exec lb curl -sf -m 1 http://127.0.0.1:9180/readyz >/dev/null 2>&1; then
      RIG_XLBD_PID=$(rig_pid lb xlbd)
      return 0
    fi
    sleep 0.2
  done
  rig_log "xlbd did not become ready; the end of its log:"
  tail -20 "$log" >&2
  return 1
}

_rig_add_ns() {
  local ns
  ns=$(rig_ns "$1")
  ip netns add "$ns"
  RIG_NAMESPACES+=("$ns")
  ip -n "$ns" link set lo up
}

# Offloads off: XDP and AF_XDP must see MTU-sized frames with complete checksums.
_rig_offloads_off() {
  local ns=$1 dev=$2
  ip netns exec "$ns" ethtool -K "$dev" tx off rx off tso off gso off gro off >/dev/null 2>&1 || true
}

# _rig_link NAME QUEUES: veth pair; NAME's end becomes eth0 in its namespace, the other joins br0.
_rig_link() {
  local name=$1 queues=${2:-1} ns br
  ns=$(rig_ns "$name")
  br=$(rig_ns br)
  ip -n "$br" link add "p-$name" numtxqueues "$queues" numrxqueues "$queues" type veth \
    peer name eth0 netns "$ns" numtxqueues "$queues" numrxqueues "$queues"
  ip -n "$br" link set "p-$name" master br0 up
  ip -n "$ns" link set eth0 up
  _rig_offloads_off "$br" "p-$name"
  _rig_offloads_off "$ns" eth0
}

# rig_xlb_yaml SNAT_PORTS THRESHOLD STATE_DIR [MORE_YAML] [MORE_VIPS]: an xlbd configuration for
# the rig's LB with one VIP ($RIG_VIP, port 80, auto SYN-flood mode) over the first three
# backends, and the VIPs MORE_VIPS lists (YAML list items indented by two).
rig_xlb_yaml() {
  cat <<EOF
interface: eth0
workers: 1
snat: {addresses: [10.100.0.2], ports: $1}
vips:
  - address: $RIG_VIP
    ports: [80]
    syn_flood: {mode: auto, threshold_pps: $2}
    backends: [{address: 10.100.0.11}, {address: 10.100.0.12}, {address: 10.100.0.13}]
${5:-}
state_dir: $3
runtime_dir: $3/run
${4:-}
EOF
}

# _rig_host NAME OCTET: a namespace on the bridge with 10.100.0.OCTET and fd00:100::OCTET.
_rig_host() {
  local name=$1 octet=$2
  _rig_add_ns "$name"
  _rig_link "$name"
  ip -n "$(rig_ns "$name")" addr add "10.100.0.$octet/24" dev eth0
  ip -n "$(rig_ns "$name")" -6 addr add "fd00:100::$octet/64" dev eth0 nodad
}

# The bridge namespace: one plain L2 segment. With br_netfilter loaded, the bridge would hand
# frames to iptables and drop malformed IP headers before they reach the LB (the suite sends some
# on purpose).
_rig_bridge() {
  _rig_add_ns br
  ip -n "$(rig_ns br)" link add br0 type bridge
  ip -n "$(rig_ns br)" link set br0 up
  for t in iptables ip6tables arptables; do
    ip netns exec "$(rig_ns br)" sysctl -qw "net.bridge.bridge-nf-call-$t=0" 2>/dev/null || true
  done
}

rig_up() {
  local nclients=$1 nbackends=$2 queues=${3:-1} i ns
  [[ -n "$RIG_PREFIX" ]] || rig_init
  _rig_bridge
  _rig_add_ns lb
  _rig_link lb "$queues"
  ns=$(rig_ns lb)
  ip -n "$ns" addr add "$RIG_SNAT/24" dev eth0
  ip -n "$ns" addr add "$RIG_VIP/32" dev eth0
  ip -n "$ns" -6 addr add "$RIG_SNAT6/64" dev eth0 nodad
  ip -n "$ns" -6 addr add "$RIG_VIP6/128" dev eth0 nodad
  # XDP_TX and redirects out of a veth are dropped unless the peer runs an XDP program too.
  ip -n "$(rig_ns br)" link set dev p-lb xdpdrv obj "$RIG_BIN/xdp_pass.bpf.o" sec xdp || {
    rig_log "cannot attach $RIG_BIN/xdp_pass.bpf.o to the LB's bridge-side veth"
    return 1
  }
  for ((i = 1; i <= nbackends; i++)); do _rig_host "b$i" $((10 + i)); done
  for ((i = 1; i <= nclients; i++)); do
    _rig_host "c$i" $((20 + i))
    # A load generator reuses its own TIME_WAIT ports, as load generators are set up. wrk closes
    # first whenever a response is read before the server's FIN arrives (1.5 % of connections
    # through xlb, 30 % through HAProxy); left at the default, those TIME_WAITs fill the even
    # half of the client's 28,232 ports within a minute, every connect() then walks all of them
    # and one wrk falls to a few hundred connections/s whatever the load balancer does.
    ip netns exec "$(rig_ns "c$i")" sysctl -qw net.ipv4.tcp_tw_reuse=1
  done
  rig_log "up: $RIG_PREFIX (LB, $nbackends backends, $nclients clients, $queues LB queue(s))"
}

# Everything under this rig's prefix goes, whoever created it, processes first.
rig_down() {
  local ns all
  [[ -n "$RIG_PREFIX" ]] || return 0
  all=$(ip netns list 2>/dev/null | awk '{print $1}' | grep "^${RIG_PREFIX}-" || true)
  for ns in $all; do
    ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null || true
  done
  for ns in $all; do
    ip netns del "$ns" 2>/dev/null || true
  done
  RIG_NAMESPACES=()
  [[ -n "$RIG_PREFIX" ]] && rm -rf /tmp/"${RIG_PREFIX}"-* 2>/dev/null
  return 0
}

rig_add_routed_backend() {
  local r rb lb
  _rig_add_ns r
  _rig_link r
  r=$(rig_ns r)
  ip -n "$r" addr add 10.100.0.1/24 dev eth0
  _rig_add_ns rb1
  rb=$(rig_ns rb1)
  ip -n "$rb" link add eth0 type veth peer name eth1 netns "$r"
  ip -n "$rb" link set eth0 up
  ip -n "$r" link set eth1 up
  _rig_offloads_off "$rb" eth0
  _rig_offloads_off "$r" eth1
  ip -n "$r" addr add 10.200.0.1/24 dev eth1
  ip -n "$rb" addr add 10.200.0.11/24 dev eth0
  ip -n "$rb" route add default via 10.200.0.1
  ip netns exec "$r" sysctl -qw net.ipv4.ip_forward=1
  lb=$(rig_ns lb)
  ip -n "$lb" route add 10.200.0.0/24 via 10.100.0.1
}

# rig_backend_nginx I: nginx in backend I (namespace b<I>, or the namespace named by $2) answering
# "backend I" on port 80, and with TLS on 443 (a self-signed certificate made here, one day).
rig_backend_nginx() {
  local i=$1 nsname=${2:-b$1} dir
  dir=$(mktemp -d "/tmp/${RIG_PREFIX}-$nsname.XXXX")
  chmod 755 "$dir"
  mkdir -p "$dir/www"
  echo "backend $i" >"$dir/www/index.html"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
    -subj "/CN=xlb-rig" -keyout "$dir/key.pem" -out "$dir/cert.pem" >/dev/null 2>&1 ||
    { echo "rig: openssl could not make a certificate" >&2; return 1; }
  cat >"$dir/nginx.conf" <<EOF
worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 100000;
  server {
    listen 80 reuseport backlog=4096;
    listen [::]:80 reuseport backlog=4096;
    listen 443 ssl reuseport backlog=4096;
    listen [::]:443 ssl reuseport backlog=4096;
    ssl_certificate $dir/cert.pem;
    ssl_certificate_key $dir/key.pem;
    root $dir/www;
    # The client address this backend sees: the SNAT address in full-NAT, the client's in DSR.
    location = /whoami { default_type text/plain; return 200 "\$remote_addr\n"; }
  }
}
EOF
  rig_exec "$nsname" nginx -c "$dir/nginx.conf" -p "$dir"
}

# rig_sink NS: a sink in namespace NS (once): frames to 10.99.0.9 leave on a veth there and are
# dropped on arrival, touching no load balancer. A flood sent to it measures what the flood tool
# itself takes from the machine, the baseline a flood at a load balancer is judged against.
rig_sink() {
  local ns
  ns=$(rig_ns "$1")
  ip -n "$ns" link show sink0 >/dev/null 2>&1 && return 0
  ip -n "$ns" link add sink0 type veth peer name sink1
  ip -n "$ns" addr add 10.99.0.1/24 dev sink0
  ip -n "$ns" link set sink0 up
  ip -n "$ns" link set sink1 up
  ip -n "$ns" neigh add 10.99.0.9 lladdr 02:00:00:00:00:09 dev sink0
}

# rig_backend_dns I [log]: dnsmasq in backend I (namespace b<I>) on UDP and TCP 53, IPv4 and
# IPv6, answering which.xlb.test TXT "backend I" (so a client can tell who answered) and every name
# under xlb.test with A 10.9.9.I and AAAA fd00:999::I. No upstream, no cache. With "log", each
# query is logged with its source address to /tmp/<prefix>-dns-b<I>.log (full-NAT: the LB's SNAT
# address); benchmarks leave it off.
rig_backend_dns() {
  local i=$1 ns log=()
  ns=$(rig_ns "b$i")
  [[ ${2:-} == log ]] && log=(--log-queries=extra --log-facility="/tmp/${RIG_PREFIX}-dns-b$i.log")
  ip netns exec "$ns" dnsmasq --keep-in-foreground --no-resolv --no-hosts --no-poll \
    --bind-interfaces --listen-address="10.100.0.$((10 + i))" \
    --listen-address="fd00:100::$((10 + i))" --port=53 --cache-size=0 \
    --address="/xlb.test/10.9.9.$i" --address="/xlb.test/fd00:999::$i" \
    --txt-record="which.xlb.test,backend $i" "${log[@]}" \
    --pid-file="/tmp/${RIG_PREFIX}-dns-b$i.pid" --user=root --dns-forward-max=1000 \
    >/dev/null 2>&1 &
  disown $! 2>/dev/null || true  # rig_down kills it; no job-control notice then
  local n
  for ((n = 0; n < 50; n++)); do
    ip netns exec "$ns" dig +short +time=1 +tries=1 @"10.100.0.$((10 + i))" which.xlb.test TXT \
      2>/dev/null | grep -q "backend $i" && return 0
    sleep 0.1
  done
  rig_log "dnsmasq in b$i did not answer"
  return 1
}

# rig_backend_quic I: an ngtcp2 HTTP/3 server (gtlsserver) in backend I on UDP 443 (IPv4), serving
# /which ("backend I") from its own document root with a self-signed certificate (one day).
rig_backend_quic() {
  local i=$1 ns dir n
  ns=$(rig_ns "b$i")
  dir=$(mktemp -d "/tmp/${RIG_PREFIX}-quic-b$i.XXXX")
  mkdir -p "$dir/www"
  echo "backend $i" >"$dir/www/which"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
    -subj "/CN=xlb-rig" -keyout "$dir/key.pem" -out "$dir/cert.pem" >/dev/null 2>&1 ||
    { echo "rig: openssl could not make a certificate" >&2; return 1; }
  ip netns exec "$ns" gtlsserver -q -d "$dir/www" "10.100.0.$((10 + i))" 443 "$dir/key.pem" \
    "$dir/cert.pem" >"$dir/server.log" 2>&1 &
  disown $! 2>/dev/null || true
  for ((n = 0; n < 50; n++)); do
    ip netns exec "$ns" ss -Huln "sport = :443" | grep -q . && return 0
    sleep 0.1
  done
  rig_log "gtlsserver in b$i did not start"
  return 1
}

# rig_backend_dsr I [ipip]: backend I set up for direct server return, as docs say: the VIP
# ($RIG_VIP) on lo, not announced (arp_ignore 1, arp_announce 2), so the backend takes the VIP's
# packets xlb sends to its MAC and answers the client directly. With ipip, xlb_decap.bpf.o on its
# eth0 removes the outer header first (this kernel has no tunnel drivers).
rig_backend_dsr() {
  local i=$1 ns
  ns=$(rig_ns "b$i")
  ip -n "$ns" addr add "$RIG_VIP/32" dev lo 2>/dev/null || true
  for k in all eth0; do
    ip netns exec "$ns" sysctl -qw "net.ipv4.conf.$k.arp_ignore=1" "net.ipv4.conf.$k.arp_announce=2"
  done
  if [[ ${2:-} == ipip ]]; then
    ip -n "$ns" link set dev eth0 xdpdrv obj "$RIG_BIN/xlb_decap.bpf.o" sec xdp || {
      rig_log "cannot attach $RIG_BIN/xlb_decap.bpf.o in b$i"
      return 1
    }
  fi
}

