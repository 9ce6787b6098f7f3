// SPDX-License-Identifier: Apache-2.0
// VIPs come and go at runtime on the rig (with backends on another port), and a reload (SIGHUP,
// POST) applies an edited configuration file.
#include <gtest/gtest.h>

#include "control_suite.h"

namespace xlb {
namespace {

using control_rig::config;
using control_rig::Control;
using control_rig::kVip;
using rig::Rig;

int answered(const std::map<std::string, int>& bodies) {
  int n = 0;
  for (const auto& [body, count] : bodies) {
    if (body.rfind("backend ", 0) == 0) n += count;
  }
  return n;
}

bool listed(const nlohmann::json& vips, const std::string& address) {
  for (const auto& v : vips["items"]) {
    if (v["address"] == address) return true;
  }
  return false;
}

TEST_F(Control, VipsAddedAndRemovedAtRuntimeAndAReloadedFileServeAsTheySay) {
  start();
  // An operator adds the address to the LB's interface, then the service (VIP:8080 ->
  // backends:80) over the API.
  ASSERT_EQ(rig_->exec("lb", "ip addr add 10.100.0.101/32 dev eth0").status, 0);
  rig::Rig::ApiReply r =
      rig_->api("POST", "/api/v1/vips",
                R"({"address":"10.100.0.101","ports":[8080],"backend_ports":{"8080":80},)"
                R"("syn_flood":{"mode":"off"},)"
                R"("backends":[{"address":"10.100.0.11"},{"address":"10.100.0.12"}]})");
  ASSERT_EQ(r.status, 201) << r.raw;
  auto bodies = rig_->curlBodies(1, 20, "http://10.100.0.101:8080/");
  EXPECT_EQ(answered(bodies), 20) << "failed: " << bodies["FAIL"];
  EXPECT_EQ(bodies.count("backend 3"), 0u);  // not one of its backends
  // Health checks probe the backends' port (80), so both come up.
  for (int i = 0; i < 50; ++i) {
    r = rig_->api("GET", "/api/v1/vips/10.100.0.101/backends");
    if (r.body["items"][0]["health"] == "up" && r.body["items"][1]["health"] == "up") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(r.body["items"][0]["health"], "up") << r.raw;
  EXPECT_EQ(r.body["items"][1]["health"], "up") << r.raw;
  // A restart keeps it (state_dir).
  ASSERT_EQ(rig_->stopXlbd(SIGTERM), 0);
  start();
  EXPECT_EQ(answered(rig_->curlBodies(1, 5, "http://10.100.0.101:8080/")), 5);
  // Removed: it drains, then is gone; new connections are dropped (counted), none answered.
  ASSERT_EQ(rig_->api("DELETE", "/api/v1/vips/10.100.0.101").status, 204);
  bool gone = false;
  for (int i = 0; i < 50 && !gone; ++i) {
    gone = !listed(rig_->api("GET", "/api/v1/vips").body, "10.100.0.101");
    if (!gone) std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  EXPECT_TRUE(gone);
  EXPECT_EQ(answered(rig_->curlBodies(1, 2, "http://10.100.0.101:8080/")), 0);

  // The file edited: a new VIP (already on the interface), 10.100.0.100 without 443. SIGHUP.
  ASSERT_EQ(rig_->exec("lb", "ip addr add 10.100.0.102/32 dev eth0").status, 0);
  std::string edited = config();
  edited = std::regex_replace(edited, std::regex("ports: \\[80, 443\\]"), "ports: [80]");
  edited = std::regex_replace(
      edited, std::regex("vips:\n"),
      "vips:\n  - address: 10.100.0.102\n    ports: [8081]\n    backend_ports: {8081: 80}\n"
      "    syn_flood: {mode: off}\n    backends: [{address: 10.100.0.13}]\n");
  rig_->writeConfig(edited);
  kill(rig_->xlbdPid(), SIGHUP);
  bodies.clear();
  for (int i = 0; i < 30 && answered(bodies) == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    bodies = rig_->curlBodies(2, 1, "http://10.100.0.102:8081/");
  }
  EXPECT_EQ(bodies["backend 3"], 1) << rig::tail(rig_->xlbdLog());
  EXPECT_EQ(answered(rig_->curlBodies(2, 10, "http://10.100.0.102:8081/")), 10);
  EXPECT_NE(rig_->xlbdLog().find("reload: VIP 10.100.0.102 added"), std::string::npos)
      << rig::tail(rig_->xlbdLog());
  const nlohmann::json cfg = rig_->api("GET", "/api/v1/config").body;
  EXPECT_NE(cfg.dump().find("\"ports\":[80]"), std::string::npos) << cfg.dump();
  EXPECT_EQ(answered(rig_->curlBodies(1, 2, "-k https://10.100.0.100/")), 0);  // 443 not served
  // A file that does not validate changes nothing and says why (the API answers 400).
  rig_->writeConfig(std::regex_replace(edited, std::regex("workers: 1"), "workers: lots"));
  r = rig_->api("POST", "/api/v1/config/reload");
  EXPECT_EQ(r.status, 400) << r.raw;
  EXPECT_NE(r.raw.find("workers"), std::string::npos) << r.raw;
  EXPECT_EQ(answered(rig_->curlBodies(2, 5, "http://10.100.0.102:8081/")), 5);
  // xlbctl drives the same: reload (nothing changed back), add and remove.
  rig_->writeConfig(edited);
  const std::string ctl =
      Rig::binDir() + "/xlbctl --token-file " + rig_->stateDir() + "/api-token ";
  rig::CmdResult c = rig_->exec("lb", ctl + "config reload 2>&1");
  EXPECT_EQ(c.status, 0) << c.out;
  EXPECT_NE(c.out.find("nothing changed"), std::string::npos) << c.out;
  c = rig_->exec("lb", ctl +
                           "vips add 10.100.0.101 --ports 8080 --backend-port 8080:80 "
                           "--backends 10.100.0.12 --syn-flood off 2>&1");
  EXPECT_EQ(c.status, 0) << c.out;
  bodies = rig_->curlBodies(1, 5, "http://10.100.0.101:8080/");
  EXPECT_EQ(bodies["backend 2"], 5);
  c = rig_->exec("lb", ctl + "vips remove 10.100.0.101 --force 2>&1");
  EXPECT_EQ(c.status, 0) << c.out;
  rig_->exec("lb", "ip addr del 10.100.0.101/32 dev eth0; ip addr del 10.100.0.102/32 dev eth0");
}

}  // namespace
}  // namespace xlb
