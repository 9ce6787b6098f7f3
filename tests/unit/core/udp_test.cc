// SPDX-License-Identifier: Apache-2.0
// UDP services through the pipeline: flows created by the first datagram, NAT both ways checked
// byte for byte, the two idle timers on the virtual clock, the UDP share of the table under a
// flood from random sources (never a TCP connection evicted), and kill.
#include <gtest/gtest.h>

#include "harness.h"

namespace xlb {
namespace {

using testing::A;
using testing::Harness;
using testing::PacketSpec;
using testing::sec;

// One UDP flow of a client to the UDP service on 10.0.0.100 (ports 53 and 443).
struct UdpFlow {
  Harness& h;
  std::string client = "10.0.0.1";
  std::uint16_t cport = 5353;
  std::uint16_t vport = 53;
  std::uint16_t snatPort = 0;  // learned from the first datagram's rewrite

  PacketSpec base(const std::string& payload) const {
    PacketSpec s;
    s.proto = kProtoUdp;
    s.payload.assign(payload.begin(), payload.end());
    return s;
  }
  // Client -> VIP; on success the frame must be exactly the datagram to the backend.
  Reason query(TimeNs now, const std::string& payload = "query") {
    PacketSpec in = base(payload);
    in.src = client;
    in.sport = cport;
    in.dst = "10.0.0.100";
    in.dport = vport;
    in.srcMac = testing::kClientMac;
    in.dstMac = testing::kLbMac;
    testing::Bytes f = testing::buildPacket(in);
    const Reason r = h.run(f, now);
    if (r != Reason::kTxToBackend) return r;
    if (snatPort == 0) snatPort = testing::parseInfo(f).sport;
    PacketSpec out = in;
    out.src = "10.0.0.2";
    out.sport = snatPort;
    out.dst = "10.0.0.11";
    out.srcMac = testing::kLbMac;
    out.dstMac = testing::backendMac(A("10.0.0.11")).toString();
    EXPECT_EQ(f, testing::buildPacket(out)) << "client->backend rewrite\n" << testing::hexDump(f);
    return r;
  }
  // Backend -> SNAT address; on success the frame must be exactly the datagram to the client.
  Reason answer(TimeNs now, const std::string& payload = "answer") {
    PacketSpec in = base(payload);
    in.src = "10.0.0.11";
    in.sport = vport;
    in.dst = "10.0.0.2";
    in.dport = snatPort;
    in.srcMac = testing::backendMac(A("10.0.0.11")).toString();
    in.dstMac = testing::kLbMac;
    testing::Bytes f = testing::buildPacket(in);
    const Reason r = h.run(f, now);
    if (r != Reason::kTxToClient) return r;
    PacketSpec out = in;
    out.src = "10.0.0.100";
    out.dst = client;
    out.dport = cport;
    out.srcMac = testing::kLbMac;
    out.dstMac = testing::kClientMac;
    EXPECT_EQ(f, testing::buildPacket(out)) << "backend->client rewrite\n" << testing::hexDump(f);
    return r;
  }
};

std::uint64_t inState(const Harness& h, TcpState s) {
  return h.table->activeIn(s);
}

TEST(Udp, FirstDatagramCreatesAFlowRewrittenBothWays) {
  Harness h(testing::udpTestConfig());
  UdpFlow f{h};
  ASSERT_EQ(f.query(sec(1)), Reason::kTxToBackend);
  EXPECT_EQ(f.snatPort, 10000);
  EXPECT_EQ(inState(h, TcpState::kUdpSingle), 1u);
  ASSERT_EQ(f.answer(sec(1)), Reason::kTxToClient);
  EXPECT_EQ(inState(h, TcpState::kUdpSingle), 1u);  // one exchange so far
  ASSERT_EQ(f.query(sec(2), "again"), Reason::kTxToBackend);
  EXPECT_EQ(inState(h, TcpState::kUdp), 1u);  // the client came back after an answer
  ASSERT_EQ(f.answer(sec(2)), Reason::kTxToClient);
  EXPECT_EQ(h.table->created(), 1u);
  EXPECT_EQ(h.snat->portsInUse(), 1u);
  // A datagram from the backend to a SNAT port no flow holds is dropped.
  UdpFlow stray{h};
  stray.snatPort = 10001;
  EXPECT_EQ(stray.answer(sec(2)), Reason::kNoConntrack);
}

TEST(Udp, ASingleExchangeLeavesAfterTheShortTimer) {
  Harness h(testing::udpTestConfig());
  UdpFlow f{h};
  ASSERT_EQ(f.query(sec(1)), Reason::kTxToBackend);
  ASSERT_EQ(f.answer(sec(1.2)), Reason::kTxToClient);
  h.tick(sec(6.1));  // udp_single is 5 s from the last datagram
  EXPECT_EQ(h.table->active(), 1u);
  h.tick(sec(6.3));
  EXPECT_EQ(h.table->active(), 0u);
  EXPECT_EQ(h.table->closed(CloseReason::kTimeout), 1u);
  EXPECT_EQ(h.snat->portsInUse(), 0u);
}

TEST(Udp, AFlowPastItsFirstExchangeKeepsTheLongTimer) {
  Harness h(testing::udpTestConfig());
  UdpFlow f{h};
  ASSERT_EQ(f.query(sec(1)), Reason::kTxToBackend);
  ASSERT_EQ(f.answer(sec(1)), Reason::kTxToClient);
  ASSERT_EQ(f.query(sec(2)), Reason::kTxToBackend);
  h.tick(sec(31.9));  // udp is 30 s idle from the last datagram
  EXPECT_EQ(inState(h, TcpState::kUdp), 1u);
  ASSERT_EQ(f.answer(sec(31.9)), Reason::kTxToClient);  // activity extends it
  h.tick(sec(61.8));
  EXPECT_EQ(h.table->active(), 1u);
  h.tick(sec(62));
  EXPECT_EQ(h.table->active(), 0u);
  // The same client port later starts a new flow.
  UdpFlow again{h};
  EXPECT_EQ(again.query(sec(63)), Reason::kTxToBackend);
  EXPECT_EQ(h.table->created(), 2u);
}

TEST(Udp, TimersComeFromTheConfiguration) {
  Config c = testing::udpTestConfig();
  c.conntrack.timeouts.udpSingle = sec(1);
  c.conntrack.timeouts.udp = sec(3);
  Harness h(c);
  UdpFlow a{h};
  ASSERT_EQ(a.query(sec(1)), Reason::kTxToBackend);
  UdpFlow b{h, "10.0.0.5"};
  ASSERT_EQ(b.query(sec(1)), Reason::kTxToBackend);
  ASSERT_EQ(b.answer(sec(1)), Reason::kTxToClient);
  ASSERT_EQ(b.query(sec(1)), Reason::kTxToBackend);
  h.tick(sec(2.1));
  EXPECT_EQ(h.table->active(), 1u);  // a's single exchange went after 1 s
  h.tick(sec(4.1));
  EXPECT_EQ(h.table->active(), 0u);
}

TEST(Udp, ChecksumsOfTheFirstDatagramAreChecked) {
  Harness h(testing::udpTestConfig());
  PacketSpec s;
  s.proto = kProtoUdp;
  s.dport = 53;
  s.payload = {1, 2, 3, 4};
  s.udpZeroChecksum = true;  // "no checksum" is valid over IPv4
  testing::Bytes ok = testing::buildPacket(s);
  EXPECT_EQ(h.run(ok, sec(1)), Reason::kTxToBackend);
  EXPECT_EQ(testing::parseInfo(ok).dport, 53);
  s.udpZeroChecksum = false;
  s.sport = 40001;
  testing::Bytes bad = testing::buildPacket(s);
  bad[bad.size() - 1] ^= 0xff;
  EXPECT_EQ(h.run(bad, sec(1)), Reason::kBadChecksum);
  EXPECT_EQ(h.table->active(), 1u);
}

TEST(Udp, TcpAndUdpOnTheSameTupleAreTwoFlows) {
  Harness h(testing::udpTestConfig());
  PacketSpec syn;
  syn.sport = 5353;
  syn.dport = 443;
  syn.flags = kTcpSyn;
  testing::Bytes t = testing::buildPacket(syn);
  EXPECT_EQ(h.run(t, sec(1)), Reason::kTxToBackend);
  UdpFlow quic{h};
  quic.vport = 443;
  EXPECT_EQ(quic.query(sec(1)), Reason::kTxToBackend);
  EXPECT_EQ(h.table->active(), 2u);
  EXPECT_EQ(inState(h, TcpState::kSynSent), 1u);
  EXPECT_EQ(inState(h, TcpState::kUdpSingle), 1u);
}

// Capacity 100, UDP share 50 %: a flood of single datagrams from random sources holds at most
// 50 entries, evicting its own oldest flows for newer ones; established TCP connections stay and
// new ones still get entries. Once every UDP flow is past its first exchange none is evictable
// and a new one is refused as udp_budget.
TEST(Udp, AFloodFillsItsShareButNeverEvictsTcp) {
  Config c = testing::udpTestConfig(100);
  c.conntrack.udpSharePercent = 50;
  Harness h(c);
  for (std::uint32_t i = 0; i < 30; ++i) {
    PacketSpec s;
    s.src = "10.1.0." + std::to_string(i + 1);
    s.flags = kTcpSyn;
    testing::Bytes b = testing::buildPacket(s);
    ASSERT_EQ(h.run(b, sec(1)), Reason::kTxToBackend);
  }
  for (std::uint32_t i = 0; i < 30; ++i) {
    const std::uint32_t idx = static_cast<std::uint32_t>(i);
    h.table->track(idx, false, kTcpSyn | kTcpAck, 500, 1001, 0, sec(1));
    h.table->track(idx, true, kTcpAck, 1001, 501, 0, sec(1));
  }
  ASSERT_EQ(inState(h, TcpState::kEstablished), 30u);
  for (std::uint32_t i = 0; i < 500; ++i) {
    UdpFlow flood{h, "11." + std::to_string(i / 250) + "." + std::to_string(i % 250) + ".1"};
    EXPECT_EQ(flood.query(sec(2)), Reason::kTxToBackend);
  }
  EXPECT_EQ(h.table->udpActive(), 50u);
  EXPECT_EQ(inState(h, TcpState::kEstablished), 30u);
  EXPECT_EQ(h.table->closed(CloseReason::kEvicted), 450u);
  PacketSpec syn;
  syn.src = "10.2.0.1";
  syn.flags = kTcpSyn;
  testing::Bytes b = testing::buildPacket(syn);
  EXPECT_EQ(h.run(b, sec(2)), Reason::kTxToBackend);  // TCP still gets its room
  // Every UDP flow past its first exchange: nothing of the share is evictable any more.
  h.tick(sec(10));  // the flood's flows time out
  ASSERT_EQ(h.table->udpActive(), 0u);
  for (std::uint32_t i = 0; i < 50; ++i) {
    UdpFlow f{h, "12.0.0." + std::to_string(i + 1)};
    ASSERT_EQ(f.query(sec(11)), Reason::kTxToBackend);
    ASSERT_EQ(f.answer(sec(11)), Reason::kTxToClient);
    ASSERT_EQ(f.query(sec(11)), Reason::kTxToBackend);
  }
  UdpFlow late{h, "13.0.0.1"};
  EXPECT_EQ(late.query(sec(11)), Reason::kUdpBudget);
  EXPECT_EQ(h.pipe->counters().of(Reason::kUdpBudget), 1u);
  EXPECT_EQ(inState(h, TcpState::kEstablished), 30u);
}

// A table full of half-open TCP connections: a new UDP flow takes none of their places (a TCP SYN
// would evict one), whatever the UDP share.
TEST(Udp, ANewFlowNeverTakesTheEntryOfAHalfOpenTcpConnection) {
  Config c = testing::udpTestConfig(10);
  c.conntrack.udpSharePercent = 100;
  Harness h(c);
  for (std::uint32_t i = 0; i < 10; ++i) {
    PacketSpec s;
    s.src = "10.1.0." + std::to_string(i + 1);
    s.flags = kTcpSyn;
    testing::Bytes b = testing::buildPacket(s);
    ASSERT_EQ(h.run(b, sec(1)), Reason::kTxToBackend);
  }
  UdpFlow f{h};
  EXPECT_EQ(f.query(sec(1)), Reason::kTableFull);
  EXPECT_EQ(inState(h, TcpState::kSynSent), 10u);
  EXPECT_EQ(h.table->closed(CloseReason::kEvicted), 0u);
}

TEST(Udp, KillRemovesTheFlowAtOnce) {
  Harness h(testing::udpTestConfig());
  UdpFlow f{h};
  ASSERT_EQ(f.query(sec(1)), Reason::kTxToBackend);
  PacketSpec syn;
  syn.flags = kTcpSyn;
  testing::Bytes t = testing::buildPacket(syn);
  ASSERT_EQ(h.run(t, sec(1)), Reason::kTxToBackend);
  ConnFilter only;
  only.protocol = kProtoUdp;
  EXPECT_EQ(h.pipe->kill(only, sec(1)), 1u);
  EXPECT_TRUE(h.pipe->emitted().empty());  // no probes: UDP has no handshake to end
  EXPECT_EQ(h.table->udpActive(), 0u);
  EXPECT_EQ(h.table->active(), 1u);  // the TCP connection is untouched
  EXPECT_EQ(h.table->closed(CloseReason::kKilled), 1u);
  EXPECT_EQ(h.snat->portsInUse(), 1u);
}

}  // namespace
}  // namespace xlb
