// SPDX-License-Identifier: Apache-2.0
// Restarts that keep every connection, on the rig: 200 long-lived keep-alive connections each
// sending a request every 100 ms, wrk with keep-alive and wrk with a connection per request, all
// through the VIP, across 10 planned restarts (xlbd --takeover), 3 upgrades (--takeover into a
// second copy of the binary), 2 stops with SIGTERM and 3 kill -9, each followed by a start. The
// long-lived connections must see no failed request and no reset; wrk's errors and the longest
// pause per kind of restart are reported (figures, not assertions: speed is measured, not
// asserted).
#include <gtest/gtest.h>
#include <sys/time.h>

#include <algorithm>
#include <csignal>
#include <iomanip>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <thread>

#include "rig_suite.h"

namespace xlb {
namespace {

using rig::Rig;
using rig::tail;

double wallNow() {
  timeval tv{};
  gettimeofday(&tv, nullptr);
  return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6;
}

// wrk's "Latency avg stdev max" line: the max, as wrk prints it ("?" when absent).
std::string wrkMaxLatency(const std::string& out) {
  std::smatch m;
  if (std::regex_search(out, m, std::regex("Latency\\s+\\S+\\s+\\S+\\s+(\\S+)"))) return m[1];
  return "?";
}

std::string config() {
  std::string c = Rig::defaultConfig();
  c = std::regex_replace(c, std::regex("blocklist: \\[[^\\]]*\\]\n"), "");  // c3 is on it
  return c + "health_check: {interval: 200ms, timeout: 100ms, rise: 2, fall: 2}\n";
}

struct Restart {
  std::string kind;
  double at = 0;
};

class Restarts : public rig::RigSuite<Restarts> {
 public:
  static constexpr rig::RigShape kShape{"rs", 3, 3};
};

TEST_F(Restarts, PlannedUpgradeAndKill9KeepEveryLongLivedConnection) {
  start(config());
  ASSERT_EQ(rig_->curlBodies(1, 3, "http://10.100.0.100/").count("FAIL"), 0u);
  constexpr int kSeconds = 100;  // the load's duration; the restarts take about 80 s
  nlohmann::json longLived;
  rig::WrkResult keepAlive, perRequest;
  std::string keepAliveMax, perRequestMax;
  std::thread ll([&] {
    const auto r = rig_->exec("c1",
                              "/usr/bin/python3 " XLB_SOURCE_DIR
                              "/scripts/netns/longlived.py 10.100.0.100 80 200 0.1 " +
                                  std::to_string(kSeconds) + " 30",
                              kSeconds + 60);
    longLived = nlohmann::json::parse(r.out, nullptr, false);
    if (longLived.is_discarded()) std::cerr << "long-lived client output:\n" << r.out << "\n";
  });
  const std::string wrkArgs = " -t1 -c2 -d" + std::to_string(kSeconds - 5) + "s --timeout 5s ";
  std::thread w1([&] {
    const std::string out =
        rig_->exec("c2", "wrk" + wrkArgs + "http://10.100.0.100/", kSeconds + 30).out;
    keepAlive = rig::parseWrk(out);
    keepAliveMax = wrkMaxLatency(out);
  });
  std::thread w2([&] {
    const std::string out =
        rig_->exec("c3", "wrk" + wrkArgs + "-H 'Connection: close' http://10.100.0.100/",
                   kSeconds + 30)
            .out;
    perRequest = rig::parseWrk(out);
    perRequestMax = wrkMaxLatency(out);
  });
  const double begin = wallNow();
  std::this_thread::sleep_for(std::chrono::seconds(4));
  std::vector<Restart> restarts;
  std::string log;
  const std::string upgrade = rig_->dir() + "/xlbd-upgrade";
  rig::sh("cp " + Rig::binDir() + "/xlbd " + upgrade);
  std::size_t tookOver = 0, adopted = 0;
  std::map<std::string, double> workersPaused;  // as xlbd measured its hand-over
  for (int i = 0; i < 13; ++i) {
    const bool isUpgrade = i >= 10;
    restarts.push_back({isUpgrade ? "upgrade" : "planned", wallNow()});
    ASSERT_TRUE(rig_->takeoverXlbd(isUpgrade ? upgrade : Rig::binDir() + "/xlbd", log))
        << "restart " << i << ":\n"
        << tail(rig_->xlbdLog(), 40);
    if (log.find("took over from xlbd pid") != std::string::npos) ++tookOver;
    std::smatch m;
    if (std::regex_search(log, m, std::regex("paused for ([0-9.]+) ms"))) {
      double& w = workersPaused[isUpgrade ? "upgrade" : "planned"];
      w = std::max(w, std::stod(m[1]));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  }
  for (int i = 0; i < 5; ++i) {
    const bool kill9 = i >= 2;  // two stops with SIGTERM, then three kill -9
    restarts.push_back({kill9 ? "kill -9" : "stop", wallNow()});
    if (kill9) {
      EXPECT_EQ(rig_->stopXlbd(SIGKILL), 128 + SIGKILL);
    } else {
      EXPECT_EQ(rig_->stopXlbd(SIGTERM), 0);
    }
    start(config());
    std::smatch m;
    const std::string l = rig_->xlbdLog();
    if (std::regex_search(l, m, std::regex("adopted (\\d+) connection"))) {
      adopted = std::max<std::size_t>(adopted, std::stoul(m[1]));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(3000));
  }
  const double end = wallNow();
  ll.join();
  w1.join();
  w2.join();
  ASSERT_TRUE(longLived.is_object());
  std::cout << "[ figure ] long-lived: " << longLived["requests"] << " requests, "
            << longLived["failures"] << " failed, " << longLived["resets"] << " resets, errors "
            << longLived["errors"].dump() << "\n";
  EXPECT_EQ(longLived["failures"], 0) << longLived["errors"].dump();
  EXPECT_EQ(longLived["resets"], 0);
  EXPECT_EQ(tookOver, 13u) << tail(rig_->xlbdLog(), 40);
  EXPECT_GE(adopted, 200u) << "a start after a stop adopted fewer than the 200 long-lived";
  // 200 connections x 10 requests/s over the run, with room for the pauses.
  EXPECT_GE(longLived["requests"].get<double>(), 200.0 * 10 * (kSeconds - 10) * 0.8);
  // The longest request per kind of restart: sent from just before it until the next one.
  std::map<std::string, double> worst{
      {"baseline", 0}, {"planned", 0}, {"upgrade", 0}, {"stop", 0}, {"kill -9", 0}};
  for (const auto& s : longLived["slow"]) {
    const double at = s[0].get<double>(), ms = s[1].get<double>();
    std::string kind = at < restarts.front().at - 0.5 ? "baseline" : "";
    for (std::size_t i = 0; i < restarts.size() && kind.empty(); ++i) {
      const double next = i + 1 < restarts.size() ? restarts[i + 1].at : end + kSeconds;
      if (at >= restarts[i].at - 0.5 && at < next) kind = restarts[i].kind;
    }
    if (!kind.empty()) worst[kind] = std::max(worst[kind], ms);
  }
  // Requests under 30 ms are not recorded: "< 30" when none was slower.
  auto shown = [&](const char* kind) {
    std::ostringstream o;
    if (worst[kind] == 0) {
      o << "< 30";
    } else {
      o << std::fixed << std::setprecision(0) << worst[kind];
    }
    return o.str();
  };
  std::cout << "[ figure ] longest request of a long-lived connection (ms): baseline ("
            << std::fixed << std::setprecision(0) << restarts.front().at - begin
            << " s before any restart) " << shown("baseline") << ", planned restart "
            << shown("planned") << ", upgrade " << shown("upgrade") << ", kill -9 + start "
            << shown("kill -9") << ", SIGTERM + start " << shown("stop")
            << " (targets: 200 planned, 1500 kill -9); workers paused at most "
            << workersPaused["planned"] << " ms (planned), " << workersPaused["upgrade"]
            << " ms (upgrade)\n";
  std::cout << "[ figure ] wrk keep-alive: " << keepAlive.requests << " requests, "
            << keepAlive.errors() << " errors (connect " << keepAlive.connectErrors << ", read "
            << keepAlive.readErrors << ", timeout " << keepAlive.timeouts << "), max latency "
            << keepAliveMax << "; wrk connection per request: " << perRequest.requests
            << " requests, " << perRequest.errors() << " errors (connect "
            << perRequest.connectErrors << ", read " << perRequest.readErrors << ", timeout "
            << perRequest.timeouts << "), max latency " << perRequestMax << "\n";
  EXPECT_GT(keepAlive.requests, 0);
  EXPECT_GT(perRequest.requests, 0);
}

// Tables written for another configuration are not adopted: the log says why and how many
// connections that dropped, and so does the API; the new process serves from empty tables.
TEST_F(Restarts, TablesThatNoLongerFitAreRefusedWithTheReasonAndTheCount) {
  start(config());
  // A second xlbd without --takeover is refused before it touches anything.
  const auto second =
      rig_->exec("lb", Rig::binDir() + "/xlbd --config " + rig_->dir() + "/xlbd.yaml 2>&1", 30);
  EXPECT_EQ(second.status, 1) << second.out;
  EXPECT_NE(second.out.find("already runs"), std::string::npos) << second.out;
  EXPECT_NE(second.out.find("--takeover"), std::string::npos) << second.out;
  std::thread idle([&] {
    rig_->exec("c1",
               "/usr/bin/python3 " XLB_SOURCE_DIR
               "/scripts/netns/longlived.py 10.100.0.100 80 30 0.5 6",
               30);
  });
  std::this_thread::sleep_for(std::chrono::seconds(2));
  EXPECT_EQ(rig_->stopXlbd(SIGTERM), 0);
  const std::string smaller =
      std::regex_replace(config(), std::regex("capacity: 100000"), "capacity: 50000");
  ASSERT_NE(smaller, config());
  start(smaller);
  idle.join();
  const std::string log = rig_->xlbdLog();
  std::smatch m;
  ASSERT_TRUE(std::regex_search(
      log, m,
      std::regex("not adopting the stored connections: its capacity is 100000 per worker, the "
                 "configuration gives 50000; (\\d+) connection\\(s\\) dropped")))
      << tail(log, 20);
  EXPECT_GE(std::stoul(m[1]), 30u);
  const auto s = rig_->stats();
  EXPECT_NE(s["restart"]["refused"].get<std::string>().find("capacity"), std::string::npos)
      << s["restart"].dump();
  EXPECT_GE(s["restart"]["dropped"].get<std::uint64_t>(), 30u);
  EXPECT_EQ(s["restart"]["adopted"], 0);
  EXPECT_EQ(rig_->curlBodies(2, 3, "http://10.100.0.100/").count("FAIL"), 0u);
}

// Two workers on a two-queue veth: both queues' sockets change hands, and each worker's table is
// adopted by the worker that owns its connections.
TEST(RestartsMultiQueue, TwoWorkersHandOverBothQueuesAndAdoptBothTables) {
  XLB_REQUIRE_ROOT();
  Rig rig("rq", 1, 3, 2);
  ASSERT_TRUE(rig.ok()) << rig.setupLog();
  for (int i = 1; i <= 3; ++i) ASSERT_TRUE(rig.startNginx(i));
  const std::string cfg = std::regex_replace(config(), std::regex("workers: 1"), "workers: 2");
  ASSERT_NE(cfg, config());
  std::string log;
  ASSERT_TRUE(rig.startXlbd(cfg, log)) << log;
  nlohmann::json longLived;
  std::thread ll([&] {
    const auto r = rig.exec("c1",
                            "/usr/bin/python3 " XLB_SOURCE_DIR
                            "/scripts/netns/longlived.py 10.100.0.100 80 100 0.1 24 30",
                            90);
    longLived = nlohmann::json::parse(r.out, nullptr, false);
  });
  std::this_thread::sleep_for(std::chrono::seconds(3));
  std::size_t tookOver = 0;
  for (int i = 0; i < 4; ++i) {
    ASSERT_TRUE(rig.takeoverXlbd(Rig::binDir() + "/xlbd", log)) << tail(rig.xlbdLog(), 30);
    if (log.find("took over from xlbd pid") != std::string::npos) ++tookOver;
    std::this_thread::sleep_for(std::chrono::seconds(3));
  }
  EXPECT_EQ(rig.stopXlbd(SIGKILL), 128 + SIGKILL);
  ASSERT_TRUE(rig.startXlbd(cfg, log)) << log;
  std::smatch m;
  const std::string after = rig.xlbdLog();
  ASSERT_TRUE(std::regex_search(after, m, std::regex("adopted (\\d+) connection"))) << tail(after);
  EXPECT_GE(std::stoul(m[1]), 100u);
  ll.join();
  ASSERT_TRUE(longLived.is_object());
  std::cout << "[ figure ] two workers: " << longLived["requests"] << " requests, "
            << longLived["failures"] << " failed, " << longLived["resets"] << " resets, longest "
            << longLived["max_ms"] << " ms\n";
  EXPECT_EQ(longLived["failures"], 0) << longLived["errors"].dump();
  EXPECT_EQ(longLived["resets"], 0);
  EXPECT_EQ(tookOver, 4u);
  const nlohmann::json s = rig.stats();
  EXPECT_EQ(s["workers"]["count"], 2);
  if (HasFailure()) std::cerr << "xlbd log tail:" << tail(rig.xlbdLog(), 40) << "\n";
  EXPECT_EQ(rig.stopXlbd(SIGTERM), 0);
}

}  // namespace
}  // namespace xlb
