// SPDX-License-Identifier: Apache-2.0
// In-place NAT rewrites with incremental checksum updates (RFC 1624).
#pragma once

#include <array>
#include <cstdint>
#include <cstring>

#include "xlb/addr.h"
#include "xlb/parse.h"

namespace xlb {

// Rewrites source/destination address and port of a parsed, unfragmented IPv4 or IPv6 TCP or
// UDP packet, updating the IPv4 header checksum and the L4 checksum incrementally. A UDP-over-
// IPv4 checksum of zero ("none") stays zero. Ports are host order.
void natRewrite(std::uint8_t* frame, const PacketInfo& info, const IpAddr& src, const IpAddr& dst,
                std::uint16_t sport, std::uint16_t dport) noexcept;

inline void setMacs(std::uint8_t* frame, const std::array<std::uint8_t, 6>& src,
                    const std::array<std::uint8_t, 6>& dst) noexcept {
  std::memcpy(frame, dst.data(), 6);
  std::memcpy(frame + 6, src.data(), 6);
}

}  // namespace xlb
