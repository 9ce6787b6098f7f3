// SPDX-License-Identifier: Apache-2.0
// Replay throughput of xlb-sim, in Mpps (frames per second over the replay loop, as the report's
// "rate" counts them), for three captures and three ways of running them:
//   captures: established (100,000 flows: one SYN each, then 4 rounds of 64-byte data segments
//             in random order), mixed (the golden input, looped 3,000 times), flood (100,000
//             spoofed SYNs at the cookie VIP, every tenth from a blocked prefix);
//   modes:    engine (no XDP stage), native (the XDP program's native build + engine: the
//             default) and kernel (the real object through BPF_PROG_TEST_RUN + engine; root).
// Names are BM_Replay/<capture>/<mode>; bench/plot_replay.py draws them.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include "pcap_io.h"
#include "pcapgen.h"
#include "replay.h"
#include "xlb/config_yaml.h"

namespace {

using namespace xlb;
using namespace xlb::sim;

struct Capture {
  const char* name;
  std::vector<PcapFrame> frames;
  std::uint32_t loops;
};

std::vector<Capture>& captures() {
  static std::vector<Capture> all = [] {
    std::vector<Capture> c;
    std::string err;
    Capture est{"established", {}, 1};
    generate(GenOptions{"established", 42, 100000, 4}, est.frames, err);
    Capture mixed{"mixed", {}, 3000};
    readPcap(std::string(XLB_SOURCE_DIR) + "/pcaps/golden/mixed.pcap", mixed.frames, err);
    Capture flood{"flood", {}, 1};
    generate(GenOptions{"flood", 42, 100000, 0}, flood.frames, err);
    c.push_back(std::move(est));
    c.push_back(std::move(mixed));
    c.push_back(std::move(flood));
    return c;
  }();
  return all;
}

enum class Mode { kEngine, kNative, kKernel };

void replayBench(benchmark::State& state, const Capture& cap, Mode mode) {
  if (mode == Mode::kKernel && geteuid() != 0) {
    state.SkipWithError("the kernel's XDP stage needs root");
    return;
  }
  ConfigResult r = loadConfigFile(std::string(XLB_SOURCE_DIR) + "/pcaps/sim.yaml");
  ReplayOptions o;
  o.config = std::get<Config>(r);
  o.xdp = mode != Mode::kEngine;
  o.xdpMode = mode == Mode::kKernel ? ReplayXdpMode::kKernel : ReplayXdpMode::kNative;
  o.loops = cap.loops;
  o.drain = false;
  std::uint64_t frames = 0;
  for (auto _ : state) {
    nlohmann::json report;
    std::string err;
    if (!replay(o, cap.frames, nullptr, report, err)) {
      state.SkipWithError(err.c_str());
      return;
    }
    state.SetIterationTime(report["rate"]["wall_ms"].get<double>() / 1e3);
    frames += report["rate"]["frames"].get<std::uint64_t>();
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(frames));
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  for (const Capture& c : captures()) {
    for (const auto& [mode, name] : {std::pair{Mode::kEngine, "engine"},
                                     {Mode::kNative, "native"},
                                     {Mode::kKernel, "kernel"}}) {
      benchmark::RegisterBenchmark(
          (std::string("BM_Replay/") + c.name + "/" + name).c_str(),
          [&c, mode = mode](benchmark::State& s) { replayBench(s, c, mode); })
          ->UseManualTime()
          ->Iterations(mode == Mode::kKernel ? 1 : 3)
          ->Unit(benchmark::kMillisecond);
    }
  }
  benchmark::RunSpecifiedBenchmarks();
  return 0;
}
