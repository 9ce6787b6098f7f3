// SPDX-License-Identifier: Apache-2.0
// The XDP program, in the kernel through BPF_PROG_TEST_RUN and as its native build (each test
// runs on both): every path of the pre-filter, the blocklist, SYN cookies (the SYN-ACK checked
// field by field) and the auto mode's switching. Each frame's reason is read back from the
// program's own per-CPU counters.
#include <gtest/gtest.h>
#include <linux/bpf.h>
#include <sched.h>

#include <array>
#include <cstring>
#include <set>
#include <thread>

#include "fixtures.h"
#include "privileges.h"
#include "xlb/checksum.h"
#include "xlb/xdp_program.h"
#include "xlb_cookie.h"

namespace xlb {
namespace {

using testing::A;
using testing::buildPacket;
using testing::Bytes;
using testing::PacketSpec;

constexpr CookieKey kKey{0x0123456789abcdefull, 0xfedcba9876543210ull};
constexpr TimeNs kNow = 1000 * kNsPerSec;

Config configWith(SynFloodMode mode, std::uint32_t thresholdPps = 20000) {
  Config c = testing::udpTestConfig();
  for (VipConfig& v : c.vips) {
    v.synFlood.mode = mode;
    v.synFlood.thresholdPps = thresholdPps;
  }
  return c;
}

class Xdp : public ::testing::TestWithParam<XdpRuntimeKind> {
 protected:
  void SetUp() override {
    if (GetParam() == XdpRuntimeKind::kKernel) XLB_REQUIRE_ROOT();
    // Per-CPU counters and SYN-rate state: keep every test run on one CPU.
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(0, &set);
    ASSERT_EQ(sched_setaffinity(0, sizeof set, &set), 0);
    load(XdpOptions{});
  }

  void load(XdpOptions o) {
    std::string err;
    o.runtime = GetParam();
    prog_ = XdpProgram::load(o, err);
    ASSERT_NE(prog_, nullptr) << err;
    ASSERT_TRUE(prog_->applyConfig(configWith(SynFloodMode::kOff), kKey, err)) << err;
    prog_->setFixedNow(kNow);
  }

  void apply(const Config& c) {
    std::string err;
    ASSERT_TRUE(prog_->applyConfig(c, kKey, err)) << err;
  }

  // Runs the frame (replaced by the output) and returns the one reason the program counted.
  Reason run(Bytes& frame, int* action = nullptr) {
    const auto before = prog_->stats();
    const XdpProgram::RunResult r = prog_->run(frame);
    EXPECT_GE(r.action, 0) << "test run failed: " << r.action;
    if (action != nullptr) *action = r.action;
    const auto after = prog_->stats();
    std::vector<std::size_t> moved;
    for (std::size_t i = 0; i < kReasonCount; ++i) {
      if (after[i].packets != before[i].packets) moved.push_back(i);
    }
    EXPECT_EQ(moved.size(), 1u) << "expected exactly one counted reason";
    if (moved.size() != 1) return Reason::kPassNotIp;
    EXPECT_EQ(after[moved[0]].packets - before[moved[0]].packets, 1u);
    return static_cast<Reason>(moved[0]);
  }

  static int xdpActionOf(Reason r, bool failOpen = false) {
    switch (actionOf(r)) {
      case Action::kDrop:
        return XDP_DROP;
      case Action::kPass:
        return XDP_PASS;
      case Action::kTx:
        return XDP_TX;
      case Action::kRedirect:
        return XDP_REDIRECT;
      case Action::kHold:
        break;
    }
    return failOpen ? XDP_PASS : -1;
  }

