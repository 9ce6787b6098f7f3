// SPDX-License-Identifier: Apache-2.0
// The SYNs xlb sent towards backends, kept so xlb can send them again on its own timer until the
// backend answers, and at once after clearing a backend's TIME_WAIT. A client retries its SYN
// only after a second (Linux's initial RTO); a SYN lost on the way to a backend, or dropped by a
// backend's full backlog, would cost every such connection that second. Preallocated, no
// allocation after construction; pure (time comes in).
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "xlb/addr.h"

namespace xlb {

class SynRetransmit {
 public:
  static constexpr std::size_t kSlots = 4096;        // SYNs awaiting an answer, per worker
  static constexpr std::uint32_t kFrameBytes = 256;  // a SYN with options and VLAN tags fits
  // Each retransmission waits for the one before plus this delay.
  static constexpr std::array<TimeNs, 3> kDelays = {200'000'000, 400'000'000, 800'000'000};

  SynRetransmit();

  // Keeps a copy of the SYN just sent for connection entry `idx`; `tag` tells the entry's
  // connection from a later one in the same entry. False (nothing kept) when the frame is too
  // long or every slot is taken.
  bool arm(std::uint32_t idx, std::uint32_t tag, const std::uint8_t* frame, std::uint32_t len,
           TimeNs now) noexcept;

  // The SYN kept for (idx, tag), or nullptr. Valid until the next arm() or run().
  struct Frame {
    const std::uint8_t* data;
    std::uint32_t len;
  };
  bool find(std::uint32_t idx, std::uint32_t tag, Frame& out) const noexcept;

  // For every SYN due at `now`: drops it when waiting(idx, tag) is false (the backend answered,
  // or the entry went), else calls send(frame) (which returns false when it can take no more
  // this round; the SYN stays due). A frame passed to send stays valid until the next arm().
  template <typename Waiting, typename Send>
  void run(TimeNs now, Waiting waiting, Send send) noexcept {
    for (std::size_t level = 0; level < kDelays.size(); ++level) {
      Ring& r = rings_[level];
      while (r.head != r.tail) {
        Slot& s = slots_[r.items[r.head % kSlots]];
        if (s.due > now) break;
        const std::uint32_t slot = r.items[r.head % kSlots];
        if (!waiting(s.idx, s.tag)) {
          ++r.head;
          release(slot);
          continue;
        }
        if (!send(Frame{s.data.data(), s.len})) return;
        ++r.head;
        ++sent_;
        if (level + 1 < kDelays.size()) {
          s.due = now + kDelays[level + 1];
          push(level + 1, slot);
        } else {
          release(slot);  // the last try; the entry's SYN timer ends it if nothing comes
        }
      }
    }
  }

  std::uint64_t sent() const noexcept { return sent_; }
  std::uint64_t full() const noexcept { return full_; }
  std::size_t waiting() const noexcept { return kSlots - free_.size(); }

 private:
  struct Slot {
    std::uint32_t idx = 0;
    std::uint32_t tag = 0;
    std::uint32_t len = 0;
    TimeNs due = 0;
    std::array<std::uint8_t, kFrameBytes> data{};
  };
  // FIFO per level: every item of a level waits the same delay, so each ring is in due order.
  struct Ring {
    std::vector<std::uint32_t> items;
    std::uint64_t head = 0, tail = 0;
  };
  void push(std::size_t level, std::uint32_t slot) noexcept;
  void release(std::uint32_t slot) noexcept;
  // entry index -> slot (the latest SYN kept for that entry): linear probing, twice the slots.
  static constexpr std::uint32_t kNone = 0xffffffffu;
  static constexpr std::size_t kIndexSize = 2 * kSlots;
  std::size_t home(std::uint32_t idx) const noexcept {
    return static_cast<std::size_t>((idx * 0x9e3779b1u) >> 19) & (kIndexSize - 1);
  }
  void indexPut(std::uint32_t idx, std::uint32_t slot) noexcept;
  void indexErase(std::uint32_t idx, std::uint32_t slot) noexcept;

  std::vector<Slot> slots_;
  std::vector<std::uint32_t> index_;  // slot numbers, kNone when empty
  std::vector<std::uint32_t> free_;
  std::array<Ring, kDelays.size()> rings_;
  std::uint64_t sent_ = 0, full_ = 0;
};

}  // namespace xlb
