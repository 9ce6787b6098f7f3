// SPDX-License-Identifier: Apache-2.0
// Suites that need root and BPF skip without them on a developer machine, and fail under CI=true,
// where a skipped suite would hide a regression.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

namespace xlb::testing {

inline bool underCi() {
  const char* ci = std::getenv("CI");
  return ci != nullptr && std::string(ci) == "true";
}

}  // namespace xlb::testing

// Use at the top of a test or SetUp(): `XLB_REQUIRE_ROOT();`
#define XLB_REQUIRE_ROOT()                                                        \
  do {                                                                            \
    if (::geteuid() != 0) {                                                       \
      if (::xlb::testing::underCi()) FAIL() << "this suite needs root (CI=true)"; \
      GTEST_SKIP() << "needs root";                                               \
    }                                                                             \
  } while (0)
