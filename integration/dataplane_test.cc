// SPDX-License-Identifier: Apache-2.0
// xlbd on the veth/netns rig with real TCP stacks: nginx backends, curl, wrk and hping3 clients.
// Every outcome is read back from what the clients saw and from xlbd's statistics. A failure
// prints what was expected, what was seen, and the daemon's log tail.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <regex>
#include <thread>

#include "rig_suite.h"

namespace xlb {
namespace {

using rig::Rig;
using rig::tail;

// Short close timers so entries leave within the test's patience.
std::string testConfig(const std::string& synMode = "auto", const std::string& extra = "",
                       int workers = 1) {
  std::string c = Rig::defaultConfig();
  c = std::regex_replace(c, std::regex("syn_flood: \\{[^}]*\\}"),
                         "syn_flood: {mode: " + synMode + ", threshold_pps: 2000}");
  c = std::regex_replace(c, std::regex("timeouts: \\{[^}]*\\}"),
                         "timeouts: {syn: 3s, established: 60s, fin: 3s, time_wait: 1s, rst: 1s}");
  c = std::regex_replace(c, std::regex("workers: 1"), "workers: " + std::to_string(workers));
  c = std::regex_replace(c, std::regex("blocklist: \\[[^\\]]*\\]\n"), "");
  return c + extra;
}

std::uint64_t num(const nlohmann::json& j, const char* section, const char* key) {
  if (!j.contains(section) || !j[section].contains(key)) return 0;
  return j[section][key].get<std::uint64_t>();
}

// Waits for every entry to leave and checks the books balance: no entry, no SNAT port, every
// created entry closed.
void expectDrainedOn(const Rig& rig) {
  const nlohmann::json s =
      rig.waitStats([](const nlohmann::json& j) { return j["conntrack"]["active"] == 0; }, 20);
  ASSERT_FALSE(s.is_null());
  EXPECT_EQ(s["conntrack"]["active"], 0) << s.dump(2);
  EXPECT_EQ(s["snat"]["ports_in_use"], 0) << s.dump(2);
  std::uint64_t closed = 0;
  for (const auto& [k, v] : s["conntrack"]["closed"].items()) closed += v.get<std::uint64_t>();
  EXPECT_EQ(s["conntrack"]["created"].get<std::uint64_t>(), closed) << s.dump(2);
}

// Sessions through the VIP: wrk with a new connection per request until at least 10,000 requests
// (3 s rounds, at most 10), then with keep-alive; no errors; new connections spread over the
// three backends within +-10 % (from the API's per-backend counts); then drained.
void checkSessions(const Rig& rig) {
  long requests = 0, errors = 0;
  for (int round = 0; round < 10 && requests < 10000; ++round) {
    const rig::CmdResult r =
        rig.exec("c1", "wrk -t2 -c20 -d3s -H 'Connection: close' http://10.100.0.100/", 30);
    const rig::WrkResult w = rig::parseWrk(r.out);
    requests += w.requests;
    errors += w.errors();
    EXPECT_GT(w.requests, 0) << r.out;
  }
  EXPECT_GE(requests, 10000);
  EXPECT_EQ(errors, 0) << "of " << requests << " requests with a new connection each";
  const rig::CmdResult k = rig.exec("c2", "wrk -t2 -c20 -d2s http://10.100.0.100/", 30);
  const rig::WrkResult keep = rig::parseWrk(k.out);
  EXPECT_GT(keep.requests, 1000) << k.out;
  EXPECT_EQ(keep.errors(), 0) << k.out;
  const Rig::ApiReply b = rig.api("GET", "/api/v1/vips/10.100.0.100/backends");
  ASSERT_EQ(b.status, 200) << b.raw;
  double total = 0;
  for (const auto& i : b.body["items"]) total += i["connections_total"].get<double>();
  EXPECT_GE(total, 10000);
  for (const auto& i : b.body["items"]) {
    const double n = i["connections_total"].get<double>();
    EXPECT_NEAR(n, total / 3, total / 3 * 0.10) << i["address"] << " of " << total << ": " << b.raw;
  }
  std::cout << "[ figure ] " << requests << " requests with a new connection each ("
            << b.body["items"][0]["connections_total"] << "/"
            << b.body["items"][1]["connections_total"] << "/"
            << b.body["items"][2]["connections_total"] << "), " << keep.requests
            << " keep-alive requests\n";
  expectDrainedOn(rig);
}

class Dataplane : public rig::RigSuite<Dataplane> {
 public:
  static constexpr rig::RigShape kShape{"dp", 3, 3};

