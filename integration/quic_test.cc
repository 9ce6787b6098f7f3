// SPDX-License-Identifier: Apache-2.0
// QUIC through a running xlbd: ngtcp2's gtlsserver on three backends (UDP 443), its gtlsclient
// uploading 40 MB and changing its local port 30 ms after the handshake without telling the
// server (--nat-rebinding). The upload outlasts the rebinding many times over (about 0.4 s here),
// so a faster machine still rebinds every transfer before it ends. With quic: true the flow is
// found by the server's connection ID and moved to the new port: every transfer completes, no
// second flow (and so no second SNAT tuple at the backend) is ever created. Without it, every
// rebinding starts a new flow.
#include <gtest/gtest.h>

#include <chrono>
#include <iostream>
#include <map>
#include <thread>

#include "rig_suite.h"

namespace xlb {
namespace {

using rig::tail;

constexpr const char* kUploadBytes = "40000000";

std::string config(bool quic) {
  return R"(interface: eth0
workers: 1
snat: {addresses: [10.100.0.2], ports: 20000-29999}
vips:
  - address: 10.100.0.100
    ports: [443]
    syn_flood: {mode: off}
    backends: [{address: 10.100.0.11}, {address: 10.100.0.12}, {address: 10.100.0.13}]
  - address: 10.100.0.100
    protocol: udp
    quic: )" +
         std::string(quic ? "true" : "false") +
         R"(
    ports: [443]
    backends: [{address: 10.100.0.11}, {address: 10.100.0.12}, {address: 10.100.0.13}]
health_check: {interval: 200ms, timeout: 100ms, rise: 2, fall: 2}
)";
}

class QuicRig : public rig::RigSuite<QuicRig> {
 public:
  static constexpr rig::RigShape kShape{"quic", 1, 3};
  static void SetUpTestSuite() {
    RigSuite::SetUpTestSuite();
    if (rig_ != nullptr && rig_->ok()) {
      for (int i = 1; i <= kShape.backends; ++i) quicOk_ = rig_->startQuic(i) && quicOk_;
      rig_->exec(
          "lb", std::string("head -c ") + kUploadBytes + " /dev/zero > /tmp/" + rig_->ns("upload"));
    }
  }

 protected:
  void SetUp() override {
    RigSuite::SetUp();
    ASSERT_TRUE(quicOk_) << "gtlsserver did not start on every backend";
    rig_->exec("lb", "rm -rf " + rig_->stateDir());
  }
  // One upload with a NAT rebinding in the middle; the backend's answer to GET /which, or "" when
  // the transfer did not complete.
  std::string rebindingTransfer(int n, int timeoutSec = 20) {
    const std::string dir = "/tmp/" + rig_->ns("dl" + std::to_string(n));
    const rig::CmdResult r = rig_->exec(
        "c1",
        "rm -rf " + dir + " && mkdir -p " + dir + " && timeout " + std::to_string(timeoutSec) +
            " gtlsclient -q --exit-on-all-streams-close --change-local-addr=30ms "
            "--nat-rebinding --data=/tmp/" +
            rig_->ns("upload") + " --download=" + dir +
            " 10.100.0.100 443 https://10.100.0.100/which && cat " + dir + "/which",
        40);
    return r.status == 0 ? r.out : "";
  }

  static inline bool quicOk_ = true;
};

TEST_F(QuicRig, ARebindingClientStaysOnItsBackendAndSnatTuple) {
  start(config(true));
  ASSERT_TRUE(rig_->waitStats([](const nlohmann::json&) { return true; }, 2).is_object());
  std::this_thread::sleep_for(std::chrono::seconds(1));  // health checks up
  constexpr int kTransfers = 6;
  std::map<std::string, int> answered;
  for (int i = 0; i < kTransfers; ++i) {
    const std::string got = rebindingTransfer(i);
    EXPECT_NE(got.find("backend "), std::string::npos) << "transfer " << i << " did not complete";
    ++answered[got];
  }
  // The workers publish their figures every 100 ms: wait for the last rebinding to be in them.
  const nlohmann::json s = rig_->waitStats(
      [](const nlohmann::json& j) { return j["quic"]["rebinds"].get<int>() >= kTransfers; }, 2);
  EXPECT_EQ(s["quic"]["rebinds"], kTransfers) << s.dump(2);
  // One flow per connection: the rebinding never made a new one, so each backend saw one SNAT
  // address and port for the whole connection.
  EXPECT_EQ(s["conntrack"]["created"], kTransfers) << s.dump(2);
  EXPECT_GE(s["quic"]["connection_ids_learned"].get<std::uint64_t>(),
            static_cast<std::uint64_t>(kTransfers));
  std::cout << "[ figure ] QUIC: " << kTransfers << " uploads of " << kUploadBytes
            << " bytes with a NAT rebinding each: " << s["quic"]["rebinds"] << " rebinds, "
            << s["conntrack"]["created"] << " flows; answers";
  for (const auto& [a, n] : answered) std::cout << " [" << a.substr(0, a.find('\n')) << "]x" << n;
  std::cout << "\n";
}

// The control: the same transfers without quic: true. Each rebinding is a new 5-tuple and so a new
// flow with its own SNAT port (maybe another backend): the feature above is what keeps it.
TEST_F(QuicRig, WithoutQuicEveryRebindingIsANewFlow) {
  start(config(false));
  std::this_thread::sleep_for(std::chrono::seconds(1));
  constexpr int kTransfers = 3;
  int completed = 0;
  for (int i = 0; i < kTransfers; ++i) completed += rebindingTransfer(10 + i, 6).empty() ? 0 : 1;
  const nlohmann::json s = rig_->waitStats(
      [](const nlohmann::json& j) {
        return j["conntrack"]["created"].get<int>() >= 2 * kTransfers;
      },
      2);
  EXPECT_EQ(s["quic"]["rebinds"], 0) << s.dump(2);
  // At least the connection's first flow and the one its rebinding started; a backend that does
  // not know the connection answers with a stateless reset, which may start more.
  EXPECT_GE(s["conntrack"]["created"].get<int>(), 2 * kTransfers) << s.dump(2);
  std::cout << "[ figure ] QUIC without quic: true: " << completed << " of " << kTransfers
            << " transfers completed, " << s["conntrack"]["created"] << " flows\n";
}

}  // namespace
}  // namespace xlb
