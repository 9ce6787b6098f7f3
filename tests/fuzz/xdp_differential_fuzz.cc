// SPDX-License-Identifier: Apache-2.0
// libFuzzer target: random frames through the XDP program's native build, under ASan and UBSan
// (`make fuzz`). As root the same frame also runs through the real object in the kernel and any
// difference (action, emitted bytes, what the program wrote to its maps) aborts with what
// differed (sim/xdp_diff.h); without root the native build runs alone and must give one of the
// four XDP actions and a frame no shorter than an Ethernet header. Either way every frame the
// program sends on (XDP_TX, XDP_REDIRECT) is one a receiver accepts: it parses, and its
// checksums and lengths hold if the input's did (fuzz_support.h).
//
// Input: byte 0 and 1 move the program's clock on by that many milliseconds (little-endian),
// bit 0 of byte 2 is the engine's half-open pressure, bit 1 picks the program as xlbd loads it
// (no socket on the queue, fail-open, its interface's MAC checked) instead of the simulator's
// (redirects reported), the rest
// is the frame. The configuration has an always-cookie VIP, an auto-mode VIP with a low
// threshold and a blocklist of exact and prefix entries in both families, so every stage is
// reachable. `make fuzz` reports the lines and branches of bpf/ the run reached.
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
#include "fuzz_support.h"
#include "pcapgen.h"
#include "xdp_diff.h"

