// SPDX-License-Identifier: Apache-2.0
// Direct server return through a running xlbd: backends hold the VIP on lo (not announced) and
// answer clients directly. L2 (the backend's MAC) on one rig, IPIP (an outer header that
// xlb_decap.bpf.o removes on the backend) on another. curl and wrk through the VIP; nginx's
// /whoami shows the client's own address; xlbd's counters show no client-bound transmission.
#include <gtest/gtest.h>

#include <chrono>
#include <iostream>
#include <thread>

#include "rig_suite.h"

namespace xlb {
namespace {

using rig::Rig;
using rig::tail;

std::string config(const char* encap) {
  return R"(interface: eth0
workers: 1
snat: {addresses: [10.100.0.2], ports: 20000-29999}
vips:
  - address: 10.100.0.100
    forwarding: dsr
    encapsulation: )" +
         std::string(encap) + R"(
    ports: [80]
    backends: [{address: 10.100.0.11}, {address: 10.100.0.12}, {address: 10.100.0.13}]
health_check: {interval: 200ms, timeout: 100ms, rise: 2, fall: 2}
)";
}

std::uint64_t num(const nlohmann::json& j, const char* section, const char* key) {
  if (!j.contains(section) || !j[section].contains(key)) return 0;
  return j[section][key].get<std::uint64_t>();
}

template <typename Suite>
class DsrSuite : public rig::RigSuite<Suite> {
 protected:
  using Base = rig::RigSuite<Suite>;
  void SetUp() override {
    Base::SetUp();
    ASSERT_TRUE(dsrOk_) << "a backend could not be set up for DSR";
  }
  static void setUpDsr(bool ipip) {
    Base::SetUpTestSuite();
    if (Base::rig_ == nullptr || !Base::rig_->ok()) return;
    for (int i = 1; i <= 3; ++i) dsrOk_ = Base::rig_->setupDsr(i, ipip) && dsrOk_;
  }
  // Health up, HTTP spread over three backends, the backends seeing the client, wrk without an
  // error, and nothing transmitted towards a client.
  void checkDsr() {
    Rig& rig = *Base::rig_;
    bool up = false;
    for (int i = 0; i < 50 && !up; ++i) {
      const auto r = rig.api("GET", "/api/v1/vips/10.100.0.100/backends");
      up = r.body["items"].size() == 3;
      for (const auto& b : r.body["items"]) up = up && b["health"] == "up";
      if (!up) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    ASSERT_TRUE(up) << tail(rig.xlbdLog());
    const auto got = rig.curlBodies(1, 150, "http://10.100.0.100/");
    EXPECT_EQ(got.count("FAIL"), 0u) << "failed: " << (got.count("FAIL") ? got.at("FAIL") : 0);
    for (int b = 1; b <= 3; ++b) {
      const std::string body = "backend " + std::to_string(b);
      EXPECT_GT(got.count(body) ? got.at(body) : 0, 25) << body;
    }
    const auto who = rig.curlBodies(1, 3, "http://10.100.0.100/whoami");
    EXPECT_EQ(who.count("10.100.0.21"), 1u) << "the backend did not see the client's address";
    const rig::WrkResult w = rig::parseWrk(
        rig.exec("c2", "wrk -t1 -c10 -d3s -H 'Connection: close' http://10.100.0.100/", 20).out);
    EXPECT_GT(w.requests, 500);
    EXPECT_EQ(w.errors(), 0);
    const nlohmann::json s = rig.stats();
    EXPECT_GT(num(s, "engine", "tx_to_backend"), static_cast<std::uint64_t>(w.requests));
    EXPECT_EQ(num(s, "engine", "tx_to_client"), 0u) << s.dump(2);  // replies never cross xlb
    EXPECT_EQ(num(s, "engine", "no_conntrack"), 0u) << s.dump(2);
    EXPECT_EQ(num(s, "conntrack", "created"), 0u) << s.dump(2);  // stateless
    std::cout << "[ figure ] DSR: wrk " << w.requests << " requests in 3 s, " << w.errors()
              << " errors; to backends " << num(s, "engine", "tx_to_backend")
              << " frames, to clients " << num(s, "engine", "tx_to_client") << "\n";
  }
  static inline bool dsrOk_ = true;
};

class DsrL2 : public DsrSuite<DsrL2> {
 public:
  static constexpr rig::RigShape kShape{"dsrl2", 2, 3};
  static void SetUpTestSuite() { setUpDsr(false); }
};

class DsrIpip : public DsrSuite<DsrIpip> {
 public:
  static constexpr rig::RigShape kShape{"dsrip", 2, 3};
  static void SetUpTestSuite() { setUpDsr(true); }
};

TEST_F(DsrL2, RepliesGoStraightToTheClientWhoIsSeenByTheBackend) {
  start(config("l2"));
  checkDsr();
}

TEST_F(DsrIpip, EncapsulatedToBackendsThatDecapsulateInXdp) {
  start(config("ipip"));
  checkDsr();
}

}  // namespace
}  // namespace xlb
