// SPDX-License-Identifier: Apache-2.0
// The datagrams instances of a cluster exchange on cluster.port (UDP): heartbeats, flow
// announcements and the end of a full dump. Encoded and decoded here without a system call, so
// that the decoder is unit-tested and fuzzed on its own; everything a datagram carries is
// checked before it is used (a bad one is counted and dropped whole).
//
//   header, 20 bytes:  "XLBC" | version 1 | type | sender's member index | flags | incarnation
//                      | sequence (per sender, +1 per datagram: a gap is a lost datagram)
//   record, 40 bytes:  family | proto | open | 0 | client port | VIP port | client[16] | VIP[16]
//
// Multi-byte fields are network order. Records follow a kFlows header only.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "xlb/flow_journal.h"

namespace xlb {

enum class WireType : std::uint8_t {
  kHeartbeat = 1,
  kFlows = 2,
  kDumpDone = 3,     // the sender's full dump to the receiver is complete
  kDumpRequest = 4,  // the receiver lost a datagram: the sender dumps its flows again
};

inline constexpr std::uint8_t kWireReady = 0x01;     // announcing (or would, were it not draining)
inline constexpr std::uint8_t kWireDraining = 0x02;  // draining: serves what it holds, takes none

struct WireHeader {
  WireType type = WireType::kHeartbeat;
  std::uint8_t member = 0;
  std::uint8_t flags = 0;
  std::uint64_t incarnation = 0;  // random per process start: a restart is a new instance
  std::uint32_t seq = 0;
};

inline constexpr std::size_t kWireHeaderBytes = 20;
inline constexpr std::size_t kWireRecordBytes = 40;
// Datagrams stay below a 1500-byte MTU with IPv6 and UDP headers.
inline constexpr std::size_t kWireMaxBytes = 1400;
inline constexpr std::size_t kWireMaxRecords =
    (kWireMaxBytes - kWireHeaderBytes) / kWireRecordBytes;

// Appends one datagram to `out` (cleared first). records.size() <= kWireMaxRecords, and records
// only with kFlows.
void encodeWire(const WireHeader& h, std::span<const FlowRecord> records,
                std::vector<std::uint8_t>& out);

struct WireMessage {
  WireHeader header;
  std::vector<FlowRecord> records;
};

// nullopt with `why` set when the datagram is not one of ours or is malformed: short, wrong
// magic or version, unknown type, a member index at or above `members`, records outside a kFlows
// message, a length that is not a whole number of records, or a record with a bad family,
// protocol or open flag.
std::optional<WireMessage> decodeWire(std::span<const std::uint8_t> datagram, std::size_t members,
                                      std::string& why);

}  // namespace xlb