  std::unique_ptr<XdpProgram> prog_;
};

TEST_P(Xdp, FixtureTable) {
  for (const testing::Fixture& f : testing::filterFixtures()) {
    SCOPED_TRACE(f.name);
    Bytes frame = f.frame;
    int action = -1;
    const Reason got = run(frame, &action);
    // No AF_XDP socket is registered in a test run: what would be redirected meets the
    // fail-closed fallback, counted as its own reason.
    const Reason want = f.xdp == Reason::kRedirect ? Reason::kNoSocketDrop : f.xdp;
    EXPECT_EQ(reasonName(got), reasonName(want));
    EXPECT_EQ(action, xdpActionOf(want));
    if (action == XDP_PASS || action == XDP_DROP) {
      EXPECT_EQ(frame, f.frame) << "frame modified";
    }
  }
}

TEST_P(Xdp, FailOpenPassesWhenNoSocket) {
  XdpOptions o;
  o.failOpen = true;
  load(o);
  PacketSpec s;
  s.flags = 0x10;
  Bytes frame = buildPacket(s);
  int action = -1;
  EXPECT_EQ(run(frame, &action), Reason::kNoSocketPass);
  EXPECT_EQ(action, XDP_PASS);
}

// xlbd gives the program its interface's MAC: a switch flooding unknown unicast hands every host
// frames for the others, and only the one they are addressed to answers. Frames to that MAC and
// to group addresses are looked at as before; without a MAC (the simulator) every frame is.
TEST_P(Xdp, FramesToAnotherHostsMacPassUntouched) {
  XdpOptions o;
  o.localMac = *MacAddr::parse("02:00:00:00:00:02");  // the builder's default destination
  load(o);
  apply(configWith(SynFloodMode::kAlways));
  PacketSpec s;  // a SYN to the VIP: answered with a cookie when it is ours
  s.dstMac = "02:00:00:00:00:77";
  const Bytes other = buildPacket(s);
  Bytes out = other;
  int action = -1;
  EXPECT_EQ(run(out, &action), Reason::kPassOtherHost);
  EXPECT_EQ(action, XDP_PASS);
  EXPECT_EQ(out, other);
  s.src = "10.0.0.66";  // blocked below: the blocklist is not asked either
  std::string err;
  ASSERT_TRUE(prog_->blockAdd(*Prefix::parse("10.0.0.66/32"), err)) << err;
  out = buildPacket(s);
  EXPECT_EQ(run(out), Reason::kPassOtherHost);
  s.src = "10.0.0.1";
  for (const char* mine : {"02:00:00:00:00:02", "ff:ff:ff:ff:ff:ff", "01:00:5e:00:00:01"}) {
    s.dstMac = mine;
    out = buildPacket(s);
    EXPECT_EQ(run(out, &action), Reason::kTxSyncookie) << mine;
    EXPECT_EQ(action, XDP_TX);
  }
  load(XdpOptions{});  // no MAC given: every frame is looked at
  apply(configWith(SynFloodMode::kAlways));
  out = other;
  EXPECT_EQ(run(out), Reason::kTxSyncookie);
}

// Automatic blocking's measurement (lib/src_meter.h): per source, one event per window and kind
// once a count reaches its limit. A client whose SYNs are followed by ACKs (completed handshakes)
// stays below the SYN limit; nothing is measured while automatic blocking is off.
// The destination filter in the config map answers "not ours" without the hash lookup: a
// destination whose bit is clear passes even when the hash holds it, and the bits are exactly
// the configured addresses' as VIPs come and go.
TEST_P(Xdp, DestinationFilterAnswersForTheHashAndFollowsTheConfig) {
  XdpRuntime& rt = prog_->runtime();
  const std::uint32_t zero = 0;
  const auto filterOf = [&](const Config& c) {
    std::array<__u64, XLB_DEST_FILTER_WORDS> f{};
    std::vector<Address> all = c.snat.addresses;
    for (const VipConfig& v : c.vips) all.push_back(v.address);
    for (const Address& a : all) {
      const xlb_addr_key k = addrKey(a);
      const std::uint64_t b = xlb_dest_filter_bit(&k);
      f[b >> 6] |= 1ull << (b & 63);
    }
    return f;
  };
  const auto filterIn = [&] {
    xlb_config cfg{};
    EXPECT_EQ(rt.lookup(XdpMap::kCfg, &zero, &cfg), 0);
    return std::to_array(cfg.dest_filter);
  };
  Config c = configWith(SynFloodMode::kOff);
  EXPECT_EQ(filterIn(), filterOf(c));

  // 10.0.0.77 in the hash as a copy of the first VIP, its bit clear: the filter passes it.
  const xlb_addr_key vip = addrKey(c.vips[0].address);
  const xlb_addr_key extra = addrKey(*Address::parse("10.0.0.77"));
  const std::uint64_t bit = xlb_dest_filter_bit(&extra);
  xlb_config cfg{};
  ASSERT_EQ(rt.lookup(XdpMap::kCfg, &zero, &cfg), 0);
  ASSERT_EQ((cfg.dest_filter[bit >> 6] >> (bit & 63)) & 1, 0u);
  xlb_dest d{};
  ASSERT_EQ(rt.lookup(XdpMap::kDests, &vip, &d), 0);
  ASSERT_EQ(rt.update(XdpMap::kDests, &extra, &d, BPF_NOEXIST), 0);
  PacketSpec s;
  s.dst = "10.0.0.77";
  s.dport = c.vips[0].ports.front();
  Bytes frame = buildPacket(s);
  EXPECT_EQ(run(frame), Reason::kPassNotOurs);
  cfg.dest_filter[bit >> 6] |= 1ull << (bit & 63);
  ASSERT_EQ(rt.update(XdpMap::kCfg, &zero, &cfg, BPF_ANY), 0);
  frame = buildPacket(s);
  EXPECT_NE(run(frame), Reason::kPassNotOurs);  // the hash answers now: handled as the VIP
  ASSERT_EQ(rt.remove(XdpMap::kDests, &extra), 0);

  // Every VIP on the first one's address goes; the filter is the rest's.
  const Address gone = c.vips[0].address;
  std::erase_if(c.vips, [&](const VipConfig& v) { return v.address == gone; });
  ASSERT_FALSE(c.vips.empty());
  apply(c);
  EXPECT_EQ(filterIn(), filterOf(c));
}

TEST_P(Xdp, SourcesCrossingALimitAreReportedOncePerWindow) {
  Config c = configWith(SynFloodMode::kAlways);
  c.autoBlock.mode = AutoBlockMode::kBlock;
  c.autoBlock.limits = {5, 3, 11, 4, 2};  // invalid ACKs: the engine's, never reported here
  apply(c);
  std::vector<SourceEvent> ev;
  auto send = [&](const char* src, std::uint16_t sport, std::uint8_t flags, std::uint16_t dport) {
    PacketSpec s;
    s.src = src;
    s.dst = std::string(src).find(':') != std::string::npos ? "2001:db8::100" : "10.0.0.100";
    s.sport = sport;
    s.flags = flags;
    s.dport = dport;
    Bytes f = buildPacket(s);
    prog_->run(f);
  };
  for (std::uint16_t i = 0; i < 5; ++i) {  // handshakes completed: SYN, then ACK
    send("10.0.0.7", static_cast<std::uint16_t>(40000 + i), 0x02, 80);
    send("10.0.0.7", static_cast<std::uint16_t>(40000 + i), 0x10, 80);
  }
  prog_->takeSourceEvents(ev);
  EXPECT_TRUE(ev.empty());
  for (std::uint16_t i = 0; i < 8; ++i)
    send("10.0.0.66", static_cast<std::uint16_t>(41000 + i), 0x02, 80);
  for (std::uint16_t i = 0; i < 3; ++i) send("10.0.0.66", 42000, 0x02, 9999);  // not served
  prog_->takeSourceEvents(ev);
  ASSERT_EQ(ev.size(), 3u);
  EXPECT_EQ(ev[0].source, A("10.0.0.66"));
  EXPECT_EQ(ev[0].kind, SourceKind::kSyn);
  EXPECT_EQ(ev[0].count, 5u);
  EXPECT_EQ(ev[1].kind, SourceKind::kFiltered);
  EXPECT_EQ(ev[1].count, 3u);
  EXPECT_EQ(ev[2].kind, SourceKind::kPackets);
  EXPECT_EQ(ev[2].count, 11u);
  // The next window reports the source again; IPv6 sources are measured alike.
  ev.clear();
  prog_->setFixedNow(kNow + 2 * kNsPerSec);
  for (std::uint16_t i = 0; i < 5; ++i) {
    send("10.0.0.66", static_cast<std::uint16_t>(43000 + i), 0x02, 80);
    send("2001:db8::66", static_cast<std::uint16_t>(43000 + i), 0x02, 80);
  }
  prog_->takeSourceEvents(ev);
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_EQ(ev[0].source, A("10.0.0.66"));
  EXPECT_EQ(ev[1].source, A("2001:db8::66"));
  EXPECT_EQ(ev[1].kind, SourceKind::kSyn);
  // UDP to a served port has its own limit (and counts as a packet too).
  ev.clear();
  auto datagram = [&](const char* src, std::uint16_t dport) {
    PacketSpec s;
    s.proto = kProtoUdp;
    s.src = src;
    s.dst = "10.0.0.100";
    s.sport = 5353;
    s.dport = dport;
    Bytes f = buildPacket(s);
    prog_->run(f);
  };
  for (int i = 0; i < 4; ++i) datagram("10.0.0.68", 53);
  for (std::uint16_t i = 0; i < 3; ++i) send("10.0.0.68", 45000, 0x10, 80);  // ACKs: no UDP
  prog_->takeSourceEvents(ev);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].source, A("10.0.0.68"));
  EXPECT_EQ(ev[0].kind, SourceKind::kUdp);
  EXPECT_EQ(ev[0].count, 4u);
  // Off: nothing counted, nothing reported.
  c.autoBlock.mode = AutoBlockMode::kOff;
  apply(c);
  prog_->setFixedNow(kNow + 4 * kNsPerSec);
  ev.clear();
  for (std::uint16_t i = 0; i < 20; ++i)
    send("10.0.0.67", static_cast<std::uint16_t>(44000 + i), 0x02, 80);
  prog_->takeSourceEvents(ev);
  EXPECT_TRUE(ev.empty());
}

