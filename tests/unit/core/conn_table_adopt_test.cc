// SPDX-License-Identifier: Apache-2.0
// Adoption: a table built over storage a previous table wrote (a previous process's, in xlbd)
// takes its connections back, and refuses what it cannot trust.
#include <gtest/gtest.h>

#include <vector>

#include "harness.h"

namespace xlb {
namespace {

using testing::A;
using testing::sec;

constexpr std::uint32_t kCap = 64;

// Storage that outlives the tables built over it, as the flow file outlives a process.
struct Storage {
  std::vector<ConnEntry> entries = std::vector<ConnEntry>(kCap);
  std::vector<FinSeqs> fins = std::vector<FinSeqs>(kCap);
  std::vector<std::uint32_t> deltas = std::vector<std::uint32_t>(kCap);
  std::uint32_t highWater = 0;
  ConnStorage view() { return {entries.data(), fins.data(), deltas.data(), &highWater}; }
};

struct KeepAll final : EntryCheck {
  bool keep(ConnEntry&) const noexcept override { return true; }
};

// One process's table over the storage.
struct Process {
  SnatPool snat{{A("10.0.0.2")}, 10000, 10999};
  ConnTable table;
  Process(Storage& s, std::uint64_t seed) : table(kCap, Timeouts{}, snat, seed, s.view()) {}

