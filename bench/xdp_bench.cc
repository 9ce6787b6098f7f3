// SPDX-License-Identifier: Apache-2.0
// XDP cost per packet, for the program in the kernel (BPF_PROG_TEST_RUN, root; argument
// native:0) and for its native build (native:1, the simulator's default). Each iteration runs one
// frame `repeat` times; the mean time per run is the figure (counter ns_per_pkt): the wall clock
// around the call over its 5,000,000 runs (the kernel's own per-run mean is a whole number of ns,
// too coarse at 4-20 ns), or around the native runs (which copy the frame in each time, as a
// replay does). "Random sources" runs a different frame per call (kernel: repeat 1), so the
// blocklist lookups miss the cache as real traffic from many sources would; the kernel's figure
// includes the test-run call's own per-run overhead, measured by the Pass case with repeat 1.
//
// Every kernel figure is also read against the empty program (`return XDP_PASS;`) run in the
// same process on the same frame, the same way (repeated, or once per call): counters
// `empty_ns` and `x_empty`, the ratio the per-packet goals are stated in (docs/ARCHITECTURE.md,
// "The XDP program").
#include <arpa/inet.h>
#include <benchmark/benchmark.h>
#include <bpf/bpf.h>
#include <linux/bpf.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <random>

#include "harness.h"
#include "xdp_floor.skel.h"
#include "xlb/xdp_program.h"

