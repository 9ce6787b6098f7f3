// SPDX-License-Identifier: Apache-2.0
// The health checker with a scripted prober against a Controller on fakes: it probes every
// backend from the SNAT address of its family, each round; a backend whose probes fail `fall`
// times in a row leaves rotation and one that answers `rise` times comes back.
#include "xlb/health.h"

#include <gtest/gtest.h>

#include <mutex>
#include <thread>

#include "control_fakes.h"

namespace xlb {
namespace {

using testing::ControlFixture;

struct ScriptedProber {
  std::mutex mutex;
  std::set<std::string> failing;  // backends whose probes fail
  std::vector<ProbeTarget> last;
  std::uint64_t rounds = 0;

  std::vector<bool> operator()(const std::vector<ProbeTarget>& targets) {
    std::lock_guard lock(mutex);
    last = targets;
    ++rounds;
    std::vector<bool> out;
    for (const ProbeTarget& t : targets) out.push_back(!failing.count(t.backend.toString()));
    return out;
  }
};

std::string healthOf(ControlFixture& f, const std::string& backend) {
  const nlohmann::json j = f.json(f.call(HttpMethod::kGet, "/api/v1/vips/10.0.0.100/backends"));
  for (const auto& b : j["items"]) {
    if (b["address"] == backend) return b["health"].get<std::string>();
  }
  return "absent";
}

// Waits (bounded) until the prober has run `n` more rounds.
void waitRounds(ScriptedProber& p, std::uint64_t n) {
  std::uint64_t start = 0;
  {
    std::lock_guard lock(p.mutex);
    start = p.rounds;
  }
  for (int i = 0; i < 400; ++i) {
    {
      std::lock_guard lock(p.mutex);
      if (p.rounds >= start + n) return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  FAIL() << "the health checker did not run " << n << " rounds in 2 s";
}

TEST(HealthChecker, ProbesFromTheSnatAddressAndFollowsRiseAndFall) {
  ControlFixture f;
  HealthCheckConfig hc;
  hc.enabled = true;
  hc.interval = 5 * kNsPerMs;
  hc.timeout = 5 * kNsPerMs;
  hc.rise = 2;
  hc.fall = 2;
  ScriptedProber prober;
  HealthChecker checker(*f.controller, hc,
                        [&](const std::vector<ProbeTarget>& t, std::chrono::nanoseconds,
                            const std::atomic<bool>&) { return prober(t); });
  checker.start();
  waitRounds(prober, 3);
  EXPECT_EQ(healthOf(f, "10.0.0.11"), "up");
  {
    std::lock_guard lock(prober.mutex);
    ASSERT_EQ(prober.last.size(), 2u);  // 10.0.0.11 and 2001:db8::11
    for (const ProbeTarget& t : prober.last) {
      ASSERT_TRUE(t.source.has_value());
      EXPECT_EQ(t.source->family, t.backend.family);  // the SNAT address of its family
    }
    prober.failing.insert("10.0.0.11");
  }
  waitRounds(prober, 3);
  EXPECT_EQ(healthOf(f, "10.0.0.11"), "down");
  {
    std::lock_guard lock(prober.mutex);
    prober.failing.clear();
  }
  waitRounds(prober, 3);
  checker.stop();
  EXPECT_EQ(healthOf(f, "10.0.0.11"), "up");
  EXPECT_GE(checker.rounds(), 9u);
}

}  // namespace
}  // namespace xlb
