// SPDX-License-Identifier: Apache-2.0
// The hand-over protocol end to end over a real Unix socket, with the running process's side
// driven by callbacks: who stops, who resumes, and what is refused before anything stops.
#include "xlbd_handover.h"

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <thread>

#include "xlb/flow_store.h"
#include "xlbd_restart.h"

namespace xlb {
namespace {

class HandoverProtocol : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/xlb-takeover-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    config_.runtimeDir = tmpl;
    config_.workers = 1;
    config_.framesPerQueue = 4096;
    std::string err;
    listener_ = HandoverListener::listen(handoverSocketPath(config_), err);
    ASSERT_NE(listener_, nullptr) << err;
  }
  void TearDown() override { std::filesystem::remove_all(config_.runtimeDir); }

  // The running process: serves one request on its own thread.
  void serveOne() {
    old_ = std::thread([this] {
      std::unique_ptr<HandoverChannel> ch;
      for (int i = 0; i < 200 && !ch; ++i) {
        ch = listener_->accept();
        if (!ch) std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
      if (!ch) return;
      HandoverSource src;
      src.workers = 1;
      src.frames = 4096;
      src.stopControl = [] {};
      src.stopWorkers = [this] { ++stopped_; };
      src.sockets = [] { return std::vector<XskHandover>{}; };
      src.releaseFlows = [this] { ++released_; };
      src.resume = [this] { ++resumed_; };
      handedOver_ = handOver(*ch, src);
    });
  }

  Config config_;
  std::unique_ptr<HandoverListener> listener_;
  std::thread old_;
  std::atomic<int> stopped_{0}, released_{0}, resumed_{0};
  std::atomic<bool> handedOver_{false};
};

TEST_F(HandoverProtocol, ATakeoverStopsTheOldProcessWhichExitsOnDone) {
  serveOne();
  std::string err;
  auto t = Takeover::begin(config_, err);
  ASSERT_NE(t, nullptr) << err;
  EXPECT_EQ(t->previousPid(), getpid());
  EXPECT_EQ(stopped_, 0) << "nothing stops before the new process asks";
  ASSERT_TRUE(t->quiesce(err)) << err;
  EXPECT_EQ(stopped_, 1);
  EXPECT_EQ(released_, 1);
  EXPECT_GE(t->pausedMs(), 0.0);
  t->tablesTouched();
  t->done();
  old_.join();
  EXPECT_TRUE(handedOver_);
  EXPECT_EQ(resumed_, 0);
}

TEST_F(HandoverProtocol, ANewProcessThatFailsBeforeTheTablesLetsTheOldOneResume) {
  serveOne();
  std::string err;
  auto t = Takeover::begin(config_, err);
  ASSERT_NE(t, nullptr) << err;
  ASSERT_TRUE(t->quiesce(err)) << err;
  t->abandon();
  old_.join();
  EXPECT_FALSE(handedOver_);
  EXPECT_EQ(resumed_, 1);
}

TEST_F(HandoverProtocol, AfterTheTablesAreTakenTheOldProcessExitsEvenIfTheNewOneFails) {
  serveOne();
  std::string err;
  auto t = Takeover::begin(config_, err);
  ASSERT_NE(t, nullptr) << err;
  ASSERT_TRUE(t->quiesce(err)) << err;
  t->tablesTouched();
  t->abandon();
  t.reset();  // the new process exits
  old_.join();
  EXPECT_TRUE(handedOver_);
  EXPECT_EQ(resumed_, 0);
}

TEST_F(HandoverProtocol, AnotherWorkerCountOrTablesThatDoNotFitAreRefusedBeforeAnythingStops) {
  serveOne();
  Config other = config_;
  other.workers = 2;
  std::string err;
  EXPECT_EQ(Takeover::begin(other, err), nullptr);
  EXPECT_NE(err.find("worker"), std::string::npos) << err;
  old_.join();
  EXPECT_EQ(stopped_, 0);
  EXPECT_FALSE(handedOver_);
  // Tables written for another capacity: a hand-over would drop them.
  {
    FlowStoreOpen r;
    FlowLayout l = flowLayout(config_);
    l.capacityPerWorker += 1;
    auto s = FlowStore::open(flowFilePath(config_), l, err, r);
    ASSERT_NE(s, nullptr) << err;
    s->claim({});
  }
  serveOne();
  err.clear();
  EXPECT_EQ(Takeover::begin(config_, err), nullptr);
  EXPECT_NE(err.find("do not fit"), std::string::npos) << err;
  old_.join();
  EXPECT_EQ(stopped_, 0);
}

TEST_F(HandoverProtocol, NobodyRunningMeansANormalStart) {
  listener_.reset();
  std::filesystem::remove(handoverSocketPath(config_));
  std::string err;
  EXPECT_EQ(Takeover::begin(config_, err), nullptr);
  EXPECT_TRUE(err.empty()) << err;
}

}  // namespace
}  // namespace xlb
