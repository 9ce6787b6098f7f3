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

// Folding workers adds every listed figure, every state and close count and every backend by
// id; a worker that has seen fewer backend ids still adds into the right ones.
TEST(WorkerStats, FoldingAddsEveryFigure) {
  WorkerStats a, b;
  std::uint64_t v = 0;
  for (const auto& f : kPipelineFigures) {
    a.counters.*f.member = ++v;
    b.counters.*f.member = 100 * v;
  }
  for (const auto& f : kWorkerFigures) {
    a.*f.member = ++v;
    b.*f.member = 100 * v;
  }
  a.counters.reasons[3] = 2;
  b.counters.reasons[3] = 5;
  a.byState[2] = 1;
  b.byState[2] = 4;
  a.closed[1] = 7;
  b.backends.resize(3);
  b.backends[2].active = 9;
  b.backends[2].counters.bytesToClient = 11;
  a.backends.resize(1);
  a.backends[0].counters.created = 6;
  WorkerStats t;
  t += a;
  t += b;
  v = 0;
  for (const auto& f : kPipelineFigures) {
    ++v;
    EXPECT_EQ(t.counters.*f.member, 101 * v) << f.key;
  }
  for (const auto& f : kWorkerFigures) {
    ++v;
    EXPECT_EQ(t.*f.member, 101 * v) << f.key;
  }
  EXPECT_EQ(t.counters.reasons[3], 7u);
  EXPECT_EQ(t.byState[2], 5u);
  EXPECT_EQ(t.closed[1], 7u);
  ASSERT_EQ(t.backends.size(), 3u);
  EXPECT_EQ(t.backends[0].counters.created, 6u);
  EXPECT_EQ(t.backends[2].active, 9u);
  EXPECT_EQ(t.backends[2].counters.bytesToClient, 11u);
}

}  // namespace
}  // namespace xlb
