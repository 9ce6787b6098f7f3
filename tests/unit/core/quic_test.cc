// SPDX-License-Identifier: Apache-2.0
// QUIC by connection ID: long-header parsing, the connection ID table, and a QUIC client that
// changes its port mid-connection (NAT rebinding) staying on its backend and its SNAT tuple.
#include "xlb/quic.h"

#include <gtest/gtest.h>

#include "harness.h"

namespace xlb {
namespace {

using testing::A;
using testing::Bytes;
using testing::Harness;
using testing::PacketSpec;
using testing::sec;

// Built as strings: GCC 12 at -O3 reports false array-bounds and null-dereference warnings on
// byte vectors built piecewise.
Bytes bytesOf(const std::string& s) {
  return Bytes(s.begin(), s.end());
}
std::string text(const Bytes& b) {
  return std::string(b.begin(), b.end());
}

Bytes longHeader(const Bytes& dcid, const Bytes& scid) {
  std::string s("\xc0\x00\x00\x00\x01", 5);
  s += static_cast<char>(dcid.size());
  s += text(dcid);
  s += static_cast<char>(scid.size());
  s += text(scid);
  s += std::string(40, '\xee');  // token length, length, packet number, payload
  return bytesOf(s);
}

Bytes shortHeader(const Bytes& dcid) {
  return bytesOf("\x40" + text(dcid) + std::string(30, '\x77'));
}

TEST(Quic, LongHeadersAreParsedAndBadLengthsRefused) {
  const Bytes dcid(8, 0xd1), scid(18, 0x5c);
  const Bytes p = longHeader(dcid, scid);
  QuicLongHeader h;
  ASSERT_TRUE(parseQuicLongHeader(p.data(), p.size(), h));
  EXPECT_EQ(h.version, 1u);
  EXPECT_EQ(h.dcidLen, 8);
  EXPECT_EQ(h.scidLen, 18);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(h.scid), h.scidLen), text(scid));
  EXPECT_FALSE(parseQuicLongHeader(p.data(), 6 + 8, h));       // cut before the SCID length
  EXPECT_FALSE(parseQuicLongHeader(p.data(), 7 + 8 + 10, h));  // cut inside the SCID
  std::string badText = text(p);
  badText[5] = 21;  // a connection ID longer than 20 bytes
  const Bytes bad = bytesOf(badText);
  EXPECT_FALSE(parseQuicLongHeader(bad.data(), bad.size(), h));
  const Bytes s = shortHeader(dcid);
  EXPECT_FALSE(parseQuicLongHeader(s.data(), s.size(), h));
}

TEST(Quic, TheTableFindsLearntIdsOfAnyLengthAndForgetsTheOldestWhenFull) {
  CidTable t(8);  // one neighbourhood: the ninth ID replaces the oldest
  const auto any = [](std::uint32_t, std::uint32_t) { return true; };
  for (std::uint8_t i = 0; i < 8; ++i) {
    const Bytes cid(static_cast<std::size_t>(4 + i), static_cast<std::uint8_t>(i + 1));
    t.learn(cid.data(), static_cast<std::uint8_t>(cid.size()), i, 100u + i, i + 1);
  }
  for (std::uint8_t i = 0; i < 8; ++i) {
    const Bytes probe = shortHeader(Bytes(static_cast<std::size_t>(4 + i), i + 1));
    EXPECT_EQ(t.find(probe.data() + 1, probe.size() - 1, any), i);
  }
  const Bytes ninth(12, 0x99);
  t.learn(ninth.data(), 12, 9, 109, 9);
  const Bytes first = shortHeader(Bytes(4, 1));
  EXPECT_EQ(t.find(first.data() + 1, first.size() - 1, any), CidTable::kNone);
  const Bytes p9 = shortHeader(ninth);
  EXPECT_EQ(t.find(p9.data() + 1, p9.size() - 1, any), 9u);
  // A slot whose entry now carries another flow does not match.
  const auto other = [](std::uint32_t, std::uint32_t tag) { return tag != 109; };
  EXPECT_EQ(t.find(p9.data() + 1, p9.size() - 1, other), CidTable::kNone);
}

// The UDP VIP on 10.0.0.100 (ports 53 and 443) with quic: true.
struct QuicPeer {
  Harness& h;
  std::uint16_t cport;
  std::uint16_t snatPort = 0;

