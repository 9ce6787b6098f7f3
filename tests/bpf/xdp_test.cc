// SPDX-License-Identifier: Apache-2.0
// The XDP program, in the kernel through BPF_PROG_TEST_RUN and as its native build (each test
// runs on both): every path of the pre-filter, the destination filter, source reports and the
// blocklist. SYN cookies and the auto mode are in xdp_syn_test.cc.
#include <bpf/bpf.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <array>
#include <cstring>
#include <memory>
#include <set>
#include <sstream>

#include "xdp_fixture.h"

namespace xlb::testing {
namespace {

class Xdp : public XdpFixture {};

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

// Without a fixed time the program reads the coarse clock once per tick per CPU and keeps it
// (lib/clock.h): a hit carries the time of the run to within a few ticks, and a hit after a
// 200 ms sleep a time at least 150 ms later (the rest is slack for the ticks either reading may
// trail by; a cache that never moved on would keep the first).
TEST_P(Xdp, BlocklistHitsCarryTheClockWhenNoTimeIsFixed) {
  prog_->setFixedNow(0);
  std::string err;
  ASSERT_TRUE(prog_->blockAdd(*Prefix::parse("10.9.9.9/32"), err)) << err;
  const auto coarse = [] {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return static_cast<std::uint64_t>(ts.tv_sec) * kNsPerSec +
           static_cast<std::uint64_t>(ts.tv_nsec);
  };
  constexpr std::uint64_t kTicks = 50 * kNsPerMs;  // 12 ticks at HZ 250, far more at 1000
  std::uint64_t first = 0;
  for (int round = 0; round < 2; ++round) {
    if (round == 1) usleep(200'000);
    PacketSpec s;
    s.src = "10.9.9.9";
    Bytes frame = buildPacket(s);
    const std::uint64_t before = coarse();
    EXPECT_EQ(run(frame), Reason::kBlocklist);
    const std::uint64_t after = coarse();
    const auto h = prog_->blockHits(*Prefix::parse("10.9.9.9/32"));
    ASSERT_TRUE(h.has_value());
    EXPECT_GE(h->lastHitNs + kTicks, before) << "round " << round;
    EXPECT_LE(h->lastHitNs, after) << "round " << round;
    if (round == 0) first = h->lastHitNs;
  }
  EXPECT_GE(prog_->blockHits(*Prefix::parse("10.9.9.9/32"))->lastHitNs, first + 150 * kNsPerMs);
}

// The filter in front of the blocklist maps (lib/blocklist.h): the program asks the maps only
// when the filter's bit for the source is set. Clearing an entry's bit behind the loader's back
// lets its source through, so the program does consult it. IPv4's bit per /24 serves any number
// of lengths; IPv6 with more lengths than the config has slots asks the maps for every source.
class XdpFilter : public Xdp {
 protected:
  // Clears the filter bit a source under `entry` probes, behind the loader's back, after
  // checking the loader had set it.
  void clearBitOf(const Prefix& entry) {
    const BlockFilter shape(prog_->options().blocklistCapacity);
    const std::uint64_t bit = shape.bitOf(entry);
    const auto word = static_cast<std::uint32_t>(bit >> 6);
    std::uint64_t value = 0;
    ASSERT_EQ(prog_->runtime().lookup(XdpMap::kBlockFilter, &word, &value), 0);
    EXPECT_EQ((value >> (bit & 63)) & 1, 1u) << "the loader set the entry's bit";
    const std::uint64_t cleared = value & ~(std::uint64_t{1} << (bit & 63));
    ASSERT_EQ(prog_->runtime().update(XdpMap::kBlockFilter, &word, &cleared, BPF_ANY), 0);
  }
  // Blocks `source` as a full-length entry, sees it blocked, clears its bit and sees it pass.
  void blockThenClearItsBit(const char* source) {
    std::string err;
    const Address a = *Address::parse(source);
    const Prefix entry{a, static_cast<std::uint8_t>(a.family == Family::kV4 ? 32 : 128)};
    ASSERT_TRUE(prog_->blockAdd(entry, err)) << err;
    EXPECT_EQ(from(source), Reason::kBlocklist);
    clearBitOf(entry);
    EXPECT_EQ(from(source), Reason::kPassNotOurs) << "a clear bit: the maps are not asked";
  }
  // Adds or removes `base` cut to each length in [first, last].
  void blockLengths(const char* base, unsigned first, unsigned last, bool add) {
    std::string err;
    for (unsigned len = first; len <= last; ++len) {
      const Prefix p = Prefix::of(*Address::parse(base), len);
      ASSERT_TRUE(add ? prog_->blockAdd(p, err) : prog_->blockRemove(p)) << p.toString() << err;
    }
  }
  Reason from(const char* src) {
    PacketSpec s;
    s.src = src;
    s.dst = std::string(src).find(':') != std::string::npos ? "2001:db8::50" : "10.0.0.50";
    Bytes frame = buildPacket(s);
    return run(frame);
  }
};

TEST_P(XdpFilter, AnIpv4SourceIsAskedForByTheBitOfItsSlash24WhateverTheLengths) {
  ASSERT_NO_FATAL_FAILURE(blockThenClearItsBit("10.7.7.7"));
  // Nine more lengths: the bits of the /24s under them, and still no lookup for 10.7.7.0/24.
  ASSERT_NO_FATAL_FAILURE(blockLengths("172.16.0.0", 8, 16, true));
  EXPECT_EQ(from("10.7.7.7"), Reason::kPassNotOurs) << "its bit is still clear";
  EXPECT_EQ(from("172.16.200.1"), Reason::kBlocklist);  // under the /8 .. /16
  EXPECT_EQ(from("172.200.0.1"), Reason::kBlocklist);   // under the /8 only
  ASSERT_NO_FATAL_FAILURE(blockLengths("172.16.0.0", 9, 16, false));
  EXPECT_EQ(from("172.16.200.1"), Reason::kBlocklist) << "the /8 keeps its bits";
  ASSERT_TRUE(prog_->blockRemove(*Prefix::parse("172.0.0.0/8")));
  EXPECT_EQ(from("172.16.200.1"), Reason::kPassNotOurs);
  ASSERT_TRUE(prog_->blockRemove(*Prefix::parse("10.7.7.7/32")));
  // Every bit the entries set is clear again: the IPv4 words are all zero.
  std::vector<std::uint64_t> words(XLB_BLOCK_FILTER_V4_WORDS);
  ASSERT_EQ(
      prog_->runtime().lookupArray(XdpMap::kBlockFilter, XLB_BLOCK_FILTER_V4_WORDS, words.data()),
      0);
  EXPECT_EQ(std::count(words.begin(), words.end(), 0u), std::ptrdiff_t{XLB_BLOCK_FILTER_V4_WORDS});
}

TEST_P(XdpFilter, AnIpv6SourceIsAskedForByItsLengthsOrAlwaysWhenThereAreTooMany) {
  ASSERT_NO_FATAL_FAILURE(blockThenClearItsBit("2001:db8:7::7"));
  // Nine more lengths: more than XLB_BLOCK_FILTER_LENS, so the filter is not used for IPv6.
  ASSERT_NO_FATAL_FAILURE(blockLengths("2001:db9:ff::", 40, 48, true));
  EXPECT_EQ(from("2001:db8:7::7"), Reason::kBlocklist) << "the maps decide again";
  EXPECT_EQ(from("2001:db9:ff::1"), Reason::kBlocklist);
  // Back to two lengths: the filter again, and the loader's bits are right for every entry.
  ASSERT_NO_FATAL_FAILURE(blockLengths("2001:db9:ff::", 41, 48, false));
  EXPECT_EQ(from("2001:db9:ff::1"), Reason::kBlocklist) << "the /40";
  EXPECT_EQ(from("2001:dba::1"), Reason::kPassNotOurs);  // outside 2001:db9::/40
  EXPECT_EQ(from("2001:db8:7::7"), Reason::kPassNotOurs) << "its bit is clear again";
}

// A blocklist add is whole or refused: when the filter bit or the config map cannot be written,
// the source would pass while the entry sat in the map, so the add is undone with an error.
// The kernel refuses the write for real: the map is frozen (BPF_MAP_FREEZE) behind the loader.
class XdpMapWrites : public XdpFixture {
 protected:
  // Freezes the program's map whose name starts with `name` (the kernel keeps 15 characters).
  void freeze(const std::string& name) {
    std::array<std::uint32_t, 32> ids{};
    bpf_prog_info info{};
    info.nr_map_ids = ids.size();
    info.map_ids = reinterpret_cast<std::uintptr_t>(ids.data());
    std::uint32_t len = sizeof info;
    ASSERT_EQ(bpf_obj_get_info_by_fd(prog_->progFd(), &info, &len), 0);
    for (std::uint32_t i = 0; i < info.nr_map_ids; ++i) {
      const int fd = bpf_map_get_fd_by_id(ids[i]);
      ASSERT_GE(fd, 0);
      bpf_map_info m{};
      std::uint32_t mlen = sizeof m;
      const bool match = bpf_obj_get_info_by_fd(fd, &m, &mlen) == 0 &&
                         name.substr(0, BPF_OBJ_NAME_LEN - 1) == m.name;
      const int err = match ? bpf_map_freeze(fd) : 0;
      close(fd);
      ASSERT_EQ(err, 0);
      if (match) return;
    }
    FAIL() << "no map " << name;
  }

  void expectRefusedAndGone(const std::string& what) {
    std::string err;
    const Prefix entry = *Prefix::parse("10.7.7.7/32");
    for (int round = 0; round < 2; ++round) {  // the second add fails the same way: not "exists"
      bool exists = true;
      EXPECT_FALSE(prog_->blockAdd(entry, err, &exists));
      EXPECT_FALSE(exists);
      EXPECT_NE(err.find(what), std::string::npos) << err;
    }
    EXPECT_EQ(prog_->blockCount(), 0u);
    EXPECT_FALSE(prog_->blockHits(entry).has_value());
    const BlockFilter shape(prog_->options().blocklistCapacity);
    const auto word = static_cast<std::uint32_t>(shape.bitOf(entry) >> 6);
    std::uint64_t value = 1;
    ASSERT_EQ(prog_->runtime().lookup(XdpMap::kBlockFilter, &word, &value), 0);
    EXPECT_EQ(value, 0u) << "the filter's bit is clear again";
  }
};

TEST_P(XdpMapWrites, BlocklistAddIsUndoneWhenItsFilterBitCannotBeWritten) {
  freeze("xlb_block_filter");
  expectRefusedAndGone("cannot write the blocklist filter");
}

TEST_P(XdpMapWrites, BlocklistAddIsUndoneWhenTheConfigCannotBeWritten) {
  freeze("xlb_cfg");
  expectRefusedAndGone("cannot write the config map");
  PacketSpec s;
  s.src = "10.7.7.7";
  s.dst = "10.0.0.50";
  Bytes frame = buildPacket(s);
  EXPECT_EQ(run(frame), Reason::kPassNotOurs);
}

// The config map is written only when a change moves its blocklist fields (which maps hold
// entries, IPv6's lengths): with it frozen after the first address, more addresses still go in
// and block, and the first prefix, which needs the trie asked, is refused.
TEST_P(XdpMapWrites, BlocklistAddsThatChangeNoConfigFieldDoNotWriteIt) {
  std::string err;
  ASSERT_TRUE(prog_->blockAdd(*Prefix::parse("10.7.7.7/32"), err)) << err;
  freeze("xlb_cfg");
  ASSERT_TRUE(prog_->blockAdd(*Prefix::parse("10.8.8.8/32"), err)) << err;
  PacketSpec s;
  s.src = "10.8.8.8";
  s.dst = "10.0.0.50";
  Bytes frame = buildPacket(s);
  EXPECT_EQ(run(frame), Reason::kBlocklist);
  EXPECT_FALSE(prog_->blockAdd(*Prefix::parse("10.9.0.0/16"), err));
  EXPECT_NE(err.find("cannot write the config map"), std::string::npos) << err;
  EXPECT_EQ(prog_->blockCount(), 2u);
}

// A removal stands when the config map cannot be written after it (the entry is gone from its
// map, so the source passes; the stale length only costs a probe), and the failure is logged.
TEST_P(XdpMapWrites, BlocklistRemoveStandsAndIsLoggedWhenTheConfigCannotBeWritten) {
  const Prefix entry = *Prefix::parse("10.7.7.7/32");
  std::string err;
  ASSERT_TRUE(prog_->blockAdd(entry, err)) << err;
  freeze("xlb_cfg");
  std::ostringstream log;
  const auto previous = spdlog::default_logger();
  spdlog::set_default_logger(std::make_shared<spdlog::logger>(
      "capture", std::make_shared<spdlog::sinks::ostream_sink_st>(log)));
  const bool removed = prog_->blockRemove(entry);
  spdlog::set_default_logger(previous);
  EXPECT_TRUE(removed);
  EXPECT_EQ(prog_->blockCount(), 0u);
  EXPECT_FALSE(prog_->blockHits(entry).has_value());
  EXPECT_NE(log.str().find("10.7.7.7/32 removed, but cannot write the config map"),
            std::string::npos)
      << log.str();
  PacketSpec s;
  s.src = "10.7.7.7";
  s.dst = "10.0.0.50";
  Bytes frame = buildPacket(s);
  EXPECT_EQ(run(frame), Reason::kPassNotOurs);
}

INSTANTIATE_TEST_SUITE_P(Kernel, XdpMapWrites, ::testing::Values(XdpRuntimeKind::kKernel),
                         runtimeName);

INSTANTIATE_TEST_SUITE_P(Runtimes, Xdp,
                         ::testing::Values(XdpRuntimeKind::kKernel, XdpRuntimeKind::kNative),
                         runtimeName);
INSTANTIATE_TEST_SUITE_P(Runtimes, XdpFilter,
                         ::testing::Values(XdpRuntimeKind::kKernel, XdpRuntimeKind::kNative),
                         runtimeName);

}  // namespace
}  // namespace xlb::testing
