// SPDX-License-Identifier: Apache-2.0
// An IPv6 VIP served through a running xlbd, set up the way the README tells a user to: the VIP
// added with `ip -6 addr add VIP/128 dev eth0 nodad` (a preferred address, so the kernel may
// pick it as the source of the host's own connections) next to the LB's own IPv6 address,
// which is also the IPv6 SNAT address. Health checks must come up (they are bound to the SNAT
// address), HTTP and HTTPS must spread over the backends, an IPv6 prefix on the blocklist must
// bite, other ports of the VIP must be dropped, an IPv6 client must get through SYN cookies, and
// a spoofed IPv6 SYN flood of 50,000 SYNs (scripts/netns/synflood6.py: hping3 has no IPv6) must
// be answered with cookies in `always` and `auto` mode while real clients keep being served. A
// mixed IPv4/IPv6 configuration throughout.
#include <gtest/gtest.h>

#include <chrono>
#include <iostream>
#include <map>
#include <regex>
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
  // 50,000 spoofed SYNs from fd00:100:0:0:8000::/65 (inside the rig's /64, never a rig host) at
  // 10,000/s from c2, with wrk over IPv6 from c1 alongside (a new connection per request); at
  // least 99 % of wrk's requests must succeed. Returns wrk's result and the stats afterwards.
  std::pair<rig::WrkResult, nlohmann::json> floodWithWrk() {
    const std::string mac = rig_->exec("lb", "cat /sys/class/net/eth0/address").out;
    const std::string flood =
        "/usr/bin/python3 " XLB_SOURCE_DIR "/scripts/netns/synflood6.py eth0 " +
        mac.substr(0, mac.find('\n')) + " " + kVip6 + " 80 50000 10000 fd00:100:0:0:8000::/65 7 20";
    rig::CmdResult sent;
    std::thread sender([&] { sent = rig_->exec("c2", flood, 40); });
    usleep(300 * 1000);  // the flood is under way before the clients start
    const rig::CmdResult out =
        rig_->exec("c1", "wrk -t1 -c10 -d3s -H 'Connection: close' http://[fd00:100::100]/", 20);
    sender.join();
    const rig::WrkResult w = rig::parseWrk(out.out);
    const nlohmann::json result = nlohmann::json::parse(sent.out, nullptr, false);
    EXPECT_FALSE(result.is_discarded()) << sent.out;
    if (!result.is_discarded()) {
      EXPECT_EQ(result["sent"], 50000) << sent.out;
    }
    usleep(500 * 1000);  // the workers' next publication
    nlohmann::json s = rig_->stats();
    EXPECT_GT(w.requests, 300) << out.out << s.dump(2);
    EXPECT_LE(w.errors() * 100, w.requests) << "more than 1% of the requests failed\n" << out.out;
    return {w, s};
  }
  nlohmann::json waitAllUp(const std::string& vip, int timeoutSec) {
    return rig_->waitBackends(vip + "/backends", rig::Rig::allUp, timeoutSec);
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
  // TLS on 443 as well, with curl and with wrk.
  const auto tls = rig_->curlBodies(3, 20, "-k -g https://[fd00:100::100]/");
  EXPECT_EQ(tls.count("FAIL"), 0u);
  const rig::WrkResult ws =
      rig::parseWrk(rig_->exec("c3", "wrk -t1 -c10 -d2s https://[fd00:100::100]/", 20).out);
  EXPECT_GT(ws.requests, 200);
  EXPECT_EQ(ws.errors(), 0);
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

TEST_F(Ipv6, OtherPortsOfTheIpv6VipAreDroppedInXdp) {
  start("off");
  waitAllUp(kVip6, 5);
  const nlohmann::json before = rig_->stats();
  EXPECT_EQ(rig_->curlBodies(1, 1, "-g http://[fd00:100::100]:8080/").count("FAIL"), 1u);
  EXPECT_EQ(rig_->curlBodies(1, 1, "-g http://[fd00:100::100]:22/").count("FAIL"), 1u);
  const nlohmann::json after = rig_->stats();
  // curl retries each SYN: at least one drop per port.
  EXPECT_GE(stat(after, "xdp", "port_filter") - stat(before, "xdp", "port_filter"), 2u)
      << after.dump();
  EXPECT_EQ(rig_->curlBodies(1, 5, kUrl6).count("FAIL"), 0u);
}

TEST_F(Ipv6, SpoofedIpv6SynFloodInCookieModeCreatesNoEntries) {
  start("always");
  waitAllUp(kVip6, 5);
  const nlohmann::json before = rig_->stats();
  const auto [w, s] = floodWithWrk();
  // Entries come only from completed handshakes (wrk's, plus the few in flight when it stopped).
  const auto created = stat(s, "conntrack", "created") - stat(before, "conntrack", "created");
  EXPECT_LE(created, static_cast<std::uint64_t>(w.requests) + 100) << s.dump(2);
  EXPECT_GE(stat(s, "syncookies", "sent") - stat(before, "syncookies", "sent"),
            49000u + static_cast<std::uint64_t>(w.requests))
      << s.dump(2);
  EXPECT_GE(stat(s, "syncookies", "validated") - stat(before, "syncookies", "validated"),
            static_cast<std::uint64_t>(w.requests));
  std::cout << "[ figure ] IPv6 always mode: " << w.requests << " requests, " << w.errors()
            << " errors, " << created << " entries created during a 50000-SYN flood\n";
}

// Auto mode with a threshold of 500 SYN/s: the flood (20 times that) switches the IPv6 VIP to
// cookies and keeps it there, so entries stay bounded by wrk's requests plus a few windows'
// thresholds, never the flood's size. The IPv4 VIP beside it (mode off) is untouched.
TEST_F(Ipv6, SpoofedIpv6SynFloodInAutoModeSwitchesToCookies) {
  RigSuite::start(
      std::regex_replace(config("auto"), std::regex("threshold_pps: 2000"), "threshold_pps: 500"));
  waitAllUp(kVip6, 5);
  const nlohmann::json before = rig_->stats();
  const auto [w, s] = floodWithWrk();
  const auto created = stat(s, "conntrack", "created") - stat(before, "conntrack", "created");
  EXPECT_LE(created, static_cast<std::uint64_t>(w.requests) + 300) << s.dump(2);
  EXPECT_GE(stat(s, "syncookies", "sent") - stat(before, "syncookies", "sent"), 45000u)
      << s.dump(2);
  ASSERT_EQ(s["vips"].size(), 2u) << s.dump(2);
  EXPECT_EQ(s["vips"][1]["address"], kVip6) << s.dump(2);
  EXPECT_GE(s["vips"][1]["syn_flood_switches"].get<std::uint64_t>(), 1u) << s.dump(2);
  EXPECT_EQ(s["vips"][0]["syn_flood_switches"].get<std::uint64_t>(), 0u) << s.dump(2);
  EXPECT_EQ(rig_->curlBodies(1, 10, "http://10.100.0.100/").count("FAIL"), 0u);
  std::cout << "[ figure ] IPv6 auto mode: " << w.requests << " requests, " << w.errors()
            << " errors, " << created << " entries created during a 50000-SYN flood\n";
}

}  // namespace
}  // namespace xlb
