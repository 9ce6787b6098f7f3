// SPDX-License-Identifier: Apache-2.0
// Builds frames field by field with fully computed lengths and checksums: the simulator's
// hosts and capture generator write their frames with it, and the tests use it as the reference
// the pipeline's incremental rewrites are compared against, byte for byte.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "xlb/addr.h"
#include "xlb/parse.h"

namespace xlb::frames {

using Bytes = std::vector<std::uint8_t>;

// The MACs of the simulator's and the tests' hosts, one rule for both: a host's is
// 02:bb:<last four bytes of its address>, the LB's 02:00:00:00:00:aa.
MacAddr hostMac(const Address& a);
MacAddr lbMac();

struct Ipv6Ext {
  std::uint8_t type;  // 0 hop-by-hop, 43 routing, 60 destination options, 44 fragment
  Bytes body;         // bytes after (next header, length); sized by the builder to 8n - 2
};

struct PacketSpec {
  std::string srcMac = "02:00:00:00:00:01";
  std::string dstMac = "02:00:00:00:00:02";
  std::vector<std::uint16_t> vlanTpids;  // outer first: e.g. {0x88a8, 0x8100} for QinQ
  std::string src = "10.0.0.1";
  std::string dst = "10.0.0.100";
  std::uint8_t proto = 6;
  std::uint8_t ttl = 64;
  std::uint16_t ipId = 0x1234;
  std::uint16_t fragField = 0x4000;  // IPv4 flags+offset (DF)
  Bytes ipv4Options;                 // padded to 4 by the builder with EOL
  std::vector<Ipv6Ext> ipv6Ext;
  std::uint16_t sport = 40000;
  std::uint16_t dport = 80;
  std::uint32_t seq = 1000;
  std::uint32_t ack = 0;
  std::uint8_t flags = 0x02;
  std::uint16_t window = 65535;
  Bytes tcpOptions;  // padded to 4 by the builder with NOPs
  Bytes payload;
  std::uint8_t icmpType = 8;
  bool udpZeroChecksum = false;
};

Bytes buildPacket(const PacketSpec& spec);

// Parses a frame the caller expects to be well formed; throws with the reason if it is not.
PacketInfo parseInfo(const std::uint8_t* frame, std::size_t len);
inline PacketInfo parseInfo(const Bytes& frame) {
  return parseInfo(frame.data(), frame.size());
}

// Common TCP option encodings.
Bytes optMss(std::uint16_t mss);
Bytes optWscale(std::uint8_t shift);
Bytes optSackPermitted();
Bytes optTimestamp(std::uint32_t val, std::uint32_t ecr);
Bytes optSack(const std::vector<std::pair<std::uint32_t, std::uint32_t>>& blocks);
Bytes concat(std::initializer_list<Bytes> parts);

std::string hexDump(const Bytes& b);

}  // namespace xlb::frames