 protected:
  std::map<std::string, int> curl(int client, int n, const std::string& url) {
    return rig_->curlBodies(client, n, url);
  }
  void expectDrained() { expectDrainedOn(*rig_); }
  // A bounded flood (30000 SYNs from random sources in a few seconds) with wrk running
  // alongside; at least 99 % of wrk's requests must succeed. Returns wrk's result and the stats
  // once the flood is over.
  std::pair<rig::WrkResult, nlohmann::json> floodWithWrk() {
    rig_->exec("c2",
               "timeout 8 hping3 -q -S -p 80 -i u100 -c 30000 --rand-source 10.100.0.100 "
               ">/dev/null 2>&1 &");
    const rig::CmdResult out =
        rig_->exec("c1", "wrk -t1 -c10 -d3s -H 'Connection: close' http://10.100.0.100/", 20);
    const rig::WrkResult w = rig::parseWrk(out.out);
    usleep(5 * 1000 * 1000);  // the flood's remainder
    nlohmann::json s = rig_->stats();
    EXPECT_GT(w.requests, 300) << out.out << s.dump(2);
    EXPECT_LE(w.errors() * 100, w.requests) << "more than 1% of the requests failed";
    return {w, s};
  }
};

TEST_F(Dataplane, HttpThroughTheVipReachesAllThreeBackends) {
  start(testConfig("off"));
  const auto got = curl(1, 300, "http://10.100.0.100/");
  EXPECT_EQ(got.count("FAIL"), 0u)
      << "failed requests: " << (got.count("FAIL") ? got.at("FAIL") : 0);
  int total = 0;
  for (int b = 1; b <= 3; ++b) {
    const std::string body = "backend " + std::to_string(b);
    const int n = got.count(body) ? got.at(body) : 0;
    total += n;
    // Equal weights: each gets a third; Maglev over random client ports spreads within +-40%.
    EXPECT_GT(n, 60) << body;
    EXPECT_LT(n, 140) << body;
  }
  EXPECT_EQ(total, 300);
  const rig::WrkResult w =
      rig::parseWrk(rig_->exec("c1", "wrk -t1 -c10 -d2s http://10.100.0.100/", 20).out);
  EXPECT_GT(w.requests, 1000);
  EXPECT_EQ(w.errors(), 0);
  expectDrained();
}

TEST_F(Dataplane, TenThousandSessionsBalancedAndDrained) {
  start(testConfig("off"));
  checkSessions(*rig_);
}

TEST_F(Dataplane, TlsOn443ThroughTheVip) {
  start(testConfig("off"));
  const auto got = curl(1, 6, "-k https://10.100.0.100/");
  EXPECT_EQ(got.count("FAIL"), 0u) << "TLS requests failed";
  int served = 0;
  for (const auto& [body, n] : got) served += body.rfind("backend ", 0) == 0 ? n : 0;
  EXPECT_EQ(served, 6);
  const nlohmann::json s = rig_->stats();
  EXPECT_GE(num(s, "engine", "tx_to_backend"), 6u * 5) << s.dump(2);  // handshakes and records
}

TEST_F(Dataplane, BlockedClientFailsWhileAnotherSucceeds) {
  start(testConfig("off", "blocklist: [10.100.0.22/32, 'fd00:dead::/32']\n"));
  const auto blocked = curl(2, 3, "http://10.100.0.100/");
  EXPECT_EQ(blocked.count("FAIL") ? blocked.at("FAIL") : 0, 3);
  const auto fine = curl(1, 10, "http://10.100.0.100/");
  EXPECT_EQ(fine.count("FAIL"), 0u);
  // The host is protected too: the blocked client cannot reach the LB's own address either.
  EXPECT_NE(rig_->exec("c2", "ping -c1 -W1 10.100.0.2").status, 0);
  EXPECT_EQ(rig_->exec("c1", "ping -c1 -W1 10.100.0.2").status, 0);
  const nlohmann::json s = rig_->stats();
  EXPECT_GE(num(s, "xdp", "blocklist"), 4u) << s.dump(2);
}

TEST_F(Dataplane, OtherPortsAndProtocolsOfTheVipAreDroppedTheHostStillAnswers) {
  start(testConfig("off"));
  EXPECT_EQ(curl(1, 1, "http://10.100.0.100:22/").count("FAIL"), 1u);
  EXPECT_EQ(curl(1, 1, "http://10.100.0.100:8080/").count("FAIL"), 1u);
  rig_->exec("c1", "bash -c 'echo x > /dev/udp/10.100.0.100/80'");
  // The LB's own address and services keep working (XDP passes what is not a VIP).
  rig_->exec("lb", "timeout 20 python3 -m http.server 8080 --bind 10.100.0.2 >/dev/null 2>&1 &");
  bool hostAnswered = false;
  for (int i = 0; i < 20 && !hostAnswered; ++i) {
    hostAnswered =
        rig_->exec("c1", "curl -s -m 1 -o /dev/null http://10.100.0.2:8080/").status == 0;
    if (!hostAnswered) usleep(200000);
  }
  EXPECT_TRUE(hostAnswered);
  const nlohmann::json s = rig_->stats();
  EXPECT_GE(num(s, "xdp", "port_filter"), 2u) << s.dump(2);
  EXPECT_GE(num(s, "xdp", "proto_filter"), 1u) << s.dump(2);  // the UDP datagram
  EXPECT_EQ(num(s, "xdp", "to_engine"), 0u) << s.dump(2);
}

TEST_F(Dataplane, SynFloodInCookieModeCreatesNoEntriesWhileRealRequestsSucceed) {
  start(testConfig("always"));
  const auto [w, s] = floodWithWrk();
  // Entries come only from completed handshakes (wrk's requests, plus the few in flight when it
  // stopped): the flood's 30000 SYNs created none.
  const auto created = s["conntrack"]["created"].get<std::uint64_t>();
  EXPECT_LE(created, static_cast<std::uint64_t>(w.requests) + 100) << s.dump(2);
  EXPECT_GE(s["syncookies"]["sent"].get<std::uint64_t>(),
            29000u + static_cast<std::uint64_t>(w.requests))
      << s.dump(2);
  EXPECT_GE(s["syncookies"]["validated"].get<std::uint64_t>(),
            static_cast<std::uint64_t>(w.requests));
  expectDrained();
}

// Auto mode with a threshold of 500 SYN/s (25 per 100 ms window per CPU, 2 CPUs): the flood,
// well above it, switches cookies on within its first window and keeps them on; only SYNs of
// such windows reach the backends, so entries stay bounded by wrk's requests plus a few windows'
// thresholds, never the flood's size. (With the threshold near the flood's rate, cookies would
// toggle and each off window would admit up to a window's threshold.)
TEST_F(Dataplane, SynFloodInAutoModeSwitchesToCookiesAndStaysBounded) {
  start(std::regex_replace(testConfig("auto"), std::regex("threshold_pps: 2000"),
                           "threshold_pps: 500"));
  const auto [w, s] = floodWithWrk();
  const auto created = s["conntrack"]["created"].get<std::uint64_t>();
  EXPECT_LE(created, static_cast<std::uint64_t>(w.requests) + 300) << s.dump(2);
  EXPECT_GE(s["syncookies"]["sent"].get<std::uint64_t>(), 25000u) << s.dump(2);
  EXPECT_GE(s["vips"][0]["syn_flood_switches"].get<std::uint64_t>(), 1u) << s.dump(2);
  std::cout << "[ figure ] auto mode: " << w.requests << " requests, " << w.errors() << " errors, "
            << created << " entries created during a 30000-SYN flood\n";
}

// Floods aimed at live connections: 20 long-lived keep-alive connections (a request every 100 ms)
// while hping3, from the client's own namespace and with each connection's own tuple, sends 400
// resets and 400 ACKs per connection with random sequence numbers, and 20,000 ACKs come from
// random sources. Before resets were judged (RFC 5961) the first reset of a tuple ended its entry
// and the connection died a second later; now not one request fails.
TEST_F(Dataplane, ResetAndAckFloodsAtLiveTuplesBreakNothing) {
  start(testConfig("auto"));
  rig::LongLived ll(*rig_, "c1", 20, 0.1, 12);
  nlohmann::json conns;
  for (int i = 0; i < 50; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    conns = rig_->api("GET", "/api/v1/connections?client=10.100.0.21&state=established").body;
    if (conns.is_object() && conns["items"].size() == 20) break;
  }
  ASSERT_EQ(conns["items"].size(), 20u) << conns.dump();
  std::this_thread::sleep_for(std::chrono::seconds(1));  // both sides have acknowledged data
  std::string flood;
  for (const auto& c : conns["items"]) {
    const std::string port = std::to_string(c["client_port"].get<int>());
    for (const char* kind : {"-R", "-A"}) {
      flood += "timeout 8 hping3 -q " + std::string(kind) + " -s " + port +
               " -k -p 80 -i u5000 -c 400 10.100.0.100 >/dev/null 2>&1 & ";
    }
  }
  rig_->exec("c1", flood + "wait", 30);
  rig_->exec("c2",
             "timeout 8 hping3 -q -A -p 80 -i u100 -c 20000 --rand-source 10.100.0.100 "
             ">/dev/null 2>&1",
             30);
  const nlohmann::json longLived = ll.result();
  const nlohmann::json s = rig_->stats();
  ASSERT_FALSE(longLived.is_null());
  EXPECT_GT(longLived["requests"].get<long>(), 1000) << longLived.dump();
  EXPECT_EQ(longLived["failures"], 0) << longLived.dump();
  EXPECT_EQ(longLived["resets"], 0) << longLived.dump();
  EXPECT_EQ(longLived["reconnects"], 0) << longLived.dump();
  // Of 8,000 resets nearly all are outside the window (16 MiB of 4 GiB); some never reach the
  // engine when the burst overflows the AF_XDP ring (afxdp rx_ring_full).
  const std::uint64_t refused = num(s, "engine", "rst_out_of_window");
  EXPECT_GE(refused, 4000u) << s.dump(2);
  EXPECT_EQ(s["conntrack"]["closed"]["rst"].get<std::uint64_t>(), 0u) << s.dump(2);
  std::cout << "[ figure ] reset and ACK floods at 20 live tuples: " << refused
            << " blind resets dropped, " << s["conntrack"]["resets_in_window_kept"]
            << " passed in window, " << s["afxdp"][0]["rx_ring_full"]
            << " frames lost to a full AF_XDP ring; long-lived: " << longLived["requests"]
            << " requests, " << longLived["failures"] << " failed\n";
}

// A stop is a stop for a restart: the program stays attached (engine-bound traffic is dropped
// until the next start; the host's own passes) and the next start replaces it in one step, as it
// replaces a crashed daemon's. xlbd --detach removes it for good.
TEST_F(Dataplane, SigtermKeepsTheProgramForTheNextStartAndDetachRemovesIt) {
  auto attached = [&] {
    return rig_->exec("lb", "ip link show eth0").out.find("xdp") != std::string::npos;
  };
  start(testConfig("off"));
  EXPECT_TRUE(attached());
  EXPECT_EQ(rig_->stopXlbd(SIGTERM), 0) << tail(rig_->xlbdLog());
  EXPECT_TRUE(attached()) << "a stop keeps the program for the next start";
  EXPECT_NE(rig_->xlbdLog().find("the XDP program stays attached"), std::string::npos)
      << tail(rig_->xlbdLog());
  start(testConfig("off"));
  EXPECT_NE(rig_->xlbdLog().find("replaced the xlb program a previous run left attached"),
            std::string::npos)
      << tail(rig_->xlbdLog());
  EXPECT_EQ(curl(1, 5, "http://10.100.0.100/").count("FAIL"), 0u);
  EXPECT_EQ(rig_->stopXlbd(SIGKILL), 128 + SIGKILL);
  EXPECT_TRUE(attached());
  start(testConfig("off"));
  EXPECT_NE(rig_->xlbdLog().find("replaced the xlb program a previous run left attached"),
            std::string::npos)
      << tail(rig_->xlbdLog());
  EXPECT_EQ(curl(1, 5, "http://10.100.0.100/").count("FAIL"), 0u);
  EXPECT_EQ(rig_->stopXlbd(SIGTERM), 0);
  EXPECT_EQ(rig_->detachXlbd(), 0);
  EXPECT_FALSE(attached()) << "xlbd --detach left the program";
  EXPECT_FALSE(std::filesystem::exists(rig_->dir() + "/run/flows"));
}

// A client veth left with TX checksum offload on (the default) sends SYNs whose checksum holds
// only the pseudo-header sum. Backends would drop them silently; xlb drops them with a reason of
// their own and logs a hint naming the cause.
TEST_F(Dataplane, SenderWithChecksumOffloadOnFailsLoudly) {
  start(testConfig("off"));
  // The client's veth and the bridge's port towards the LB as veths come (checksums left to
  // offload); the rig turns both off, as the README says to.
  ASSERT_EQ(rig_->exec("c3", "ethtool -K eth0 tx on").status, 0);
  ASSERT_EQ(rig_->exec("br", "ethtool -K p-lb tx on").status, 0);
  const auto got = curl(3, 5, "http://10.100.0.100/");
  rig_->exec("c3", "ethtool -K eth0 tx off");
  rig_->exec("br", "ethtool -K p-lb tx off");
  EXPECT_EQ(got.count("FAIL") ? got.at("FAIL") : 0, 5);
  const nlohmann::json s = rig_->waitStats(
      [](const nlohmann::json& j) { return num(j, "engine", "partial_checksum") >= 5; }, 5);
  EXPECT_GE(num(s, "engine", "partial_checksum"), 5u) << s.dump();
  EXPECT_EQ(s["conntrack"]["created"], 0) << s.dump();
  bool hinted = false;
  for (int i = 0; i < 30 && !hinted; ++i) {
    hinted =
        rig_->xlbdLog().find("turn TX checksum offload off on the senders") != std::string::npos;
    if (!hinted) usleep(100000);
  }
  EXPECT_TRUE(hinted) << tail(rig_->xlbdLog());
  // Offload off again: the same client gets through.
  const auto fixed = curl(3, 5, "http://10.100.0.100/");
  EXPECT_EQ(fixed.count("FAIL"), 0u);
}

TEST_F(Dataplane, BadConfigAndMissingInterfaceAreClearErrors) {
  std::string log;
  std::string c = testConfig("off");
  EXPECT_FALSE(rig_->startXlbd(
      std::regex_replace(c, std::regex("interface: eth0"), "interface: nosuch0"), log));
  EXPECT_NE(log.find("no such interface: nosuch0"), std::string::npos) << log;
  EXPECT_FALSE(rig_->startXlbd(
      std::regex_replace(c, std::regex("ports: [0-9-]+"), "ports: 30000-40000"), log));
  EXPECT_NE(log.find("ephemeral"), std::string::npos) << log;
  EXPECT_FALSE(rig_->startXlbd(c + "bogus_key: 1\n", log));
  EXPECT_NE(log.find("bogus_key"), std::string::npos) << log;
}

// A backend behind a router: the next hop is the gateway's MAC, found in the kernel's tables.
TEST(DataplaneRouted, BackendViaAGateway) {
  XLB_REQUIRE_ROOT();
  Rig rig("gw", 1, 0);
  ASSERT_TRUE(rig.ok()) << rig.setupLog();
  ASSERT_EQ(rig::sh(rig::Rig::libCallFor(rig, "rig_add_routed_backend"), 30).status, 0);
  ASSERT_EQ(rig::sh(rig::Rig::libCallFor(rig, "rig_backend_nginx 9 rb1"), 30).status, 0);
  std::string c = testConfig("off");
  c = std::regex_replace(c, std::regex(R"(backends:\n(\s+- \{address: [0-9.]+\}\n)+)"),
                         "backends:\n      - {address: 10.200.0.11}\n");
  std::string log;
  ASSERT_TRUE(rig.startXlbd(c, log)) << log;
  EXPECT_NE(log.find("(0 next hops unresolved)"), std::string::npos) << log;
  const rig::CmdResult r =
      rig.exec("c1", "for i in 1 2 3; do curl -s -m 2 http://10.100.0.100/; done");
  EXPECT_EQ(r.out, "backend 9\nbackend 9\nbackend 9\n") << tail(rig.xlbdLog());
  EXPECT_EQ(rig.stopXlbd(SIGTERM), 0);
}

// Two workers on a two-queue veth: every connection has one owner, replies arriving on the
// other queue are handed to it.
TEST(DataplaneMultiQueue, TwoWorkersCarrySessions) {
  XLB_REQUIRE_ROOT();
  Rig rig("mq", 2, 3, 2);
  ASSERT_TRUE(rig.ok()) << rig.setupLog();
  for (int i = 1; i <= 3; ++i) ASSERT_TRUE(rig.startNginx(i));
  std::string log;
  ASSERT_TRUE(rig.startXlbd(testConfig("auto", "", 2), log)) << log;
  checkSessions(rig);
  const nlohmann::json s = rig.stats();
  EXPECT_EQ(s["workers"]["count"], 2);
  EXPECT_GT(s["workers"]["handed_off"].get<std::uint64_t>(), 0u) << "one queue carried everything";
  EXPECT_EQ(s["workers"]["handoff_drops"], 0) << s.dump(2);
  if (HasFailure()) std::cerr << "xlbd log tail:" << tail(rig.xlbdLog()) << "\n";
  EXPECT_EQ(rig.stopXlbd(SIGTERM), 0);
}

}  // namespace
}  // namespace xlb
