// SPDX-License-Identifier: Apache-2.0
// The control-plane suites' shared rig (control_test.cc, control_vips_test.cc): xlbd with SYN
// cookies off, short timeouts and fast health checks, and the helpers both use.
#pragma once

#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <string>
#include <thread>

#include "rig_suite.h"

namespace xlb::control_rig {

using rig::Rig;
using rig::tail;

inline constexpr const char* kVip = "10.100.0.100";

inline std::string config() {
  std::string c = Rig::defaultConfig();
  c = std::regex_replace(c, std::regex("syn_flood: \\{[^}]*\\}"), "syn_flood: {mode: off}");
  c = std::regex_replace(c, std::regex("timeouts: \\{[^}]*\\}"),
                         "timeouts: {syn: 3s, established: 60s, fin: 3s, time_wait: 1s, rst: 1s}");
  c = std::regex_replace(c, std::regex("blocklist: \\[[^\\]]*\\]\n"), "");
  return c + "health_check: {interval: 200ms, timeout: 100ms, rise: 2, fall: 2}\n";
}

class Control : public rig::RigSuite<Control> {
 public:
  static constexpr rig::RigShape kShape{"cp", 2, 3};

 protected:
  void SetUp() override {
    RigSuite::SetUp();
    if (!HasFatalFailure()) rig_->exec("lb", "rm -rf " + rig_->stateDir());
  }
  void start() { RigSuite::start(config()); }
  // n requests from client c: body -> count ("FAIL" for failures).
  std::map<std::string, int> curl(int client, int n) {
    return rig_->curlBodies(client, n, "http://10.100.0.100/");
  }
  std::string metrics() const {
    return rig_->exec("lb", "curl -s -m 5 http://127.0.0.1:9180/metrics").out;
  }
  // Waits up to timeoutSec for the backend's health.
  std::string waitHealth(const std::string& backend, const std::string& want, int timeoutSec) {
    const auto healthOf = [&](const nlohmann::json& items) {
      for (const auto& b : items) {
        if (b["address"] == backend) return b["health"].get<std::string>();
      }
      return std::string();
    };
    return healthOf(rig_->waitBackends(
        std::string(kVip) + "/backends",
        [&](const nlohmann::json& items) { return healthOf(items) == want; }, timeoutSec));
  }
};

}  // namespace xlb::control_rig