namespace xlb {
namespace {

using testing::Bytes;
using testing::PacketSpec;

// Runs per call of a repeated case. A kernel test run re-registers the program with the XDP
// dispatcher on every call (a text patch, ~0.4 ms here), so the wall clock needs millions of runs
// per call for that to vanish (0.08 ns per run at 5,000,000); the native build has no such cost.
constexpr std::uint32_t kRepeatKernel = 5'000'000;
constexpr std::uint32_t kRepeatNative = 100'000;
constexpr std::size_t kBlocked = 1'000'000;

struct Loaded {
  std::unique_ptr<XdpProgram> prog;
  std::vector<std::uint32_t> blocked;  // IPv4 addresses on the blocklist (host order)
};

Config benchConfig(SynFloodMode mode) {
  Config c = testing::testConfig();
  for (VipConfig& v : c.vips) v.synFlood.mode = mode;
  return c;
}

XdpRuntimeKind kindOf(const benchmark::State& state) {
  return state.range(0) != 0 ? XdpRuntimeKind::kNative : XdpRuntimeKind::kKernel;
}

// One program per runtime for every benchmark: loading 1,000,000 prefixes takes a few seconds.
Loaded load(XdpRuntimeKind kind) {
  {
    Loaded x;
    std::string err;
    XdpOptions o;
    o.runtime = kind;
    o.blocklistCapacity = kBlocked + 1000;
    x.prog = XdpProgram::load(o, err);
    if (!x.prog) {
      std::fprintf(stderr, "xlb-bench-xdp: %s\n", err.c_str());
      std::exit(1);
    }
    x.prog->applyConfig(benchConfig(SynFloodMode::kOff), CookieKey{1, 2}, err);
    // 1,000,000 addresses in 100.64.0.0/10 plus 1000 /24 prefixes in 198.18.0.0/15.
    std::mt19937 rng(7);
    for (std::size_t i = 0; x.blocked.size() < kBlocked; ++i) {
      const std::uint32_t a = 0x64400000u | (rng() & 0x003fffffu);
      Address addr{};
      addr.family = Family::kV4;
      for (int b = 0; b < 4; ++b)
        addr.ip.bytes[static_cast<std::size_t>(b)] = static_cast<std::uint8_t>(a >> (24 - 8 * b));
      bool exists = false;
      if (x.prog->blockAdd(Prefix{addr, 32}, err, &exists)) x.blocked.push_back(a);
    }
    for (std::uint32_t i = 0; i < 1000; ++i) {
      const std::uint32_t a = 0xc6120000u | (i << 8);
      Address addr{};
      addr.family = Family::kV4;
      for (int b = 0; b < 4; ++b)
        addr.ip.bytes[static_cast<std::size_t>(b)] = static_cast<std::uint8_t>(a >> (24 - 8 * b));
      x.prog->blockAdd(Prefix{addr, 24}, err);
    }
    return x;
  }
}

Loaded& loaded(XdpRuntimeKind kind) {
  static Loaded kernel = load(XdpRuntimeKind::kKernel);
  static Loaded native = load(XdpRuntimeKind::kNative);
  return kind == XdpRuntimeKind::kKernel ? kernel : native;
}

Loaded& loaded(const benchmark::State& state) {
  return loaded(kindOf(state));
}

// The kernel's mean ns per run of the program `fd` over `frames`, each run `repeat` times,
// `rounds` times over: the wall clock over the runs when repeated (as runRepeated reads xlb's),
// the kernel's own figure once per call (as runOnce reads it). 0 if a run failed or did not
// answer `wantAction`.
double kernelMeanNs(int fd, const std::vector<Bytes>& frames, std::uint32_t repeat,
                    std::size_t rounds, std::uint32_t wantAction = XDP_PASS) {
  double total = 0;
  for (std::size_t i = 0; i < rounds; ++i) {
    Bytes in = frames[i % frames.size()];
    Bytes out(in.size() + 512);
    bpf_test_run_opts o{};
    o.sz = sizeof o;
    o.data_in = in.data();
    o.data_size_in = static_cast<std::uint32_t>(in.size());
    o.data_out = out.data();
    o.data_size_out = static_cast<std::uint32_t>(out.size());
    o.repeat = static_cast<int>(repeat);
    const auto t0 = std::chrono::steady_clock::now();
    if (bpf_prog_test_run_opts(fd, &o) != 0 || o.retval != wantAction) return 0;
    const std::chrono::duration<double, std::nano> d = std::chrono::steady_clock::now() - t0;
    total += repeat > 1 ? d.count() / repeat : o.duration;
  }
  return total / static_cast<double>(rounds);
}

// The empty XDP program, loaded from two instructions: the floor every figure is read against.
class EmptyProgram {
 public:
  EmptyProgram() {
    bpf_insn insns[2] = {};
    insns[0].code = BPF_ALU64 | BPF_MOV | BPF_K;  // r0 = XDP_PASS
    insns[0].imm = XDP_PASS;
    insns[1].code = BPF_JMP | BPF_EXIT;
    fd_ = bpf_prog_load(BPF_PROG_TYPE_XDP, "xlb_empty", "GPL", insns, 2, nullptr);
    if (fd_ < 0) {
      std::fprintf(stderr, "xlb-bench-xdp: cannot load the empty program (%d)\n", fd_);
      std::exit(1);
    }
  }
  double meanNs(const std::vector<Bytes>& frames, std::uint32_t repeat, std::size_t rounds) const {
    return kernelMeanNs(fd_, frames, repeat, rounds);
  }

