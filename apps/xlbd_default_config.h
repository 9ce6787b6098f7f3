// SPDX-License-Identifier: Apache-2.0
#pragma once

namespace xlb {

// The built-in default: the one-arm rig of scripts/netns (and `make demo`). The LB namespace
// names its interface eth0 and owns 10.100.0.2 (SNAT) and 10.100.0.100 (VIP); the demo's third
// client, 10.100.0.23, is on the blocklist. The SNAT ports end below the kernel's ephemeral range
// (32768): 22,768 ports, which README's rule (rate × the 2-s time_wait timer) sizes for 11,000
// new connections/s. The rig's one wrk client needs fewer: it reuses its own ports after about a
// second (median 0.96 s in a capture of its SYNs) and a SYN on a time_wait entry's tuple frees
// that entry's port, so 11,100/s held 10,200-11,300 ports. The older 20000-29999 ran out within
// seconds of wrk.
inline constexpr const char* kDefaultConfig = R"(interface: eth0
xdp_mode: auto
workers: 1
snat: {addresses: [10.100.0.2], ports: 10000-32767}
vips:
  - address: 10.100.0.100
    ports: [80, 443]
    syn_flood: {mode: auto, threshold_pps: 2000}
    backends:
      - {address: 10.100.0.11}
      - {address: 10.100.0.12}
      - {address: 10.100.0.13}
blocklist: [10.100.0.23/32]
conntrack:
  capacity: 100000
  timeouts: {syn: 5s, established: 300s, fin: 10s, time_wait: 2s, rst: 1s}
state_dir: /var/lib/xlb
)";

}  // namespace xlb
