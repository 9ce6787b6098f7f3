// SPDX-License-Identifier: Apache-2.0
// Automatic blocking on the veth/netns rig: hping3 floods and scans from one client while wrk
// measures another's rate. A single-source SYN flood is blocked (source "auto", its reason)
// within a second of crossing the limit; a random-source flood blocks nobody and cookies absorb
// it; observe mode only reports; a port scan is blocked as one; an ACK flood is blocked as
// invalid ACKs (counted by the engine) while live connections carry on. Figures are read back from
// the API and printed; the rate ratios are asserted loosely here (the machine is shared) and
// measured properly by `make bench-rig`.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "rig_suite.h"

namespace xlb {
namespace {

using rig::Rig;

constexpr const char* kFlooder = "10.100.0.22";  // c2
constexpr std::uint64_t kSynLimit = 1000;
// wrk's rate beside a flood at the VIP against its rate beside the same flood into a sink just
// before, in three rounds: the best round's ratio. What xlb adds to a flood's cost is there in
// every round, while this machine's speed is not steady: one 6-s run beside a blocked flood gave
// 45 % of the sink runs around it in CI, 3-s rounds vary by ±30 % with no packet lost, and the
// rig's rate moved between 3,000 and 10,000/s within minutes in one session. So the floor
// catches a collapse, not the issue's 95 %: `make bench-rig` measures that with 10-s runs,
// medians of three.
constexpr double kRateFloor = 0.80;
// A random-source flood is not blocked: XDP answers every SYN with a cookie on the same two cores,
// a real cost (`make bench-rig` on 2026-12-02, medians of three: 91.7 % of the no-flood rate,
// nftables 90.4 %, HAProxy 84.0 %), and in one CI run every round fell short of 0.80 (best 79 %).
// This floor catches a collapse.
constexpr double kAbsorbedFloor = 0.60;
constexpr int kRounds = 3;
// Short rounds because c1's ports run out otherwise: through the SYN proxy its connections carry
// no timestamps, so tcp_tw_reuse cannot reuse the TIME_WAITs of those wrk closes first. One run
// left 14,131 of them in c1 after about 350,000 connections (about 4 %) and the rate fell to a
// few hundred: connect() walked them. By that share, 10,000/s would fill c1's 14,116 even ports
// (half of 28,232) in about 35 s of wrk (derived, not timed). This test runs wrk for 19 s.
constexpr int kRoundSeconds = 2;

std::string config(const std::string& mode) {
  std::string c = Rig::defaultConfig();
  c = std::regex_replace(c, std::regex("syn_flood: \\{[^}]*\\}"),
                         "syn_flood: {mode: always, threshold_pps: 2000}");
  c = std::regex_replace(c, std::regex("blocklist: \\[[^\\]]*\\]\n"), "");
  return c + "auto_block: {mode: " + mode +
         ", window: 1s, limits: {syn_without_handshake: " + std::to_string(kSynLimit) +
         ", filtered_port: 200, packets: 0, invalid_ack: 500}, ttl: 60s, fold: {sources: 0}}\n";
}

std::uint64_t at(const nlohmann::json& j, std::initializer_list<const char*> path) {
  const nlohmann::json* p = &j;
  for (const char* k : path) {
    if (!p->contains(k)) return 0;
    p = &(*p)[k];
  }
  return p->is_number() ? p->get<std::uint64_t>() : 0;
}

class AutoBlockRig : public rig::RigSuite<AutoBlockRig> {
 public:
  static constexpr rig::RigShape kShape{"ab", 2, 2};

