// SPDX-License-Identifier: Apache-2.0
// The native build of the XDP program against the real object in the kernel, frame for frame
// (sim/xdp_diff.h): the fixture table under every SYN mode and fallback, the golden and generated
// captures on their virtual clock, and seeded random frames. Any difference in the action, an
// emitted byte or a map the program writes fails with what differed. Under ASan+UBSan (make test)
// the native side runs instrumented, which the kernel's cannot be.
#include <gtest/gtest.h>
#include <linux/bpf.h>
#include <sched.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <random>

#include "fixtures.h"
#include "pcap_io.h"
#include "pcapgen.h"
#include "privileges.h"
#include "xdp_diff.h"
#include "xlb/config_yaml.h"

namespace xlb {
namespace {

using sim::XdpDiff;
using testing::Bytes;

constexpr CookieKey kKey{0x0123456789abcdefull, 0xfedcba9876543210ull};
constexpr TimeNs kNow = 1000 * kNsPerSec;

Config simConfig() {
  ConfigResult r = loadConfigFile(std::string(XLB_SOURCE_DIR) + "/pcaps/sim.yaml");
  return std::get<Config>(r);
}

class XdpDifferential : public ::testing::Test {
 protected:
  void SetUp() override {
    XLB_REQUIRE_ROOT();
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(0, &set);
    ASSERT_EQ(sched_setaffinity(0, sizeof set, &set), 0);
  }

  // The simulator's options (redirects reported) unless `o` says otherwise.
  void load(const Config& c, XdpOptions o = XdpOptions{.simRedirect = true}) {
    std::string err;
    o.blocklistCapacity = c.blocklistCapacity;
    diff_ = XdpDiff::load(o, err);
    ASSERT_NE(diff_, nullptr) << err;
    ASSERT_TRUE(diff_->apply(c, kKey, err)) << err;
    for (const Prefix& p : c.blocklist) ASSERT_TRUE(diff_->blockAdd(p, err)) << err;
    diff_->setFixedNow(kNow);
    ASSERT_EQ(diff_->compareAllMaps(), "");
  }

  // Runs the frame on both; false (with the finding reported) when they differ.
  bool same(std::span<const std::uint8_t> frame, const std::string& what) {
    const std::string d = diff_->run(frame);
    EXPECT_EQ(d, "") << what << " (" << frame.size() << " bytes)";
    return d.empty();
  }

  // A capture on its own clock, as the replay runs it.
  void replay(const std::vector<sim::PcapFrame>& frames, const std::string& name) {
    std::size_t i = 0;
    for (const sim::PcapFrame& f : frames) {
      diff_->setFixedNow(f.ts);
      if (!same(f.data, name + " frame " + std::to_string(i++))) return;
    }
    EXPECT_EQ(diff_->compareAllMaps(), "") << name;
  }

