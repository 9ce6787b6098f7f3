// SPDX-License-Identifier: Apache-2.0
// A GoogleTest suite that shares one rig: brought up once for the suite with nginx on every
// backend, and after each test xlbd stopped (its log tail printed when the test failed).
// Derive as `class Name : public RigSuite<Name>` and give the shape with a static kShape.
#pragma once

#include <gtest/gtest.h>

#include <csignal>
#include <filesystem>
#include <iostream>

#include "privileges.h"
#include "rig.h"

namespace xlb::rig {

struct RigShape {
  const char* name;
  int clients;
  int backends;
};

template <typename Suite>
class RigSuite : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (geteuid() != 0) return;
    rig_ = new Rig(Suite::kShape.name, Suite::kShape.clients, Suite::kShape.backends);
    if (rig_->ok()) {
      for (int i = 1; i <= Suite::kShape.backends; ++i) rig_->startNginx(i);
    }
  }
  static void TearDownTestSuite() {
    delete rig_;
    rig_ = nullptr;
  }
  void SetUp() override {
    XLB_REQUIRE_ROOT();
    ASSERT_NE(rig_, nullptr);
    ASSERT_TRUE(rig_->ok()) << rig_->setupLog();
  }
  void TearDown() override {
    if (rig_ != nullptr && rig_->xlbdRunning()) {
      if (HasFailure()) std::cerr << "xlbd log tail:" << tail(rig_->xlbdLog(), 40) << "\n";
      rig_->stopXlbd(SIGTERM);
    }
    // A stop keeps the program attached and the connections for the next start, and the state
    // directory the runtime changes (blocklist, services, settings): each test starts from
    // nothing instead, as it does under ctest, which runs each in its own process.
    if (rig_ != nullptr && rig_->ok()) {
      rig_->detachXlbd();
      std::error_code ec;
      for (const auto& f : std::filesystem::directory_iterator(rig_->stateDir(), ec)) {
        if (f.path().extension() == ".json") std::filesystem::remove(f.path(), ec);
      }
    }
  }
  // Starts xlbd with this configuration or fails the test with its log.
  void start(const std::string& config) {
    std::string log;
    ASSERT_TRUE(rig_->startXlbd(config, log)) << "xlbd did not start:\n" << log;
  }

  static inline Rig* rig_ = nullptr;
};

}  // namespace xlb::rig