// The simulator's setting: no socket exists in a test run, and what would go to the engine is
// reported as a redirect rather than meeting the fallback. Other verdicts are unchanged.
TEST_P(Xdp, SimulatorSeesRedirects) {
  XdpOptions o;
  o.simRedirect = true;
  load(o);
  PacketSpec s;
  s.flags = 0x10;
  Bytes frame = buildPacket(s);
  int action = -1;
  EXPECT_EQ(run(frame, &action), Reason::kRedirect);
  EXPECT_EQ(action, XDP_REDIRECT);
  s.dport = 22;
  frame = buildPacket(s);
  EXPECT_EQ(run(frame, &action), Reason::kPortFilter);
  EXPECT_EQ(action, XDP_DROP);
}

// Every prefix of a valid VIP frame is a counted drop; none is passed, answered or redirected.
TEST_P(Xdp, EveryTruncationIsACountedDrop) {
  apply(configWith(SynFloodMode::kAlways));
  const std::set<Reason> truncations = {Reason::kIpv4Truncated, Reason::kIpv6Truncated,
                                        Reason::kTcpTruncated, Reason::kIpv6ExtTruncated,
                                        Reason::kVlanTruncated};
  for (const char* src : {"10.0.0.1", "2001:db8::1"}) {
    PacketSpec s;
    s.src = src;
    s.dst = std::string(src).find(':') == std::string::npos ? "10.0.0.100" : "2001:db8::100";
    s.vlanTpids = {0x8100};
    s.tcpOptions = testing::concat(
        {testing::optMss(1460), testing::optSackPermitted(), testing::optWscale(7)});
    if (s.src[0] == '2') s.ipv6Ext = {{60, {}}};
    const Bytes full = buildPacket(s);
    for (std::size_t len = 14; len < full.size(); ++len) {
      SCOPED_TRACE(std::string(src) + " prefix " + std::to_string(len));
      Bytes frame(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(len));
      int action = -1;
      const Reason r = run(frame, &action);
      EXPECT_EQ(action, XDP_DROP);
      EXPECT_TRUE(truncations.count(r)) << reasonName(r);
    }
    Bytes frame = full;
    EXPECT_EQ(run(frame), Reason::kTxSyncookie);
  }
}

