// SPDX-License-Identifier: Apache-2.0
// renderMetrics directly: every figure of a known input appears once under its name and labels,
// packets are folded by the reasons' actions, and drops are listed by stage and reason.
#include "xlb/metrics.h"

#include <gtest/gtest.h>

#include <map>
#include <sstream>

namespace xlb {
namespace {

// "name{labels} value" lines of the exposition, by everything before the value.
std::map<std::string, std::string> samples(const std::string& text) {
  std::map<std::string, std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    const auto sp = line.rfind(' ');
    EXPECT_TRUE(out.emplace(line.substr(0, sp), line.substr(sp + 1)).second) << line;
  }
  return out;
}

TEST(Metrics, RendersEveryFigureOfAKnownInput) {
  StatsView in;
  in.xdp[static_cast<std::size_t>(Reason::kBlocklist)].packets = 5;
  in.xdp[static_cast<std::size_t>(Reason::kPassNotOurs)].packets = 7;
  in.engine.counters.reasons[static_cast<std::size_t>(Reason::kTxToBackend)] = 11;
  in.engine.counters.reasons[static_cast<std::size_t>(Reason::kTxToClient)] = 13;
  in.engine.counters.reasons[static_cast<std::size_t>(Reason::kNoConntrack)] = 2;
  in.engine.byState[static_cast<std::size_t>(TcpState::kEstablished)] = 3;
  in.halfOpen = 12;
  in.halfOpenLimit = 250;
  in.synPressure = true;
  in.synPressureSwitches = 4;
  StatsView::Backend backend{"10.0.0.11", true, {}};
  backend.stats.active = 6;
  in.vips.push_back({"10.0.0.100", "tcp", true, 0, {backend}});
  StatsView::Queue q;
  q.queue = 0;
  q.io.frames.free = 9;
  q.io.frames.fill = 1;
  in.queues.push_back(q);
  const auto m = samples(renderMetrics(in));
  EXPECT_EQ(m.at("xlb_drops_total{stage=\"xdp\",reason=\"blocklist\"}"), "5");
  EXPECT_EQ(m.at("xlb_drops_total{stage=\"engine\",reason=\"no_conntrack\"}"), "2");
  EXPECT_EQ(m.at("xlb_packets_total{direction=\"xdp\",verdict=\"drop\"}"), "5");
  EXPECT_EQ(m.at("xlb_packets_total{direction=\"xdp\",verdict=\"pass\"}"), "7");
  EXPECT_EQ(m.at("xlb_packets_total{direction=\"engine\",verdict=\"tx\"}"), "24");
  EXPECT_EQ(m.at("xlb_packets_total{direction=\"client_to_backend\",verdict=\"forwarded\"}"), "11");
  EXPECT_EQ(m.at("xlb_conntrack_entries{state=\"established\"}"), "3");
  EXPECT_EQ(m.at("xlb_half_open_connections"), "12");
  EXPECT_EQ(m.at("xlb_half_open_limit"), "250");
  EXPECT_EQ(m.at("xlb_syn_pressure_active"), "1");
  EXPECT_EQ(m.at("xlb_syn_pressure_switches_total"), "4");
  EXPECT_EQ(m.at("xlb_synflood_active{vip=\"10.0.0.100\",protocol=\"tcp\"}"), "1");
  EXPECT_EQ(m.at("xlb_backend_up{vip=\"10.0.0.100\",protocol=\"tcp\",backend=\"10.0.0.11\"}"), "1");
  EXPECT_EQ(
      m.at("xlb_backend_connections{vip=\"10.0.0.100\",protocol=\"tcp\",backend=\"10.0.0.11\"}"),
      "6");
  EXPECT_EQ(m.at("xlb_xsk_frames{queue=\"0\",place=\"free\"}"), "9");
  EXPECT_EQ(m.at("xlb_xsk_frames{queue=\"0\",place=\"fill\"}"), "1");
  // No drop reason is missing from the listing, even at zero.
  std::size_t drops = 0;
  for (const auto& [k, v] : m) drops += k.rfind("xlb_drops_total{", 0) == 0 ? 1u : 0u;
  std::size_t dropReasons = 0;
  for (std::size_t i = 0; i < kReasonCount; ++i)
    dropReasons += kReasonActions[i] == Action::kDrop ? 1u : 0u;
  EXPECT_EQ(drops, 2 * dropReasons);
}

// Every figure of the lists in figures.h with a metric of its own is exported once, under that
// name, with the value of its member: distinct values prove each reads its own member.
TEST(Metrics, EveryListedFigureIsExportedUnderItsName) {
  StatsView in;
  std::uint64_t v = 100;
  for (const auto& f : kPipelineFigures) in.engine.counters.*f.member = ++v;
  for (const auto& f : kWorkerFigures) in.engine.*f.member = ++v;
  StatsView::Queue q;
  q.queue = 3;
  for (const auto& f : kIoFigures) q.io.*f.member = ++v;
  for (const auto& f : kXskKernelFigures) q.kernel.*f.member = ++v;
  in.queues.push_back(q);
  const auto m = samples(renderMetrics(in));
  v = 100;
  std::size_t exported = 0;
  for (const auto& f : kPipelineFigures) {
    ++v;
    if (f.metric.empty()) continue;
    EXPECT_EQ(m.at(std::string(f.metric)), std::to_string(v)) << f.metric;
    ++exported;
  }
  for (const auto& f : kWorkerFigures) {
    ++v;
    if (f.metric.empty()) continue;
    EXPECT_EQ(m.at(std::string(f.metric)), std::to_string(v)) << f.metric;
    ++exported;
  }
  for (const auto& f : kIoFigures) {
    EXPECT_EQ(m.at(std::string(f.metric) + "{queue=\"3\"}"), std::to_string(++v)) << f.metric;
  }
  for (const auto& f : kXskKernelFigures) {
    EXPECT_EQ(m.at(std::string(f.metric) + "{queue=\"3\"}"), std::to_string(++v)) << f.metric;
  }
  EXPECT_GE(exported, kPipelineFigures.size() + kWorkerFigures.size() - 1);
}

// Prometheus naming: counters end in _total, gauges never do (promtool checks the same).
TEST(Metrics, ListedNamesFollowTheCounterSuffixRule) {
  auto check = [](const auto& table) {
    for (const auto& f : table) {
      if (f.metric.empty()) continue;
      EXPECT_EQ(f.metric.ends_with("_total"), f.kind == FigureKind::kCounter) << f.metric;
    }
  };
  check(kPipelineFigures);
  check(kWorkerFigures);
  check(kIoFigures);
  check(kXskKernelFigures);
}

}  // namespace
}  // namespace xlb
