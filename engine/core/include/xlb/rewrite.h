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

// Stores `value` in the 32-bit field at `field` of a TCP segment starting at `l4` and adds the
// change to the checksum difference `d` (returned). TCP options need not be aligned: a field at
// an odd offset from the segment's start straddles three of the checksum's 16-bit words.
std::uint64_t store32Summed(const std::uint8_t* l4, std::uint8_t* field, std::uint32_t value,
                            std::uint64_t d) noexcept;

// Moves a parsed TCP segment's timestamp option by `delta`: TSval += delta (`tsval`), or
// TSecr -= delta, updating the TCP checksum incrementally (an option at an odd offset included).
// The segment must carry a timestamp option (info.tcp.hasTimestamp).
void shiftTimestamp(std::uint8_t* frame, const PacketInfo& info, std::uint32_t delta,
                    bool tsval) noexcept;

// A TCP segment without payload, written from scratch after the link-layer header (which, with
// any VLAN tags, stays as it is): IPv4 without options (ID 0, DF, TTL 64) or IPv6 without
// extension headers (hop limit 64), every byte set, both checksums computed.
struct TcpSegment {
  Family family = Family::kV4;
  IpAddr src;
  IpAddr dst;
  std::uint16_t sport = 0;
  std::uint16_t dport = 0;
  std::uint32_t seq = 0;
  std::uint32_t ack = 0;
  std::uint8_t flags = 0;
  std::uint16_t window = 0;
  const std::uint8_t* options = nullptr;  // length a multiple of 4, at most 40
  std::uint8_t optionsLen = 0;
};
// An IP header written from scratch at `ip`: IPv4 without options (ID 0, DF, TTL 64, checksum
// computed; 20 bytes) or IPv6 without extension headers (hop limit 64; 40 bytes), carrying
// `payloadLen` bytes of protocol `proto`. Returns the header's length.
std::uint32_t writeIpHeader(std::uint8_t* ip, Family family, std::uint32_t payloadLen,
                            std::uint8_t proto, const IpAddr& src, const IpAddr& dst) noexcept;
// Returns the new frame length, or 0 when `capacity` cannot hold it.
std::uint32_t writeTcpSegment(std::uint8_t* frame, std::uint32_t capacity, std::uint16_t l3Offset,
                              const TcpSegment& seg) noexcept;

// The 12 option bytes xlb puts on a SYN or SYN-ACK it builds: MSS, then SACK-permitted and window
// scale when wanted (wscale kNoWscale: none), NOP-padded. The XDP program writes the same layout.
void writeSynOptions(std::uint8_t* out, std::uint16_t mss, bool sack, std::uint8_t wscale) noexcept;
inline constexpr std::uint8_t kSynOptionsLen = 12;

inline void setMacs(std::uint8_t* frame, const std::array<std::uint8_t, 6>& src,
                    const std::array<std::uint8_t, 6>& dst) noexcept {
  std::memcpy(frame, dst.data(), 6);
  std::memcpy(frame + 6, src.data(), 6);
}

}  // namespace xlb
