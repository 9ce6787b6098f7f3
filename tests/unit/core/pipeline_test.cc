// SPDX-License-Identifier: Apache-2.0
// Pipeline fixtures: input packet, expected verdict, expected output bytes; every TCP close
// sequence; table and SNAT pressure; filters.
#include <gtest/gtest.h>

#include "fixtures.h"
#include "flow_fixture.h"
#include "harness.h"
#include "xlb/checksum.h"

namespace xlb {
namespace {

using testing::A;
using testing::Bytes;
using testing::Flow;
using testing::Harness;
using testing::PacketSpec;
using testing::sec;

constexpr std::uint8_t SA = kTcpSyn | kTcpAck;
constexpr std::uint8_t FA = kTcpFin | kTcpAck;
constexpr std::uint8_t PA = kTcpPsh | kTcpAck;

std::uint64_t active(const Harness& h) {
  return h.table->active();
}
std::uint64_t inState(const Harness& h, TcpState s) {
  return h.table->activeIn(s);
}

TEST(Pipeline, HandshakeRewritesBothWaysAndEstablishes) {
  Harness h;
  Flow f{h};
  ASSERT_EQ(f.c(kTcpSyn, 100, 0, sec(1)), Reason::kTxToBackend);
  EXPECT_EQ(f.snatPort, 10000);
  EXPECT_EQ(inState(h, TcpState::kSynSent), 1u);
  ASSERT_EQ(f.s(SA, 500, 101, sec(1)), Reason::kTxToClient);
  EXPECT_EQ(inState(h, TcpState::kSynReceived), 1u);
  ASSERT_EQ(f.c(kTcpAck, 101, 501, sec(1)), Reason::kTxToBackend);
  EXPECT_EQ(inState(h, TcpState::kEstablished), 1u);
  EXPECT_EQ(f.c(PA, 101, 501, sec(1), Bytes(100, 'x')), Reason::kTxToBackend);
  EXPECT_EQ(f.s(PA, 501, 201, sec(1), Bytes(300, 'y')), Reason::kTxToClient);
  EXPECT_EQ(h.table->created(), 1u);
  EXPECT_EQ(h.snat->portsInUse(), 1u);
  const auto& c = h.pipe->counters();
  EXPECT_EQ(c.of(Reason::kTxToBackend), 3u);
  EXPECT_EQ(c.of(Reason::kTxToClient), 2u);
  EXPECT_EQ(c.packets, 5u);
}

TEST(Pipeline, AServedPortReachesItsBackendsOnTheirPort) {
  Config c = testing::testConfig();
  c.vips[0].backendPorts = {{443, 8443}};
  Harness h(c);
  Flow tls{h, "10.0.0.1", 40000, "10.0.0.100", 443};
  tls.bport = 8443;  // client->backend goes to 8443; backend->client comes from 443
  tls.open(sec(1));
  EXPECT_EQ(tls.c(PA, 101, 501, sec(1), Bytes(10, 'x')), Reason::kTxToBackend);
  EXPECT_EQ(tls.s(PA, 501, 111, sec(1), Bytes(20, 'y')), Reason::kTxToClient);
  Flow web{h, "10.0.0.1", 40001, "10.0.0.100", 80};  // a port not mapped keeps its number
  web.open(sec(1));
  EXPECT_EQ(h.table->created(), 2u);
}

TEST(Pipeline, Ipv6AndVlanFlows) {
  Harness h;
  Flow f{h, "2001:db8::1", 5555, "2001:db8::100", 443, "2001:db8::11", "2001:db8::2"};
  f.open(sec(1));
  EXPECT_EQ(f.c(PA, 101, 501, sec(1), Bytes(10, 'a')), Reason::kTxToBackend);
  Flow g{h};
  g.vlans = {0x88a8, 0x8100};
  g.cport = 40001;
  g.open(sec(1));
  EXPECT_EQ(active(h), 2u);
  EXPECT_EQ(inState(h, TcpState::kEstablished), 2u);
}

void expectGoneAt(Harness& h, TimeNs before, TimeNs after, CloseReason why) {
  const auto closedBefore = h.table->closed(why);
  h.tick(before);
  EXPECT_EQ(active(h), 1u) << "removed too early";
  h.tick(after);
  EXPECT_EQ(active(h), 0u) << "not removed in time";
  EXPECT_EQ(h.table->closed(why), closedBefore + 1) << enumName(why);
  EXPECT_EQ(h.snat->portsInUse(), 0u);
  EXPECT_EQ(h.table->created(), h.table->closedTotal());
}

TEST(Pipeline, ClientClosesFirst) {
  Harness h;
  Flow f{h};
  f.open(sec(1));
  ASSERT_EQ(f.c(FA, 101, 501, sec(2)), Reason::kTxToBackend);
  EXPECT_EQ(inState(h, TcpState::kFinWait), 1u);
  ASSERT_EQ(f.s(kTcpAck, 501, 102, sec(2)), Reason::kTxToClient);
  ASSERT_EQ(f.s(FA, 501, 102, sec(2)), Reason::kTxToClient);
  EXPECT_EQ(inState(h, TcpState::kClosing), 1u);
  ASSERT_EQ(f.c(kTcpAck, 102, 502, sec(2)), Reason::kTxToBackend);
  EXPECT_EQ(inState(h, TcpState::kTimeWait), 1u);
  expectGoneAt(h, sec(2 + 2 - 0.02), sec(2 + 2 + 0.02), CloseReason::kFin);
  EXPECT_EQ(f.c(kTcpAck, 102, 502, sec(5)), Reason::kNoConntrack);
}

TEST(Pipeline, ServerClosesFirst) {
  Harness h;
  Flow f{h};
  f.open(sec(1));
  ASSERT_EQ(f.s(FA, 501, 101, sec(3)), Reason::kTxToClient);
  EXPECT_EQ(inState(h, TcpState::kFinWait), 1u);
  ASSERT_EQ(f.c(FA, 101, 502, sec(3)), Reason::kTxToBackend);  // ACKs server FIN, sends own
  EXPECT_EQ(inState(h, TcpState::kClosing), 1u);
  ASSERT_EQ(f.s(kTcpAck, 502, 102, sec(3)), Reason::kTxToClient);
  EXPECT_EQ(inState(h, TcpState::kTimeWait), 1u);
  expectGoneAt(h, sec(4.98), sec(5.02), CloseReason::kFin);
}

TEST(Pipeline, SimultaneousClose) {
  Harness h;
  Flow f{h};
  f.open(sec(1));
  ASSERT_EQ(f.c(FA, 101, 501, sec(2)), Reason::kTxToBackend);  // FINs cross: neither acks
  ASSERT_EQ(f.s(FA, 501, 101, sec(2)), Reason::kTxToClient);
  EXPECT_EQ(inState(h, TcpState::kClosing), 1u);
  ASSERT_EQ(f.c(kTcpAck, 102, 502, sec(2)), Reason::kTxToBackend);
  EXPECT_EQ(inState(h, TcpState::kClosing), 1u);  // the client's FIN is not acked yet
  ASSERT_EQ(f.s(kTcpAck, 502, 102, sec(2)), Reason::kTxToClient);
  EXPECT_EQ(inState(h, TcpState::kTimeWait), 1u);
  expectGoneAt(h, sec(3.98), sec(4.02), CloseReason::kFin);
}

TEST(Pipeline, RstFromClientClosesAtOnceWithGrace) {
  Harness h;
  Flow f{h};
  f.open(sec(1));
  ASSERT_EQ(f.c(kTcpRst, 101, 0, sec(2)), Reason::kTxToBackend);
  EXPECT_EQ(inState(h, TcpState::kClosed), 1u);
  // A retransmitted RST from the other side inside the grace still passes.
  EXPECT_EQ(f.s(kTcpRst | kTcpAck, 501, 101, sec(2.5)), Reason::kTxToClient);
  expectGoneAt(h, sec(2.98), sec(3.02), CloseReason::kRst);
  EXPECT_EQ(f.s(PA, 501, 101, sec(4), Bytes(5, 'z')), Reason::kNoConntrack);
}

TEST(Pipeline, RstFromServer) {
  Harness h;
  Flow f{h};
  f.open(sec(1));
  ASSERT_EQ(f.s(kTcpRst, 501, 0, sec(2)), Reason::kTxToClient);
  EXPECT_EQ(inState(h, TcpState::kClosed), 1u);
  expectGoneAt(h, sec(2.98), sec(3.02), CloseReason::kRst);
}

TEST(Pipeline, HalfCloseWithDataStillFlowing) {
  Harness h;
  Flow f{h};
  f.open(sec(1));
  ASSERT_EQ(f.c(FA, 101, 501, sec(2)), Reason::kTxToBackend);
  std::uint32_t seq = 501;
  // The server keeps sending for 30 s, longer than the FIN timeout, one packet every 5 s.
  for (int i = 0; i < 6; ++i) {
    const TimeNs t = sec(2 + 5 * (i + 1));
    h.tick(t);
    ASSERT_EQ(f.s(PA, seq, 102, t, Bytes(1000, 'd')), Reason::kTxToClient) << i;
    ASSERT_EQ(f.c(kTcpAck, 102, seq + 1000, t), Reason::kTxToBackend) << i;
    seq += 1000;
  }
  EXPECT_EQ(inState(h, TcpState::kFinWait), 1u);
  ASSERT_EQ(f.s(FA, seq, 102, sec(33)), Reason::kTxToClient);
  ASSERT_EQ(f.c(kTcpAck, 102, seq + 1, sec(33)), Reason::kTxToBackend);
  EXPECT_EQ(inState(h, TcpState::kTimeWait), 1u);
  expectGoneAt(h, sec(34.98), sec(35.02), CloseReason::kFin);
}

TEST(Pipeline, IdleEstablishedConnectionTimesOut) {
  Harness h;
  Flow f{h};
  f.open(sec(1));
  ASSERT_EQ(f.c(PA, 101, 501, sec(100), Bytes(1, 'k')), Reason::kTxToBackend);  // activity
  expectGoneAt(h, sec(399.98), sec(400.02), CloseReason::kTimeout);
}

TEST(Pipeline, HalfOpenConnectionTimesOut) {
  Harness h;
  Flow f{h};
  ASSERT_EQ(f.c(kTcpSyn, 100, 0, sec(1)), Reason::kTxToBackend);
  expectGoneAt(h, sec(5.98), sec(6.02), CloseReason::kTimeout);
}

TEST(Pipeline, LostFinalAckLeavesAfterFinTimeout) {
  Harness h;
  Flow f{h};
  f.open(sec(1));
  ASSERT_EQ(f.c(FA, 101, 501, sec(2)), Reason::kTxToBackend);
  ASSERT_EQ(f.s(FA, 501, 102, sec(2)), Reason::kTxToClient);
  EXPECT_EQ(inState(h, TcpState::kClosing), 1u);  // the client's last ACK never comes
  expectGoneAt(h, sec(11.98), sec(12.02), CloseReason::kFin);
}

TEST(Pipeline, PortReuseAfterTimeWaitGetsAFreshEntry) {
  Harness h;
  Flow f{h};
  f.open(sec(1));
  f.c(FA, 101, 501, sec(1));
  f.s(FA, 501, 102, sec(1));
  f.c(kTcpAck, 102, 502, sec(1));
  ASSERT_EQ(inState(h, TcpState::kTimeWait), 1u);
  Flow g{h};
  ASSERT_EQ(g.c(kTcpSyn, 9000, 0, sec(1.5)), Reason::kTxToBackend);
  EXPECT_EQ(g.snatPort, 10001);  // a new SNAT port, not the one still in the backend's TIME_WAIT
  EXPECT_EQ(inState(h, TcpState::kSynSent), 1u);
  EXPECT_EQ(active(h), 1u);
  EXPECT_EQ(h.table->closed(CloseReason::kFin), 1u);
}

TEST(Pipeline, StrayPacketsCreateNothing) {
  Harness h;
  Flow f{h};
  for (std::uint8_t flags : {kTcpAck, PA, FA, kTcpRst, SA}) {
    EXPECT_EQ(f.c(flags, 1, 1, sec(1)), Reason::kNoConntrack);
  }
  f.snatPort = 10500;
  EXPECT_EQ(f.s(kTcpAck, 1, 1, sec(1)), Reason::kNoConntrack);
  EXPECT_EQ(active(h), 0u);
  EXPECT_EQ(h.pipe->counters().of(Reason::kNoConntrack), 6u);
}

TEST(Pipeline, NonsenseFlagsAreDropped) {
  Harness h;
  Flow f{h};
  EXPECT_EQ(f.c(kTcpSyn | kTcpFin, 1, 0, sec(1)), Reason::kTcpBadFlags);
  EXPECT_EQ(f.c(kTcpSyn | kTcpRst, 1, 0, sec(1)), Reason::kTcpBadFlags);
  EXPECT_EQ(f.c(0, 1, 0, sec(1)), Reason::kTcpBadFlags);
  EXPECT_EQ(active(h), 0u);
}

TEST(Pipeline, TableFullRefusesAndProtectsEstablished) {
  Harness h(testing::testConfig(4));
  std::vector<Flow> flows;
  for (std::uint16_t i = 0; i < 4; ++i) {
    flows.push_back(Flow{h});
    flows.back().cport = static_cast<std::uint16_t>(41000 + i);
    flows.back().open(sec(1));
  }
  Flow extra{h};
  extra.cport = 42000;
  EXPECT_EQ(extra.c(kTcpSyn, 1, 0, sec(2)), Reason::kTableFull);
  EXPECT_EQ(h.pipe->counters().of(Reason::kTableFull), 1u);
  EXPECT_EQ(h.snat->portsInUse(), 4u);  // the refused SYN's port went back
  for (auto& f : flows) {
    EXPECT_EQ(f.c(PA, 101, 501, sec(2), Bytes(3, 'q')), Reason::kTxToBackend);
  }
  EXPECT_EQ(h.table->closed(CloseReason::kEvicted), 0u);
}

TEST(Pipeline, TableFullEvictsHalfOpenFirst) {
  Harness h(testing::testConfig(4));
  std::vector<Flow> flows;
  for (std::uint16_t i = 0; i < 4; ++i) {
    flows.push_back(Flow{h});
    flows.back().cport = static_cast<std::uint16_t>(41000 + i);
    if (i < 2) {
      flows.back().open(sec(1));
    } else {
      ASSERT_EQ(flows.back().c(kTcpSyn, 1, 0, sec(1)), Reason::kTxToBackend);  // half-open
    }
  }
  Flow extra{h};
  extra.cport = 42000;
  EXPECT_EQ(extra.c(kTcpSyn, 1, 0, sec(2)), Reason::kTxToBackend);
  EXPECT_EQ(h.table->closed(CloseReason::kEvicted), 1u);
  EXPECT_EQ(inState(h, TcpState::kEstablished), 2u);
  EXPECT_EQ(inState(h, TcpState::kSynSent), 2u);
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(flows[static_cast<std::size_t>(i)].c(PA, 101, 501, sec(2), Bytes(1, 'q')),
              Reason::kTxToBackend);
  }
}

TEST(Pipeline, ExpiredEntriesAreReclaimedBeforeRefusing) {
  Harness h(testing::testConfig(2));
  h.pipe->setExpireBudget(0);  // only allocation-time reclaim can free entries here
  Flow a{h}, b{h};
  b.cport = 40001;
  a.open(sec(1));
  b.open(sec(1));
  a.c(kTcpRst, 101, 0, sec(1));  // closed: its grace ends at 2 s
  Flow c{h};
  c.cport = 40002;
  EXPECT_EQ(c.c(kTcpSyn, 1, 0, sec(2.5)), Reason::kTxToBackend);
  EXPECT_EQ(h.table->closed(CloseReason::kRst), 1u);  // reclaimed as expired, not evicted
  EXPECT_EQ(h.table->closed(CloseReason::kEvicted), 0u);
  EXPECT_EQ(inState(h, TcpState::kEstablished), 1u);
}

TEST(Pipeline, SnatExhaustionIsCounted) {
  Harness h(testing::testConfig(64, 20000, 20002));
  for (std::uint16_t i = 0; i < 3; ++i) {
    Flow f{h};
    f.cport = static_cast<std::uint16_t>(30000 + i);
    ASSERT_EQ(f.c(kTcpSyn, 1, 0, sec(1)), Reason::kTxToBackend);
  }
  Flow f{h};
  f.cport = 31000;
  EXPECT_EQ(f.c(kTcpSyn, 1, 0, sec(1)), Reason::kSnatExhausted);
  EXPECT_EQ(h.pipe->counters().of(Reason::kSnatExhausted), 1u);
  EXPECT_EQ(active(h), 3u);
  h.tick(sec(7));  // the half-open entries time out and give their ports back
  EXPECT_EQ(h.snat->portsInUse(), 0u);
  EXPECT_EQ(f.c(kTcpSyn, 1, 0, sec(7)), Reason::kTxToBackend);
}

TEST(Pipeline, FiltersAndPassThrough) {
  Harness h(testing::udpTestConfig());
  auto run = [&](PacketSpec s) {
    Bytes b = testing::buildPacket(s);
    return h.run(b, sec(1));
  };
  PacketSpec s;
  s.dport = 22;
  EXPECT_EQ(run(s), Reason::kPortFilter);
  s.dport = 443;
  EXPECT_EQ(run(s), Reason::kTxToBackend);
  s.proto = kProtoUdp;
  s.dport = 80;
  EXPECT_EQ(run(s), Reason::kPortFilter);  // the address's UDP service serves 53 and 443
  s.dst = "2001:db8::100";
  s.src = "2001:db8::1";
  EXPECT_EQ(run(s), Reason::kProtoFilter);  // no UDP service there
  s.dst = "10.0.0.100";
  s.src = "10.0.0.1";
  s.proto = kProtoIcmp;
  EXPECT_EQ(run(s), Reason::kProtoFilter);
  PacketSpec frag;
  frag.fragField = 0x2000;
  EXPECT_EQ(run(frag), Reason::kFragment);
  PacketSpec other;
  other.dst = "10.0.0.55";  // not a VIP: the host's traffic
  EXPECT_EQ(run(other), Reason::kPassNotOurs);
  PacketSpec ssh;
  ssh.dst = "10.0.0.2";  // the SNAT address, port outside the SNAT range: host's own
  ssh.dport = 22;
  EXPECT_EQ(run(ssh), Reason::kPassNotOurs);
  PacketSpec ping;
  ping.dst = "10.0.0.2";
  ping.proto = kProtoIcmp;
  EXPECT_EQ(run(ping), Reason::kPassNotOurs);
  Bytes arp(42, 0);
  arp[12] = 0x08;
  arp[13] = 0x06;
  EXPECT_EQ(h.run(arp, sec(1)), Reason::kPassNotIp);
  Bytes runt(10, 0);
  EXPECT_EQ(h.run(runt, sec(1)), Reason::kEthTruncated);
  const auto& c = h.pipe->counters();
  EXPECT_EQ(c.ofAction(Action::kPass), 4u);
  EXPECT_EQ(c.ofAction(Action::kDrop), 6u);
  EXPECT_EQ(c.ofAction(Action::kTx), 1u);
}

TEST(Pipeline, VipWithoutBackendsDrops) {
  auto cfg = testing::testConfig();
  cfg.vips[0].backends.clear();
  Harness h(cfg);
  Flow f{h};
  EXPECT_EQ(f.c(kTcpSyn, 1, 0, sec(1)), Reason::kNoBackend);
  EXPECT_EQ(active(h), 0u);
  EXPECT_EQ(h.snat->portsInUse(), 0u);
}

TEST(Pipeline, WeightedBackendsShareNewConnections) {
  auto cfg = testing::testConfig(20000, 10000, 40000);
  cfg.vips[0].backends = {{A("10.0.0.11"), 1}, {A("10.0.0.12"), 2}, {A("10.0.0.13"), 1}};
  Harness h(cfg);
  std::map<std::string, int> perBackend;
  for (int i = 0; i < 12000; ++i) {
    PacketSpec s;
    s.src =
        Address{Family::kV4, IpAddr::v4(0x0b000000u + static_cast<std::uint32_t>(i))}.toString();
    s.sport = static_cast<std::uint16_t>(1024 + i % 50000);
    Bytes b = testing::buildPacket(s);
    ASSERT_EQ(h.run(b, sec(1)), Reason::kTxToBackend);
    ++perBackend[Address{Family::kV4, testing::parseInfo(b).dst}.toString()];
  }
  EXPECT_NEAR(perBackend["10.0.0.11"], 3000, 3000 * 0.05);
  EXPECT_NEAR(perBackend["10.0.0.12"], 6000, 6000 * 0.05);
  EXPECT_NEAR(perBackend["10.0.0.13"], 3000, 3000 * 0.05);
}

TEST(Pipeline, BatchMixesVerdictsAndSameFlowPacketsSeeEachOther) {
  Harness h;
  std::vector<Bytes> frames;
  PacketSpec syn;
  frames.push_back(testing::buildPacket(syn));
  frames.push_back(testing::buildPacket(syn));  // retransmitted SYN in the same batch
  PacketSpec blocked;
  blocked.dport = 8080;
  frames.push_back(testing::buildPacket(blocked));
  frames.push_back(Bytes(5, 0));
  PacketBatch b;
  for (auto& f : frames)
    b.push(
        {f.data(), static_cast<std::uint32_t>(f.size()), static_cast<std::uint32_t>(f.size()), 0});
  std::array<Verdict, kMaxBatch> v{};
  h.pipe->process(b, v, sec(1));
  EXPECT_EQ(v[0].reason, Reason::kTxToBackend);
  EXPECT_EQ(v[1].reason, Reason::kTxToBackend);
  EXPECT_EQ(v[2].reason, Reason::kPortFilter);
  EXPECT_EQ(v[3].reason, Reason::kEthTruncated);
  EXPECT_EQ(active(h), 1u);
  EXPECT_EQ(frames[0], frames[1]);  // both rewritten onto the same backend tuple
}

TEST(Pipeline, NoSnapshotPassesEverything) {
  Harness h;
  h.pipe->setSnapshot(nullptr);
  Bytes b = testing::buildPacket(PacketSpec{});
  EXPECT_EQ(h.run(b, sec(1)), Reason::kPassNotOurs);
}

}  // namespace
}  // namespace xlb

namespace xlb {
namespace {

// The shared fixture table's engine column: each frame on a fresh table.
TEST(Pipeline, FixtureTable) {
  for (const testing::Fixture& f : testing::filterFixtures()) {
    SCOPED_TRACE(f.name);
    Config c = testing::udpTestConfig();
    for (VipConfig& v : c.vips) v.synFlood.mode = SynFloodMode::kOff;
    Harness h(c);
    Bytes frame = f.frame;
    EXPECT_EQ(reasonName(h.run(frame, sec(1))), reasonName(f.engine));
  }
}

}  // namespace
}  // namespace xlb