 private:
  int fd_ = -1;
};

const EmptyProgram& emptyProgram() {
  static const EmptyProgram p;
  return p;
}

// The kernel's figure against the empty program's on the same frames, the same way.
void againstEmpty(benchmark::State& state, double ns, const std::vector<Bytes>& frames,
                  std::uint32_t repeat, std::size_t rounds) {
  if (kindOf(state) != XdpRuntimeKind::kKernel) return;
  const double empty = emptyProgram().meanNs(frames, repeat, rounds);
  state.counters["empty_ns"] = empty;
  state.counters["x_empty"] = empty > 0 ? ns / empty : 0;
}

std::string ipv4(std::uint32_t a) {
  return std::to_string(a >> 24) + "." + std::to_string((a >> 16) & 255) + "." +
         std::to_string((a >> 8) & 255) + "." + std::to_string(a & 255);
}

// Runs `frame` with repeat; reports the mean ns per run (the wall clock over the call).
void runRepeated(benchmark::State& state, XdpProgram& prog, const Bytes& frame, int wantAction) {
  const std::uint32_t repeat =
      prog.runtime().kind() == XdpRuntimeKind::kKernel ? kRepeatKernel : kRepeatNative;
  double total = 0;
  std::uint64_t n = 0;
  for (auto _ : state) {
    Bytes f = frame;
    const auto t0 = std::chrono::steady_clock::now();
    const XdpProgram::RunResult r = prog.run(f, repeat);
    const std::chrono::duration<double> d = std::chrono::steady_clock::now() - t0;
    if (r.action != wantAction) {
      state.SkipWithError("unexpected XDP action");
      return;
    }
    total += d.count() * 1e9 / repeat;
    ++n;
    state.SetIterationTime(d.count());
  }
  state.counters["ns_per_pkt"] = n ? total / static_cast<double>(n) : 0;
  state.SetItemsProcessed(static_cast<std::int64_t>(n) * repeat);
  againstEmpty(state, n ? total / static_cast<double>(n) : 0, {frame}, repeat, 20);
}

// Runs one of `frames` per call (kernel: repeat 1), round robin; reports the mean ns per run
// (native: the wall clock over chunks of runs).
void runOnce(benchmark::State& state, XdpProgram& prog, const std::vector<Bytes>& frames,
             int wantAction) {
  double total = 0;
  std::uint64_t n = 0;
  std::size_t i = 0;
  if (prog.runtime().kind() == XdpRuntimeKind::kNative) {
    constexpr std::size_t kChunk = 64;  // frames per timed iteration: the clock costs a run
    for (auto _ : state) {
      const auto t0 = std::chrono::steady_clock::now();
      bool ok = true;
      for (std::size_t k = 0; k < kChunk; ++k) {
        ok = prog.runFrame(frames[i++ % frames.size()]).action == wantAction && ok;
      }
      const double sec =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      if (!ok) {
        state.SkipWithError("unexpected XDP action");
        return;
      }
      state.SetIterationTime(sec);
      total += sec * 1e9;
      n += kChunk;
    }
    state.counters["ns_per_pkt"] = n ? total / static_cast<double>(n) : 0;
    return;
  }
  for (auto _ : state) {
    Bytes f = frames[i++ % frames.size()];
    const XdpProgram::RunResult r = prog.run(f, 1);
    if (r.action != wantAction) {
      state.SkipWithError("unexpected XDP action");
      break;
    }
    total += r.durationNs;
    ++n;
    state.SetIterationTime(static_cast<double>(r.durationNs) / 1e9);
  }
  state.counters["ns_per_pkt"] = n ? total / static_cast<double>(n) : 0;
  againstEmpty(state, n ? total / static_cast<double>(n) : 0, frames, 1, 200000);
}

void BM_BlocklistDropSameSource(benchmark::State& state) {
  PacketSpec s;
  s.src = ipv4(loaded(state).blocked[12345]);
  runRepeated(state, *loaded(state).prog, testing::buildPacket(s), XDP_DROP);
}
BENCHMARK(BM_BlocklistDropSameSource)
    ->ArgName("native")
    ->Arg(0)
    ->Arg(1)
    ->UseManualTime()
    ->Iterations(20);

void BM_BlocklistDropRandomSources(benchmark::State& state) {
  Loaded& l = loaded(state);
  std::vector<Bytes> frames;
  std::mt19937 rng(11);
  for (int i = 0; i < 4096; ++i) {
    PacketSpec s;
    s.src = ipv4(l.blocked[rng() % l.blocked.size()]);
    frames.push_back(testing::buildPacket(s));
  }
  runOnce(state, *l.prog, frames, XDP_DROP);
}
BENCHMARK(BM_BlocklistDropRandomSources)
    ->ArgName("native")
    ->Arg(0)
    ->Arg(1)
    ->UseManualTime()
    ->Iterations(200000);

// The per-call overhead of repeat-1 runs (to read the random-source figure against).
void BM_PassRepeat1(benchmark::State& state) {
  PacketSpec s;
  s.dst = "10.0.0.50";
  runOnce(state, *loaded(state).prog, {testing::buildPacket(s)}, XDP_PASS);
}
BENCHMARK(BM_PassRepeat1)->ArgName("native")->Arg(0)->Arg(1)->UseManualTime()->Iterations(200000);

void BM_HostTrafficPass(benchmark::State& state) {
  PacketSpec s;
  s.dst = "10.0.0.50";
  runRepeated(state, *loaded(state).prog, testing::buildPacket(s), XDP_PASS);
}
BENCHMARK(BM_HostTrafficPass)->ArgName("native")->Arg(0)->Arg(1)->UseManualTime()->Iterations(20);

// Host traffic from a source whose /24 holds entries but which is on no list: the filter's bit
// is set, so it pays both maps' misses (the exact hash and the trie). A million addresses spread
// over all of IPv4 set the bits of about 5.8 % of /24s; host traffic from those pays this.
void BM_HostTrafficPassFilterBitSet(benchmark::State& state) {
  std::vector<std::uint32_t> sorted = loaded(state).blocked;
  std::sort(sorted.begin(), sorted.end());
  std::uint32_t a = sorted[12345] + 1;
  while (std::binary_search(sorted.begin(), sorted.end(), a)) ++a;  // a neighbour not listed
  PacketSpec s;
  s.src = ipv4(a);
  s.dst = "10.0.0.50";
  runRepeated(state, *loaded(state).prog, testing::buildPacket(s), XDP_PASS);
}
BENCHMARK(BM_HostTrafficPassFilterBitSet)
    ->ArgName("native")
    ->Arg(0)
    ->Arg(1)
    ->UseManualTime()
    ->Iterations(20);

// Host traffic from 4,096 sources none of the entries covers, one per call: the blocklist's
// misses as traffic from many sources meets them, out of the cache (read against
// BM_PassRepeat1, the same call around one source, and the empty program run the same way).
void BM_HostTrafficPassRandomSources(benchmark::State& state) {
  std::vector<Bytes> frames;
  std::mt19937 rng(13);
  for (int i = 0; i < 4096; ++i) {
    PacketSpec s;
    s.src = ipv4(0x0b000000u | (rng() & 0x00ffffffu));  // 11.0.0.0/8: on no list
    s.dst = "10.0.0.50";
    frames.push_back(testing::buildPacket(s));
  }
  runOnce(state, *loaded(state).prog, frames, XDP_PASS);
}
BENCHMARK(BM_HostTrafficPassRandomSources)
    ->ArgName("native")
    ->Arg(0)
    ->Arg(1)
    ->UseManualTime()
    ->Iterations(200000);

// The same pass with nothing on the blocklist: what the blocklist stage costs everyone else.
void BM_HostTrafficPassEmptyBlocklist(benchmark::State& state) {
  static std::unique_ptr<XdpProgram> empty = [] {
    std::string err;
    auto p = XdpProgram::load(XdpOptions{}, err);
    if (p) p->applyConfig(benchConfig(SynFloodMode::kOff), CookieKey{1, 2}, err);
    return p;
  }();
  static std::unique_ptr<XdpProgram> emptyNative = [] {
    std::string err;
    XdpOptions o;
    o.runtime = XdpRuntimeKind::kNative;
    auto p = XdpProgram::load(o, err);
    if (p) p->applyConfig(benchConfig(SynFloodMode::kOff), CookieKey{1, 2}, err);
    return p;
  }();
  PacketSpec s;
  s.dst = "10.0.0.50";
  runRepeated(state, kindOf(state) == XdpRuntimeKind::kNative ? *emptyNative : *empty,
              testing::buildPacket(s), XDP_PASS);
}
BENCHMARK(BM_HostTrafficPassEmptyBlocklist)
    ->ArgName("native")
    ->Arg(0)
    ->Arg(1)
    ->UseManualTime()
    ->Iterations(20);

// The reference programs of bench/xdp_floor.bpf.c (kernel only), loaded once: the blocklist on
// in their config, the same 1,000,000 addresses as xlb's in their exact-match map and their
// /24s' bits set, no destination bit set.
xdp_floor& floorPrograms() {
  static xdp_floor* skel = [] {
    xdp_floor* k = xdp_floor__open_and_load();
    if (k == nullptr) {
      std::fprintf(stderr, "xlb-bench-xdp: cannot load xdp_floor.bpf.o\n");
      std::exit(1);
    }
    std::vector<std::uint8_t> cfg(bpf_map__value_size(k->maps.floor_cfg), 0);
    cfg[1] = 1;  // block_maps
    const std::uint32_t zero = 0;
    bool ok =
        bpf_map__update_elem(k->maps.floor_cfg, &zero, sizeof zero, cfg.data(), cfg.size(), 0) == 0;
    std::vector<std::uint32_t> keys;
    std::map<std::uint32_t, std::uint64_t> words;
    for (const std::uint32_t a : loaded(XdpRuntimeKind::kKernel).blocked) {
      keys.push_back(htonl(a));
      words[a >> 14] |= std::uint64_t{1} << ((a >> 8) & 63);
    }
    std::vector<std::uint64_t> hits(keys.size() * 2, 0);  // struct floor_hit: hits, last_jiffies
    std::uint32_t n = static_cast<std::uint32_t>(keys.size());
    ok = ok && bpf_map_update_batch(bpf_map__fd(k->maps.floor_block4), keys.data(), hits.data(), &n,
                                    nullptr) == 0;
    for (const auto& [w, bits] : words) {
      ok = ok && bpf_map__update_elem(k->maps.floor_block_filter, &w, sizeof w, &bits, sizeof bits,
                                      0) == 0;
    }
    if (!ok) {
      std::fprintf(stderr, "xlb-bench-xdp: cannot fill xdp_floor's maps\n");
      std::exit(1);
    }
    return k;
  }();
  return *skel;
}

// Times a reference program on `frame` as runRepeated times xlb's.
void runFloor(benchmark::State& state, bpf_program* prog, const Bytes& frame,
              std::uint32_t wantAction) {
  const int fd = bpf_program__fd(prog);
  double total = 0;
  std::uint64_t n = 0;
  for (auto _ : state) {
    const double ns = kernelMeanNs(fd, {frame}, kRepeatKernel, 1, wantAction);
    if (ns == 0) {
      state.SkipWithError("the reference program failed or answered another action");
      return;
    }
    total += ns;
    ++n;
    state.SetIterationTime(ns * kRepeatKernel / 1e9);
  }
  state.counters["ns_per_pkt"] = n ? total / static_cast<double>(n) : 0;
  const double empty = emptyProgram().meanNs({frame}, kRepeatKernel, 20);
  state.counters["empty_ns"] = empty;
  state.counters["x_empty"] = empty > 0 ? state.counters["ns_per_pkt"] / empty : 0;
}

// On BM_HostTrafficPass's frame: 0 Ethernet and IPv4 checks and a counter; 1 xlb's duties for
// that frame written leanly; 2 the same without the blocklist bit.
void BM_FloorPass(benchmark::State& state) {
  xdp_floor& f = floorPrograms();
  bpf_program* progs[] = {f.progs.floor_parse, f.progs.floor_duties, f.progs.floor_no_block};
  PacketSpec s;
  s.dst = "10.0.0.50";
  runFloor(state, progs[state.range(0)], testing::buildPacket(s), XDP_PASS);
}
BENCHMARK(BM_FloorPass)->ArgName("floor")->DenseRange(0, 2)->UseManualTime()->Iterations(20);

// On BM_BlocklistDropSameSource's frame: the lean duties' drop (hash hit, hit recorded).
void BM_FloorDrop(benchmark::State& state) {
  PacketSpec s;
  s.src = ipv4(loaded(XdpRuntimeKind::kKernel).blocked[12345]);
  runFloor(state, floorPrograms().progs.floor_duties, testing::buildPacket(s), XDP_DROP);
}
BENCHMARK(BM_FloorDrop)->UseManualTime()->Iterations(20);

void BM_PortFilterDrop(benchmark::State& state) {
  PacketSpec s;
  s.dport = 22;
  runRepeated(state, *loaded(state).prog, testing::buildPacket(s), XDP_DROP);
}
BENCHMARK(BM_PortFilterDrop)->ArgName("native")->Arg(0)->Arg(1)->UseManualTime()->Iterations(20);

// An established flow's packet up to the redirect decision (no socket in a test run: the
// fail-closed fallback; the kernel's redirect itself is not part of a test run).
void BM_EstablishedToEngine(benchmark::State& state) {
  PacketSpec s;
  s.flags = 0x10;
  s.payload.assign(100, 'x');
  runRepeated(state, *loaded(state).prog, testing::buildPacket(s), XDP_DROP);
}
BENCHMARK(BM_EstablishedToEngine)
    ->ArgName("native")
    ->Arg(0)
    ->Arg(1)
    ->UseManualTime()
    ->Iterations(20);

// The same packet with automatic blocking on: what the per-source meter (one LRU lookup and
// atomic adds on the source's entry) adds to every packet to a VIP.
void BM_EstablishedToEngineAutoBlock(benchmark::State& state) {
  std::string err;
  Config c = benchConfig(SynFloodMode::kOff);
  c.autoBlock.mode = AutoBlockMode::kBlock;
  loaded(state).prog->applyConfig(c, CookieKey{1, 2}, err);
  PacketSpec s;
  s.flags = 0x10;
  s.payload.assign(100, 'x');
  runRepeated(state, *loaded(state).prog, testing::buildPacket(s), XDP_DROP);
  loaded(state).prog->applyConfig(benchConfig(SynFloodMode::kOff), CookieKey{1, 2}, err);
}
BENCHMARK(BM_EstablishedToEngineAutoBlock)
    ->ArgName("native")
    ->Arg(0)
    ->Arg(1)
    ->UseManualTime()
    ->Iterations(20);

// The program rewrites the SYN into the SYN-ACK, so a repeated run would see its own output:
// one run per call here, read against BM_PassRepeat1 (the same call overhead around a pass).
void BM_SynCookieSynAck(benchmark::State& state) {
  std::string err;
  loaded(state).prog->applyConfig(benchConfig(SynFloodMode::kAlways), CookieKey{1, 2}, err);
  PacketSpec s;
  s.tcpOptions = testing::concat({testing::optMss(1460), testing::optSackPermitted(),
                                  testing::optTimestamp(1, 0), testing::optWscale(7)});
  runOnce(state, *loaded(state).prog, {testing::buildPacket(s)}, XDP_TX);
  loaded(state).prog->applyConfig(benchConfig(SynFloodMode::kOff), CookieKey{1, 2}, err);
}
BENCHMARK(BM_SynCookieSynAck)
    ->ArgName("native")
    ->Arg(0)
    ->Arg(1)
    ->UseManualTime()
    ->Iterations(200000);

}  // namespace
}  // namespace xlb

int main(int argc, char** argv) {
  if (geteuid() != 0) {
    std::fprintf(stderr, "xlb-bench-xdp: needs root (BPF_PROG_TEST_RUN); skipped\n");
    return 0;
  }
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  return 0;
}
