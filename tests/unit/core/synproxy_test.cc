// SPDX-License-Identifier: Apache-2.0
// The SYN proxy end to end in the pipeline: the cookie SYN-ACK is made as the XDP program makes it
// (same shared code), then every packet the engine emits is checked field by field: the SYN to
// the backend, our ACK, held data released in order, sequence/ack/SACK translation and window
// rescaling both ways, closing, and the failure paths.
#include <gtest/gtest.h>

#include "frame_checks.h"
#include "harness.h"
#include "xlb/checksum.h"
#include "xlb_common.h"

namespace xlb {
namespace {

using testing::A;
using testing::buildPacket;
using testing::Bytes;
using testing::expectValidChecksums;
using testing::Harness;
using testing::PacketSpec;
using testing::parseInfo;
using testing::sec;

constexpr CookieKey kKey{11, 22};
constexpr TimeNs kT0 = 5000 * kNsPerSec;

Config proxyConfig(SynFloodMode mode = SynFloodMode::kAlways) {
  Config c = testing::testConfig();
  for (VipConfig& v : c.vips) v.synFlood.mode = mode;
  return c;
}

Bytes payloadOf(const Bytes& f) {
  const PacketInfo p = parseInfo(f);
  return Bytes(f.begin() + p.payloadOffset, f.begin() + p.payloadOffset + p.payloadLen);
}

MacAddr macOf(const Bytes& f) {
  MacAddr m;
  std::copy(f.begin(), f.begin() + 6, m.bytes.begin());
  return m;
}

Bytes text(const char* s) {
  return Bytes(s, s + std::strlen(s));
}

// One proxied connection: client, VIP, backend, with the sequence numbers of each side.
struct Proxied {
  explicit Proxied(Harness& harness) : h(harness) {}
  Harness& h;
  std::string client = "10.0.0.1";
  std::string vip = "10.0.0.100";
  std::string backend = "10.0.0.11";
  std::string snat = "10.0.0.2";
  std::uint16_t cport = 41000;
  std::uint32_t cisn = 0x10000000;
  std::uint32_t cookie = 0;
  std::uint32_t bisn = 0x7ffffff0;  // wraps during the test
  std::uint32_t oisn = 0;           // our ISN towards the backend, read from our SYN
  std::uint16_t snatPort = 0;
  Bytes synOptions;

