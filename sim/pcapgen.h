// SPDX-License-Identifier: Apache-2.0
// The input captures of pcaps/, written deterministically from a seed (xlb-sim generate).
//  - mixed: client sides of IPv4/IPv6 sessions to a plain VIP, blocked sources, a spoofed SYN
//    flood at a cookie VIP, a forged cookie, other ports and protocols, other hosts' traffic,
//    ARP, and malformed frames. Small: the golden input.
//  - established: `flows` flows opened with a SYN, then `packets` rounds of 64-byte data
//    segments over every flow in a seeded random order (the replay benchmark's input).
//  - flood: `flows` spoofed SYNs at the cookie VIP from random sources, every tenth from a
//    blocked prefix (the replay benchmark's flood input).
#pragma once

#include <string>
#include <vector>

#include "pcap_io.h"

namespace xlb::sim {

struct GenOptions {
  std::string kind = "mixed";
  std::uint64_t seed = 1;
  std::uint32_t flows = 100000;
  std::uint32_t packets = 4;
};

bool generate(const GenOptions& options, std::vector<PcapFrame>& frames, std::string& error);

}  // namespace xlb::sim
