// SPDX-License-Identifier: Apache-2.0
// Label cluster: three xlbd instances behind a BIRD router's ECMP (scripts/netns/cluster.sh),
// with 300 long-lived connections and wrk's connection-per-request load through every change of
// membership (scripts/netns/cluster_events.sh). The figures come from the clients: connections
// that broke and requests that failed in each event's window, and from the router: how long its
// next hops took to follow.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "privileges.h"
#include "rig.h"

namespace xlb::rig {
namespace {

using nlohmann::json;

constexpr int kWindowSeconds = 10;
// The routers' BGP hold time in the rig (cluster.sh): a withdrawal must come within it.
constexpr double kHoldSeconds = 3.0;

const json& eventOf(const json& report, const std::string& name) {
  for (const json& e : report["events"]) {
    if (e["event"] == name) return e;
  }
  static const json none = json::object();
  ADD_FAILURE() << "no event " << name;
  return none;
}

void expectRouted(const json& e, const std::string& hops) {
  EXPECT_EQ(e.value("next_hops", ""), hops);
  EXPECT_GE(e.value("converged_s", -1.0), 0.0) << "the router never got there";
}

long num(const json& j, const char* key) {
  return j.contains(key) && j[key].is_number() ? j[key].get<long>() : -1;
}

// One run of the whole sequence (about 90 s): each event's checks below, traced by name.
TEST(Cluster, MembershipChangesBreakOnlyWhatTheyMust) {
  XLB_REQUIRE_ROOT();
  const auto dir =
      std::filesystem::temp_directory_path() / ("xlb-cluster-test-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  const std::string out = (dir / "report.json").string();
  const CmdResult run = sh(std::string(XLB_SOURCE_DIR) + "/scripts/netns/cluster_events.sh " + out +
                               " " + std::to_string(kWindowSeconds),
                           300);
  json report;
  if (std::ifstream in(out); in) report = json::parse(in, nullptr, false);
  std::cout << "cluster report:\n" << report.dump(1) << "\n";
  std::error_code ec;
  ASSERT_EQ(run.status, 0) << tail(run.out, 60);
  ASSERT_TRUE(report.is_object()) << tail(run.out, 60);
  std::filesystem::remove_all(dir, ec);

  {
    SCOPED_TRACE("before the first event");
    EXPECT_EQ(num(report, "baseline_broken"), 0);
    EXPECT_GT(num(report["baseline_wrk"], "requests"), 0);
    EXPECT_EQ(num(report["baseline_wrk"], "errors"), 0);
  }
  // Planned changes: nothing breaks, wrk sees no error.
  for (const auto& [name, hops] :
       {std::pair<std::string, std::string>{"add_lb3", "10.100.0.2 10.100.0.3 10.100.0.4"},
        {"drain_lb1", "10.100.0.3 10.100.0.4"},
        {"return_lb1", "10.100.0.2 10.100.0.3 10.100.0.4"},
        {"restart_lb2", "10.100.0.2 10.100.0.3 10.100.0.4"}}) {
    SCOPED_TRACE(name);
    const json& e = eventOf(report, name);
    expectRouted(e, hops);
    EXPECT_EQ(num(e, "broken"), 0);
    EXPECT_EQ(num(e["wrk"], "errors"), 0);
  }
  {
    SCOPED_TRACE("drain: the routes withdrawn, the long-lived connections still served");
    const json& d = report["drain"];
    EXPECT_EQ(d.value("announced", true), false);
    EXPECT_GT(num(d, "remaining_flows"), 0);
    EXPECT_EQ(d.value("done", true), false);
    // A newcomer and a restarted instance know every member.
    EXPECT_EQ(eventOf(report, "add_lb3")["members_up"]["lb3"].size(), 3u);
    EXPECT_EQ(eventOf(report, "restart_lb2")["members_up"]["lb2"].size(), 3u);
  }
  {
    SCOPED_TRACE("kill -9 of lb2's xlbd: its route device goes with it");
    const json& e = eventOf(report, "kill_lb2");
    expectRouted(e, "10.100.0.2 10.100.0.4");
    EXPECT_LT(e.value("converged_s", 99.0), kHoldSeconds);
    EXPECT_LE(num(e, "broken"), num(report["kill"], "held_longlived"))
        << "a survivor's connection broke";
  }
  {
    SCOPED_TRACE("lb3's host gone: the router's BFD withdraws it");
    const json& e = eventOf(report, "fail_lb3_host");
    expectRouted(e, "10.100.0.2 10.100.0.3");
    EXPECT_LT(e.value("converged_s", 99.0), kHoldSeconds);
    EXPECT_LE(num(e, "broken"), num(report["host_failure"], "held_longlived"));
  }
  {
    SCOPED_TRACE("flows the router moved went to their holders");
    long forwarded = 0;
    for (const auto& [name, st] : report["instances"].items()) {
      forwarded += num(st, "xdp_cluster_forward");
    }
    EXPECT_GT(forwarded, 0);
  }
}

}  // namespace
}  // namespace xlb::rig
