// SPDX-License-Identifier: Apache-2.0
// Active health checks: a TCP connect to each backend every interval, from the host's own stack
// (its ephemeral ports lie outside the SNAT range, so the XDP program hands the replies to the
// kernel). A backend turns down after `fall` failures in a row and up after `rise` successes.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "xlb/config.h"
#include "xlb/controller.h"

namespace xlb {

// The rise/fall counting, apart from sockets and time so it can be tested as is.
class HealthTracker {
 public:
  HealthTracker(std::uint32_t rise, std::uint32_t fall) : rise_(rise), fall_(fall) {}
  // Feeds one result; returns the new health when it changed.
  std::optional<bool> record(const std::string& key, bool success);

 private:
  struct State {
    std::optional<bool> up;  // unknown until the first verdict
    std::uint32_t streak = 0;
    bool streakOk = false;
  };
  std::uint32_t rise_, fall_;
  std::map<std::string, State> states_;
};

class HealthChecker {
 public:
  HealthChecker(Controller& controller, const HealthCheckConfig& config);
  ~HealthChecker();
  void start();
  void stop();
  // Rounds begun so far (a round that threw counts too).
  std::uint64_t rounds() const noexcept { return rounds_.load(); }

 private:
  void run();
  // Probes every target once and reports changes (exceptions are caught by run()).
  void round();
  // One round: a non-blocking connect to every target, waited for together up to the timeout.
  std::vector<bool> probe(const std::vector<Controller::HealthTarget>& targets);

  Controller& controller_;
  HealthCheckConfig config_;
  HealthTracker tracker_;
  std::atomic<bool> stop_{false};
  std::atomic<std::uint64_t> rounds_{0};
  std::thread thread_;
};

}  // namespace xlb