  std::uint32_t connect(std::uint32_t client, TimeNs now) {
    const std::uint32_t idx = table.allocate(now);
    EXPECT_NE(idx, ConnTable::kNil);
    ConnEntry& e = table.entry(idx);
    e.client = IpAddr::v4(client);
    e.vip = IpAddr::v4(0x0a000064);
    e.backend = IpAddr::v4(0x0a00000b);
    e.clientPort = 1234;
    e.vipPort = 80;
    e.backendPort = 8080;
    e.proto = 6;
    e.family = Family::kV4;
    e.backendId = 3;
    EXPECT_TRUE(snat.allocate(Family::kV4, e.snatIdx, e.snatPort));
    table.insert(idx, now);
    return idx;
  }
  std::uint32_t find(std::uint32_t client) const {
    const FlowKey k{IpAddr::v4(client), IpAddr::v4(0x0a000064), 1234, 80, 6, Family::kV4};
    return table.findForward(k, table.hash(k));
  }
  std::uint32_t findReply(std::uint16_t snatPort) const {
    const FlowKey k{IpAddr::v4(0x0a00000b), A("10.0.0.2").ip, 8080, snatPort, 6, Family::kV4};
    return table.findReverse(k, table.hash(k));
  }
};

TEST(ConnTableAdopt, ZeroedStorageAdoptsNothingAndServes) {
  Storage s;
  Process p(s, 1);
  const AdoptCounts c = p.table.adopt(sec(1), KeepAll{});
  EXPECT_EQ(c.adopted, 0u);
  EXPECT_EQ(c.dropped(), 0u);
  EXPECT_NE(p.connect(0x0b000001, sec(1)), ConnTable::kNil);
  EXPECT_EQ(p.table.active(), 1u);
}

TEST(ConnTableAdopt, ANewProcessFindsEveryConnectionFromBothSidesWithItsStateAndPort) {
  Storage s;
  std::vector<std::uint16_t> ports;
  {
    Process old(s, 1);
    old.table.adopt(sec(1), KeepAll{});
    for (std::uint32_t i = 0; i < 10; ++i) {
      const std::uint32_t idx = old.connect(0x0b000001 + i, sec(1));
      ports.push_back(old.table.entry(idx).snatPort);
      // Handshake done: established.
      old.table.track(idx, false, kTcpSyn | kTcpAck, 500, 101, 0, sec(1));
      old.table.track(idx, true, kTcpAck, 101, 501, 0, sec(1));
    }
    old.table.clientSeqDelta(0) = 77;
  }                    // the old process is gone; its storage is not
  Process next(s, 2);  // another hash seed: the indexes are rebuilt, not reused
  const AdoptCounts c = next.table.adopt(sec(2), KeepAll{});
  EXPECT_EQ(c.adopted, 10u);
  EXPECT_EQ(c.dropped(), 0u);
  EXPECT_EQ(next.table.active(), 10u);
  EXPECT_EQ(next.table.activeIn(TcpState::kEstablished), 10u);
  EXPECT_EQ(next.table.activeForBackend(3), 10u);
  EXPECT_EQ(next.snat.portsInUse(), 10u);
  for (std::uint32_t i = 0; i < 10; ++i) {
    const std::uint32_t idx = next.find(0x0b000001 + i);
    ASSERT_NE(idx, ConnTable::kNil);
    EXPECT_EQ(next.findReply(ports[i]), idx);
    EXPECT_TRUE(next.snat.inUse(0, ports[i]));
  }
  EXPECT_EQ(next.table.clientSeqDelta(0), 77u);
  EXPECT_EQ(s.highWater, 10u);  // ten entries ever handed out
  // A new connection takes a free slot and a port nobody holds.
  const std::uint32_t fresh = next.connect(0x0c000001, sec(2));
  for (std::uint16_t p : ports) EXPECT_NE(next.table.entry(fresh).snatPort, p);
  // Closing an adopted connection releases its port.
  next.table.remove(next.find(0x0b000001), CloseReason::kFin);
  EXPECT_FALSE(next.snat.inUse(0, ports[0]));
}

TEST(ConnTableAdopt, DeadlinesCarryOverAndPassedOnesExpire) {
  Storage s;
  {
    Process old(s, 1);
    old.table.adopt(sec(1), KeepAll{});
    old.connect(0x0b000001, sec(1));  // SYN_SENT: 5 s
  }
  Process next(s, 1);
  next.table.adopt(sec(3), KeepAll{});
  EXPECT_EQ(next.table.expire(sec(5), 100000), 0u);
  EXPECT_EQ(next.table.expire(sec(7), 100000), 1u);  // at 1 s + 5 s
  EXPECT_EQ(next.snat.portsInUse(), 0u);
  // Restarted after the deadline passed: gone at the first expiry.
  Storage s2;
  {
    Process old(s2, 1);
    old.table.adopt(sec(1), KeepAll{});
    old.connect(0x0b000001, sec(1));
  }
  Process late(s2, 1);
  EXPECT_EQ(late.table.adopt(sec(60), KeepAll{}).adopted, 1u);
  EXPECT_EQ(late.table.expire(sec(61), 100000), 1u);
}

TEST(ConnTableAdopt, TornFieldsDuplicatesAndRefusedEntriesAreDroppedAndCounted) {
  Storage s;
  {
    Process old(s, 1);
    old.table.adopt(sec(1), KeepAll{});
    for (std::uint32_t i = 0; i < 6; ++i) old.connect(0x0b000001 + i, sec(1));
  }
  s.entries[0].state = static_cast<TcpState>(200);  // no such state
  s.entries[1].family = static_cast<Family>(9);     // no such family
  s.entries[2].snatPort = 5;                        // outside the range
  s.entries[3].client = s.entries[4].client;        // same forward key
  s.entries[3].snatPort = static_cast<std::uint16_t>(s.entries[4].snatPort + 100);
  struct RefuseBackend final : EntryCheck {
    bool keep(ConnEntry& e) const noexcept override {
      e.backendId = 9;                            // this process's numbering
      return e.client != IpAddr::v4(0x0b000006);  // its backend is gone
    }
  };
  Process next(s, 1);
  const AdoptCounts c = next.table.adopt(sec(2), RefuseBackend{});
  EXPECT_EQ(c.adopted, 1u);
  EXPECT_EQ(c.invalid, 4u);
  EXPECT_EQ(c.duplicates, 1u);
  EXPECT_EQ(next.table.active(), 1u);
  EXPECT_EQ(next.table.activeForBackend(9), 1u);
  EXPECT_EQ(next.snat.portsInUse(), 1u);
  // Every refused slot is free again: all but the adopted one can be taken.
  for (std::uint32_t i = 0; i + 1 < kCap; ++i) {
    ASSERT_NE(next.table.allocate(sec(2)), ConnTable::kNil) << i;
  }
  EXPECT_EQ(next.table.active(), 1u);
}

TEST(ConnTableAdopt, OnlyEntriesBelowTheHighWaterMarkAreLookedAt) {
  Storage s;
  {
    Process old(s, 1);
    old.table.adopt(sec(1), KeepAll{});
    for (std::uint32_t i = 0; i < 4; ++i) old.connect(0x0b000001 + i, sec(1));
  }
  EXPECT_EQ(s.highWater, 4u);
  s.highWater = 2;  // entries 2 and 3 are beyond it: never looked at
  Process next(s, 1);
  EXPECT_EQ(next.table.adopt(sec(2), KeepAll{}).adopted, 2u);
  EXPECT_EQ(next.table.allocate(sec(2)), 2u);  // the next never-used index
  EXPECT_EQ(s.highWater, 3u);
  // A mark beyond the capacity (a torn write) makes the whole table count.
  Storage t;
  {
    Process old(t, 1);
    old.table.adopt(sec(1), KeepAll{});
    old.connect(0x0b000001, sec(1));
  }
  t.highWater = kCap * 9;
  Process again(t, 1);
  EXPECT_EQ(again.table.adopt(sec(2), KeepAll{}).adopted, 1u);
}

}  // namespace
}  // namespace xlb