  std::unique_ptr<XdpDiff> diff_;
};

TEST_F(XdpDifferential, FixtureTableUnderEverySynMode) {
  for (const SynFloodMode mode : {SynFloodMode::kOff, SynFloodMode::kAlways, SynFloodMode::kAuto}) {
    for (const int fallback : {0, 1, 2}) {  // the simulator's; xlbd's fail-closed; fail-open
      Config c = testing::udpTestConfig();
      for (VipConfig& v : c.vips) {
        v.synFlood.mode = mode;
        v.synFlood.thresholdPps = 20;  // 2 SYNs per 100 ms window: auto mode switches here
      }
      XdpOptions o;
      o.simRedirect = fallback == 0;
      o.failOpen = fallback == 2;
      load(c, o);
      TimeNs t = kNow;
      for (int round = 0; round < 3; ++round) {
        for (const testing::Fixture& f : testing::filterFixtures()) {
          diff_->setFixedNow(t += 7 * kNsPerMs);
          same(f.frame, f.name + " mode " + std::string(enumName(mode)));
        }
      }
      EXPECT_EQ(diff_->compareAllMaps(), "");
    }
  }
}

TEST_F(XdpDifferential, GoldenAndGeneratedCaptures) {
  Config c = simConfig();
  std::vector<sim::PcapFrame> golden, established, flood;
  std::string err;
  ASSERT_TRUE(sim::readPcap(std::string(XLB_SOURCE_DIR) + "/pcaps/golden/mixed.pcap", golden, err))
      << err;
  ASSERT_TRUE(sim::generate(sim::GenOptions{"established", 3, 2000, 2}, established, err)) << err;
  ASSERT_TRUE(sim::generate(sim::GenOptions{"flood", 5, 5000, 0}, flood, err)) << err;
  load(c);
  replay(golden, "mixed.pcap");
  replay(established, "established");
  replay(flood, "flood");
  // The flood again at an auto-mode VIP whose threshold it crosses, with the engine's half-open
  // pressure switched on and off on the way.
  c.vips[1].synFlood.mode = SynFloodMode::kAuto;
  c.vips[1].synFlood.thresholdPps = 20000;  // 2000 per window; the capture sends 100,000
  load(c);
  std::vector<sim::PcapFrame> half(flood.begin(), flood.begin() + 2500);
  replay(half, "flood (auto)");
  diff_->setSynPressure(true);
  replay(std::vector<sim::PcapFrame>(flood.begin() + 2500, flood.end()), "flood (pressure)");
  diff_->setSynPressure(false);
  EXPECT_TRUE(diff_->kernel().synState(1).cookies);
}

// Seeded mutations of valid frames (bytes flipped, cut, grown, tags inserted) and raw random
// bytes, with the clock jumping between them: the parser's and the SYN answer's every edge.
TEST_F(XdpDifferential, RandomFrames) {
  Config c = simConfig();
  c.vips[1].synFlood.mode = SynFloodMode::kAuto;
  c.vips[1].synFlood.thresholdPps = 50;
  // Automatic blocking measures every source at low limits: crossings compared per frame, the
  // meter's entries at the end.
  c.autoBlock.mode = AutoBlockMode::kBlock;
  c.autoBlock.limits = {3, 2, 20, 4, 0};
  load(c);
  std::vector<Bytes> seeds;
  for (const testing::Fixture& f : testing::filterFixtures()) seeds.push_back(f.frame);
  std::vector<sim::PcapFrame> golden;
  std::string err;
  ASSERT_TRUE(sim::readPcap(std::string(XLB_SOURCE_DIR) + "/pcaps/golden/mixed.pcap", golden, err));
  for (const sim::PcapFrame& f : golden) seeds.push_back(f.data);

  std::mt19937_64 rng(20261201);
  auto below = [&](std::size_t n) { return static_cast<std::size_t>(rng() % n); };
  TimeNs t = kNow;
  constexpr int kFrames = 30000;
  for (int i = 0; i < kFrames; ++i) {
    Bytes f = seeds[below(seeds.size())];
    switch (below(6)) {
      case 0:  // a few bytes flipped anywhere
      case 1:
        for (std::size_t n = 1 + below(4); n > 0; --n) {
          f[below(f.size())] ^= static_cast<std::uint8_t>(1 + below(255));
        }
        break;
      case 2:  // cut short, or the length fields' bytes hit
        f.resize(below(f.size() + 1));
        break;
      case 3:  // grown with random bytes, sometimes past what a test run takes
        f.resize(f.size() + (below(50) == 0 ? 3500 + below(1000) : below(64)),
                 static_cast<std::uint8_t>(rng()));
        break;
      case 4:  // a VLAN tag inserted after the MAC addresses
        if (f.size() >= 12) {
          const Bytes tag = {0x81, 0x00, static_cast<std::uint8_t>(rng()), 0x05};
          f.insert(f.begin() + 12, tag.begin(), tag.end());
        }
        break;
      default:  // a header byte of the IP or TCP header set at random
        if (f.size() > 14)
          f[14 + below(std::min<std::size_t>(f.size() - 14, 60))] =
              static_cast<std::uint8_t>(rng());
        break;
    }
    t += static_cast<TimeNs>(below(3)) * static_cast<TimeNs>(below(80)) * kNsPerMs;
    diff_->setFixedNow(t);
    if (below(500) == 0) diff_->setSynPressure(below(2) == 0);
    if (!same(f, "random frame " + std::to_string(i))) break;
  }
  EXPECT_EQ(diff_->frames(), static_cast<std::uint64_t>(kFrames));
  EXPECT_EQ(diff_->compareAllMaps(), "");
  // The mutations reach most of the program's outcomes, not only the first parse check.
  std::size_t reasons = 0;
  for (const ReasonStat& r : diff_->kernel().stats()) reasons += r.packets != 0 ? 1 : 0;
  EXPECT_GE(reasons, 20u);
  std::printf("random frames: %zu of the program's reasons reached\n", reasons);
}

// Frames longer than a test run's linear part continue in page fragments the program cannot
// see; a SYN answered with a cookie then trims the fragments away before the linear part.
TEST_F(XdpDifferential, MultiBufferFrames) {
  load(simConfig());
  testing::PacketSpec s;
  s.dst = "10.0.0.101";  // cookies always
  s.tcpOptions = testing::optMss(1460);
  const Bytes syn = testing::buildPacket(s);
  s.flags = 0x10;
  const Bytes ack = testing::buildPacket(s);
  for (const Bytes& base : {syn, ack}) {
    for (const std::size_t len : {3519u, 3520u, 3521u, 3600u, 7616u, 7617u, 73152u, 73153u}) {
      Bytes f = base;
      f.resize(len, 0xab);
      same(f, "padded to " + std::to_string(len));
    }
  }
  EXPECT_EQ(diff_->compareAllMaps(), "");
}

// The comparison itself can fail: a native program given another cookie key answers the same
// SYN with other bytes, and a counter written on one side only is found.
TEST_F(XdpDifferential, FindsADifferenceWhenThereIsOne) {
  Config c = testing::udpTestConfig();
  for (VipConfig& v : c.vips) v.synFlood.mode = SynFloodMode::kAlways;
  load(c);
  std::string err;
  ASSERT_TRUE(diff_->native().applyConfig(c, CookieKey{1, 2}, err)) << err;
  testing::PacketSpec s;
  const Bytes syn = testing::buildPacket(s);
  EXPECT_NE(diff_->run(syn).find("output"), std::string::npos);
  ASSERT_TRUE(diff_->native().applyConfig(c, kKey, err)) << err;
  EXPECT_EQ(diff_->run(syn), "");
  std::vector<std::uint8_t> copy = syn;
  diff_->kernel().run(copy);  // one more SYN counted by the kernel only
  EXPECT_NE(diff_->compareAllMaps().find("xlb_stats"), std::string::npos);
}

// A blocklist value written on one side only is found by the next frame's comparison: right
// after the control plane added entries (the keys compared whole) and on later frames (each
// known key looked up on both sides instead of walking the maps).
TEST_F(XdpDifferential, FindsABlocklistValueOnOneSideOnly) {
  Config c = testing::udpTestConfig();
  c.blocklist = {*Prefix::parse("10.9.9.9/32"), *Prefix::parse("10.8.0.0/16")};
  load(c);
  const Bytes frame = testing::buildPacket(testing::PacketSpec{});
  const std::uint8_t exact[4] = {10, 9, 9, 9};
  const xlb_lpm4_key prefix{16, {10, 8, 0, 0}};
  const xlb_block_val hit{7, 1234};
  XdpRuntime& kernel = diff_->kernel().runtime();
  XdpRuntime& native = diff_->native().runtime();
  ASSERT_EQ(kernel.update(XdpMap::kBlock4, exact, &hit, BPF_EXIST), 0);
  EXPECT_NE(diff_->run(frame).find("xlb_block4 key 0a090909 differs"), std::string::npos);
  ASSERT_EQ(native.update(XdpMap::kBlock4, exact, &hit, BPF_EXIST), 0);
  ASSERT_TRUE(same(frame, "a frame"));
  ASSERT_EQ(native.update(XdpMap::kBlock4Lpm, &prefix, &hit, BPF_EXIST), 0);
  EXPECT_NE(diff_->run(frame).find("xlb_block4_lpm key 100000000a080000 differs"),
            std::string::npos);
  ASSERT_EQ(native.remove(XdpMap::kBlock4Lpm, &prefix), 0);
  EXPECT_NE(diff_->run(frame).find("xlb_block4_lpm key 100000000a080000 went"), std::string::npos);
}

// lookupArray (one batch call in the kernel) reads what a lookup per index reads, on both
// runtimes, and refuses more entries than the array has.
TEST_F(XdpDifferential, AnArrayReadInOneCallIsTheArrayReadKeyByKey) {
  Config c = testing::udpTestConfig();
  c.vips[0].synFlood.mode = SynFloodMode::kAlways;
  load(c);
  testing::PacketSpec s;
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(same(testing::buildPacket(s), "a SYN"));
  for (XdpProgram* p : {&diff_->kernel(), &diff_->native()}) {
    const XdpRuntime& rt = p->runtime();
    const XdpMapInfo info = rt.info(XdpMap::kStats);
    const std::size_t width = rt.valueBytes(XdpMap::kStats);
    Bytes all(width * info.maxEntries), one(width);
    ASSERT_EQ(rt.lookupArray(XdpMap::kStats, info.maxEntries, all.data()), 0);
    std::size_t nonZero = 0;
    for (std::uint32_t k = 0; k < info.maxEntries; ++k) {
      ASSERT_EQ(rt.lookup(XdpMap::kStats, &k, one.data()), 0);
      EXPECT_TRUE(
          std::equal(one.begin(), one.end(), all.begin() + static_cast<std::ptrdiff_t>(k * width)))
          << "index " << k;
      nonZero += std::any_of(one.begin(), one.end(), [](std::uint8_t b) { return b != 0; });
    }
    EXPECT_GT(nonZero, 0u);  // the SYNs' reason, at least
    Bytes more(width * (info.maxEntries + 1));
    EXPECT_EQ(rt.lookupArray(XdpMap::kStats, info.maxEntries + 1, more.data()), ENOENT);
  }
}

// updateArray (one batch call in the kernel) writes what an update per index writes, per-CPU
// arrays too, on both runtimes, and refuses indexes past the end; a single update's errors come
// in the kernel's order.
TEST_F(XdpDifferential, AnArrayWrittenInOneCallIsTheArrayWrittenKeyByKey) {
  load(testing::udpTestConfig());
  for (XdpProgram* p : {&diff_->kernel(), &diff_->native()}) {
    XdpRuntime& rt = p->runtime();
    for (XdpMap m : {XdpMap::kStats, XdpMap::kBlockFilter}) {
      const XdpMapInfo info = rt.info(m);
      const std::size_t width = rt.valueBytes(m);
      Bytes values(width * 3), zero(width, 0), one(width);
      for (std::size_t b = 0; b < values.size(); ++b) values[b] = static_cast<std::uint8_t>(b + 1);
      for (std::uint32_t k = 1; k < 6; ++k) ASSERT_EQ(rt.update(m, &k, zero.data(), BPF_ANY), 0);
      ASSERT_EQ(rt.updateArray(m, 2, 3, values.data()), 0) << layoutOf(m).name;
      for (std::uint32_t k = 1; k < 6; ++k) {
        ASSERT_EQ(rt.lookup(m, &k, one.data()), 0);
        const bool written = k >= 2 && k < 5;
        const auto want =
            written ? values.begin() + static_cast<std::ptrdiff_t>((k - 2) * width) : zero.begin();
        EXPECT_TRUE(std::equal(one.begin(), one.end(), want)) << layoutOf(m).name << " " << k;
      }
      EXPECT_EQ(rt.updateArray(m, info.maxEntries, 1, values.data()), E2BIG);
      // One at a time, the errors come in the kernel's order: flags, index, BPF_NOEXIST.
      const std::uint32_t past = info.maxEntries, two = 2;
      EXPECT_EQ(rt.update(m, &past, values.data(), 8), EINVAL) << layoutOf(m).name;
      EXPECT_EQ(rt.update(m, &past, values.data(), BPF_NOEXIST), E2BIG) << layoutOf(m).name;
      EXPECT_EQ(rt.update(m, &two, values.data(), BPF_NOEXIST), EEXIST) << layoutOf(m).name;
    }
  }
}

}  // namespace
}  // namespace xlb
