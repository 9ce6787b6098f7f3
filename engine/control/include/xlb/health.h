// SPDX-License-Identifier: Apache-2.0
// Active health checks: a probe of each backend every interval (the daemon's prober is a TCP
// connect from the host's own stack, io/tcp_probe.h; its ephemeral ports lie outside the SNAT
// range, so the XDP program hands the replies to the kernel). A backend's first probe gives its
// first verdict; after that it turns down after `fall` failures in a row and up after `rise`
// successes.
#pragma once

#include <atomic>
#include <chrono>
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
  // Feeds one result; returns the new health when it changed. The first result of a key decides
  // at once: until then the backend's health is unknown and it takes new connections, so a dead
  // one would take its share for `fall` intervals after a start or an addition (a closed-loop
  // client that never gives up a connection ends up with all of them there).
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
  // One round's probes: a result per target, within `timeout`, returning early once `stop` is
  // set.
  using Prober = std::function<std::vector<bool>(const std::vector<ProbeTarget>&,
                                                 std::chrono::nanoseconds timeout,
                                                 const std::atomic<bool>& stop)>;
  HealthChecker(Controller& controller, const HealthCheckConfig& config, Prober prober);
  ~HealthChecker();
  void start();
  void stop();
  // Rounds begun so far (a round that threw counts too).
  std::uint64_t rounds() const noexcept { return rounds_.load(); }

 private:
  void run();
  // Probes every target once and reports changes (exceptions are caught by run()).
  void round();

  Controller& controller_;
  HealthCheckConfig config_;
  Prober prober_;
  HealthTracker tracker_;
  std::atomic<bool> stop_{false};
  std::atomic<std::uint64_t> rounds_{0};
  std::thread thread_;
};

}  // namespace xlb
