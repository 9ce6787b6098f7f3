// SPDX-License-Identifier: Apache-2.0
// The connection table's UDP flows: their share of the table, their two timers, and a QUIC
// client's move to a new tuple.
#include <cstring>

#include "xlb/conn_table.h"

namespace xlb {

// A UDP flow takes a free entry while UDP flows hold less than their share. At the share, or
// with no entry free, it may only take the place of a UDP flow of a single exchange: never a TCP
// entry of any state (allocate() alone would evict a half-open one).
std::uint32_t ConnTable::allocateUdp(TimeNs now) noexcept {
  const auto room = [this] {
    return udpActive() < udpLimit_ && (freeHead_ != kNil || fresh_ < capacity_);
  };
  if (room()) return allocate(now);
  expire(now, kEvictScanEntries);
  if (!room()) evictOne(true);
  return room() ? allocate(now) : kNil;
}

void ConnTable::moveClient(std::uint32_t idx, const IpAddr& client, std::uint16_t port,
                           const std::uint8_t* mac) noexcept {
  ConnEntry& e = entries_[idx];
  unlinkChain(fwdHeads_, &ConnEntry::nextFwd, hash(forwardKey(e)), idx);
  record(e, false);
  e.client = client;
  e.clientPort = port;
  std::memcpy(e.clientMac.data(), mac, 6);
  const std::uint64_t hf = hash(forwardKey(e)) & mask_;
  e.nextFwd = fwdHeads_[hf];
  fwdHeads_[hf] = idx;
  record(e, true);
}

void ConnTable::trackUdp(std::uint32_t idx, bool fromClient, TimeNs now) noexcept {
  ConnEntry& e = entries_[idx];
  const std::uint64_t nowMs = now / kNsPerMs;
  if (e.state == TcpState::kUdpSingle && fromClient && (e.flags & kFlagUdpAnswered)) {
    enterState(idx, TcpState::kUdp, nowMs);
    return;
  }
  if (!fromClient) e.flags |= kFlagUdpAnswered;
  if (e.state == TcpState::kUdpSingle || e.state == TcpState::kUdp) {
    e.deadlineMs = static_cast<std::uint32_t>(nowMs) + timeoutMs(e.state);
  }
}

}  // namespace xlb
