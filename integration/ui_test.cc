// SPDX-License-Identifier: Apache-2.0
// The status page at /ui/ in Debian's headless Chromium on the rig (integration/ui_check.py
// drives it over the DevTools protocol): it loads with no console error, shows the figures the
// API reports (backends with weight, state and health; the blocklist with its hits; drops by
// reason), and its counters and chart move while traffic flows. A screenshot is kept as a test
// artefact.
#include <gtest/gtest.h>

#include <filesystem>

#include "rig_suite.h"

namespace xlb::rig {
namespace {

using nlohmann::json;

class StatusPage : public RigSuite<StatusPage> {
 public:
  static constexpr RigShape kShape{"ui", 1, 3};
};

TEST_F(StatusPage, ShowsTheApisFiguresAndFollowsTraffic) {
  start(Rig::defaultConfig());  // blocks 10.100.0.23, a source the traffic below spoofs
  ASSERT_EQ(rig_->api("GET", "/ui/").status, 200);
  const json apiBefore = rig_->stats();
  const std::string shot = std::string(XLB_ARTEFACT_DIR) + "/status-page.png";
  std::filesystem::create_directories(XLB_ARTEFACT_DIR);
  std::filesystem::remove(shot);
  // 40 new connections, then 20 SYNs from the blocked address.
  const std::string traffic =
      "ip netns exec " + rig_->ns("c1") +
      " sh -c 'for i in \\$(seq 40); do curl -s -m 2 -o /dev/null http://10.100.0.100/; done; "
      "timeout 10 hping3 -q -S -p 80 -i u2000 -c 20 -a 10.100.0.23 10.100.0.100 || true'";
  const CmdResult r = rig_->exec("lb",
                                 "/usr/bin/python3 " XLB_SOURCE_DIR
                                 "/integration/ui_check.py "
                                 "'http://127.0.0.1:9180/ui/?interval_ms=500' " +
                                     shot + " \"" + traffic + "\"",
                                 150);
  ASSERT_EQ(r.status, 0) << r.out;
  const json out = json::parse(r.out.substr(r.out.find('{')), nullptr, false);
  ASSERT_TRUE(out.is_object()) << r.out;
  // The browser's profile goes with it, whatever its children were doing when it was killed.
  EXPECT_FALSE(std::filesystem::exists(out["profile"].get<std::string>())) << out["profile"];
  EXPECT_TRUE(out["errors"].empty()) << out["errors"].dump(2);
  const json& before = out["before"];
  const json& after = out["after"];
  EXPECT_EQ(after["errors_shown"], "") << after.dump(2);
  EXPECT_EQ(after["xdp"], "XDP attached");
  EXPECT_EQ(out["traffic_status"], 0);

  // Counters follow the traffic: at least the 40 connections, and never ahead of the API.
  const json apiAfter = rig_->stats();
  const auto created = [](const json& s) { return s["conntrack"]["created"].get<long>(); };
  EXPECT_GE(before["created"].get<long>(), created(apiBefore));
  EXPECT_GE(after["created"].get<long>(), before["created"].get<long>() + 40) << out.dump(2);
  EXPECT_LE(after["created"].get<long>(), created(apiAfter));
  EXPECT_GT(after["chart_new_points"].get<int>(), before["chart_new_points"].get<int>());

  // The backends as the API lists them.
  const Rig::ApiReply backends = rig_->api("GET", "/api/v1/vips/10.100.0.100/backends");
  ASSERT_EQ(backends.status, 200);
  const json& list = backends.body["items"];
  ASSERT_EQ(after["backends"].size(), list.size()) << after["backends"].dump(2);
  for (std::size_t i = 0; i < list.size(); ++i) {
    const json& shown = after["backends"][i];
    EXPECT_EQ(shown["address"], list[i]["address"]);
    EXPECT_EQ(shown["weight"], list[i]["weight"]);
    EXPECT_EQ(shown["state"], list[i]["state"]);
    EXPECT_EQ(shown["health"], list[i]["health"]);
  }

  // The blocked source's hits, and the drops by reason they are counted under.
  const Rig::ApiReply block = rig_->api("GET", "/api/v1/blocklist");
  long apiHits = -1;
  for (const json& e : block.body["items"]) {
    if (e["cidr"] == "10.100.0.23/32") apiHits = e["hits"].get<long>();
  }
  long shownHits = -1;
  for (const json& e : after["blocklist"]) {
    if (e["cidr"] == "10.100.0.23/32") shownHits = e["hits"].get<long>();
  }
  EXPECT_GE(apiHits, 20);
  EXPECT_EQ(shownHits, apiHits) << after["blocklist"].dump(2);
  EXPECT_GE(after["drops"].value("blocklist", 0L), 20L) << after["drops"].dump(2);
  EXPECT_GE(after["chart_drop_lines"].get<int>(), 1) << "a line for the blocklist's drops";
  EXPECT_FALSE(after["states"].empty());

  ASSERT_TRUE(std::filesystem::exists(shot));
  EXPECT_GT(std::filesystem::file_size(shot), 10000U);
  std::cerr << "screenshot: " << shot << "\n";
}

TEST_F(StatusPage, IsReadOnlyAndServesOnlyItsOwnFiles) {
  start(Rig::defaultConfig());
  const Rig::ApiReply page = rig_->api("GET", "/ui");
  EXPECT_EQ(page.status, 200);
  EXPECT_NE(page.raw.find("<script src=\"/ui/app.js\">"), std::string::npos);
  EXPECT_EQ(page.raw.find("@XLB_DROP_REASONS@"), std::string::npos);
  EXPECT_NE(page.raw.find("\"blocklist\""), std::string::npos) << "the drop reasons are filled in";
  EXPECT_EQ(rig_->api("GET", "/ui/app.js").status, 200);
  EXPECT_EQ(rig_->api("GET", "/ui/style.css").status, 200);
  EXPECT_EQ(rig_->api("GET", "/ui/..%2Fapi-token").status, 404);
  EXPECT_EQ(rig_->api("GET", "/ui/nothing.js").status, 404);
  // Nothing under /ui/ takes a change; the page only reads GET routes.
  const CmdResult post = rig_->exec(
      "lb", "curl -s -o /dev/null -w '%{http_code}' -X POST http://127.0.0.1:9180/ui/app.js");
  EXPECT_EQ(post.out, "401");
  const CmdResult script = rig_->exec("lb", "curl -s http://127.0.0.1:9180/ui/app.js");
  for (const char* verb : {"'POST'", "'PUT'", "'PATCH'", "'DELETE'", "method:"}) {
    EXPECT_EQ(script.out.find(verb), std::string::npos) << verb;
  }
}

}  // namespace
}  // namespace xlb::rig
