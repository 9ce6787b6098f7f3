// SPDX-License-Identifier: Apache-2.0
// The soak (scripts/soak.sh) for two minutes: mixed traffic, SYN-flood bursts, blocklist churn,
// a backend added, drained and removed and another health-flapped, sampled every 10 s. It must
// pass its own judgement: nothing grows after warm-up, no client error outside the deliberate
// faults, and everything drained at the end. `make soak` runs the same for 30 minutes. A failed
// run's output (chunks, faults, samples, xlbd's log, the plot) is kept under test-artefacts.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "privileges.h"
#include "rig.h"

namespace xlb {
namespace {

TEST(Soak, TwoMinutesOfMixedTrafficAndFaultsLeaveNothingBehind) {
  XLB_REQUIRE_ROOT();
  char tmpl[] = "/tmp/xlb-soak-out-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string out = tmpl;
  const rig::CmdResult r =
      rig::sh("cd " XLB_SOURCE_DIR " && SOAK_MINUTES=2 RIG_BIN=" XLB_BIN_DIR " scripts/soak.sh " +
                  out + " 2>&1",
              420);
  std::cout << rig::tail(r.out, 14) << "\n";
  std::ifstream f(out + "/summary.json");
  const nlohmann::json s = nlohmann::json::parse(f, nullptr, false);
  if (s.is_object()) {
    for (const auto& c : s["checks"]) {
      EXPECT_TRUE(c["ok"].get<bool>()) << c["check"] << ": " << c["detail"];
    }
    EXPECT_GE(s["samples"].get<int>(), 10);
  } else {
    ADD_FAILURE() << "no summary.json: " << r.out;
  }
  EXPECT_EQ(r.status, 0) << rig::tail(r.out, 40);
  if (!::testing::Test::HasFailure()) {
    rig::sh("rm -rf " + out);
    return;
  }
  // What xlbd warned about, and where the rest is: CI shows only this test's output.
  std::cout
      << rig::sh("grep -E '^\\S+ (warning|error|critical) ' " + out + "/xlbd.log | tail -n 20").out;
  const std::string kept = std::string(XLB_ARTEFACT_DIR) + "/soak";
  rig::sh("mkdir -p " XLB_ARTEFACT_DIR " && rm -rf " + kept + " && mv " + out + " " + kept);
  std::cout << "soak: the run's output is in " << kept << "\n";
}

}  // namespace
}  // namespace xlb