 protected:
  // wrk from c1 for `seconds`, a new connection per request: requests per second. c1's TCP
  // timeouts meanwhile add to timeouts_ (a lost packet costs a connection 200 ms-1 s: the
  // first thing to look at when a rate falls).
  double wrkRate(int seconds) {
    const std::uint64_t t0 = tcpTimeouts();
    const rig::CmdResult out = rig_->exec("c1",
                                          "wrk -t1 -c10 -d" + std::to_string(seconds) +
                                              "s -H 'Connection: close' "
                                              "http://10.100.0.100/",
                                          seconds + 20);
    const rig::WrkResult w = rig::parseWrk(out.out);
    EXPECT_GT(w.requests, 100) << out.out;
    EXPECT_EQ(w.errors(), 0) << out.out;
    timeouts_ += tcpTimeouts() - t0;
    return static_cast<double>(w.requests) / seconds;
  }
  std::uint64_t tcpTimeouts() {
    const std::string out = rig_->exec("c1", "nstat -asz TcpExtTCPTimeouts").out;
    std::smatch m;
    return std::regex_search(out, m, std::regex("TcpExtTCPTimeouts\\s+([0-9]+)"))
               ? std::stoull(m[1].str())
               : 0;
  }
  // The rate wrk gets while c2 floods `target` with hping3 (-S -p 80 -i u100 and these flags).
  double wrkRateBesideFlood(int seconds, const std::string& hpingFlags, const char* target) {
    // `timeout` passes the TERM below on to hping3; pids are not per namespace, so no pkill.
    const std::string pid =
        rig_->exec("c2", "timeout " + std::to_string(seconds + 3) + " hping3 -q -S -p 80 -i u100 " +
                             hpingFlags + " " + target + " >/dev/null 2>&1 & echo $!")
            .out;
    const double rate = wrkRate(seconds);
    rig_->exec("c2", "kill " + pid + " 2>/dev/null; sleep 0.5");
    return rate;
  }
  struct Rounds {
    std::vector<double> atVip;       // beside the flood at the VIP
    std::vector<double> besideSink;  // beside the same flood into a sink, just before
    double bestRatio() const {
      double best = 0;
      for (std::size_t i = 0; i < atVip.size(); ++i)
        best = std::max(best, atVip[i] / besideSink[i]);
      return best;
    }
    std::string text() const {
      std::string t = "wrk beside the flood at the VIP against beside the same flood into a sink:";
      for (std::size_t i = 0; i < atVip.size(); ++i) {
        t += " " + std::to_string(static_cast<int>(atVip[i])) + "/" +
             std::to_string(static_cast<int>(besideSink[i])) + " (" +
             std::to_string(static_cast<int>(100 * atVip[i] / besideSink[i])) + " %)";
      }
      return t;
    }
  };
  // kRounds rounds, each a flood into the sink then the same flood at the VIP, wrk beside each.
  // The sink is c2's own: frames to 10.99.0.9 leave on a veth and die there, touching no load
  // balancer. On two cores hping3 itself takes half of one, so the sink run (as in
  // `make bench-rig`) is the baseline a flood at xlb is judged against: what remains is what xlb
  // adds.
  Rounds pairedRates(const std::string& hpingFlags) {
    Rounds r;
    for (int i = 0; i < kRounds; ++i) {
      r.besideSink.push_back(wrkRateBesideFlood(kRoundSeconds, hpingFlags, "10.99.0.9"));
      r.atVip.push_back(wrkRateBesideFlood(kRoundSeconds, hpingFlags, "10.100.0.100"));
    }
    return r;
  }
  // Starts xlbd and waits until every backend has a health verdict and the VIP answers every
  // request, so the baseline is a steady one. The verdict first: the default configuration's
  // third backend does not exist on this rig, and while its health is unknown it takes new
  // connections; wrk never gives up one, so all ten of its connections ended up there within a
  // second and a round got 20 requests (the curls alone can pass by luck).
  void startReady(const std::string& mode) {
    start(config(mode));
    ASSERT_TRUE(rig_->addSink("c2"));
    const nlohmann::json items = rig_->waitBackends("10.100.0.100/backends", Rig::allChecked, 10);
    ASSERT_TRUE(Rig::allChecked(items)) << items.dump(2);
    for (int i = 0; i < 20; ++i) {
      if (rig_->curlBodies(1, 10, "http://10.100.0.100/").count("FAIL") == 0) break;
      usleep(500 * 1000);
    }
    rig_->exec("c1", "wrk -t1 -c10 -d1s -H 'Connection: close' http://10.100.0.100/", 20);
  }
  nlohmann::json blocklist() { return rig_->api("GET", "/api/v1/blocklist").body; }
  // The one blocklist entry, which must be the flooder's, added automatically for `reason`.
  nlohmann::json flooderEntry(const char* reason) {
    const nlohmann::json page = blocklist();
    if (page["items"].size() != 1u) {
      ADD_FAILURE() << "expected one entry: " << page.dump(2);
      return nlohmann::json::object();
    }
    const nlohmann::json& e = page["items"][0];
    EXPECT_EQ(e["cidr"], std::string(kFlooder) + "/32");
    EXPECT_EQ(e["source"], "auto");
    EXPECT_EQ(e["reason"], reason);
    EXPECT_TRUE(e["expires_at"].is_string());
    return e;
  }