namespace {

using namespace xlb;

constexpr CookieKey kKey{0x0123456789abcdefull, 0xfedcba9876543210ull};

Config fuzzConfig() {
  Config c = testing::udpTestConfig();
  c.vips[0].synFlood.mode = SynFloodMode::kAlways;
  c.vips[1].synFlood.mode = SynFloodMode::kAuto;
  c.vips[1].synFlood.thresholdPps = 30;
  c.autoBlock.mode = AutoBlockMode::kBlock;  // the meter and its crossings, at low limits
  c.autoBlock.limits = {3, 2, 20, 4, 0};
  for (const char* p : {"10.9.0.0/16", "10.9.9.0/24", "10.0.0.66/32", "2001:db8:bad::/48",
                        "2001:db8:bad:1::7/128"}) {
    c.blocklist.push_back(*Prefix::parse(p));
  }
  return c;
}

// One way of loading the program: both runtimes as root, the native build alone otherwise.
struct Program {
  std::unique_ptr<sim::XdpDiff> diff;
  std::unique_ptr<XdpProgram> native;
};

struct State {
  Program programs[2];  // the simulator's options; xlbd's with fail-open
  TimeNs now = 1000 * kNsPerSec;
};

State& state() {
  static State s;
  return s;
}

bool setUp(Program& p, const Config& c, const XdpOptions& o) {
  std::string err;
  if (geteuid() == 0) p.diff = sim::XdpDiff::load(o, err);
  if (p.diff) {
    if (!p.diff->apply(c, kKey, err)) return false;
    for (const Prefix& b : c.blocklist) p.diff->blockAdd(b, err);
    return true;
  }
  std::fprintf(stderr, "xdp-fuzz: native build only (%s)\n",
               err.empty() ? "not root" : err.c_str());
  XdpOptions native = o;
  native.runtime = XdpRuntimeKind::kNative;
  p.native = XdpProgram::load(native, err);
  if (!p.native || !p.native->applyConfig(c, kKey, err)) return false;
  for (const Prefix& b : c.blocklist) p.native->blockAdd(b, err);
  return true;
}

// SYNs to each VIP: with options, odd payload lengths (the checksum's tail), from blocked
// sources, and behind IPv6 extension header chains.
void addSyns(std::vector<testing::Bytes>& frames) {
  for (const char* dst : {"10.0.0.100", "2001:db8::100"}) {
    const bool v6 = dst[0] == '2';
    testing::PacketSpec s;
    s.src = v6 ? "2001:db8::1" : "10.0.0.1";
    s.dst = dst;
    s.tcpOptions = testing::concat(
        {testing::optMss(1460), testing::optSackPermitted(), testing::optWscale(7)});
    frames.push_back(testing::buildPacket(s));
    for (const std::size_t odd : {std::size_t{1}, std::size_t{3}}) {
      s.payload.assign(odd, 'x');
      frames.push_back(testing::buildPacket(s));
    }
    s.payload.clear();
    s.src = v6 ? "2001:db8:bad:1::7" : "10.9.9.9";
    frames.push_back(testing::buildPacket(s));
    if (v6) {
      s.src = "2001:db8::1";
      s.ipv6Ext = {{0, {}}, {43, {}}, {60, {}}};
      frames.push_back(testing::buildPacket(s));
      s.ipv6Ext = {{60, {}}, {0, {}}};  // hop-by-hop, but not first
      frames.push_back(testing::buildPacket(s));
    }
  }
}

// Seeds, each with a zero clock step: the fixture frames, the golden capture's, and addSyns'.
void writeSeeds(const std::string& dir) {
  std::filesystem::create_directories(dir);
  std::vector<testing::Bytes> frames;
  for (const testing::Fixture& f : testing::filterFixtures()) frames.push_back(f.frame);
  std::vector<sim::PcapFrame> golden;
  std::string err;
  sim::generate(sim::GenOptions{"mixed", 1, 0, 0}, golden, err);
  for (const sim::PcapFrame& f : golden) frames.push_back(f.data);
  addSyns(frames);
  for (std::size_t i = 0; i < frames.size(); ++i) {
    std::ofstream f(dir + "/seed-" + std::to_string(i), std::ios::binary);
    const char head[3] = {0, 0, 0};
    f.write(head, 3);
    f.write(reinterpret_cast<const char*>(frames[i].data()),
            static_cast<std::streamsize>(frames[i].size()));
  }
}

// A frame the program sends on (a cookie SYN-ACK, a frame for a peer, one for the workers).
void checkSent(std::span<const std::uint8_t> in, const XdpRun& r) {
  if (r.action != XDP_TX && r.action != XDP_REDIRECT) return;
  if (const std::string p = fuzz::frameProblem(in, r.frame, false); !p.empty()) {
    fuzz::finding("xdp-fuzz", p + ": " + fuzz::hex(in) + " -> " + fuzz::hex(r.frame));
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(0, &set);
  sched_setaffinity(0, sizeof set, &set);  // the kernel's per-CPU values on the native CPU 0
  if (const char* dir = std::getenv("XLB_FUZZ_SEEDS")) writeSeeds(dir);
  XdpOptions sim;
  sim.simRedirect = true;
  XdpOptions xlbd;
  xlbd.failOpen = true;
  xlbd.localMac = *MacAddr::parse("02:00:00:00:00:02");  // the seeds' destination
  State& s = state();
  if (!setUp(s.programs[0], fuzzConfig(), sim) || !setUp(s.programs[1], fuzzConfig(), xlbd)) {
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
  Program& p = s.programs[(data[2] >> 1) & 1];
  const std::span<const std::uint8_t> frame(data + 3, size - 3);
  if (p.diff) {
    p.diff->setFixedNow(s.now);
    p.diff->setSynPressure(pressure);
    const std::string d = p.diff->run(frame);
    if (!d.empty()) {
      std::fprintf(stderr, "xdp-fuzz: kernel and native differ: %s\n", d.c_str());
      std::abort();
    }
    checkSent(frame, p.diff->lastNative());
    return 0;
  }
  p.native->setFixedNow(s.now);
  p.native->setSynPressure(pressure);
  const XdpRun r = p.native->runFrame(frame);
  const bool known = r.action == XDP_DROP || r.action == XDP_PASS || r.action == XDP_TX ||
                     r.action == XDP_REDIRECT;
  if (frame.size() >= 14 && (!known || r.frame.size() < 14)) {
    std::fprintf(stderr, "xdp-fuzz: action %d, %zu bytes out\n", r.action, r.frame.size());
    std::abort();
  }
  checkSent(frame, r);
  return 0;
}
