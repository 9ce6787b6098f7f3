// SPDX-License-Identifier: Apache-2.0
// Internet checksum: full computation (RFC 1071) and incremental update (RFC 1624, eqn. 3).
#pragma once

#include <cstddef>
#include <cstdint>

#include "xlb/addr.h"

namespace xlb {

inline std::uint16_t load16(const std::uint8_t* p) noexcept {
  return static_cast<std::uint16_t>(p[0] << 8 | p[1]);
}
inline std::uint32_t load32(const std::uint8_t* p) noexcept {
  return static_cast<std::uint32_t>(p[0]) << 24 | static_cast<std::uint32_t>(p[1]) << 16 |
         static_cast<std::uint32_t>(p[2]) << 8 | p[3];
}
inline void store16(std::uint8_t* p, std::uint16_t v) noexcept {
  p[0] = static_cast<std::uint8_t>(v >> 8);
  p[1] = static_cast<std::uint8_t>(v);
}
inline void store32(std::uint8_t* p, std::uint32_t v) noexcept {
  p[0] = static_cast<std::uint8_t>(v >> 24);
  p[1] = static_cast<std::uint8_t>(v >> 16);
  p[2] = static_cast<std::uint8_t>(v >> 8);
  p[3] = static_cast<std::uint8_t>(v);
}

// One's-complement sum of big-endian 16-bit words (odd tail padded with zero).
inline std::uint64_t csumAdd(const std::uint8_t* p, std::size_t len, std::uint64_t sum) noexcept {
  while (len >= 2) {
    sum += load16(p);
    p += 2;
    len -= 2;
  }
  if (len) sum += static_cast<std::uint64_t>(p[0]) << 8;
  return sum;
}

inline std::uint16_t csumFold(std::uint64_t sum) noexcept {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<std::uint16_t>(sum);
}

// Accumulates the difference "old bytes -> new bytes" (len a multiple of 4) as RFC 1624 wants it:
// ~old + new. Taken over 32-bit words and folded at the end (RFC 1071, 2(B)), which halves the
// work of a 16-bit loop for addresses.
inline std::uint64_t csumDeltaWords32(const std::uint8_t* oldp, const std::uint8_t* newp,
                                      std::size_t len, std::uint64_t sum) noexcept {
  for (std::size_t i = 0; i < len; i += 4) {
    sum += static_cast<std::uint32_t>(~load32(oldp + i));
    sum += load32(newp + i);
  }
  return sum;
}
inline std::uint64_t csumDelta16(std::uint16_t oldv, std::uint16_t newv,
                                 std::uint64_t sum) noexcept {
  return sum + static_cast<std::uint16_t>(~oldv) + newv;
}
inline std::uint64_t csumDelta32(std::uint32_t oldv, std::uint32_t newv,
                                 std::uint64_t sum) noexcept {
  return csumDelta16(
      static_cast<std::uint16_t>(oldv >> 16), static_cast<std::uint16_t>(newv >> 16),
      csumDelta16(static_cast<std::uint16_t>(oldv), static_cast<std::uint16_t>(newv), sum));
}

// HC' = ~(~HC + delta)   (RFC 1624 eqn. 3)
inline std::uint16_t csumApply(std::uint16_t check, std::uint64_t delta) noexcept {
  return static_cast<std::uint16_t>(~csumFold(static_cast<std::uint16_t>(~check) + delta));
}

// Full checksums, for verification, for building replies and for tests.
std::uint16_t ipv4HeaderChecksum(const std::uint8_t* ip, std::size_t ihlBytes) noexcept;
// L4 checksum (TCP, UDP, ICMPv6 with pseudo-header; ICMPv4 without) over `l4[0, l4Len)` with
// the checksum field treated as it currently is. A correct packet yields 0 from l4ChecksumResidue.
std::uint16_t l4Checksum(Family fam, std::uint8_t proto, const IpAddr& src, const IpAddr& dst,
                         const std::uint8_t* l4, std::size_t l4Len,
                         std::size_t csumOffset) noexcept;
// True when the checksum field holds only the folded pseudo-header sum: what a stack writes when
// it leaves the checksum to the NIC (CHECKSUM_PARTIAL) and no NIC finished it (a veth).
bool l4ChecksumPartial(Family fam, std::uint8_t proto, const IpAddr& src, const IpAddr& dst,
                       const std::uint8_t* l4, std::size_t l4Len) noexcept;
bool l4ChecksumValid(Family fam, std::uint8_t proto, const IpAddr& src, const IpAddr& dst,
                     const std::uint8_t* l4, std::size_t l4Len) noexcept;

}  // namespace xlb