  std::uint64_t timeouts_ = 0;
};

TEST_F(AutoBlockRig, SingleSourceSynFloodIsBlockedWithinASecondOfCrossing) {
  startReady("block");
  // Workers publish their figures every 100 ms: wait until the warm-up's last handshakes are in
  // them, or they would be taken for the flood's below.
  usleep(500 * 1000);
  const nlohmann::json before = rig_->stats();
  rig_->exec("c2", std::string("timeout 8 hping3 -q -S -p 80 -i u100 -c 50000 ") +
                       "10.100.0.100 >/dev/null 2>&1 &");
  const auto t0 = std::chrono::steady_clock::now();
  const double during = wrkRate(6);
  usleep(3 * 1000 * 1000);  // the flood's remainder
  const nlohmann::json e = flooderEntry("syn_without_handshake");
  ASSERT_TRUE(e.contains("hits"));
  const nlohmann::json s = rig_->stats();
  // SYNs of the flood that XDP answered: cookies sent less wrk's handshakes. Those past the limit
  // went out between the crossing and the block; at the flood's rate they give the delay.
  const std::uint64_t cookies = at(s, {"syncookies", "sent"}) - at(before, {"syncookies", "sent"});
  const std::uint64_t handshakes =
      at(s, {"syncookies", "validated"}) - at(before, {"syncookies", "validated"});
  const std::uint64_t blocked = e["hits"].get<std::uint64_t>();
  const std::uint64_t admitted = cookies > handshakes ? cookies - handshakes : 0;
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const double rate = static_cast<double>(admitted + blocked) / std::min(seconds, 8.0);
  const double delay = admitted > kSynLimit ? static_cast<double>(admitted - kSynLimit) / rate : 0;
  std::cout << "[ figure ] flood " << admitted + blocked << " SYNs (~" << static_cast<int>(rate)
            << "/s): " << admitted << " answered, " << blocked << " dropped by the auto entry; "
            << "blocked " << delay << " s after crossing; wrk " << during << "/s meanwhile\n";
  EXPECT_GE(admitted, kSynLimit);
  EXPECT_LE(delay, 1.0);
  // Now the entry drops the flood from its first SYN: the rate a blocked flood leaves.
  const Rounds r = pairedRates("-c 50000");
  std::cout << "[ figure ] blocked flood: " << r.text() << "; c1's TCP timeouts " << timeouts_
            << "\n";
  EXPECT_GE(r.bestRatio(), kRateFloor);
  EXPECT_EQ(at(s, {"auto_block", "blocked", "syn_without_handshake"}), 1u) << s.dump(2);
  EXPECT_NE(rig_->xlbdLog().find("auto-block: 10.100.0.22/32 blocked"), std::string::npos);
  // xlbctl shows it as the operator sees the blocklist.
  const rig::CmdResult ctl = rig_->exec("lb", Rig::binDir() + "/xlbctl --token-file " +
                                                  rig_->stateDir() + "/api-token blocklist list");
  EXPECT_NE(ctl.out.find("auto"), std::string::npos) << ctl.out;
  EXPECT_NE(ctl.out.find("syn_without_handshake"), std::string::npos) << ctl.out;
}

TEST_F(AutoBlockRig, RandomSourceFloodIsAbsorbedByCookiesAndBlocksNobody) {
  startReady("block");
  const Rounds r = pairedRates("--rand-source");
  const nlohmann::json s = rig_->stats();
  std::cout << "[ figure ] random-source flood: " << r.text() << "; "
            << at(s, {"syncookies", "sent"}) << " cookies sent, conntrack created "
            << at(s, {"conntrack", "created"}) << "; c1's TCP timeouts " << timeouts_ << "\n";
  EXPECT_EQ(blocklist()["items"].size(), 0u) << blocklist().dump(2);
  EXPECT_EQ(at(s, {"auto_block", "blocked", "syn_without_handshake"}), 0u);
  // Three floods at the VIP of 2 s (and the 0.5-3 s until hping3 is stopped) at 4,500-6,000
  // SYNs/s, every one answered with a cookie.
  EXPECT_GE(at(s, {"syncookies", "sent"}), 25000u) << s.dump(2);
  EXPECT_GE(r.bestRatio(), kAbsorbedFloor);
}

TEST_F(AutoBlockRig, SingleSourceAckFloodIsBlockedAsInvalidAcks) {
  startReady("block");
  rig_->exec("c2", "timeout 8 hping3 -q -A -p 80 -i u200 -c 20000 10.100.0.100 >/dev/null 2>&1 &");
  const double during = wrkRate(4);  // no error: every live connection carried on
  const nlohmann::json s = rig_->waitStats(
      [](const nlohmann::json& j) {
        return at(j, {"auto_block", "blocked", "invalid_ack"}) > 0;
      },
      5);
  const nlohmann::json e = flooderEntry("invalid_ack");
  ASSERT_TRUE(e.contains("hits"));
  std::cout << "[ figure ] ACK flood: blocked as invalid_ack, " << e["hits"] << " ACKs dropped by "
            << "the entry; wrk " << during << "/s meanwhile\n";
  EXPECT_GT(e["hits"].get<std::uint64_t>(), 1000u);
  EXPECT_EQ(at(s, {"auto_block", "blocked", "syn_without_handshake"}), 0u);
  EXPECT_NE(rig_->xlbdLog().find("auto-block: 10.100.0.22/32 blocked"), std::string::npos);
}

TEST_F(AutoBlockRig, ObserveModeReportsAndAScanIsBlockedOnceModeIsBlock) {
  startReady("observe");
  const char* scan = "timeout 10 hping3 -q -S -p ++1 -i u500 -c 1500 10.100.0.100 >/dev/null 2>&1";
  rig_->exec("c2", scan, 20);  // returns once the scan has ended
  nlohmann::json s = rig_->waitStats(
      [](const nlohmann::json& j) {
        return at(j, {"auto_block", "observed", "filtered_port"}) > 0;
      },
      5);
  // A scan crosses the limit in one window, or in two when a loaded machine stretches it past
  // the 1 s window. The scan has ended: five of the Controller's 100 ms ticks later it has judged
  // every crossing of it, so `repeated` then holds the first scan's whole share. A second scan
  // seconds later crosses again: once the Controller has judged that crossing (`repeated` moved
  // past the first scan's share, which only the second scan can do) and every later one (five
  // ticks again), all of it is counted and logged as "would block" once, as a block would have
  // held for the TTL (60 s), and nothing is blocked.
  constexpr useconds_t kFiveTicks = 500 * 1000;
  usleep(kFiveTicks);
  const std::uint64_t repeatedBefore =
      at(rig_->stats(), {"auto_block", "repeated", "filtered_port"});
  rig_->exec("c2", scan, 20);
  s = rig_->waitStats(
      [&](const nlohmann::json& j) {
        return at(j, {"auto_block", "repeated", "filtered_port"}) > repeatedBefore;
      },
      5);
  ASSERT_GT(at(s, {"auto_block", "repeated", "filtered_port"}), repeatedBefore) << s.dump(2);
  usleep(kFiveTicks);
  s = rig_->stats();
  const std::uint64_t observed = at(s, {"auto_block", "observed", "filtered_port"});
  EXPECT_EQ(observed, 1u) << s.dump(2);
  const std::string log = rig_->xlbdLog();
  const std::regex wouldBlock("auto-block \\(observe\\): would block 10\\.100\\.0\\.22 ");
  EXPECT_EQ(static_cast<std::uint64_t>(std::distance(
                std::sregex_iterator(log.begin(), log.end(), wouldBlock), std::sregex_iterator())),
            observed)
      << log;
  EXPECT_EQ(blocklist()["items"].size(), 0u);
  const Rig::ApiReply r =
      rig_->api("PATCH", "/api/v1/config", R"({"auto_block":{"mode":"block"}})");
  ASSERT_EQ(r.status, 200) << r.raw;
  rig_->exec("c2", scan, 20);
  s = rig_->waitStats(
      [](const nlohmann::json& j) {
        return at(j, {"auto_block", "blocked", "filtered_port"}) > 0;
      },
      5);
  const nlohmann::json page = blocklist();
  ASSERT_EQ(page["items"].size(), 1u) << page.dump(2);
  EXPECT_EQ(page["items"][0]["reason"], "filtered_port");
  EXPECT_GT(page["items"][0]["hits"].get<std::uint64_t>(), 0u);
}

}  // namespace
}  // namespace xlb
