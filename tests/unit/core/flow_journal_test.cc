// SPDX-License-Identifier: Apache-2.0
#include "xlb/flow_journal.h"

#include <gtest/gtest.h>

#include <thread>

#include "xlb/conn_table.h"

namespace xlb {
namespace {

FlowRecord rec(std::uint16_t port, bool open) {
  FlowRecord r;
  r.client = IpAddr::v4(0x0a650015);
  r.vip = IpAddr::v4(0x0a640064);
  r.clientPort = port;
  r.vipPort = 80;
  r.proto = 6;
  r.family = Family::kV4;
  r.open = open;
  return r;
}

TEST(FlowJournal, KeepsOrderAndCountsWhatAFullRingDrops) {
  FlowJournal j(4);
  for (std::uint16_t p = 0; p < 6; ++p) j.push(rec(p, true));
  EXPECT_EQ(j.overflows(), 2u);
  std::vector<FlowRecord> out(10);
  ASSERT_EQ(j.drain(out), 4u);
  for (std::uint16_t p = 0; p < 4; ++p) EXPECT_EQ(out[p].clientPort, p);
  EXPECT_EQ(j.drain(out), 0u);
}

TEST(FlowJournal, OneProducerAndOneConsumerLoseNothing) {
  FlowJournal j(1024);
  constexpr std::uint32_t kN = 200000;
  std::thread producer([&] {
    for (std::uint32_t i = 0; i < kN; ++i) {
      while (true) {
        const std::uint64_t before = j.overflows();
        j.push(rec(static_cast<std::uint16_t>(i), true));
        if (j.overflows() == before) break;
        std::this_thread::yield();
      }
    }
  });
  std::vector<FlowRecord> out(256);
  std::uint32_t seen = 0;
  while (seen < kN) {
    const std::size_t n = j.drain(out);
    for (std::size_t k = 0; k < n; ++k) {
      ASSERT_EQ(out[k].clientPort, static_cast<std::uint16_t>(seen));
      ++seen;
    }
  }
  producer.join();
}

TEST(FlowJournal, TheTableRecordsOpensMovesAndCloses) {
  SnatPool snat(std::vector<Address>{*Address::parse("10.100.0.2")}, 10000, 10999);
  ConnTable t(16, Timeouts{}, snat, 1);
  FlowJournal j(64);
  t.setJournal(&j);
  const std::uint32_t idx = t.allocate(0);
  ConnEntry& e = t.entry(idx);
  e.client = IpAddr::v4(0x0a650015);
  e.vip = IpAddr::v4(0x0a640064);
  e.backend = IpAddr::v4(0x0a64000b);
  e.clientPort = 40000;
  e.vipPort = 443;
  e.backendPort = 443;
  e.proto = 17;
  e.family = Family::kV4;
  ASSERT_TRUE(snat.allocate(e.family, e.snatIdx, e.snatPort));
  t.insert(idx, 0);
  const std::uint8_t mac[6] = {2, 0, 0, 0, 0, 1};
  t.moveClient(idx, IpAddr::v4(0x0a650016), 40001, mac);
  t.remove(idx, CloseReason::kTimeout);
  std::vector<FlowRecord> out(8);
  ASSERT_EQ(j.drain(out), 4u);
  EXPECT_TRUE(out[0].open);
  EXPECT_EQ(out[0].clientPort, 40000);
  EXPECT_EQ(out[0].proto, 17);
  EXPECT_FALSE(out[1].open);
  EXPECT_EQ(out[1].clientPort, 40000);
  EXPECT_TRUE(out[2].open);
  EXPECT_EQ(out[2].clientPort, 40001);
  EXPECT_FALSE(out[3].open);
  EXPECT_EQ(out[3].clientPort, 40001);
  EXPECT_EQ(out[3].vipPort, 443);
}

}  // namespace
}  // namespace xlb
