// SPDX-License-Identifier: Apache-2.0
#include "xlb/source_meter.h"

#include <gtest/gtest.h>

namespace xlb {
namespace {

Address v4(std::uint32_t hostOrder) {
  return Address{Family::kV4, IpAddr::v4(hostOrder)};
}

constexpr SourceLimit kLimit{kNsPerSec, 3};

TEST(SourceMeter, ReportsASourceOncePerWindowWhenItReachesTheLimit) {
  SourceMeter m(SourceKind::kInvalidAck, 7);
  const Address a = v4(0xc6336407);
  m.count(a, kLimit, 0);
  m.count(a, kLimit, 1);
  EXPECT_TRUE(m.events().empty());
  m.count(a, kLimit, 2);
  ASSERT_EQ(m.events().size(), 1u);
  EXPECT_EQ(m.events()[0].source, a);
  EXPECT_EQ(m.events()[0].kind, SourceKind::kInvalidAck);
  EXPECT_EQ(m.events()[0].count, 3u);
  m.count(a, kLimit, 3);  // still the same window: no second event
  EXPECT_EQ(m.events().size(), 1u);
  m.clearEvents();
  // The next window starts from zero.
  m.count(a, kLimit, kNsPerSec + 10);
  m.count(a, kLimit, kNsPerSec + 11);
  EXPECT_TRUE(m.events().empty());
  m.count(a, kLimit, kNsPerSec + 12);
  EXPECT_EQ(m.events().size(), 1u);
}

TEST(SourceMeter, CountsNothingWithTheLimitOff) {
  SourceMeter m(SourceKind::kInvalidAck, 7);
  for (TimeNs i = 0; i < 10; ++i) m.count(v4(1), SourceLimit{kNsPerSec, 0}, i);
  for (TimeNs i = 0; i < 10; ++i) m.count(v4(1), SourceLimit{0, 1}, i);
  EXPECT_TRUE(m.events().empty());
}

TEST(SourceMeter, KeepsFamiliesApart) {
  SourceMeter m(SourceKind::kInvalidAck, 7);
  Address six{Family::kV6, IpAddr::v4(0x0a000001)};  // the same bytes as 10.0.0.1
  m.count(v4(0x0a000001), kLimit, 0);
  m.count(v4(0x0a000001), kLimit, 0);
  m.count(six, kLimit, 0);
  EXPECT_TRUE(m.events().empty());
}

// A flood of spoofed sources takes over slots (bounded memory), but a source sending steadily is
// still reported: it was seen more recently than the spoofed sources its probe meets.
TEST(SourceMeter, StaysBoundedUnderManySourcesAndStillCatchesAHeavyOne) {
  SourceMeter m(SourceKind::kInvalidAck, 99);
  const SourceLimit limit{kNsPerSec, 200};
  const Address heavy = v4(0xcb007101);
  for (std::uint32_t i = 0; i < 200; ++i) {
    for (std::uint32_t j = 0; j < 50; ++j) m.count(v4(0x0b000000 + i * 50 + j), limit, i);
    m.count(heavy, limit, i);
  }
  ASSERT_EQ(m.events().size(), 1u);
  EXPECT_EQ(m.events()[0].source, heavy);
}

TEST(SourceMeter, LosesEventsBeyondItsQueueAndCountsThem) {
  SourceMeter m(SourceKind::kInvalidAck, 3);
  const SourceLimit one{kNsPerSec, 1};
  const std::size_t n = SourceMeter::kMaxEvents + 5;
  for (std::uint32_t i = 0; i < n; ++i) m.count(v4(0x0c000000 + i), one, 0);
  EXPECT_EQ(m.events().size(), SourceMeter::kMaxEvents);
  EXPECT_EQ(m.lostEvents(), 5u);
}

}  // namespace
}  // namespace xlb
