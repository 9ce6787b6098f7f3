// SPDX-License-Identifier: Apache-2.0
// Automatic blocking's engine half: per-source counts of a kind only the engine can tell (invalid
// ACKs: TCP segments that match no connection and complete no cookie handshake; the XDP program
// has neither the connections nor the flows behind them). Its crossings join the XDP program's
// (XdpMaps::takeSourceEvents) in the Controller, which judges both alike.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "xlb/addr.h"
#include "xlb/config.h"
#include "xlb/source_event.h"

namespace xlb {

// Counts of one kind per source in fixed windows, in bounded memory, as the XDP program's LRU
// does: an open-addressed table of kSlots sources, probed over kProbe slots from a seeded hash
// (an attacker cannot aim sources at one slot). A new source takes an empty or expired slot, or
// else the probed slot seen least recently. All memory is taken at construction.
class SourceMeter {
 public:
  static constexpr std::size_t kSlots = 4096;
  static constexpr std::size_t kProbe = 8;
  static constexpr std::size_t kMaxEvents = 256;  // crossings waiting to be taken

  explicit SourceMeter(SourceKind kind, std::uint64_t seed = 0);
  // Forgets every count (the slots hash differently after).
  void reseed(std::uint64_t seed) noexcept;

  // Counts one from `source`; the count reaching the limit queues one event for this window.
  // A full queue loses the event (counted); the next window reports the source again.
  void count(const Address& source, const SourceLimit& limit, TimeNs now) noexcept;

  std::span<const SourceEvent> events() const noexcept { return {events_.data(), eventCount_}; }
  void clearEvents() noexcept { eventCount_ = 0; }
  std::uint64_t lostEvents() const noexcept { return lost_; }

 private:
  struct Slot {
    IpAddr ip;
    Family family = Family::kNone;  // kNone: empty
    bool reported = false;
    std::uint32_t count = 0;
    TimeNs windowStart = 0;
    TimeNs lastSeen = 0;
  };
  Slot& slotFor(const Address& source, TimeNs now, TimeNs window) noexcept;

  SourceKind kind_;
  std::uint64_t seed_;
  std::vector<Slot> slots_;
  std::vector<SourceEvent> events_;
  std::size_t eventCount_ = 0;
  std::uint64_t lost_ = 0;
};

}  // namespace xlb
