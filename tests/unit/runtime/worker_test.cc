// SPDX-License-Identifier: Apache-2.0
// Ownership between workers: every SNAT port belongs to exactly the worker whose sub-range holds
// it, and the hand-off ring delivers frames in order, refusing (not overwriting) when full.
#include "xlb/worker.h"

#include <gtest/gtest.h>

namespace xlb {
namespace {

TEST(Worker, EverySnatPortIsOwnedByTheWorkerWhoseSubRangeHoldsIt) {
  for (std::uint32_t count = 1; count <= 7; ++count) {
    const std::uint16_t lo = 20000, hi = 29999;
    std::uint32_t covered = 0;
    for (std::uint32_t id = 0; id < count; ++id) {
      std::uint16_t subLo = 0, subHi = 0;
      snatSubRange(lo, hi, id, count, subLo, subHi);
      covered += static_cast<std::uint32_t>(subHi - subLo + 1);
      for (std::uint32_t p = subLo; p <= subHi; ++p) {
        ASSERT_EQ(snatOwner(lo, hi, count, static_cast<std::uint16_t>(p)), id)
            << "port " << p << " of " << count << " workers";
      }
    }
    EXPECT_EQ(covered, 10000u) << count << " workers";
  }
}

TEST(Worker, HandoffRingIsOrderedAndRefusesWhenFull) {
  Handoff h(2);
  std::uint8_t frame[64] = {};
  for (std::uint32_t i = 0; i < Handoff::kSlots; ++i) {
    frame[0] = static_cast<std::uint8_t>(i);
    ASSERT_TRUE(h.push(0, 1, frame, 60));
  }
  EXPECT_FALSE(h.push(0, 1, frame, 60));
  PacketBatch b;
  ASSERT_EQ(h.peek(0, 1, b, kMaxBatch), kMaxBatch);
  for (std::size_t i = 0; i < kMaxBatch; ++i) {
    EXPECT_EQ(b.pkts[i].data[0], static_cast<std::uint8_t>(i));
    EXPECT_EQ(b.pkts[i].len, 60u);
  }
  h.release(0, 1, kMaxBatch);
  EXPECT_TRUE(h.push(0, 1, frame, 60));
  PacketBatch other;
  EXPECT_EQ(h.peek(1, 0, other, kMaxBatch), 0u);  // the other direction is its own ring
}

}  // namespace
}  // namespace xlb
