// SPDX-License-Identifier: Apache-2.0
#include "xlb/flow_journal.h"

#include <algorithm>

namespace xlb {

namespace {
std::uint32_t powerOfTwo(std::uint32_t n) {
  std::uint32_t p = 2;
  while (p < n && p < (1u << 30)) p <<= 1;
  return p;
}
}  // namespace

FlowJournal::FlowJournal(std::uint32_t capacity)
    : ring_(powerOfTwo(capacity)), mask_(powerOfTwo(capacity) - 1) {}

void FlowJournal::push(const FlowRecord& r) noexcept {
  const std::uint64_t h = head_.load(std::memory_order_relaxed);
  if (h - tail_.load(std::memory_order_acquire) > mask_) {
    overflows_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  ring_[h & mask_] = r;
  head_.store(h + 1, std::memory_order_release);
}

std::size_t FlowJournal::drain(std::span<FlowRecord> out) noexcept {
  const std::uint64_t t = tail_.load(std::memory_order_relaxed);
  const std::uint64_t h = head_.load(std::memory_order_acquire);
  const std::size_t n = std::min<std::uint64_t>(h - t, out.size());
  for (std::size_t i = 0; i < n; ++i) out[i] = ring_[(t + i) & mask_];
  tail_.store(t + n, std::memory_order_release);
  return n;
}

}  // namespace xlb
