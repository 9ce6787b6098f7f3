// SPDX-License-Identifier: Apache-2.0
#include "xlb/syn_retransmit.h"

#include <cstring>

namespace xlb {

SynRetransmit::SynRetransmit() : slots_(kSlots), index_(kIndexSize, kNone) {
  free_.reserve(kSlots);
  for (std::size_t i = kSlots; i > 0; --i) free_.push_back(static_cast<std::uint32_t>(i - 1));
  for (Ring& r : rings_) r.items.assign(kSlots, 0);
}

bool SynRetransmit::arm(std::uint32_t idx, std::uint32_t tag, const std::uint8_t* frame,
                        std::uint32_t len, TimeNs now) noexcept {
  if (len > kFrameBytes || free_.empty()) {
    ++full_;
    return false;
  }
  const std::uint32_t slot = free_.back();
  free_.pop_back();
  Slot& s = slots_[slot];
  s.idx = idx;
  s.tag = tag;
  s.len = len;
  s.due = now + kDelays[0];
  std::memcpy(s.data.data(), frame, len);
  push(0, slot);
  indexPut(idx, slot);
  return true;
}

bool SynRetransmit::find(std::uint32_t idx, std::uint32_t tag, Frame& out) const noexcept {
  for (std::size_t h = home(idx);; h = (h + 1) & (kIndexSize - 1)) {
    const std::uint32_t slot = index_[h];
    if (slot == kNone) return false;
    const Slot& s = slots_[slot];
    if (s.idx != idx) continue;
    if (s.tag != tag) return false;
    out = Frame{s.data.data(), s.len};
    return true;
  }
}

void SynRetransmit::indexPut(std::uint32_t idx, std::uint32_t slot) noexcept {
  // At most kSlots keys in 2 * kSlots cells: a free cell always ends the probe.
  for (std::size_t h = home(idx);; h = (h + 1) & (kIndexSize - 1)) {
    const std::uint32_t cur = index_[h];
    if (cur == kNone || slots_[cur].idx == idx) {
      index_[h] = slot;  // a later SYN for the same entry replaces the earlier one
      return;
    }
  }
}

void SynRetransmit::indexErase(std::uint32_t idx, std::uint32_t slot) noexcept {
  std::size_t h = home(idx);
  for (;; h = (h + 1) & (kIndexSize - 1)) {
    if (index_[h] == kNone) return;
    if (slots_[index_[h]].idx == idx) break;
  }
  if (index_[h] != slot) return;  // the entry has a newer SYN kept: leave its cell
  // Backward-shift deletion keeps every probe sequence unbroken.
  std::size_t hole = h;
  for (std::size_t j = (h + 1) & (kIndexSize - 1); index_[j] != kNone;
       j = (j + 1) & (kIndexSize - 1)) {
    const std::size_t want = home(slots_[index_[j]].idx);
    const bool movable = hole <= j ? (want <= hole || want > j) : (want <= hole && want > j);
    if (movable) {
      index_[hole] = index_[j];
      hole = j;
    }
  }
  index_[hole] = kNone;
}

void SynRetransmit::push(std::size_t level, std::uint32_t slot) noexcept {
  // Never more items in a ring than slots exist, so the ring cannot overflow.
  Ring& r = rings_[level];
  r.items[r.tail % kSlots] = slot;
  ++r.tail;
}

void SynRetransmit::release(std::uint32_t slot) noexcept {
  indexErase(slots_[slot].idx, slot);
  free_.push_back(slot);
}

}  // namespace xlb