  PacketSpec fromClient(std::uint8_t flags, std::uint32_t seq, std::uint32_t ack, Bytes payload) {
    PacketSpec s;
    s.src = client;
    s.dst = vip;
    s.sport = cport;
    s.dport = 80;
    s.flags = flags;
    s.seq = seq;
    s.ack = ack;
    s.window = 502;
    s.payload = std::move(payload);
    return s;
  }
  PacketSpec fromBackend(std::uint8_t flags, std::uint32_t seq, std::uint32_t ack, Bytes payload) {
    PacketSpec s;
    s.src = backend;
    s.dst = snat;
    s.sport = 80;
    s.dport = snatPort;
    s.flags = flags;
    s.seq = seq;
    s.ack = ack;
    s.window = 1000;
    s.payload = std::move(payload);
    return s;
  }
  // The SYN as the client sends it, answered by "XDP" with the shared cookie code.
  void syn(TimeNs now) {
    PacketSpec s = fromClient(kTcpSyn, cisn, 0, {});
    s.tcpOptions = synOptions;
    const Bytes f = buildPacket(s);
    CookieOptions o;
    cookie = makeCookie(kKey, f.data(), parseInfo(f), now, 1460, o);
  }
};

TEST(SynProxy, FullConnectionWithHeldDataAndTranslation) {
  Harness h(proxyConfig());
  h.pipe->setCookieKey(kKey);
  Proxied c(h);
  c.synOptions =
      testing::concat({testing::optMss(1460), testing::optSackPermitted(), testing::optWscale(6)});
  c.syn(kT0);

  // 1. The ACK completing the handshake, carrying the request: becomes our SYN to the backend.
  Bytes f = buildPacket(c.fromClient(kTcpAck | kTcpPsh, c.cisn + 1, c.cookie + 1, text("GET /")));
  ASSERT_EQ(h.run(f, kT0 + sec(0.001)), Reason::kTxSynproxy);
  EXPECT_EQ(h.pipe->counters().cookiesValidated, 1u);
  EXPECT_EQ(h.table->active(), 1u);
  EXPECT_EQ(h.pipe->heldCount(), 1u);
  {
    const PacketInfo p = parseInfo(f);
    expectValidChecksums(f);
    ASSERT_EQ(f.size(), 14u + 20 + 32);
    EXPECT_EQ(macOf(f), testing::backendMac(A("10.0.0.11")));
    EXPECT_EQ(p.src, A("10.0.0.2").ip);
    EXPECT_EQ(p.dst, A("10.0.0.11").ip);
    EXPECT_EQ(p.dport, 80);
    EXPECT_TRUE(p.sport >= 10000 && p.sport <= 10999);
    EXPECT_EQ(p.tcpFlags, kTcpSyn);
    // Our own ISN, from the clock and a keyed hash of the backend-side tuple (tupleIsn): the
    // client's would be random relative to that tuple's previous connection.
    EXPECT_EQ(p.seq,
              tupleIsn(kKey, A("10.0.0.2").ip, A("10.0.0.11").ip, p.sport, 80, kT0 + sec(0.001)));
    EXPECT_NE(p.seq, c.cisn);
    c.oisn = p.seq;
    EXPECT_EQ(p.tcp.mss, 1460);
    EXPECT_TRUE(p.tcp.sackPermitted);
    EXPECT_EQ(p.tcp.wscale, 6);  // the client's shift, so the backend reads its windows right
    EXPECT_EQ(p.payloadLen, 0);
    c.snatPort = p.sport;
  }

  // 2. More data before the backend answers: held, nothing sent.
  f = buildPacket(c.fromClient(kTcpAck | kTcpPsh, c.cisn + 6, c.cookie + 1, text(" HTTP/1.1")));
  EXPECT_EQ(h.run(f, kT0 + sec(0.002)), Reason::kSynproxyHeld);
  EXPECT_EQ(h.pipe->heldCount(), 2u);

  // 3. The backend's SYN-ACK (window scale 9): our ACK goes back, the held data follows in order.
  PacketSpec sa = c.fromBackend(kTcpSyn | kTcpAck, c.bisn, c.oisn + 1, {});
  sa.tcpOptions = testing::concat({testing::optMss(1400), testing::optWscale(9)});
  f = buildPacket(sa);
  ASSERT_EQ(h.run(f, kT0 + sec(0.003)), Reason::kTxSynproxy);
  {
    const PacketInfo p = parseInfo(f);
    expectValidChecksums(f);
    EXPECT_EQ(p.src, A("10.0.0.2").ip);
    EXPECT_EQ(p.dst, A("10.0.0.11").ip);
    EXPECT_EQ(p.sport, c.snatPort);
    EXPECT_EQ(p.tcpFlags, kTcpAck);
    EXPECT_EQ(p.seq, c.oisn + 1);
    EXPECT_EQ(p.ack, c.bisn + 1);
    EXPECT_EQ(p.window, 502);  // the client's window from its ACK
  }
  ASSERT_EQ(h.emitted.size(), 2u);
  const std::uint32_t delta = c.bisn - c.cookie;
  for (std::size_t i = 0; i < 2; ++i) {
    const PacketInfo p = parseInfo(h.emitted[i]);
    expectValidChecksums(h.emitted[i]);
    EXPECT_EQ(p.dst, A("10.0.0.11").ip);
    EXPECT_EQ(p.sport, c.snatPort);
    EXPECT_EQ(p.ack, c.bisn + 1);  // cookie + 1 + delta
    EXPECT_EQ(p.ack, c.cookie + 1 + delta);
    EXPECT_EQ(p.seq, c.oisn + (i == 0 ? 1 : 6));  // the client's numbers in our ISN's space
  }
  EXPECT_EQ(payloadOf(h.emitted[0]), text("GET /"));
  EXPECT_EQ(payloadOf(h.emitted[1]), text(" HTTP/1.1"));
  EXPECT_EQ(h.pipe->heldCount(), 0u);
  EXPECT_EQ(h.table->activeIn(TcpState::kEstablished), 1u);

  // 4. Backend data to the client: sequence number in the client's space, ack and SACK block in
  // the client's numbers, window rescaled from the backend's shift (9) to the one our SYN-ACK
  // advertised (7).
  PacketSpec data = c.fromBackend(kTcpAck | kTcpPsh, c.bisn + 1, c.oisn + 15, text("HTTP/1.1 200"));
  data.tcpOptions = testing::optSack({{c.oisn + 30, c.oisn + 40}});
  f = buildPacket(data);
  ASSERT_EQ(h.run(f, kT0 + sec(0.004)), Reason::kTxToClient);
  {
    const PacketInfo p = parseInfo(f);
    expectValidChecksums(f);
    EXPECT_EQ(p.src, A("10.0.0.100").ip);
    EXPECT_EQ(p.dst, A("10.0.0.1").ip);
    EXPECT_EQ(p.sport, 80);
    EXPECT_EQ(p.dport, c.cport);
    EXPECT_EQ(p.seq, c.cookie + 1);
    EXPECT_EQ(p.ack, c.cisn + 15);
    ASSERT_EQ(p.tcp.sackBlocks, 1);
    EXPECT_EQ(load32(f.data() + p.tcp.sackOffset), c.cisn + 30);
    EXPECT_EQ(load32(f.data() + p.tcp.sackOffset + 4), c.cisn + 40);
    EXPECT_EQ(p.window, 1000 << (9 - XLB_SYNACK_WSCALE));
    EXPECT_EQ(payloadOf(f), text("HTTP/1.1 200"));
  }

  // 5. The client acknowledges with a SACK block: ack and both edges translated.
  PacketSpec ack = c.fromClient(kTcpAck, c.cisn + 15, c.cookie + 13, {});
  ack.tcpOptions = testing::optSack({{c.cookie + 100, c.cookie + 200}});
  f = buildPacket(ack);
  ASSERT_EQ(h.run(f, kT0 + sec(0.005)), Reason::kTxToBackend);
  {
    const PacketInfo p = parseInfo(f);
    expectValidChecksums(f);
    EXPECT_EQ(p.seq, c.oisn + 15);
    EXPECT_EQ(p.ack, c.bisn + 13);
    ASSERT_EQ(p.tcp.sackBlocks, 1);
    EXPECT_EQ(load32(f.data() + p.tcp.sackOffset), c.bisn + 100);
    EXPECT_EQ(load32(f.data() + p.tcp.sackOffset + 4), c.bisn + 200);
    EXPECT_EQ(p.window, 502);  // the backend accepted window scaling: no rescale this way
  }

  // 5b. Options need no alignment: after a 3-byte option the SACK block starts at an odd offset
  // and each edge straddles three of the checksum's words (found by the pipeline fuzz target).
  for (const bool fromClient : {true, false}) {
    PacketSpec odd = fromClient ? c.fromClient(kTcpAck, c.cisn + 15, c.cookie + 13, {})
                                : c.fromBackend(kTcpAck, c.bisn + 13, c.oisn + 15, {});
    const std::uint32_t base = fromClient ? c.cookie : c.oisn;
    odd.tcpOptions =
        testing::concat({testing::optWscale(7), testing::optSack({{base + 100, base + 200}})});
    f = buildPacket(odd);
    ASSERT_EQ(parseInfo(f).tcp.sackOffset % 2, 1u) << "the SACK block should be at an odd offset";
    ASSERT_EQ(h.run(f, kT0 + sec(0.005)), fromClient ? Reason::kTxToBackend : Reason::kTxToClient);
    expectValidChecksums(f);
    const PacketInfo p = parseInfo(f);
    EXPECT_EQ(load32(f.data() + p.tcp.sackOffset), (fromClient ? c.bisn : c.cisn) + 100);
  }

  // 5c. Blind resets from either side, judged in the backend's sequence space, are dropped; one
  // at the client's next number, translated, would be the one that ends it (reset_test.cc).
  f = buildPacket(c.fromClient(kTcpRst, c.cisn + 15 + (1u << 31), 0, {}));
  EXPECT_EQ(h.run(f, kT0 + sec(0.0055)), Reason::kRstOutOfWindow);
  f = buildPacket(c.fromBackend(kTcpRst, c.bisn + 13 + (1u << 30), 0, {}));
  EXPECT_EQ(h.run(f, kT0 + sec(0.0055)), Reason::kRstOutOfWindow);
  f = buildPacket(c.fromClient(kTcpRst, c.cisn + 15 + 100, 0, {}));
  EXPECT_EQ(h.run(f, kT0 + sec(0.0055)), Reason::kTxToBackend);  // ahead: the backend judges
  EXPECT_EQ(parseInfo(f).seq, c.oisn + 15 + 100);
  EXPECT_EQ(h.table->activeIn(TcpState::kEstablished), 1u);

  // 6. Close: client FIN, backend FIN+ACK, client's last ACK; the entry leaves after TIME_WAIT.
  f = buildPacket(c.fromClient(kTcpFin | kTcpAck, c.cisn + 15, c.cookie + 13, {}));
  EXPECT_EQ(h.run(f, kT0 + sec(0.006)), Reason::kTxToBackend);
  f = buildPacket(c.fromBackend(kTcpFin | kTcpAck, c.bisn + 13, c.oisn + 16, {}));
  EXPECT_EQ(h.run(f, kT0 + sec(0.007)), Reason::kTxToClient);
  EXPECT_EQ(parseInfo(f).seq, c.cookie + 13);
  f = buildPacket(c.fromClient(kTcpAck, c.cisn + 16, c.cookie + 14, {}));
  EXPECT_EQ(h.run(f, kT0 + sec(0.008)), Reason::kTxToBackend);
  EXPECT_EQ(parseInfo(f).ack, c.bisn + 14);
  EXPECT_EQ(parseInfo(f).seq, c.oisn + 16);
  EXPECT_EQ(h.table->activeIn(TcpState::kTimeWait), 1u);
  h.tick(kT0 + sec(0.008) + h.config.conntrack.timeouts.timeWait + sec(0.1));
  EXPECT_EQ(h.table->active(), 0u);
  EXPECT_EQ(h.snat->portsInUse(), 0u);
  EXPECT_EQ(h.table->closed(CloseReason::kFin), 1u);
}

// The client reuses its port while our entry of the previous connection is still in TIME_WAIT.
// XDP answered the new SYN, so the engine first sees the new cookie ACK: the old entry must go,
// or the new connection's data would ride the old SNAT port and sequence offset.
TEST(SynProxy, PortReuseDuringTimeWaitStartsAFreshConnection) {
  Harness h(proxyConfig());
  h.pipe->setCookieKey(kKey);
  Proxied c(h);
  c.syn(kT0);
  Bytes f = buildPacket(c.fromClient(kTcpAck, c.cisn + 1, c.cookie + 1, {}));
  ASSERT_EQ(h.run(f, kT0), Reason::kTxSynproxy);
  c.snatPort = parseInfo(f).sport;
  c.oisn = parseInfo(f).seq;
  f = buildPacket(c.fromBackend(kTcpSyn | kTcpAck, c.bisn, c.oisn + 1, {}));
  ASSERT_EQ(h.run(f, kT0), Reason::kTxSynproxy);
  f = buildPacket(c.fromBackend(kTcpFin | kTcpAck, c.bisn + 1, c.oisn + 1, {}));
  ASSERT_EQ(h.run(f, kT0), Reason::kTxToClient);
  f = buildPacket(c.fromClient(kTcpFin | kTcpAck, c.cisn + 1, c.cookie + 2, {}));
  ASSERT_EQ(h.run(f, kT0), Reason::kTxToBackend);
  f = buildPacket(c.fromBackend(kTcpAck, c.bisn + 2, c.oisn + 2, {}));
  ASSERT_EQ(h.run(f, kT0), Reason::kTxToClient);
  ASSERT_EQ(h.table->activeIn(TcpState::kTimeWait), 1u);

  Proxied again(h);
  again.cisn = 0x20000000;
  again.syn(kT0 + sec(0.1));
  f = buildPacket(
      again.fromClient(kTcpAck | kTcpPsh, again.cisn + 1, again.cookie + 1, text("GET")));
  ASSERT_EQ(h.run(f, kT0 + sec(0.1)), Reason::kTxSynproxy);
  const PacketInfo syn = parseInfo(f);
  EXPECT_EQ(syn.tcpFlags, kTcpSyn);
  EXPECT_EQ(syn.seq,
            tupleIsn(kKey, A("10.0.0.2").ip, A("10.0.0.11").ip, syn.sport, 80, kT0 + sec(0.1)));
  EXPECT_NE(syn.sport, c.snatPort);  // a fresh SNAT port
  EXPECT_EQ(h.table->active(), 1u);
  EXPECT_EQ(h.table->closed(CloseReason::kFin), 1u);
}

TEST(SynProxy, BackendWithoutWindowScalingIsRescaledBothWays) {
  Harness h(proxyConfig());
  h.pipe->setCookieKey(kKey);
  Proxied c(h);
  c.synOptions = testing::optWscale(4);
  c.syn(kT0);
  Bytes f = buildPacket(c.fromClient(kTcpAck, c.cisn + 1, c.cookie + 1, {}));
  ASSERT_EQ(h.run(f, kT0), Reason::kTxSynproxy);
  c.snatPort = parseInfo(f).sport;
  c.oisn = parseInfo(f).seq;
  f = buildPacket(c.fromBackend(kTcpSyn | kTcpAck, c.bisn, c.oisn + 1, {}));  // no WS option
  ASSERT_EQ(h.run(f, kT0), Reason::kTxSynproxy);
  f = buildPacket(c.fromBackend(kTcpAck, c.bisn + 1, c.oisn + 1, {}));
  ASSERT_EQ(h.run(f, kT0), Reason::kTxToClient);
  EXPECT_EQ(parseInfo(f).window, 1000 >> XLB_SYNACK_WSCALE);
  expectValidChecksums(f);
  f = buildPacket(c.fromClient(kTcpAck, c.cisn + 1, c.cookie + 1, {}));
  ASSERT_EQ(h.run(f, kT0), Reason::kTxToBackend);
  EXPECT_EQ(parseInfo(f).window, 502 << 4);
  expectValidChecksums(f);
}

TEST(SynProxy, Ipv6WithoutOptions) {
  Harness h(proxyConfig());
  h.pipe->setCookieKey(kKey);
  Proxied c(h);
  c.client = "2001:db8::1";
  c.vip = "2001:db8::100";
  c.backend = "2001:db8::11";
  c.snat = "2001:db8::2";
  c.syn(kT0);
  Bytes f = buildPacket(c.fromClient(kTcpAck, c.cisn + 1, c.cookie + 1, text("x")));
  ASSERT_EQ(h.run(f, kT0), Reason::kTxSynproxy);
  expectValidChecksums(f);
  const PacketInfo syn = parseInfo(f);
  EXPECT_EQ(syn.tcp.mss, 536);
  EXPECT_FALSE(syn.tcp.sackPermitted);
  EXPECT_EQ(syn.tcp.wscale, kNoWscale);
  c.snatPort = syn.sport;
  c.oisn = syn.seq;
  f = buildPacket(c.fromBackend(kTcpSyn | kTcpAck, c.bisn, c.oisn + 1, {}));
  ASSERT_EQ(h.run(f, kT0), Reason::kTxSynproxy);
  ASSERT_EQ(h.emitted.size(), 1u);
  expectValidChecksums(h.emitted[0]);
  EXPECT_EQ(payloadOf(h.emitted[0]), text("x"));
  f = buildPacket(c.fromBackend(kTcpAck, c.bisn + 1, c.oisn + 2, text("y")));
  ASSERT_EQ(h.run(f, kT0), Reason::kTxToClient);
  EXPECT_EQ(parseInfo(f).seq, c.cookie + 1);
  EXPECT_EQ(parseInfo(f).window, 1000);  // no scaling anywhere: nothing to rescale
  expectValidChecksums(f);
}

TEST(SynProxy, InvalidCookiesAreCountedDrops) {
  Harness h(proxyConfig());
  h.pipe->setCookieKey(kKey);
  Proxied c(h);
  c.syn(kT0);
  Bytes f = buildPacket(c.fromClient(kTcpAck, c.cisn + 1, (c.cookie ^ 0x80000000u) + 1, {}));
  EXPECT_EQ(h.run(f, kT0), Reason::kSyncookieInvalid);
  f = buildPacket(c.fromClient(kTcpAck, c.cisn + 2, c.cookie + 1, {}));  // another ISN
  EXPECT_EQ(h.run(f, kT0), Reason::kSyncookieInvalid);
  f = buildPacket(c.fromClient(kTcpAck, c.cisn + 1, c.cookie + 1, {}));  // three minutes late
  EXPECT_EQ(h.run(f, kT0 + sec(180)), Reason::kSyncookieInvalid);
  EXPECT_EQ(h.table->active(), 0u);
  EXPECT_EQ(h.snat->portsInUse(), 0u);
  // With SYN-flood protection off no cookie was ever sent: a stray ACK is just that.
  Harness off(proxyConfig(SynFloodMode::kOff));
  off.pipe->setCookieKey(kKey);
  f = buildPacket(c.fromClient(kTcpAck, c.cisn + 1, c.cookie + 1, {}));
  EXPECT_EQ(off.run(f, kT0), Reason::kNoConntrack);
}

// Automatic blocking's engine kind: an ACK matching no connection, with a bad cookie or none at
// all, counts against its source; a completed cookie handshake does not.
TEST(SynProxy, InvalidAcksCountAgainstTheirSourceUnderAutomaticBlocking) {
  Config cfg = proxyConfig();
  cfg.autoBlock.mode = AutoBlockMode::kObserve;
  cfg.autoBlock.limits[static_cast<std::size_t>(SourceKind::kInvalidAck)] = 3;
  Harness h(cfg);
  h.pipe->setCookieKey(kKey);
  Proxied c(h);
  c.syn(kT0);
  Bytes f = buildPacket(c.fromClient(kTcpAck, c.cisn + 1, c.cookie + 1, {}));
  ASSERT_EQ(h.run(f, kT0), Reason::kTxSynproxy);  // valid: not counted
  c.cport = 40001;  // another connection of the same client, never opened
  for (int i = 0; i < 2; ++i) {
    f = buildPacket(c.fromClient(kTcpAck, c.cisn + 1, (c.cookie ^ 0x80000000u) + 1, {}));
    EXPECT_EQ(h.run(f, kT0), Reason::kSyncookieInvalid);
  }
  // Resets matching nothing are not counted: a host a spoofed SYN flood names resets our
  // SYN-ACKs.
  f = buildPacket(c.fromClient(kTcpRst, c.cisn + 1, 0, {}));
  for (int i = 0; i < 5; ++i) EXPECT_EQ(h.run(f, kT0), Reason::kNoConntrack);
  EXPECT_TRUE(h.pipe->invalidAcks().events().empty());
  f = buildPacket(c.fromClient(kTcpAck | kTcpPsh, c.cisn + 1, 77, text("x")));  // bad cookie
  EXPECT_EQ(h.run(f, kT0), Reason::kSyncookieInvalid);
  ASSERT_EQ(h.pipe->invalidAcks().events().size(), 1u);
  const SourceEvent ev = h.pipe->invalidAcks().events()[0];
  EXPECT_EQ(ev.source, A(c.client.c_str()));
  EXPECT_EQ(ev.kind, SourceKind::kInvalidAck);
  EXPECT_EQ(ev.count, 3u);
  // Off: nothing counted. Without cookies an ACK matching nothing counts just the same.
  Harness off(proxyConfig());
  off.pipe->setCookieKey(kKey);
  for (int i = 0; i < 5; ++i) off.run(f, kT0);
  EXPECT_TRUE(off.pipe->invalidAcks().events().empty());
  cfg.vips[0].synFlood.mode = SynFloodMode::kOff;
  Harness plain(cfg);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(plain.run(f, kT0), Reason::kNoConntrack);
  EXPECT_EQ(plain.pipe->invalidAcks().events().size(), 1u);
}

TEST(SynProxy, BackendRefusesAndTheClientIsReset) {
  Harness h(proxyConfig(SynFloodMode::kAuto));
  h.pipe->setCookieKey(kKey);
  Proxied c(h);
  c.syn(kT0);
  Bytes f = buildPacket(c.fromClient(kTcpAck, c.cisn + 1, c.cookie + 1, text("data")));
  ASSERT_EQ(h.run(f, kT0), Reason::kTxSynproxy);
  c.snatPort = parseInfo(f).sport;
  c.oisn = parseInfo(f).seq;
  // A SYN-ACK acknowledging something else is not ours.
  f = buildPacket(c.fromBackend(kTcpSyn | kTcpAck, c.bisn, c.oisn + 5, {}));
  EXPECT_EQ(h.run(f, kT0), Reason::kSynproxyBadSynack);
  f = buildPacket(c.fromBackend(kTcpRst | kTcpAck, 0, c.oisn + 1, {}));
  ASSERT_EQ(h.run(f, kT0), Reason::kTxToClient);
  const PacketInfo p = parseInfo(f);
  expectValidChecksums(f);
  EXPECT_EQ(p.src, A("10.0.0.100").ip);
  EXPECT_EQ(p.dst, A("10.0.0.1").ip);
  EXPECT_EQ(p.sport, 80);
  EXPECT_EQ(p.dport, c.cport);
  EXPECT_EQ(p.tcpFlags, kTcpRst);
  EXPECT_EQ(p.seq, c.cookie + 1);
  EXPECT_EQ(macOf(f), *MacAddr::parse(testing::kClientMac));
  EXPECT_EQ(h.table->active(), 0u);
  EXPECT_EQ(h.snat->portsInUse(), 0u);
  EXPECT_EQ(h.table->closed(CloseReason::kRst), 1u);
}

// The SNAT port's previous connection is still in TIME_WAIT on the backend, which answers our SYN
// with an ACK for the old connection: we reset it as a client's stack would, and send the SYN
// again at once (a client retransmission brings it again too).
TEST(SynProxy, BackendTimeWaitChallengeAckIsReset) {
  Harness h(proxyConfig());
  h.pipe->setCookieKey(kKey);
  Proxied c(h);
  c.syn(kT0);
  Bytes f = buildPacket(c.fromClient(kTcpAck | kTcpPsh, c.cisn + 1, c.cookie + 1, text("GET")));
  ASSERT_EQ(h.run(f, kT0), Reason::kTxSynproxy);
  c.snatPort = parseInfo(f).sport;
  c.oisn = parseInfo(f).seq;
  const Bytes syn = f;
  f = buildPacket(c.fromBackend(kTcpAck, 0x55550000, 0x12340000, {}));
  ASSERT_EQ(h.run(f, kT0 + sec(0.001)), Reason::kTxTimewaitReset);
  ASSERT_EQ(h.emitted.size(), 1u);
  EXPECT_EQ(h.emitted[0], Bytes(syn.begin(), syn.begin() + static_cast<long>(h.emitted[0].size())));
  EXPECT_EQ(parseInfo(h.emitted[0]).tcpFlags, kTcpSyn);
  EXPECT_EQ(h.pipe->counters().twCollisions, 1u);
  const PacketInfo rst = parseInfo(f);
  expectValidChecksums(f);
  EXPECT_EQ(rst.tcpFlags, kTcpRst);
  EXPECT_EQ(rst.seq, 0x12340000u);
  EXPECT_EQ(rst.src, A("10.0.0.2").ip);
  EXPECT_EQ(rst.sport, c.snatPort);
  EXPECT_EQ(rst.dst, A("10.0.0.11").ip);
  EXPECT_EQ(h.table->active(), 1u);  // still waiting for the backend
  f = buildPacket(c.fromClient(kTcpAck | kTcpPsh, c.cisn + 1, c.cookie + 1, text("GET")));
  ASSERT_EQ(h.run(f, kT0 + sec(0.3)), Reason::kTxSynproxy);
  EXPECT_EQ(parseInfo(f).tcpFlags, kTcpSyn);
  f = buildPacket(c.fromBackend(kTcpSyn | kTcpAck, c.bisn, c.oisn + 1, {}));
  ASSERT_EQ(h.run(f, kT0 + sec(0.301)), Reason::kTxSynproxy);
  ASSERT_EQ(h.emitted.size(), 1u);
  EXPECT_EQ(payloadOf(h.emitted[0]), text("GET"));
}

TEST(SynProxy, SilentBackendRetransmitsOnClientRetryThenTimesOut) {
  Harness h(proxyConfig());
  h.pipe->setCookieKey(kKey);
  Proxied c(h);
  c.syn(kT0);
  Bytes f = buildPacket(c.fromClient(kTcpAck, c.cisn + 1, c.cookie + 1, text("req")));
  ASSERT_EQ(h.run(f, kT0), Reason::kTxSynproxy);
  c.oisn = parseInfo(f).seq;
  // The client retransmits the same segment: the SYN goes out again.
  f = buildPacket(c.fromClient(kTcpAck, c.cisn + 1, c.cookie + 1, text("req")));
  ASSERT_EQ(h.run(f, kT0 + sec(1)), Reason::kTxSynproxy);
  EXPECT_EQ(parseInfo(f).tcpFlags, kTcpSyn);
  EXPECT_EQ(parseInfo(f).seq, c.oisn);  // the same SYN: our ISN is kept while we wait
  EXPECT_EQ(h.pipe->heldCount(), 1u);
  h.tick(kT0 + sec(1) + h.config.conntrack.timeouts.syn + sec(0.1));
  EXPECT_EQ(h.table->active(), 0u);
  EXPECT_EQ(h.snat->portsInUse(), 0u);
  EXPECT_EQ(h.table->closed(CloseReason::kTimeout), 1u);
  // Its held segment is reclaimed by the next connection that needs a slot.
  Proxied d(h);
  d.cport = 41001;
  d.syn(kT0 + sec(10));
  f = buildPacket(d.fromClient(kTcpAck, d.cisn + 1, d.cookie + 1, text("next")));
  ASSERT_EQ(h.run(f, kT0 + sec(10)), Reason::kTxSynproxy);
  EXPECT_EQ(h.pipe->heldCount(), 1u);  // the dead connection's slot was taken over
}

TEST(SynProxy, HoldPoolFullIsACountedDrop) {
  Harness h(proxyConfig());
  h.pipe->setCookieKey(kKey);
  Proxied c(h);
  c.syn(kT0);
  Bytes f = buildPacket(c.fromClient(kTcpAck, c.cisn + 1, c.cookie + 1, {}));
  ASSERT_EQ(h.run(f, kT0), Reason::kTxSynproxy);
  std::uint32_t seq = c.cisn + 1;
  for (std::size_t i = 0; i < Pipeline::kHoldSlots; ++i, seq += 1) {
    f = buildPacket(c.fromClient(kTcpAck, seq, c.cookie + 1, text("z")));
    ASSERT_EQ(h.run(f, kT0), Reason::kSynproxyHeld) << i;
  }
  f = buildPacket(c.fromClient(kTcpAck, seq, c.cookie + 1, text("z")));
  EXPECT_EQ(h.run(f, kT0), Reason::kSynproxyHoldFull);
  EXPECT_EQ(h.pipe->counters().of(Reason::kSynproxyHoldFull), 1u);
}

}  // namespace
}  // namespace xlb
