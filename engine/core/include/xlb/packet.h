// SPDX-License-Identifier: Apache-2.0
// Non-owning packet views and the fixed-size batch every I/O backend fills and the pipeline reads.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include "xlb/reason.h"

namespace xlb {

// One frame owned by an I/O backend (UMEM chunk, pcap record, test buffer).
struct PacketRef {
  std::uint8_t* data = nullptr;
  std::uint32_t len = 0;       // bytes of frame
  std::uint32_t capacity = 0;  // writable bytes from data (for in-place rewrites and replies)
  std::uint64_t handle = 0;    // the backend's cookie: UMEM address, pcap index, ...
};

inline constexpr std::size_t kMaxBatch = 64;

// A batch is a fixed array: filling and processing it never allocates.
struct PacketBatch {
  std::array<PacketRef, kMaxBatch> pkts{};
  std::size_t count = 0;

  bool full() const noexcept { return count == kMaxBatch; }
  void clear() noexcept { count = 0; }
  bool push(const PacketRef& p) noexcept {
    if (count == kMaxBatch) return false;
    pkts[count++] = p;
    return true;
  }
};

}  // namespace xlb
