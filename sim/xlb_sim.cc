// SPDX-License-Identifier: Apache-2.0
// xlb-sim: the simulator's command line.
//   xlb-sim replay --config CFG --in IN.pcap --out OUT.pcap --report REPORT.json
//                  [--no-xdp | --kernel | --differential] [--loop N] [--seed S] [--no-drain]
//   xlb-sim run SCENARIO.yaml
//   xlb-sim generate --kind mixed|established|flood --seed S --out IN.pcap [--flows N] [--packets
//   N]
// Exit codes: 0 done, 1 failure (the XDP stage cannot run, unreadable input, ...), 2 usage or
// configuration error.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <fstream>
#include <iostream>

#include "cli_doc.h"
#include "closed_loop.h"
#include "pcapgen.h"
#include "replay.h"
#include "xlb/config_yaml.h"

namespace {

// What the command line gathers for `replay`.
struct ReplayArgs {
  xlb::sim::ReplayOptions options;
  std::string config, in, out, report;
  bool noXdp = false, noDrain = false, kernel = false, differential = false;
};

int fail(const std::string& message, int code) {
  std::fprintf(stderr, "xlb-sim: %s\n", message.c_str());
  return code;
}

int generateCommand(const xlb::sim::GenOptions& go, const std::string& out) {
  std::string error;
  std::vector<xlb::sim::PcapFrame> frames;
  if (!xlb::sim::generate(go, frames, error)) return fail(error, 2);
  auto w = xlb::sim::PcapWriter::open(out, error);
  if (!w) return fail(error, 1);
  for (const auto& f : frames)
    w->write(f.ts, f.data.data(), static_cast<std::uint32_t>(f.data.size()));
  std::fprintf(stderr, "xlb-sim: wrote %zu frames to %s\n", frames.size(), out.c_str());
  return 0;
}

int writeReport(const nlohmann::json& report, const std::string& path) {
  const std::string text = report.dump(2) + "\n";
  if (path.empty()) {
    std::fputs(text.c_str(), stdout);
  } else {
    std::ofstream f(path);
    f << text;
    if (!f) return fail("cannot write " + path, 1);
  }
  std::fprintf(stderr, "xlb-sim: %llu frames replayed at %.2f Mpps, %llu written\n",
               static_cast<unsigned long long>(report["rate"]["frames"].get<std::uint64_t>()),
               report["rate"]["mpps"].get<double>(),
               static_cast<unsigned long long>(report["output"]["frames"].get<std::uint64_t>()));
  return 0;
}

int replayCommand(ReplayArgs& a) {
  std::string error;
  xlb::ConfigResult cr = xlb::loadConfigFile(a.config);
  if (auto* e = std::get_if<xlb::ConfigError>(&cr)) return fail(a.config + ": " + e->message, 2);
  a.options.config = std::get<xlb::Config>(cr);
  a.options.xdp = !a.noXdp;
  using xlb::sim::ReplayXdpMode;
  a.options.xdpMode = a.differential ? ReplayXdpMode::kDifferential
                      : a.kernel     ? ReplayXdpMode::kKernel
                                     : ReplayXdpMode::kNative;
  a.options.drain = !a.noDrain;
  std::vector<xlb::sim::PcapFrame> frames;
  if (!xlb::sim::readPcap(a.in, frames, error)) return fail(error, 1);
  std::unique_ptr<xlb::sim::PcapWriter> writer;
  if (!a.out.empty()) {
    writer = xlb::sim::PcapWriter::open(a.out, error);
    if (!writer) return fail(error, 1);
  }
  nlohmann::json report;
  if (!xlb::sim::replay(a.options, frames, writer.get(), report, error)) return fail(error, 1);
  writer.reset();  // flushed before the report says it is done
  return writeReport(report, a.report);
}

int simMain(int argc, char** argv) {
  CLI::App app{"xlb-sim: xlb's data path (the real XDP object and engine) on a virtual clock"};
  app.require_subcommand(1);

  ReplayArgs ra;
  auto* rp = app.add_subcommand("replay", "replay a capture open loop and report what happened");
  rp->add_option("--config", ra.config, "xlbd configuration (YAML)")->required();
  rp->add_option("--in", ra.in, "input capture (Ethernet pcap)")->required();
  rp->add_option("--out", ra.out,
                 "frames xlb transmits (XDP_TX and engine), pcap with ns timestamps");
  rp->add_option("--report", ra.report, "JSON report (default: standard output)");
  auto* noXdp = rp->add_flag("--no-xdp", ra.noXdp, "engine only: no blocklist or SYN cookies");
  auto* kernel = rp->add_flag("--kernel", ra.kernel,
                              "run the XDP stage in the kernel (BPF_PROG_TEST_RUN, root) "
                              "instead of its native build");
  kernel->excludes(noXdp);
  rp->add_flag("--differential", ra.differential,
               "run every frame through both and fail on the first difference (root)")
      ->excludes(noXdp)
      ->excludes(kernel);
  rp->add_option("--loop", ra.options.loops,
                 "replay the capture this many times (shifted in time)");
  rp->add_option("--seed", ra.options.seed, "cookie key and table hash seed")
      ->capture_default_str();
  rp->add_flag("--no-drain", ra.noDrain,
               "stop at the end of the input instead of running the timers out");

  xlb::sim::GenOptions go;
  std::string genOut;
  auto* gen = app.add_subcommand("generate", "write a deterministic input capture");
  gen->add_option("--kind", go.kind, "mixed, established or flood")->capture_default_str();
  gen->add_option("--seed", go.seed, "seed")->capture_default_str();
  gen->add_option("--flows", go.flows, "established: flows; flood: SYNs")->capture_default_str();
  gen->add_option("--packets", go.packets, "established: data segments per flow")
      ->capture_default_str();
  gen->add_option("--out", genOut, "output pcap")->required();

  std::string scenario;
  auto* run = app.add_subcommand(
      "run", "run a closed-loop scenario and check its expectations through the API");
  run->add_option("scenario", scenario, "scenario file (YAML, see docs/SIM.md)")->required();

  if (xlb::clidoc::printIfAsked(argc, argv, app, xlb::clidoc::xlbSimPage())) return 0;
  CLI11_PARSE(app, argc, argv);
  if (run->parsed()) return xlb::sim::runScenario(scenario, std::cout);
  if (gen->parsed()) return generateCommand(go, genOut);
  return replayCommand(ra);
}

}  // namespace

// Anything thrown that the commands do not catch ends the run with a message and exit 1.
int main(int argc, char** argv) {
  try {
    return simMain(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "xlb-sim: %s\n", e.what());
  } catch (...) {
    std::fprintf(stderr, "xlb-sim: unknown error\n");
  }
  return 1;
}
