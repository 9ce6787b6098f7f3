// SPDX-License-Identifier: Apache-2.0
#include "xlb/source_meter.h"

#include <algorithm>
#include <utility>

namespace xlb {

SourceMeter::SourceMeter(SourceKind kind, std::uint64_t seed)
    : kind_(kind), seed_(seed), slots_(kSlots), events_(kMaxEvents) {}

void SourceMeter::reseed(std::uint64_t seed) noexcept {
  seed_ = seed;
  std::fill(slots_.begin(), slots_.end(), Slot{});
}

SourceMeter::Slot& SourceMeter::slotFor(const Address& source, TimeNs now, TimeNs window) noexcept {
  const std::uint64_t h = (source.ip.mix() ^ seed_) * 0x9e3779b97f4a7c15ull;
  const std::size_t first = static_cast<std::size_t>(h >> 32) & (kSlots - 1);
  // Preferred victims: an empty slot, then an expired window, then the source seen least
  // recently (as an LRU: a source sending steadily keeps its count through a spoofed flood).
  const auto rank = [&](const Slot& s) {
    if (s.family == Family::kNone) return std::pair<int, TimeNs>{0, 0};
    return std::pair<int, TimeNs>{now - s.windowStart >= window ? 1 : 2, s.lastSeen};
  };
  Slot* victim = nullptr;
  for (std::size_t i = 0; i < kProbe; ++i) {
    Slot& s = slots_[(first + i) & (kSlots - 1)];
    if (s.family == source.family && s.ip == source.ip) return s;
    if (victim == nullptr || rank(s) < rank(*victim)) victim = &s;
  }
  *victim = Slot{source.ip, source.family, false, 0, now, now};
  return *victim;
}

void SourceMeter::count(const Address& source, const SourceLimit& limit, TimeNs now) noexcept {
  if (!limit.on()) return;
  Slot& s = slotFor(source, now, limit.window);
  if (now - s.windowStart >= limit.window) s = Slot{source.ip, source.family, false, 0, now, now};
  s.lastSeen = now;
  if (++s.count < limit.limit || s.reported) return;
  s.reported = true;
  if (eventCount_ == events_.size()) {
    ++lost_;
    return;
  }
  events_[eventCount_++] = SourceEvent{source, kind_, s.count};
}

}  // namespace xlb
