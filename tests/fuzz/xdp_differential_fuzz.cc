// SPDX-License-Identifier: Apache-2.0
// libFuzzer target: random frames through the XDP program's native build, under ASan and UBSan
// (`make fuzz`). As root the same frame also runs through the real object in the kernel and any
// difference (action, emitted bytes, what the program wrote to its maps) aborts with what
// differed (sim/xdp_diff.h); without root the native build runs alone and must give one of the
// four XDP actions and a frame no shorter than an Ethernet header.
//
// Input: byte 0 and 1 move the program's clock on by that many milliseconds (little-endian),
// bit 0 of byte 2 is the engine's half-open pressure, the rest is the frame. The configuration
// has an always-cookie VIP, an auto-mode VIP with a low threshold and a blocklist of exact and
// prefix entries in both families, so every stage is reachable.
#include <linux/bpf.h>
#include <sched.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>

#include "fixtures.h"
#include "xdp_diff.h"

namespace {

using namespace xlb;

constexpr CookieKey kKey{0x0123456789abcdefull, 0xfedcba9876543210ull};

Config fuzzConfig() {
  Config c = testing::testConfig();
  c.vips[0].synFlood.mode = SynFloodMode::kAlways;
  c.vips[1].synFlood.mode = SynFloodMode::kAuto;
  c.vips[1].synFlood.thresholdPps = 30;
  for (const char* p : {"10.9.0.0/16", "10.9.9.0/24", "10.0.0.66/32", "2001:db8:bad::/48",
                        "2001:db8:bad:1::7/128"}) {
    c.blocklist.push_back(*Prefix::parse(p));
  }
  return c;
}

struct State {
  std::unique_ptr<sim::XdpDiff> diff;  // root: both runtimes
  std::unique_ptr<XdpProgram> native;  // otherwise: the native build alone
  TimeNs now = 1000 * kNsPerSec;
};

State& state() {
  static State s;
  return s;
}

bool setUp(const Config& c) {
  State& s = state();
  std::string err;
  XdpOptions o;
  o.simRedirect = true;
  if (geteuid() == 0) s.diff = sim::XdpDiff::load(o, err);
  if (s.diff) {
    if (!s.diff->apply(c, kKey, err)) return false;
    for (const Prefix& p : c.blocklist) s.diff->blockAdd(p, err);
    return true;
  }
  std::fprintf(stderr, "xdp-fuzz: native build only (%s)\n",
               err.empty() ? "not root" : err.c_str());
  o.runtime = XdpRuntimeKind::kNative;
  s.native = XdpProgram::load(o, err);
  if (!s.native || !s.native->applyConfig(c, kKey, err)) return false;
  for (const Prefix& p : c.blocklist) s.native->blockAdd(p, err);
  return true;
}

// Seeds: every fixture frame and a SYN to each VIP, with a zero clock step.
void writeSeeds(const std::string& dir) {
  std::filesystem::create_directories(dir);
  std::vector<testing::Bytes> frames;
  for (const testing::Fixture& f : testing::filterFixtures()) frames.push_back(f.frame);
  for (const char* dst : {"10.0.0.100", "2001:db8::100"}) {
    testing::PacketSpec s;
    s.src = dst[0] == '2' ? "2001:db8::1" : "10.0.0.1";
    s.dst = dst;
    s.tcpOptions = testing::concat(
        {testing::optMss(1460), testing::optSackPermitted(), testing::optWscale(7)});
    frames.push_back(testing::buildPacket(s));
  }
  for (std::size_t i = 0; i < frames.size(); ++i) {
    std::ofstream f(dir + "/seed-" + std::to_string(i), std::ios::binary);
    const char head[3] = {0, 0, 0};
    f.write(head, 3);
    f.write(reinterpret_cast<const char*>(frames[i].data()),
            static_cast<std::streamsize>(frames[i].size()));
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(0, &set);
  sched_setaffinity(0, sizeof set, &set);  // the kernel's per-CPU values on the native CPU 0
  if (const char* dir = std::getenv("XLB_FUZZ_SEEDS")) writeSeeds(dir);
  if (!setUp(fuzzConfig())) {
    std::fprintf(stderr, "xdp-fuzz: cannot load the program\n");
    std::abort();
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 3) return 0;
  State& s = state();
  s.now += static_cast<TimeNs>(data[0] | data[1] << 8) * kNsPerMs;
  const bool pressure = (data[2] & 1) != 0;
  const std::span<const std::uint8_t> frame(data + 3, size - 3);
  if (s.diff) {
    s.diff->setFixedNow(s.now);
    s.diff->setSynPressure(pressure);
    const std::string d = s.diff->run(frame);
    if (!d.empty()) {
      std::fprintf(stderr, "xdp-fuzz: kernel and native differ: %s\n", d.c_str());
      std::abort();
    }
    return 0;
  }
  s.native->setFixedNow(s.now);
  s.native->setSynPressure(pressure);
  const XdpRun r = s.native->runFrame(frame);
  const bool known = r.action == XDP_DROP || r.action == XDP_PASS || r.action == XDP_TX ||
                     r.action == XDP_REDIRECT;
  if (frame.size() >= 14 && (!known || r.frame.size() < 14)) {
    std::fprintf(stderr, "xdp-fuzz: action %d, %zu bytes out\n", r.action, r.frame.size());
    std::abort();
  }
  return 0;
}
