// SPDX-License-Identifier: Apache-2.0
// Strictly bounded parsing of Ethernet / 802.1Q / QinQ / IPv4 / IPv6 (+ extension headers) /
// TCP (+ options) / UDP / ICMP. Nothing is read past `len`; every malformed frame maps to a
// named Reason from bpf/xlb_common.h.
#pragma once

#include <cstdint>

#include "xlb/addr.h"
#include "xlb/reason.h"

namespace xlb {

inline constexpr std::uint8_t kTcpFin = 0x01;
inline constexpr std::uint8_t kTcpSyn = 0x02;
inline constexpr std::uint8_t kTcpRst = 0x04;
inline constexpr std::uint8_t kTcpPsh = 0x08;
inline constexpr std::uint8_t kTcpAck = 0x10;
inline constexpr std::uint8_t kTcpUrg = 0x20;

inline constexpr std::uint8_t kProtoIcmp = 1;
inline constexpr std::uint8_t kProtoTcp = 6;
inline constexpr std::uint8_t kProtoUdp = 17;
inline constexpr std::uint8_t kProtoIcmp6 = 58;

inline constexpr std::uint16_t kEthIpv4 = 0x0800;
inline constexpr std::uint16_t kEthIpv6 = 0x86dd;
inline constexpr std::uint16_t kEthArp = 0x0806;
inline constexpr std::uint16_t kEthVlan = 0x8100;
inline constexpr std::uint16_t kEthQinQ = 0x88a8;
inline constexpr std::uint16_t kEthVlan9100 = 0x9100;

inline constexpr unsigned kMaxVlanDepth = 2;  // 802.1Q or QinQ
inline constexpr unsigned kMaxIpv6ExtHeaders = 8;
inline constexpr std::uint8_t kNoWscale = 0xff;

enum class Frag : std::uint8_t { kNone = 0, kFirst = 1, kLater = 2 };

// TCP options that matter to a load balancer and SYN proxy. Offsets are from the frame start so
// a later stage can rewrite SACK blocks and timestamps in place.
struct TcpOptions {
  std::uint16_t mss = 0;  // 0: absent
  std::uint8_t wscale = kNoWscale;
  bool sackPermitted = false;
  std::uint8_t sackBlocks = 0;  // 0..4
  bool hasTimestamp = false;
  std::uint16_t sackOffset = 0;  // first SACK block (left edge)
  std::uint16_t tsOffset = 0;    // TSval
  std::uint32_t tsVal = 0;
  std::uint32_t tsEcr = 0;
};

struct PacketInfo {
  // L2
  std::uint16_t ethertype = 0;  // after VLAN tags, host order
  std::uint8_t vlanDepth = 0;
  // L3
  Family family = Family::kNone;
  Frag frag = Frag::kNone;
  std::uint8_t proto = 0;  // final protocol after IPv6 extension headers
  bool ipv4Options = false;
  std::uint16_t l3Offset = 0;
  std::uint16_t l4Offset = 0;
  std::uint16_t l4Len = 0;  // IP payload bytes from l4Offset, per the IP header
  IpAddr src;
  IpAddr dst;
  // L4 (host order)
  std::uint16_t sport = 0;
  std::uint16_t dport = 0;
  std::uint8_t tcpFlags = 0;
  std::uint32_t seq = 0;
  std::uint32_t ack = 0;
  std::uint16_t window = 0;
  std::uint16_t payloadOffset = 0;
  std::uint16_t payloadLen = 0;
  std::uint8_t icmpType = 0;
  std::uint8_t icmpCode = 0;
  TcpOptions tcp;
};

// Parses `frame[0, len)`. Returns true with `info` filled when the frame is well formed (non-IP
// frames are well formed with family kNone); false with `why` set to the malformation otherwise.
// Fragments (IPv4 or IPv6) are flagged and their L4 header is not parsed.
bool parsePacket(const std::uint8_t* frame, std::uint32_t len, PacketInfo& info,
                 Reason& why) noexcept;

}  // namespace xlb
