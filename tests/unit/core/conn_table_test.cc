// SPDX-License-Identifier: Apache-2.0
// Connection table mechanics below the pipeline: both lookup paths, bounded expiry work,
// eviction policy, memory per connection.
#include <gtest/gtest.h>

#include "harness.h"

namespace xlb {
namespace {

using testing::A;
using testing::sec;

struct TableFixture {
  SnatPool snat{{A("10.0.0.2")}, 10000, 60000};
  ConnTable table;
  explicit TableFixture(std::uint32_t cap) : table(cap, Timeouts{}, snat, 7) {}

  std::uint32_t add(std::uint32_t client, TimeNs now) {
    std::uint32_t idx = table.allocate(now);
    if (idx == ConnTable::kNil) return idx;
    ConnEntry& e = table.entry(idx);
    e.client = IpAddr::v4(client);
    e.vip = IpAddr::v4(0x0a000064);
    e.backend = IpAddr::v4(0x0a00000b);
    e.clientPort = 1234;
    e.vipPort = 80;
    e.backendPort = 80;
    e.proto = 6;
    e.family = Family::kV4;
    EXPECT_TRUE(snat.allocate(Family::kV4, e.snatIdx, e.snatPort));
    table.insert(idx, now);
    return idx;
  }
  FlowKey fwd(std::uint32_t client) const {
    return {IpAddr::v4(client), IpAddr::v4(0x0a000064), 1234, 80, 6, Family::kV4};
  }
};

TEST(ConnTable, FoundFromBothDirections) {
  TableFixture f(16);
  std::uint32_t idx = f.add(0x0b000001, sec(1));
  ASSERT_NE(idx, ConnTable::kNil);
  auto k = f.fwd(0x0b000001);
  EXPECT_EQ(f.table.findForward(k, f.table.hash(k)), idx);
  const ConnEntry& e = f.table.entry(idx);
  FlowKey r{e.backend, A("10.0.0.2").ip, 80, e.snatPort, 6, Family::kV4};
  EXPECT_EQ(f.table.findReverse(r, f.table.hash(r)), idx);
  r.bPort = static_cast<std::uint16_t>(r.bPort + 1);
  EXPECT_EQ(f.table.findReverse(r, f.table.hash(r)), ConnTable::kNil);
  // An IPv6 key with the same leading bytes is a different flow.
  auto k6 = k;
  k6.family = Family::kV6;
  EXPECT_EQ(f.table.findForward(k6, f.table.hash(k6)), ConnTable::kNil);
  f.table.remove(idx, CloseReason::kKilled);
  EXPECT_EQ(f.table.findForward(k, f.table.hash(k)), ConnTable::kNil);
  EXPECT_EQ(f.table.findReverse(r, f.table.hash(r)), ConnTable::kNil);
  EXPECT_EQ(f.snat.portsInUse(), 0u);
  EXPECT_EQ(f.table.closed(CloseReason::kKilled), 1u);
}

TEST(ConnTable, ChainsSurviveManyInsertsAndRemovals) {
  TableFixture f(4096);
  std::vector<std::uint32_t> ids;
  for (std::uint32_t i = 0; i < 4096; ++i) ids.push_back(f.add(0x0b000000 + i, sec(1)));
  EXPECT_EQ(f.table.active(), 4096u);
  for (std::uint32_t i = 0; i < 4096; i += 2) f.table.remove(ids[i], CloseReason::kKilled);
  for (std::uint32_t i = 0; i < 4096; ++i) {
    auto k = f.fwd(0x0b000000 + i);
    const bool present = f.table.findForward(k, f.table.hash(k)) != ConnTable::kNil;
    EXPECT_EQ(present, i % 2 == 1) << i;
  }
}

TEST(ConnTable, ExpiryWorkPerCallIsBounded) {
  TableFixture f(1000);
  for (std::uint32_t i = 0; i < 1000; ++i) f.add(0x0b000000 + i, sec(1));
  // All 1000 half-open entries are due at 6 s; each call may look at 10 at most.
  EXPECT_LE(f.table.expire(sec(7), 10), 10u);
  std::size_t calls = 1;
  while (f.table.active() > 0 && calls < 10'000) {
    EXPECT_LE(f.table.expire(sec(7), 10), 10u);
    ++calls;
  }
  EXPECT_EQ(f.table.active(), 0u);
  EXPECT_GE(calls, 100u);
  EXPECT_EQ(f.table.closed(CloseReason::kTimeout), 1000u);
}

TEST(ConnTable, EvictionNeverTouchesEstablishedOrHalfClosed) {
  TableFixture f(4);
  for (std::uint32_t i = 0; i < 4; ++i) {
    std::uint32_t idx = f.add(0x0b000000 + i, sec(1));
    f.table.track(idx, false, 0x12, 500, 1, 0, sec(1));             // SYN-ACK
    f.table.track(idx, true, 0x10, 1, 501, 0, sec(1));              // ACK
    if (i == 3) f.table.track(idx, true, 0x11, 1, 501, 0, sec(1));  // FIN: half-closed
  }
  EXPECT_EQ(f.table.activeIn(TcpState::kEstablished), 3u);
  EXPECT_EQ(f.table.activeIn(TcpState::kFinWait), 1u);
  EXPECT_EQ(f.table.allocate(sec(2)), ConnTable::kNil);
  EXPECT_EQ(f.table.active(), 4u);
}

TEST(ConnTable, MemoryPerConnectionAtDefaultCapacity) {
  SnatPool snat({A("10.0.0.2")}, 10000, 10001);
  ConnTable table(1'000'000, Timeouts{}, snat, 1);
  const double bytes = table.bytesPerConnection();
  RecordProperty("bytes_per_connection", std::to_string(bytes));
  EXPECT_LE(bytes, 128.0);
  EXPECT_GE(bytes, static_cast<double>(sizeof(ConnEntry)));
}

}  // namespace
}  // namespace xlb