  Reason fromClient(const Bytes& payload, TimeNs now, Bytes* out = nullptr) {
    PacketSpec s;
    s.proto = kProtoUdp;
    s.sport = cport;
    s.dport = 443;
    s.srcMac = testing::kClientMac;
    s.dstMac = testing::kLbMac;
    s.payload = payload;
    Bytes f = testing::buildPacket(s);
    const Reason r = h.run(f, now);
    if (r == Reason::kTxToBackend) {
      const PacketInfo in = testing::parseInfo(f);
      EXPECT_EQ((Address{in.family, in.src}.toString()), "10.0.0.2");
      if (snatPort == 0) snatPort = in.sport;
      EXPECT_EQ(in.sport, snatPort) << "the backend must see the same SNAT tuple";
      if (out != nullptr) *out = f;
    }
    return r;
  }
  Reason fromServer(const Bytes& payload, TimeNs now, std::uint16_t* toPort = nullptr) {
    PacketSpec s;
    s.proto = kProtoUdp;
    s.src = "10.0.0.11";
    s.sport = 443;
    s.dst = "10.0.0.2";
    s.dport = snatPort;
    s.payload = payload;
    Bytes f = testing::buildPacket(s);
    const Reason r = h.run(f, now);
    if (r == Reason::kTxToClient && toPort != nullptr) *toPort = testing::parseInfo(f).dport;
    return r;
  }
};

Config quicConfig(bool quic) {
  Config c = testing::udpTestConfig();
  c.vips.back().quic = quic;
  return c;
}

TEST(Quic, ARebindingClientStaysOnItsBackendAndSnatTuple) {
  Harness h(quicConfig(true));
  const Bytes clientCid(8, 0xc1), serverCid(18, 0x5e);
  QuicPeer p{h, 50000};
  ASSERT_EQ(p.fromClient(longHeader(Bytes(8, 0x01), clientCid), sec(1)), Reason::kTxToBackend);
  ASSERT_EQ(p.fromServer(longHeader(clientCid, serverCid), sec(1)), Reason::kTxToClient);
  ASSERT_EQ(p.fromClient(shortHeader(serverCid), sec(1)), Reason::kTxToBackend);
  EXPECT_EQ(h.pipe->counters().quicCids, 1u);
  // NAT rebinding: the same connection from another port.
  p.cport = 50001;
  ASSERT_EQ(p.fromClient(shortHeader(serverCid), sec(2)), Reason::kTxToBackend);
  EXPECT_EQ(h.pipe->counters().quicRebinds, 1u);
  EXPECT_EQ(h.table->active(), 1u);
  EXPECT_EQ(h.table->created(), 1u);
  std::uint16_t to = 0;
  ASSERT_EQ(p.fromServer(shortHeader(clientCid), sec(2), &to), Reason::kTxToClient);
  EXPECT_EQ(to, 50001);  // answers follow the client to its new port
  // The old tuple no longer names the flow: a datagram from it with an unknown ID is a new flow.
  QuicPeer stranger{h, 50000};
  EXPECT_EQ(stranger.fromClient(shortHeader(Bytes(18, 0x11)), sec(3)), Reason::kTxToBackend);
  EXPECT_EQ(h.table->created(), 2u);
  EXPECT_EQ(h.pipe->counters().quicRebinds, 1u);
}

TEST(Quic, WithoutQuicOrWithAnUnknownIdAMovedClientIsANewFlow) {
  Harness h(quicConfig(false));
  const Bytes clientCid(8, 0xc1), serverCid(18, 0x5e);
  QuicPeer p{h, 50000};
  ASSERT_EQ(p.fromClient(longHeader(Bytes(8, 0x01), clientCid), sec(1)), Reason::kTxToBackend);
  ASSERT_EQ(p.fromServer(longHeader(clientCid, serverCid), sec(1)), Reason::kTxToClient);
  QuicPeer moved{h, 50001};
  EXPECT_EQ(moved.fromClient(shortHeader(serverCid), sec(2)), Reason::kTxToBackend);
  EXPECT_NE(moved.snatPort, p.snatPort);  // the backend sees a new tuple
  EXPECT_EQ(h.table->created(), 2u);
  EXPECT_EQ(h.pipe->counters().quicCids, 0u);
  EXPECT_EQ(h.pipe->counters().quicRebinds, 0u);
}

TEST(Quic, AnIdOfAFlowThatEndedNamesNothing) {
  Harness h(quicConfig(true));
  const Bytes clientCid(8, 0xc1), serverCid(18, 0x5e);
  QuicPeer p{h, 50000};
  ASSERT_EQ(p.fromClient(longHeader(Bytes(8, 0x01), clientCid), sec(1)), Reason::kTxToBackend);
  ASSERT_EQ(p.fromServer(longHeader(clientCid, serverCid), sec(1)), Reason::kTxToClient);
  h.tick(sec(10));  // udp_single: gone
  ASSERT_EQ(h.table->active(), 0u);
  QuicPeer late{h, 50002};
  EXPECT_EQ(late.fromClient(shortHeader(serverCid), sec(11)), Reason::kTxToBackend);
  EXPECT_EQ(h.pipe->counters().quicRebinds, 0u);
  EXPECT_EQ(h.table->created(), 2u);
}

}  // namespace
}  // namespace xlb
