// SPDX-License-Identifier: Apache-2.0
// The XDP program's SYN cookies, on both runtimes: the SYN-ACK checked field by field against the
// engine's cookie, the MSS cap, checksums verified first, and the auto mode's switching.
#include <thread>

#include "xdp_fixture.h"
#include "xlb/checksum.h"
#include "xlb_cookie.h"

namespace xlb::testing {
namespace {

class XdpSyn : public XdpFixture {
 protected:
  // Runs a SYN the program must answer with a cookie SYN-ACK (XDP_TX); returns the reply.
  Bytes answerSyn(const Bytes& in) {
    Bytes out = in;
    int action = -1;
    EXPECT_EQ(run(out, &action), Reason::kTxSyncookie);
    EXPECT_EQ(action, XDP_TX);
    return out;
  }
};

// The SYN-ACK, field by field: every emitted byte is checked, not just the checksums.
void expectSynAck(const Bytes& out, const Bytes& in, std::size_t l3, bool v4, std::uint32_t isn,
                  std::uint32_t cookie, std::uint16_t mss, bool sack, bool wscale) {
  const std::size_t ipLen = v4 ? 20 : 40;
  ASSERT_EQ(out.size(), l3 + ipLen + 32);
  // Ethernet addresses swapped, VLAN tags kept.
  EXPECT_TRUE(std::equal(out.begin(), out.begin() + 6, in.begin() + 6));
  EXPECT_TRUE(std::equal(out.begin() + 6, out.begin() + 12, in.begin()));
  EXPECT_TRUE(
      std::equal(out.begin() + 12, out.begin() + static_cast<std::ptrdiff_t>(l3), in.begin() + 12));
  const std::uint8_t* ip = out.data() + l3;
  const std::uint8_t* iip = in.data() + l3;
  if (v4) {
    EXPECT_EQ(ip[0], 0x45);
    EXPECT_EQ(ip[1], 0);                // TOS
    EXPECT_EQ(load16(ip + 2), 52);      // total length
    EXPECT_EQ(load16(ip + 4), 0);       // ID
    EXPECT_EQ(load16(ip + 6), 0x4000);  // DF, offset 0
    EXPECT_EQ(ip[8], 64);               // TTL
    EXPECT_EQ(ip[9], 6);
    EXPECT_EQ(load16(ip + 10), ipv4HeaderChecksum(ip, 20));
    EXPECT_TRUE(std::equal(ip + 12, ip + 16, iip + 16));
    EXPECT_TRUE(std::equal(ip + 16, ip + 20, iip + 12));
  } else {
    EXPECT_EQ(load32(ip), 0x60000000u);  // version, class 0, flow label 0
    EXPECT_EQ(load16(ip + 4), 32);
    EXPECT_EQ(ip[6], 6);
    EXPECT_EQ(ip[7], 64);
    EXPECT_TRUE(std::equal(ip + 8, ip + 24, iip + 24));
    EXPECT_TRUE(std::equal(ip + 24, ip + 40, iip + 8));
  }
  const PacketInfo info = testing::parseInfo(out);
  const PacketInfo inInfo = testing::parseInfo(in);
  const std::uint8_t* tcp = out.data() + l3 + ipLen;
  EXPECT_EQ(info.sport, inInfo.dport);
  EXPECT_EQ(info.dport, inInfo.sport);
  EXPECT_EQ(info.seq, cookie);
  EXPECT_EQ(info.ack, isn + 1);
  EXPECT_EQ(tcp[12], 0x80);  // data offset 8, reserved bits 0
  EXPECT_EQ(tcp[13], 0x12);  // SYN|ACK
  EXPECT_EQ(load16(tcp + 14), XLB_SYNACK_WINDOW);
  EXPECT_EQ(load16(tcp + 18), 0);  // urgent pointer
  EXPECT_TRUE(l4ChecksumValid(info.family, 6, info.src, info.dst, tcp, 32));
  const Bytes opts(tcp + 20, tcp + 32);
  const Bytes want = {2,
                      4,
                      static_cast<std::uint8_t>(mss >> 8),
                      static_cast<std::uint8_t>(mss),
                      1,
                      1,
                      static_cast<std::uint8_t>(sack ? 4 : 1),
                      static_cast<std::uint8_t>(sack ? 2 : 1),
                      1,
                      static_cast<std::uint8_t>(wscale ? 3 : 1),
                      static_cast<std::uint8_t>(wscale ? 3 : 1),
                      static_cast<std::uint8_t>(wscale ? XLB_SYNACK_WSCALE : 1)};
  EXPECT_EQ(opts, want);
}

// The cookie the engine computes for the same SYN: the one implementation, run in C++.
std::uint32_t expectedCookie(const Bytes& in, std::uint16_t mssCap = 0) {
  CookieOptions o;
  return makeCookie(kKey, in.data(), testing::parseInfo(in), kNow, mssCap, o);
}

TEST_P(XdpSyn, SynAnsweredWithCookieSynAckV4) {
  apply(configWith(SynFloodMode::kAlways));
  PacketSpec s;
  s.seq = 0x11223344;
  s.vlanTpids = {0x8100};
  s.ipv4Options = {1, 1, 1, 1};  // the reply carries none
  s.tcpOptions = testing::concat({testing::optMss(1460), testing::optSackPermitted(),
                                  testing::optTimestamp(7, 0), testing::optWscale(9)});
  const Bytes in = buildPacket(s);
  const Bytes out = answerSyn(in);
  const std::uint32_t cookie = expectedCookie(in);
  // The IPv4 options shift the TCP header in the input; the cookie covers the same fields.
  const Bytes noOpts = [&] {
    PacketSpec t = s;
    t.ipv4Options = {};
    return buildPacket(t);
  }();
  EXPECT_EQ(cookie, expectedCookie(noOpts));
  expectSynAck(out, noOpts, 18, true, s.seq, cookie, 1460, true, true);
}

TEST_P(XdpSyn, SynAnsweredWithCookieSynAckV6NoOptions) {
  apply(configWith(SynFloodMode::kAlways));
  PacketSpec s;
  s.src = "2001:db8::1";
  s.dst = "2001:db8::100";
  s.dport = 443;
  s.seq = 0xfffffff0;
  const Bytes in = buildPacket(s);
  const Bytes out = answerSyn(in);
  const std::uint32_t cookie = expectedCookie(in);
  expectSynAck(out, in, 14, false, s.seq, cookie, 536, false, false);
}

TEST_P(XdpSyn, SynMssCappedByConfig) {
  XdpOptions o;
  o.synackMssCap = 1440;
  load(o);
  apply(configWith(SynFloodMode::kAlways));
  PacketSpec s;
  s.tcpOptions = testing::optMss(9000);
  const Bytes in = buildPacket(s);
  expectSynAck(answerSyn(in), in, 14, true, s.seq, expectedCookie(in, 1440), 1440, false, false);
}

TEST_P(XdpSyn, CookieModeVerifiesChecksumsFirst) {
  apply(configWith(SynFloodMode::kAlways));
  Bytes badTcp = buildPacket(PacketSpec{});
  badTcp[14 + 20 + 16] ^= 0x01;
  EXPECT_EQ(run(badTcp), Reason::kBadChecksum);
  Bytes badIp = buildPacket(PacketSpec{});
  badIp[14 + 10] ^= 0x01;
  EXPECT_EQ(run(badIp), Reason::kBadChecksum);
  PacketSpec v6;
  v6.src = "2001:db8::1";
  v6.dst = "2001:db8::100";
  Bytes bad6 = buildPacket(v6);
  bad6[bad6.size() - 1] ^= 0x10;  // last byte of the TCP header
  EXPECT_EQ(run(bad6), Reason::kBadChecksum);
  PacketSpec badOpt;
  badOpt.tcpOptions = {2, 9, 0, 0};  // MSS with a length running past the header
  Bytes bo = buildPacket(badOpt);
  EXPECT_EQ(run(bo), Reason::kTcpBadOption);
  // The ACK that completes a handshake is not XDP's business: it goes to the engine.
  PacketSpec ack;
  ack.flags = 0x10;
  Bytes a = buildPacket(ack);
  EXPECT_EQ(run(a), Reason::kNoSocketDrop);
}

// Every word of the checksums counts, whatever the header lengths: IPv4 and TCP headers of 20 to
// 60 bytes, and a payload of odd length (a SYN may carry data). Each frame is answered as built,
// and dropped with one bit flipped in the last word of either header (the IPv4 ID when it has no
// options: its last word is the destination) or in the last payload byte.
TEST_P(XdpSyn, CookieModeSumsEveryHeaderLengthAndThePayload) {
  apply(configWith(SynFloodMode::kAlways));
  for (std::size_t ipOpt = 0; ipOpt <= 40; ipOpt += 8) {
    for (std::size_t tcpOpt = 4; tcpOpt <= 40; tcpOpt += 12) {
      PacketSpec s;
      s.ipv4Options = Bytes(ipOpt, 1);  // NOPs
      s.tcpOptions = testing::optMss(1460);
      s.tcpOptions.resize(tcpOpt, 1);
      s.payload = Bytes(ipOpt / 4 + tcpOpt / 4 + 1, 0x5a);  // 2 to 21 bytes: odd and even
      const Bytes in = buildPacket(s);
      const std::string at =
          "ip options " + std::to_string(ipOpt) + ", tcp options " + std::to_string(tcpOpt);
      Bytes ok = in;
      EXPECT_EQ(run(ok), Reason::kTxSyncookie) << at;
      const std::size_t ipEnd = 14 + 20 + ipOpt;
      const std::size_t tcpEnd = ipEnd + 20 + tcpOpt;
      for (const std::size_t at_byte : {ipOpt ? ipEnd - 1 : 14 + 5, tcpEnd - 1, in.size() - 1}) {
        Bytes bad = in;
        bad[at_byte] ^= 0x04;
        EXPECT_EQ(run(bad), Reason::kBadChecksum) << at << ", byte " << at_byte;
      }
    }
  }
}

TEST_P(XdpSyn, AutoModeSwitchesOnAboveThresholdAndOffWhenTheRateFalls) {
  // The threshold is the VIP's, per 100 ms window: 50/s is 5 SYNs per window.
  apply(configWith(SynFloodMode::kAuto, 50));

  auto syn = [&](TimeNs t) {
    prog_->setFixedNow(t);
    PacketSpec s;
    s.sport = static_cast<std::uint16_t>(1000 + (t / kNsPerMs) % 60000);
    Bytes f = buildPacket(s);
    return run(f);
  };
  const TimeNs t0 = kNow;
  for (int i = 0; i < 4; ++i) EXPECT_EQ(syn(t0 + static_cast<TimeNs>(i)), Reason::kNoSocketDrop);
  EXPECT_FALSE(prog_->synState(0).cookies);
  EXPECT_EQ(syn(t0 + 4), Reason::kTxSyncookie);  // the 5th SYN in the window
  EXPECT_TRUE(prog_->synState(0).cookies);
  EXPECT_EQ(syn(t0 + 5), Reason::kTxSyncookie);
  EXPECT_EQ(prog_->synState(0).switches, 1u);
  // Next window: the last one had 6 SYNs (above half the threshold): cookies stay on.
  EXPECT_EQ(syn(t0 + 100 * kNsPerMs), Reason::kTxSyncookie);
  // The window after: the last one had 1 SYN: cookies off, the SYN goes to the engine.
  EXPECT_EQ(syn(t0 + 200 * kNsPerMs), Reason::kNoSocketDrop);
  EXPECT_FALSE(prog_->synState(0).cookies);
  // The other VIP was never touched.
  EXPECT_EQ(prog_->synState(1).switches, 0u);
}

void pinTo(XdpProgram& prog, unsigned cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  ASSERT_EQ(sched_setaffinity(0, sizeof set, &set), 0);
  prog.runtime().setCpu(cpu);
}

// The threshold is the VIP's, not each CPU's: SYNs spread over two CPUs, fewer than the
// threshold on each, switch cookies on at the end of the window where together they pass it.
TEST_P(XdpSyn, AutoModeAddsUpTheSynsOfEveryCpu) {
  if (std::thread::hardware_concurrency() < 2) {
    if (testing::underCi()) FAIL() << "needs two CPUs to spread SYNs over (CI=true)";
    GTEST_SKIP() << "needs two CPUs";
  }
  apply(configWith(SynFloodMode::kAuto, 100));  // 10 SYNs per 100 ms window
  std::uint16_t port = 1000;
  auto syn = [&](TimeNs t) {
    prog_->setFixedNow(t);
    PacketSpec s;
    s.sport = port++;
    Bytes f = buildPacket(s);
    return run(f);
  };
  const TimeNs t0 = kNow;
  for (int i = 0; i < 6; ++i) {
    pinTo(*prog_, static_cast<unsigned>(i % 2));  // 3 SYNs on each CPU: 6 in the window, below 10
    EXPECT_EQ(syn(t0 + static_cast<TimeNs>(i)), Reason::kNoSocketDrop) << i;
  }
  // CPU 0's window ends: 3 of its own and none from CPU 1's (still open) window: off.
  pinTo(*prog_, 0);
  EXPECT_EQ(syn(t0 + 100 * kNsPerMs), Reason::kNoSocketDrop);
  EXPECT_FALSE(prog_->synState(0).cookies);
  // CPU 1's window ends: its own 3 and CPU 0's last 3: 6, below 10: off. Then 6 more SYNs
  // on each CPU, none of them seeing 10 on its own.
  for (int i = 0; i < 12; ++i) {
    pinTo(*prog_, static_cast<unsigned>((i + 1) % 2));
    EXPECT_EQ(syn(t0 + 100 * kNsPerMs + 1 + static_cast<TimeNs>(i)), Reason::kNoSocketDrop) << i;
  }
  EXPECT_FALSE(prog_->synState(0).cookies);
  // CPU 1's next window ends: its own 6 and CPU 0's 7 (a whole window, not yet rolled over)
  // pass the threshold together.
  pinTo(*prog_, 1);
  EXPECT_EQ(syn(t0 + 200 * kNsPerMs + 2), Reason::kTxSyncookie);
  EXPECT_TRUE(prog_->synState(0).cookies);
  // CPU 0 decides the same at its own window's end.
  pinTo(*prog_, 0);
  EXPECT_EQ(syn(t0 + 200 * kNsPerMs + 3), Reason::kTxSyncookie);
}

// Half-open pressure (the engine's verdict) turns cookies on for auto-mode VIPs whatever the
// SYN rate, and leaves VIPs with protection off alone.
TEST_P(XdpSyn, HalfOpenPressureTurnsCookiesOnForAutoModeVips) {
  Config c = configWith(SynFloodMode::kAuto, 1'000'000);
  c.vips[1].synFlood.mode = SynFloodMode::kOff;
  apply(c);
  PacketSpec s;
  Bytes f = buildPacket(s);
  EXPECT_EQ(run(f), Reason::kNoSocketDrop);
  prog_->setSynPressure(true);
  EXPECT_TRUE(prog_->synPressure());
  f = buildPacket(s);
  EXPECT_EQ(run(f), Reason::kTxSyncookie);
  PacketSpec other = s;
  other.src = "2001:db8::1";
  other.dst = c.vips[1].address.toString();
  f = buildPacket(other);
  EXPECT_EQ(run(f), Reason::kNoSocketDrop);
  prog_->setSynPressure(false);
  f = buildPacket(s);
  EXPECT_EQ(run(f), Reason::kNoSocketDrop);
}

INSTANTIATE_TEST_SUITE_P(Runtimes, XdpSyn,
                         ::testing::Values(XdpRuntimeKind::kKernel, XdpRuntimeKind::kNative),
                         runtimeName);

}  // namespace
}  // namespace xlb::testing
