// SPDX-License-Identifier: Apache-2.0
// An IPv6 VIP served through a running xlbd, set up the way the README tells a user to: the VIP
// added with `ip -6 addr add VIP/128 dev eth0 nodad` (a preferred address, so the kernel may
// pick it as the source of the host's own connections) next to the LB's own IPv6 address,
// which is also the IPv6 SNAT address. Health checks must come up (they are bound to the SNAT
// address), HTTP must spread over the backends, an IPv6 prefix on the blocklist must bite, and
// an IPv6 client must get through SYN cookies. A mixed IPv4/IPv6 configuration throughout.
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <thread>

#include "rig_suite.h"

namespace xlb {
namespace {

using rig::Rig;
using rig::tail;

constexpr const char* kVip6 = "fd00:100::100";
constexpr const char* kUrl6 = "-g http://[fd00:100::100]/";

std::string config(const std::string& synMode) {
  return R"(interface: eth0
workers: 1
snat: {addresses: [10.100.0.2, "fd00:100::2"], ports: 20000-29999}
vips:
  - address: 10.100.0.100
    ports: [80]
    syn_flood: {mode: off}
    backends: [{address: 10.100.0.11}, {address: 10.100.0.12}, {address: 10.100.0.13}]
  - address: "fd00:100::100"
    ports: [80, 443]
    syn_flood: {mode: )" +
         synMode + R"(, threshold_pps: 2000}
    backends: [{address: "fd00:100::11"}, {address: "fd00:100::12"}, {address: "fd00:100::13"}]
conntrack:
  capacity: 100000
  timeouts: {syn: 3s, established: 60s, fin: 3s, time_wait: 1s, rst: 1s}
health_check: {interval: 200ms, timeout: 100ms, rise: 2, fall: 2}
)";
}

std::uint64_t stat(const nlohmann::json& j, const char* section, const char* key) {
  if (!j.contains(section) || !j[section].contains(key)) return 0;
  return j[section][key].get<std::uint64_t>();
}

class Ipv6 : public rig::RigSuite<Ipv6> {
 public:
  static constexpr rig::RigShape kShape{"v6", 3, 3};

 protected:
  void SetUp() override {
    RigSuite::SetUp();
    if (!HasFatalFailure()) rig_->exec("lb", "rm -rf " + rig_->stateDir());
  }
  void start(const std::string& synMode) { RigSuite::start(config(synMode)); }
  // Waits until every backend of the VIP is up (health checks answered); returns the listing.
  nlohmann::json waitAllUp(const std::string& vip, int timeoutSec) {
    nlohmann::json items;
    for (int i = 0; i < timeoutSec * 10; ++i) {
      const auto r = rig_->api("GET", "/api/v1/vips/" + vip + "/backends");
      items = r.body["items"];
      bool all = items.is_array() && !items.empty();
      for (const auto& b : items) all = all && b["health"] == "up";
      if (all) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return items;
  }
};

TEST_F(Ipv6, VipAddedAsTheReadmeSaysServesAndHealthChecksComeUp) {
  start("off");
  // The rig adds the VIP as a preferred address, as a user would: xlbd says so at start.
  EXPECT_NE(rig_->xlbdLog().find("IPv6 VIP fd00:100::100 on eth0 is a preferred source address"),
            std::string::npos)
      << tail(rig_->xlbdLog());
  const nlohmann::json before = rig_->stats();
  const nlohmann::json items = waitAllUp(kVip6, 5);
  for (const auto& b : items) EXPECT_EQ(b["health"], "up") << items.dump();
  EXPECT_EQ(waitAllUp("10.100.0.100", 5)[0]["health"], "up");

  const auto got = rig_->curlBodies(1, 150, kUrl6);
  EXPECT_EQ(got.count("FAIL"), 0u) << "failed: " << (got.count("FAIL") ? got.at("FAIL") : 0);
  for (int b = 1; b <= 3; ++b) {
    const std::string body = "backend " + std::to_string(b);
    const int n = got.count(body) ? got.at(body) : 0;
    EXPECT_GT(n, 25) << body;  // a third of 150 each, within Maglev's spread
  }
  const rig::WrkResult w = rig::parseWrk(
      rig_->exec("c2", "wrk -t1 -c10 -d2s -H 'Connection: close' http://[fd00:100::100]/", 20).out);
  EXPECT_GT(w.requests, 500);
  EXPECT_EQ(w.errors(), 0);
  // The health probes' answers reached the host: none was taken for VIP traffic.
  const nlohmann::json after = rig_->stats();
  EXPECT_EQ(stat(after, "xdp", "port_filter"), stat(before, "xdp", "port_filter")) << after.dump();
  // TLS on 443 as well.
  const auto tls = rig_->curlBodies(3, 20, "-k -g https://[fd00:100::100]/");
  EXPECT_EQ(tls.count("FAIL"), 0u);
}

TEST_F(Ipv6, BlocklistOfAnIpv6PrefixBitesAndLifts) {
  start("off");
  waitAllUp(kVip6, 5);
  // c2 is fd00:100::22 and c3 fd00:100::23: a /127 holds both, not c1.
  auto r = rig_->api("POST", "/api/v1/blocklist", R"({"cidr":"fd00:100::22/127"})");
  ASSERT_EQ(r.status, 201) << r.raw;
  const auto blocked = rig_->curlBodies(2, 3, kUrl6);
  ASSERT_EQ(blocked.count("FAIL"), 1u);
  EXPECT_EQ(blocked.at("FAIL"), 3);
  EXPECT_EQ(rig_->curlBodies(1, 10, kUrl6).count("FAIL"), 0u);
  const nlohmann::json s = rig_->stats();
  EXPECT_GE(stat(s, "blocklist", "drops"), 3u) << s.dump();
  r = rig_->api("DELETE", "/api/v1/blocklist/fd00:100::22/127");
  ASSERT_EQ(r.status, 204) << r.raw;
  EXPECT_EQ(rig_->curlBodies(3, 10, kUrl6).count("FAIL"), 0u);
}

TEST_F(Ipv6, Ipv6ClientGetsThroughSynCookies) {
  start("always");
  waitAllUp(kVip6, 5);
  const nlohmann::json before = rig_->stats();
  const auto got = rig_->curlBodies(1, 50, kUrl6);
  EXPECT_EQ(got.count("FAIL"), 0u) << "failed: " << (got.count("FAIL") ? got.at("FAIL") : 0);
  const nlohmann::json after = rig_->stats();
  EXPECT_GE(stat(after, "syncookies", "sent") - stat(before, "syncookies", "sent"), 50u)
      << after.dump();
  EXPECT_GE(stat(after, "syncookies", "validated") - stat(before, "syncookies", "validated"), 50u)
      << after.dump();
}

}  // namespace
}  // namespace xlb