TEST_P(Xdp, BlocklistLongestPrefixWinsAndCountsHits) {
  std::string err;
  for (const char* p : {"10.1.0.0/16", "10.1.2.0/24", "10.1.2.3/32", "2001:db8:bad::/48",
                        "2001:db8:bad:1::/64", "2001:db8:bad:1::7/128"}) {
    ASSERT_TRUE(prog_->blockAdd(*Prefix::parse(p), err)) << p << ": " << err;
  }
  bool exists = false;
  EXPECT_FALSE(prog_->blockAdd(*Prefix::parse("10.1.0.0/16"), err, &exists));
  EXPECT_TRUE(exists);
  EXPECT_EQ(prog_->blockCount(), 6u);

  struct Case {
    const char* src;
    const char* dst;
    const char* hit;  // nullptr: not blocked
  };
  const Case cases[] = {
      {"10.1.2.3", "10.0.0.100", "10.1.2.3/32"},
      {"10.1.2.4", "10.0.0.100", "10.1.2.0/24"},
      {"10.1.9.9", "10.0.0.100", "10.1.0.0/16"},
      {"10.1.9.9", "10.0.0.50", "10.1.0.0/16"},  // the host is protected too
      {"10.2.0.1", "10.0.0.50", nullptr},
      {"2001:db8:bad:1::7", "2001:db8::100", "2001:db8:bad:1::7/128"},
      {"2001:db8:bad:1::8", "2001:db8::100", "2001:db8:bad:1::/64"},
      {"2001:db8:bad:2::1", "2001:db8::50", "2001:db8:bad::/48"},
      {"2001:db8:beef::1", "2001:db8::50", nullptr},
  };
  std::map<std::string, std::uint64_t> want;
  for (const Case& c : cases) {
    SCOPED_TRACE(c.src);
    PacketSpec s;
    s.src = c.src;
    s.dst = c.dst;
    Bytes frame = buildPacket(s);
    const Reason r = run(frame);
    if (c.hit != nullptr) {
      EXPECT_EQ(r, Reason::kBlocklist);
      ++want[c.hit];
    } else {
      EXPECT_EQ(r, Reason::kPassNotOurs);
    }
  }
  for (const auto& [prefix, hits] : want) {
    auto h = prog_->blockHits(*Prefix::parse(prefix));
    ASSERT_TRUE(h.has_value()) << prefix;
    EXPECT_EQ(h->hits, hits) << prefix;
    EXPECT_EQ(h->lastHitNs, kNow) << prefix;
  }
  EXPECT_EQ(prog_->blockHits(*Prefix::parse("10.1.2.0/24"))->hits, 1u);

  ASSERT_TRUE(prog_->blockRemove(*Prefix::parse("10.1.2.3/32")));
  EXPECT_FALSE(prog_->blockRemove(*Prefix::parse("10.1.2.3/32")));
  PacketSpec s;
  s.src = "10.1.2.3";
  Bytes frame = buildPacket(s);
  EXPECT_EQ(run(frame), Reason::kBlocklist);  // now the /24
  EXPECT_EQ(prog_->blockHits(*Prefix::parse("10.1.2.0/24"))->hits, 2u);
  for (const char* p : {"10.1.0.0/16", "10.1.2.0/24"}) prog_->blockRemove(*Prefix::parse(p));
  frame = buildPacket(s);
  EXPECT_EQ(run(frame), Reason::kNoSocketDrop);  // a SYN to the VIP again
}

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

