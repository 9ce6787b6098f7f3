// SPDX-License-Identifier: Apache-2.0
// Replay throughput of xlb-sim: established-flow traffic over 100,000 flows (the generator's
// `established` capture: one SYN per flow, then 4 rounds of 64-byte data segments in random
// order), through the engine alone and through the XDP stage + engine. Reported as frames per
// second (Mpps). The clock covers the replay loop only, as the report's "rate" does.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include "pcapgen.h"
#include "replay.h"
#include "xlb/config_yaml.h"

namespace {

using namespace xlb;
using namespace xlb::sim;

const std::vector<PcapFrame>& capture() {
  static const std::vector<PcapFrame> frames = [] {
    std::vector<PcapFrame> f;
    std::string err;
    generate(GenOptions{"established", 42, 100000, 4}, f, err);
    return f;
  }();
  return frames;
}

void replayBench(benchmark::State& state, bool xdp) {
  if (xdp && geteuid() != 0) {
    state.SkipWithError("the XDP stage needs root");
    return;
  }
  ConfigResult r = loadConfigFile(std::string(XLB_SOURCE_DIR) + "/pcaps/sim.yaml");
  ReplayOptions o;
  o.config = std::get<Config>(r);
  o.xdp = xdp;
  o.drain = false;
  const auto& in = capture();
  std::uint64_t frames = 0;
  for (auto _ : state) {
    nlohmann::json report;
    std::string err;
    if (!replay(o, in, nullptr, report, err)) {
      state.SkipWithError(err.c_str());
      return;
    }
    state.SetIterationTime(report["rate"]["wall_ms"].get<double>() / 1e3);
    frames += report["rate"]["frames"].get<std::uint64_t>();
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(frames));
  state.counters["flows"] = 100000;
}

void BM_ReplayEngineOnly(benchmark::State& state) {
  replayBench(state, false);
}
void BM_ReplayXdpAndEngine(benchmark::State& state) {
  replayBench(state, true);
}

BENCHMARK(BM_ReplayEngineOnly)->UseManualTime()->Iterations(3)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_ReplayXdpAndEngine)->UseManualTime()->Iterations(1)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
