// SPDX-License-Identifier: Apache-2.0
// The fixture of the XDP program's tests (xdp_test.cc, xdp_syn_test.cc): each test runs on both
// runtimes, the kernel's through BPF_PROG_TEST_RUN and the native build, pinned to one CPU, and
// reads each frame's reason back from the program's own per-CPU counters.
#pragma once

#include <gtest/gtest.h>
#include <linux/bpf.h>
#include <sched.h>

#include <memory>
#include <string>
#include <vector>

#include "fixtures.h"
#include "privileges.h"
#include "xlb/xdp_program.h"

namespace xlb::testing {

constexpr CookieKey kKey{0x0123456789abcdefull, 0xfedcba9876543210ull};
constexpr TimeNs kNow = 1000 * kNsPerSec;

// Per-CPU counters and SYN-rate state: a test's runs all on one CPU.
inline bool pinToFirstCpu() {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(0, &set);
  return sched_setaffinity(0, sizeof set, &set) == 0;
}

inline Config configWith(SynFloodMode mode, std::uint32_t thresholdPps = 20000) {
  Config c = udpTestConfig();
  for (VipConfig& v : c.vips) {
    v.synFlood.mode = mode;
    v.synFlood.thresholdPps = thresholdPps;
  }
  return c;
}

class XdpFixture : public ::testing::TestWithParam<XdpRuntimeKind> {
 protected:
  void SetUp() override {
    if (GetParam() == XdpRuntimeKind::kKernel) XLB_REQUIRE_ROOT();
    ASSERT_TRUE(pinToFirstCpu());
    load(XdpOptions{});
  }

  void load(XdpOptions o) {
    std::string err;
    o.runtime = GetParam();
    prog_ = XdpProgram::load(o, err);
    ASSERT_NE(prog_, nullptr) << err;
    ASSERT_TRUE(prog_->applyConfig(configWith(SynFloodMode::kOff), kKey, err)) << err;
    prog_->setFixedNow(kNow);
  }

  void apply(const Config& c) {
    std::string err;
    ASSERT_TRUE(prog_->applyConfig(c, kKey, err)) << err;
  }

  // Runs the frame (replaced by the output) and returns the one reason the program counted.
  Reason run(Bytes& frame, int* action = nullptr) {
    const auto before = prog_->stats();
    const XdpProgram::RunResult r = prog_->run(frame);
    EXPECT_GE(r.action, 0) << "test run failed: " << r.action;
    if (action != nullptr) *action = r.action;
    const auto after = prog_->stats();
    std::vector<std::size_t> moved;
    for (std::size_t i = 0; i < kReasonCount; ++i) {
      if (after[i].packets != before[i].packets) moved.push_back(i);
    }
    EXPECT_EQ(moved.size(), 1u) << "expected exactly one counted reason";
    if (moved.size() != 1) return Reason::kPassNotIp;
    EXPECT_EQ(after[moved[0]].packets - before[moved[0]].packets, 1u);
    return static_cast<Reason>(moved[0]);
  }

  static int xdpActionOf(Reason r, bool failOpen = false) {
    switch (actionOf(r)) {
      case Action::kDrop:
        return XDP_DROP;
      case Action::kPass:
        return XDP_PASS;
      case Action::kTx:
        return XDP_TX;
      case Action::kRedirect:
        return XDP_REDIRECT;
      case Action::kHold:
        break;
    }
    return failOpen ? XDP_PASS : -1;
  }

  std::unique_ptr<XdpProgram> prog_;
};

inline std::string runtimeName(const ::testing::TestParamInfo<XdpRuntimeKind>& i) {
  return i.param == XdpRuntimeKind::kKernel ? "Kernel" : "Native";
}

}  // namespace xlb::testing