TEST_P(Xdp, SynAnsweredWithCookieSynAckV4) {
  apply(configWith(SynFloodMode::kAlways));
  PacketSpec s;
  s.seq = 0x11223344;
  s.vlanTpids = {0x8100};
  s.ipv4Options = {1, 1, 1, 1};  // the reply carries none
  s.tcpOptions = testing::concat({testing::optMss(1460), testing::optSackPermitted(),
                                  testing::optTimestamp(7, 0), testing::optWscale(9)});
  const Bytes in = buildPacket(s);
  Bytes out = in;
  int action = -1;
  EXPECT_EQ(run(out, &action), Reason::kTxSyncookie);
  EXPECT_EQ(action, XDP_TX);
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

TEST_P(Xdp, SynAnsweredWithCookieSynAckV6NoOptions) {
  apply(configWith(SynFloodMode::kAlways));
  PacketSpec s;
  s.src = "2001:db8::1";
  s.dst = "2001:db8::100";
  s.dport = 443;
  s.seq = 0xfffffff0;
  const Bytes in = buildPacket(s);
  Bytes out = in;
  int action = -1;
  EXPECT_EQ(run(out, &action), Reason::kTxSyncookie);
  EXPECT_EQ(action, XDP_TX);
  const std::uint32_t cookie = expectedCookie(in);
  expectSynAck(out, in, 14, false, s.seq, cookie, 536, false, false);
}

TEST_P(Xdp, SynMssCappedByConfig) {
  XdpOptions o;
  o.synackMssCap = 1440;
  load(o);
  apply(configWith(SynFloodMode::kAlways));
  PacketSpec s;
  s.tcpOptions = testing::optMss(9000);
  const Bytes in = buildPacket(s);
  Bytes out = in;
  EXPECT_EQ(run(out), Reason::kTxSyncookie);
  expectSynAck(out, in, 14, true, s.seq, expectedCookie(in, 1440), 1440, false, false);
}

TEST_P(Xdp, CookieModeVerifiesChecksumsFirst) {
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

TEST_P(Xdp, AutoModeSwitchesOnAboveThresholdAndOffWhenTheRateFalls) {
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
TEST_P(Xdp, AutoModeAddsUpTheSynsOfEveryCpu) {
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
TEST_P(Xdp, HalfOpenPressureTurnsCookiesOnForAutoModeVips) {
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

INSTANTIATE_TEST_SUITE_P(Runtimes, Xdp,
                         ::testing::Values(XdpRuntimeKind::kKernel, XdpRuntimeKind::kNative),
                         [](const ::testing::TestParamInfo<XdpRuntimeKind>& i) {
                           return i.param == XdpRuntimeKind::kKernel ? "Kernel" : "Native";
                         });

}  // namespace
}  // namespace xlb
