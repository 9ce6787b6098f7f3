// SPDX-License-Identifier: Apache-2.0
#include "xlb/health.h"

#include <chrono>

#include "xlb/boundary.h"

namespace xlb {

std::optional<bool> HealthTracker::record(const std::string& key, bool success) {
  State& s = states_[key];
  if (!s.up || s.streakOk != success) {
    s.streakOk = success;
    s.streak = 0;
  }
  ++s.streak;
  const bool verdict = !s.up || s.streak >= (success ? rise_ : fall_);
  if (verdict && s.up != success) {
    s.up = success;
    return success;
  }
  return std::nullopt;
}

HealthChecker::HealthChecker(Controller& controller, const HealthCheckConfig& config, Prober prober)
    : controller_(controller),
      config_(config),
      prober_(std::move(prober)),
      tracker_(config.rise, config.fall) {}

HealthChecker::~HealthChecker() {
  stop();
}

void HealthChecker::start() {
  stop_ = false;
  thread_ = std::thread([this] { run(); });
}

void HealthChecker::stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

void HealthChecker::run() {
  using Clock = std::chrono::steady_clock;
  const auto interval = std::chrono::nanoseconds(config_.interval);
  auto next = Clock::now();
  while (!stop_) {
    guardBoundary(Boundary::kHealth, [&] { round(); });
    next += interval;
    // Sleep in short steps so stop() is prompt.
    while (!stop_ && Clock::now() < next)
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    if (Clock::now() > next + interval) next = Clock::now();
  }
}

void HealthChecker::round() {
  ++rounds_;
  faultPoint(Boundary::kHealth);
  const std::vector<Controller::HealthTarget> targets = controller_.healthTargets();
  std::vector<ProbeTarget> probes;
  probes.reserve(targets.size());
  for (const auto& t : targets) probes.push_back({t.backend, t.port, t.source});
  const std::vector<bool> results =
      prober_(probes, std::chrono::nanoseconds(config_.timeout), stop_);
  for (std::size_t i = 0; i < targets.size() && !stop_; ++i) {
    const auto& t = targets[i];
    const std::string key = t.vip.toString() + "|" + t.backend.toString();
    if (auto changed = tracker_.record(key, results[i])) {
      controller_.reportHealth(t.vip, t.backend, *changed);
    }
  }
}

}  // namespace xlb
