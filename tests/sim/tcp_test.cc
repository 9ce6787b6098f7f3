// SPDX-License-Identifier: Apache-2.0
// The simulated TCP's TIME_WAIT, as Linux keeps it: 60 s, a SYN on the tuple reopens it only
// as tcp_timewait_state_process allows (no older timestamp, and a higher sequence number or a
// newer timestamp), a refused SYN gets a challenge ACK, and a reset at the expected sequence
// number ends it.
#include "tcp.h"

#include <gtest/gtest.h>

#include <deque>

#include "test_frames.h"

namespace xlb::sim {
namespace {

struct Pair {
  std::deque<Frame> toServer, toClient;
  std::uint32_t clientSeqEnd = 0;  // past the client's last segment: the server's RCV.NXT
  std::uint32_t clientTsVal = 0;   // the client's last TSval: the server's TS.Recent
  TcpHost server{*Address::parse("10.0.0.11"), *MacAddr::parse("02:00:00:00:00:0b"),
                 *MacAddr::parse("02:00:00:00:00:aa"),
                 [this](Frame&& f) { toClient.push_back(std::move(f)); }, 1};
  TcpHost client{*Address::parse("10.0.0.2"), *MacAddr::parse("02:00:00:00:00:02"),
                 *MacAddr::parse("02:00:00:00:00:aa"),
                 [this](Frame&& f) { toServer.push_back(std::move(f)); }, 2};
  // Delivers frames both ways until none is left.
  void run(TimeNs now) {
    while (!toServer.empty() || !toClient.empty()) {
      if (!toServer.empty()) {
        Frame f = std::move(toServer.front());
        toServer.pop_front();
        Segment s;
        if (parseSegment(f.data(), static_cast<std::uint32_t>(f.size()), s)) {
          clientSeqEnd = s.seq + s.payloadLen + ((s.flags & (kTcpSyn | kTcpFin)) ? 1 : 0);
          clientTsVal = s.tsVal;
        }
        server.input(f, now);
      }
      if (!toClient.empty()) {
        Frame f = std::move(toClient.front());
        toClient.pop_front();
        client.input(f, now);
      }
    }
  }
};

// One connection from `port`, the server closing first: it ends in the server's TIME_WAIT.
void oneConnection(Pair& p, std::uint16_t port, TimeNs at) {
  p.server.listen(
      80, [](TcpConn& c) { c.events.data = [](TcpConn& conn, std::uint64_t) { conn.close(); }; });
  TcpConn& c = p.client.connect(*Address::parse("10.0.0.11"), 80, at, port);
  c.events.peerFin = [](TcpConn& conn) { conn.close(); };
  p.run(at);
  c.send(10);
  p.run(at);
}

Segment parse(const Frame& f) {
  Segment s;
  EXPECT_TRUE(parseSegment(f.data(), static_cast<std::uint32_t>(f.size()), s));
  return s;
}

Frame raw(std::uint16_t sport, std::uint8_t flags, std::uint32_t seq, std::uint32_t ack,
          std::size_t payload, testing::Bytes options = {}) {
  testing::PacketSpec p;
  p.src = "10.0.0.2";
  p.dst = "10.0.0.11";
  p.sport = sport;
  p.dport = 80;
  p.seq = seq;
  p.ack = ack;
  p.flags = flags;
  p.tcpOptions = std::move(options);
  p.payload.assign(payload, 'x');
  return testing::buildPacket(p);
}

Frame syn(std::uint16_t sport, std::uint32_t seq, bool ts, std::uint32_t tsval) {
  return raw(sport, kTcpSyn, seq, 0, 0, ts ? testing::optTimestamp(tsval, 0) : testing::Bytes{});
}

TEST(SimTcp, TimeWaitRefusesAnOlderTimestampAndTakesANewerOne) {
  Pair p;
  oneConnection(p, 40000, kNsPerSec);
  TcpConn* tw = p.server.find(*Address::parse("10.0.0.2"), 40000, 80);
  ASSERT_NE(tw, nullptr);
  ASSERT_EQ(tw->state(), TcpConn::State::kTimeWait);
  // A SYN stamped before the client's last segment is refused, whatever its sequence number.
  p.server.input(syn(40000, p.clientSeqEnd + 5000, true, p.clientTsVal - 1), 2 * kNsPerSec);
  ASSERT_EQ(p.toClient.size(), 1u);
  const Segment challenge = parse(p.toClient.front());
  p.toClient.clear();
  EXPECT_EQ(challenge.flags, kTcpAck);  // an ACK, not a SYN-ACK
  EXPECT_EQ(p.server.timeWaitRefusals(), 1u);
  EXPECT_EQ(p.server.find(*Address::parse("10.0.0.2"), 40000, 80)->state(),
            TcpConn::State::kTimeWait);
  // A newer timestamp opens a new connection on the same tuple.
  EXPECT_EQ(challenge.tsEcr, p.clientTsVal);  // the challenge echoes TS.Recent
  const std::uint32_t newer = p.clientTsVal + 1;
  p.server.input(syn(40000, 5, true, newer), 3 * kNsPerSec);
  ASSERT_EQ(p.toClient.size(), 1u);
  EXPECT_EQ(parse(p.toClient.front()).flags, kTcpSyn | kTcpAck);
  EXPECT_EQ(p.server.timeWaitRefusals(), 1u);
}

TEST(SimTcp, WithoutTimestampsTheSequenceDecidesAndARstEndsTimeWait) {
  Pair p;
  oneConnection(p, 40001, kNsPerSec);
  const Address client = *Address::parse("10.0.0.2");
  ASSERT_NE(p.server.find(client, 40001, 80), nullptr);
  const std::uint32_t rcvNxt = p.clientSeqEnd;
  // At or below where the old connection ended: refused with a challenge ACK naming RCV.NXT.
  p.server.input(syn(40001, rcvNxt - 1000, false, 0), 2 * kNsPerSec);
  ASSERT_EQ(p.toClient.size(), 1u);
  const Segment challenge = parse(p.toClient.front());
  p.toClient.clear();
  EXPECT_EQ(challenge.flags, kTcpAck);
  EXPECT_EQ(challenge.ack, rcvNxt);
  EXPECT_EQ(p.server.timeWaitRefusals(), 1u);
  // A reset at that number ends TIME_WAIT (Linux without tcp_rfc1337).
  p.server.input(raw(40001, kTcpRst, rcvNxt, 0, 0), 2 * kNsPerSec);
  EXPECT_EQ(p.server.find(client, 40001, 80), nullptr);
  // Above the old sequence space a SYN reopens the tuple.
  oneConnection(p, 40002, 3 * kNsPerSec);
  p.toClient.clear();
  p.server.input(syn(40002, p.clientSeqEnd + 5000, false, 0), 4 * kNsPerSec);
  ASSERT_EQ(p.toClient.size(), 1u);
  EXPECT_EQ(parse(p.toClient.front()).flags, kTcpSyn | kTcpAck);
  EXPECT_EQ(p.server.timeWaitRefusals(), 1u);
}

// A connection without timestamps (the SYN proxy's towards a backend) driven by hand, the
// server closing first: it ends in TIME_WAIT with RCV.NXT 1012 and no TS.Recent (0).
void untimedConnection(Pair& p, std::uint16_t port) {
  p.server.listen(
      80, [](TcpConn& c) { c.events.data = [](TcpConn& conn, std::uint64_t) { conn.close(); }; });
  p.server.input(raw(port, kTcpSyn, 1000, 0, 0), kNsPerSec);
  ASSERT_EQ(p.toClient.size(), 1u);
  const std::uint32_t sisn = parse(p.toClient.front()).seq;
  p.toClient.clear();
  p.server.input(raw(port, kTcpAck | kTcpPsh, 1001, sisn + 1, 10), kNsPerSec);
  ASSERT_FALSE(p.toClient.empty());
  const Segment fin = parse(p.toClient.back());
  ASSERT_TRUE(fin.flags & kTcpFin);
  p.toClient.clear();
  p.server.input(raw(port, kTcpFin | kTcpAck, 1011, fin.seq + 1, 0), kNsPerSec);
  p.toClient.clear();
  const TcpConn* tw = p.server.find(*Address::parse("10.0.0.2"), port, 80);
  ASSERT_NE(tw, nullptr);
  ASSERT_EQ(tw->state(), TcpConn::State::kTimeWait);
}

TEST(SimTcp, ATimestampedSynOnAnUntimedTimeWaitIsNewerOnlyInTheLowerHalf) {
  Pair p;
  untimedConnection(p, 40010);
  // Below RCV.NXT, but its timestamp is newer than the 0 the old connection left: accepted.
  p.server.input(syn(40010, 500, true, 5), 2 * kNsPerSec);
  ASSERT_EQ(p.toClient.size(), 1u);
  EXPECT_EQ(parse(p.toClient.front()).flags, kTcpSyn | kTcpAck);
  p.toClient.clear();
  // A timestamp with its top bit set is "older" than 0: the sequence number decides, refused.
  untimedConnection(p, 40011);
  p.server.input(syn(40011, 500, true, 0x80000005u), 2 * kNsPerSec);
  ASSERT_EQ(p.toClient.size(), 1u);
  EXPECT_EQ(parse(p.toClient.front()).flags, kTcpAck);
  EXPECT_EQ(p.server.timeWaitRefusals(), 1u);
  p.toClient.clear();
  // ... and above RCV.NXT it is accepted.
  p.server.input(syn(40011, 5000, true, 0x80000005u), 3 * kNsPerSec);
  ASSERT_EQ(p.toClient.size(), 1u);
  EXPECT_EQ(parse(p.toClient.front()).flags, kTcpSyn | kTcpAck);
}

TEST(SimTcp, TimeWaitLastsSixtySeconds) {
  Pair p;
  oneConnection(p, 40003, kNsPerSec);
  p.server.tick(60 * kNsPerSec);
  EXPECT_NE(p.server.find(*Address::parse("10.0.0.2"), 40003, 80), nullptr);
  p.server.tick(62 * kNsPerSec);
  p.server.tick(62 * kNsPerSec);
  EXPECT_EQ(p.server.find(*Address::parse("10.0.0.2"), 40003, 80), nullptr);
}

}  // namespace
}  // namespace xlb::sim
