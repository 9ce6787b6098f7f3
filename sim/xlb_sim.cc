// SPDX-License-Identifier: Apache-2.0
// xlb-sim: the simulator's command line.
//   xlb-sim replay --config CFG --in IN.pcap --out OUT.pcap --report REPORT.json [--no-xdp]
//                  [--loop N] [--seed S] [--no-drain]
//   xlb-sim run SCENARIO.yaml
//   xlb-sim generate --kind mixed|established --seed S --out IN.pcap [--flows N] [--packets N]
// Exit codes: 0 done, 1 failure (the XDP stage cannot run, unreadable input, ...), 2 usage or
// configuration error.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <fstream>
#include <iostream>

#include "closed_loop.h"
#include "pcapgen.h"
#include "replay.h"
#include "xlb/config_yaml.h"

int main(int argc, char** argv) {
  CLI::App app{"xlb-sim: xlb's data path (the real XDP object and engine) on a virtual clock"};
  app.require_subcommand(1);

  xlb::sim::ReplayOptions ro;
  std::string config, in, out, reportPath;
  bool noXdp = false, noDrain = false;
  auto* rp = app.add_subcommand("replay", "replay a capture open loop and report what happened");
  rp->add_option("--config", config, "xlbd configuration (YAML)")->required();
  rp->add_option("--in", in, "input capture (Ethernet pcap)")->required();
  rp->add_option("--out", out, "frames xlb transmits (XDP_TX and engine), pcap with ns timestamps");
  rp->add_option("--report", reportPath, "JSON report (default: standard output)");
  rp->add_flag("--no-xdp", noXdp, "engine only: no BPF needed, no blocklist or SYN cookies");
  rp->add_option("--loop", ro.loops, "replay the capture this many times (shifted in time)");
  rp->add_option("--seed", ro.seed, "cookie key and table hash seed")->capture_default_str();
  rp->add_flag("--no-drain", noDrain,
               "stop at the end of the input instead of running the timers out");

  xlb::sim::GenOptions go;
  std::string genOut;
  auto* gen = app.add_subcommand("generate", "write a deterministic input capture");
  gen->add_option("--kind", go.kind, "mixed or established")->capture_default_str();
  gen->add_option("--seed", go.seed, "seed")->capture_default_str();
  gen->add_option("--flows", go.flows, "established: flows")->capture_default_str();
  gen->add_option("--packets", go.packets, "established: data segments per flow")
      ->capture_default_str();
  gen->add_option("--out", genOut, "output pcap")->required();

  std::string scenario;
  auto* run = app.add_subcommand(
      "run", "run a closed-loop scenario and check its expectations through the API");
  run->add_option("scenario", scenario, "scenario file (YAML, see docs/SIM.md)")->required();

  CLI11_PARSE(app, argc, argv);
  std::string error;
  if (run->parsed()) return xlb::sim::runScenario(scenario, std::cout);

  if (gen->parsed()) {
    std::vector<xlb::sim::PcapFrame> frames;
    if (!xlb::sim::generate(go, frames, error)) {
      std::fprintf(stderr, "xlb-sim: %s\n", error.c_str());
      return 2;
    }
    auto w = xlb::sim::PcapWriter::open(genOut, error);
    if (!w) {
      std::fprintf(stderr, "xlb-sim: %s\n", error.c_str());
      return 1;
    }
    for (const auto& f : frames)
      w->write(f.ts, f.data.data(), static_cast<std::uint32_t>(f.data.size()));
    std::fprintf(stderr, "xlb-sim: wrote %zu frames to %s\n", frames.size(), genOut.c_str());
    return 0;
  }

  xlb::ConfigResult cr = xlb::loadConfigFile(config);
  if (auto* e = std::get_if<xlb::ConfigError>(&cr)) {
    std::fprintf(stderr, "xlb-sim: %s: %s\n", config.c_str(), e->message.c_str());
    return 2;
  }
  ro.config = std::get<xlb::Config>(cr);
  ro.xdp = !noXdp;
  ro.drain = !noDrain;
  std::vector<xlb::sim::PcapFrame> frames;
  if (!xlb::sim::readPcap(in, frames, error)) {
    std::fprintf(stderr, "xlb-sim: %s\n", error.c_str());
    return 1;
  }
  std::unique_ptr<xlb::sim::PcapWriter> writer;
  if (!out.empty()) {
    writer = xlb::sim::PcapWriter::open(out, error);
    if (!writer) {
      std::fprintf(stderr, "xlb-sim: %s\n", error.c_str());
      return 1;
    }
  }
  nlohmann::json report;
  if (!xlb::sim::replay(ro, frames, writer.get(), report, error)) {
    std::fprintf(stderr, "xlb-sim: %s\n", error.c_str());
    return 1;
  }
  writer.reset();  // flushed before the report says it is done
  const std::string text = report.dump(2) + "\n";
  if (reportPath.empty()) {
    std::fputs(text.c_str(), stdout);
  } else {
    std::ofstream f(reportPath);
    f << text;
    if (!f) {
      std::fprintf(stderr, "xlb-sim: cannot write %s\n", reportPath.c_str());
      return 1;
    }
  }
  std::fprintf(stderr, "xlb-sim: %llu frames replayed at %.2f Mpps, %llu written\n",
               static_cast<unsigned long long>(report["rate"]["frames"].get<std::uint64_t>()),
               report["rate"]["mpps"].get<double>(),
               static_cast<unsigned long long>(report["output"]["frames"].get<std::uint64_t>()));
  return 0;
}
