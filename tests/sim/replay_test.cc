// SPDX-License-Identifier: Apache-2.0
// The simulator's open-loop replay: the committed golden inputs are what the generator writes
// from their seeds, replaying them gives exactly the committed reports (XDP + engine, and engine
// alone; the XDP stage's native build and the kernel's give the same one), every capture the
// simulator writes passes tshark with checksum validation, and only the kernel's XDP stage
// (--kernel) needs privileges. UDP, QUIC and DSR services replay as TCP ones do.
#include "replay.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "pcapgen.h"
#include "privileges.h"
#include "xlb/config_yaml.h"
#include "xlb/packet_builder.h"

namespace xlb::sim {
namespace {

using nlohmann::json;

const std::string kSrc = XLB_SOURCE_DIR;
const std::string kBin = XLB_BIN_DIR;

Config simConfig() {
  ConfigResult r = loadConfigFile(kSrc + "/pcaps/sim.yaml");
  if (auto* e = std::get_if<ConfigError>(&r)) ADD_FAILURE() << e->message;
  return std::get<Config>(r);
}

json readJson(const std::string& path) {
  std::ifstream f(path);
  return json::parse(f, nullptr, false);
}

std::string tmpPath(const std::string& name) {
  return ::testing::TempDir() + "xlb-sim-" + std::to_string(::getpid()) + "-" + name;
}

// Replays `in` and returns the report without its wall-clock part.
json replayReport(const std::vector<PcapFrame>& in, bool xdp, const std::string& outPath,
                  ReplayXdpMode mode = ReplayXdpMode::kNative) {
  ReplayOptions o;
  o.config = simConfig();
  o.xdp = xdp;
  o.xdpMode = mode;
  std::string err;
  auto w = PcapWriter::open(outPath, err);
  EXPECT_NE(w, nullptr) << err;
  json report;
  EXPECT_TRUE(replay(o, in, w.get(), report, err)) << err;
  report.erase("rate");
  return report;
}

// tshark with IP and TCP checksum validation: the number of frames with a bad checksum or a
// malformed dissection (-1 when tshark cannot run).
// `dissection`: a malformed dissection counts too (off where payloads are filler, not the protocol
// the port suggests).
int tsharkProblems(const std::string& pcap, bool dissection = true) {
  const std::string cmd =
      "tshark -r " + pcap +
      " -o ip.check_checksum:TRUE -o tcp.check_checksum:TRUE -o udp.check_checksum:TRUE"
      " -Y 'ip.checksum.status == \"Bad\" || tcp.checksum.status == \"Bad\" || "
      "udp.checksum.status == \"Bad\"" +
      std::string(dissection ? " || _ws.malformed" : "") +
      "' -T fields -e frame.number 2>/dev/null;"
      " echo \"rc=$?\"";
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return -1;
  std::string out;
  char buf[256];
  while (fgets(buf, sizeof buf, p) != nullptr) out += buf;
  pclose(p);
  if (out.find("rc=0") == std::string::npos) return -1;
  int lines = 0;
  std::istringstream in(out);
  for (std::string l; std::getline(in, l);) lines += (!l.empty() && l.rfind("rc=", 0) != 0) ? 1 : 0;
  return lines;
}

bool haveTshark() {
  return std::system("command -v tshark >/dev/null 2>&1") == 0;
}

TEST(Replay, GoldenInputIsWhatTheGeneratorWrites) {
  std::vector<PcapFrame> generated, committed;
  std::string err;
  ASSERT_TRUE(generate(GenOptions{"mixed", 1, 0, 0}, generated, err)) << err;
  ASSERT_TRUE(readPcap(kSrc + "/pcaps/golden/mixed.pcap", committed, err)) << err;
  ASSERT_EQ(generated.size(), committed.size()) << "run `make golden` after changing the generator";
  for (std::size_t i = 0; i < generated.size(); ++i) {
    EXPECT_EQ(generated[i].ts, committed[i].ts) << "frame " << i;
    EXPECT_EQ(generated[i].data, committed[i].data) << "frame " << i;
  }
}

TEST(Replay, EngineAloneMatchesItsGoldenReport) {
  std::vector<PcapFrame> in;
  std::string err;
  ASSERT_TRUE(readPcap(kSrc + "/pcaps/golden/mixed.pcap", in, err)) << err;
  const std::string out = tmpPath("engine.pcap");
  const json got = replayReport(in, false, out);
  const json want = readJson(kSrc + "/pcaps/golden/mixed.engine.report.json");
  EXPECT_EQ(got, want) << "differences (golden -> now): " << json::diff(want, got).dump(1)
                       << "\nif intended, run `make golden` and review the diff";
  EXPECT_EQ(got["conntrack"]["active_after_drain"], 0);
  EXPECT_EQ(got["snat"]["ports_in_use_after_drain"], 0);
  EXPECT_EQ(got["conntrack"]["created"], got["conntrack"]["closed_total"]);
  if (haveTshark()) {
    EXPECT_EQ(tsharkProblems(out), 0);
  }
  std::filesystem::remove(out);
}

class ReplayRuntimes : public ::testing::TestWithParam<ReplayXdpMode> {};

TEST_P(ReplayRuntimes, XdpAndEngineMatchTheGoldenReport) {
  if (GetParam() != ReplayXdpMode::kNative) XLB_REQUIRE_ROOT();
  std::vector<PcapFrame> in;
  std::string err;
  ASSERT_TRUE(readPcap(kSrc + "/pcaps/golden/mixed.pcap", in, err)) << err;
  const std::string out = tmpPath("xdp.pcap");
  const json got = replayReport(in, true, out, GetParam());
  const json want = readJson(kSrc + "/pcaps/golden/mixed.report.json");
  EXPECT_EQ(got, want) << "differences (golden -> now): " << json::diff(want, got).dump(1)
                       << "\nif intended, run `make golden` and review the diff";
  // What the input holds, checked apart from the golden file: 8 frames from blocked sources,
  // 50 spoofed SYNs answered with cookies, one forged cookie, every session entry drained.
  EXPECT_EQ(got["xdp"]["reasons"]["blocklist"], 8);
  EXPECT_EQ(got["xdp"]["reasons"]["syncookie_sent"], 50);
  EXPECT_EQ(got["engine"]["reasons"]["syncookie_invalid"], 1);
  EXPECT_EQ(got["conntrack"]["created"], 25);
  EXPECT_EQ(got["conntrack"]["active_after_drain"], 0);
  EXPECT_EQ(got["output"]["frames"], 50 + 75);
  if (haveTshark()) {
    EXPECT_EQ(tsharkProblems(out), 0);
  } else {
    EXPECT_FALSE(testing::underCi()) << "tshark is missing";
  }
  std::filesystem::remove(out);
}

INSTANTIATE_TEST_SUITE_P(Runtimes, ReplayRuntimes,
                         ::testing::Values(ReplayXdpMode::kNative, ReplayXdpMode::kKernel,
                                           ReplayXdpMode::kDifferential),
                         [](const ::testing::TestParamInfo<ReplayXdpMode>& i) {
                           switch (i.param) {
                             case ReplayXdpMode::kKernel:
                               return "Kernel";
                             case ReplayXdpMode::kDifferential:
                               return "Differential";
                             default:
                               return "Native";
                           }
                         });

TEST(Replay, GeneratedInputsAndOutputsPassTshark) {
  if (!haveTshark()) {
    if (testing::underCi()) FAIL() << "tshark is missing";
    GTEST_SKIP() << "no tshark";
  }
  std::vector<PcapFrame> in;
  std::string err;
  ASSERT_TRUE(generate(GenOptions{"established", 7, 2000, 3}, in, err)) << err;
  const std::string inPath = tmpPath("est-in.pcap");
  {
    auto w = PcapWriter::open(inPath, err);
    ASSERT_NE(w, nullptr) << err;
    for (const auto& f : in)
      w->write(f.ts, f.data.data(), static_cast<std::uint32_t>(f.data.size()));
  }
  EXPECT_EQ(tsharkProblems(inPath), 0);
  // The check does see problems: the golden input holds malformed frames on purpose.
  EXPECT_GT(tsharkProblems(kSrc + "/pcaps/golden/mixed.pcap"), 0);
  const std::string out = tmpPath("est-out.pcap");
  const json r = replayReport(in, false, out);
  EXPECT_EQ(r["engine"]["reasons"]["tx_to_backend"], 2000 * 4);
  EXPECT_EQ(r["output"]["frames"], 2000 * 4);
  EXPECT_EQ(tsharkProblems(out), 0);
  std::filesystem::remove(inPath);
  std::filesystem::remove(out);
}

TEST(Replay, OnlyTheKernelXdpStageNeedsPrivileges) {
  XLB_REQUIRE_ROOT();
  if (std::system("command -v setpriv >/dev/null 2>&1") != 0) GTEST_SKIP() << "no setpriv";
  const std::string base =
      "setpriv --reuid=nobody --regid=nogroup --clear-groups --inh-caps=-all " + kBin +
      "/xlb-sim replay --config " + kSrc + "/pcaps/sim.yaml --in " + kSrc +
      "/pcaps/golden/mixed.pcap --report /dev/null";
  FILE* p = popen((base + " --kernel 2>&1; echo rc=$?").c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string out;
  char buf[512];
  while (fgets(buf, sizeof buf, p) != nullptr) out += buf;
  pclose(p);
  EXPECT_NE(out.find("rc=1"), std::string::npos) << out;
  EXPECT_NE(out.find("drop --kernel"), std::string::npos) << out;
  EXPECT_EQ(std::system((base + " >/dev/null 2>&1").c_str()), 0);  // the native build
  EXPECT_EQ(std::system((base + " --no-xdp >/dev/null 2>&1").c_str()), 0);
}

}  // namespace
}  // namespace xlb::sim

namespace xlb::sim {
namespace {

// UDP, QUIC and DSR services replay like TCP ones: 100 DNS queries to a UDP VIP (100 flows), 50
// QUIC Initials to a quic: true VIP (50 flows), 100 SYNs to a DSR VIP over IPIP (no flow, every
// one encapsulated); what comes out passes tshark's checksum validation.
TEST(Replay, UdpQuicAndDsrServicesReplay) {
  ReplayOptions o;
  ConfigResult r = loadConfigString(R"(interface: eth0
snat: {addresses: [10.0.0.2], ports: 1024-65535}
vips:
  - {address: 10.0.0.110, protocol: udp, ports: [53], backends: [{address: 10.0.0.11}]}
  - {address: 10.0.0.111, protocol: udp, quic: true, ports: [443], backends: [{address: 10.0.0.12}]}
  - {address: 10.0.0.112, forwarding: dsr, encapsulation: ipip, ports: [80],
     backends: [{address: 10.0.0.13}, {address: 10.0.0.14}]}
health_check: {enabled: false}
)");
  ASSERT_TRUE(std::holds_alternative<Config>(r)) << std::get<ConfigError>(r).message;
  o.config = std::get<Config>(r);
  std::vector<PcapFrame> in;
  for (std::uint32_t i = 0; i < 250; ++i) {
    frames::PacketSpec p;
    p.dstMac = frames::lbMac().toString();
    p.src = "10.9." + std::to_string(i / 200) + "." + std::to_string(i % 200 + 1);
    p.sport = static_cast<std::uint16_t>(30000 + i);
    if (i < 100) {
      p.proto = 17;
      p.dst = "10.0.0.110";
      p.dport = 53;
      p.payload.assign(40, 0x11);
    } else if (i < 150) {
      p.proto = 17;
      p.dst = "10.0.0.111";
      p.dport = 443;
      p.payload = {0xc0, 0, 0, 0, 1, 8, 1, 2, 3, 4, 5, 6, 7, 8, 0};  // an Initial's first bytes
      p.payload.resize(1200, 0);
    } else {
      p.dst = "10.0.0.112";
      p.dport = 80;
      p.flags = 0x02;
    }
    in.push_back(PcapFrame{1'000'000'000ull + i * 1000ull, frames::buildPacket(p)});
  }
  const std::string out = tmpPath("services.pcap");
  std::string err;
  auto w = PcapWriter::open(out, err);
  ASSERT_NE(w, nullptr) << err;
  json report;
  ASSERT_TRUE(replay(o, in, w.get(), report, err)) << err;
  w.reset();
  EXPECT_EQ(report["engine"]["reasons"]["tx_to_backend"], 250) << report.dump(2);
  EXPECT_EQ(report["conntrack"]["created"], 150) << report.dump(2);  // DSR keeps none
  EXPECT_EQ(report["output"]["frames"], 250);  // what the engine transmitted, each checked below
  if (haveTshark()) {
    EXPECT_EQ(tsharkProblems(out, false), 0);  // DNS and QUIC payloads here are filler
  } else if (::xlb::testing::underCi()) {
    ADD_FAILURE() << "tshark missing (CI=true)";
  }
  if (!HasFailure()) std::remove(out.c_str());
}

}  // namespace
}  // namespace xlb::sim
