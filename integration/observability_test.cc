// SPDX-License-Identifier: Apache-2.0
// What an operator watches, on the rig as deployed: a real Prometheus (Debian's) scraping xlbd
// while traffic flows runs every query of the Grafana dashboard and loads the alerting rules
// (contrib/); and an XDP program taken off the interface behind xlbd's back is reported by
// /metrics, /readyz and the log.
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <regex>
#include <string>
#include <thread>

#include "rig_suite.h"

namespace xlb {
namespace {

using rig::Rig;

std::string config() {
  std::string c = Rig::defaultConfig();
  c = std::regex_replace(c, std::regex("syn_flood: \\{[^}]*\\}"), "syn_flood: {mode: off}");
  return c + "health_check: {interval: 200ms, timeout: 100ms, rise: 2, fall: 2}\n";
}

class Observability : public rig::RigSuite<Observability> {
 public:
  static constexpr rig::RigShape kShape{"ob", 1, 2};

 protected:
  std::string metrics() const {
    return rig_->exec("lb", "curl -s -m 5 http://127.0.0.1:9180/metrics").out;
  }
};

// Prometheus in the LB namespace, scraping xlbd every second with the rules loaded; stopped
// when it goes out of scope, whatever the test did.
class Prometheus {
 public:
  explicit Prometheus(const Rig& rig) : rig_(rig), dir_(rig.dir() + "/prometheus") {
    rig::sh("rm -rf " + dir_ + " && mkdir -p " + dir_ + "/data");
    std::ofstream(dir_ + "/prometheus.yml")
        << "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
           "rule_files: ['"
        << XLB_SOURCE_DIR
        << "/contrib/prometheus/xlb-alerts.yml']\n"
           "scrape_configs:\n"
           "  - job_name: xlb\n"
           "    static_configs: [{targets: ['127.0.0.1:9180']}]\n";
    rig_.exec("lb", "setsid prometheus --config.file=" + dir_ + "/prometheus.yml" +
                        " --storage.tsdb.path=" + dir_ + "/data" +
                        " --web.listen-address=127.0.0.1:9091 > " + dir_ + "/log 2>&1 &" +
                        " echo $! > " + dir_ + "/pid");
  }
  ~Prometheus() { rig::sh("kill $(cat " + dir_ + "/pid) 2>/dev/null"); }
  Prometheus(const Prometheus&) = delete;
  Prometheus& operator=(const Prometheus&) = delete;

  bool waitReady(int seconds) const {
    for (int i = 0; i < seconds * 4; ++i) {
      if (get("/-/ready").find("Ready") != std::string::npos) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(250));
    }
    return false;
  }
  // GET /api/v1/query?query=<expr> (URL-encoded by curl): the JSON answer.
  nlohmann::json query(const std::string& expr) const {
    const std::string out =
        rig_.exec("lb", "curl -s -m 5 -G http://127.0.0.1:9091/api/v1/query --data-urlencode " +
                            quoted(expr))
            .out;
    return nlohmann::json::parse(out, nullptr, false);
  }
  std::string get(const std::string& path) const {
    return rig_.exec("lb", "curl -s -m 5 http://127.0.0.1:9091" + path).out;
  }
  std::string log() const { return rig::sh("cat " + dir_ + "/log").out; }

 private:
  static std::string quoted(const std::string& expr) {
    std::string q = "'query=";
    for (char c : expr) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return q + "'";
  }
  const Rig& rig_;
  std::string dir_;
};

TEST_F(Observability, DashboardQueriesReturnDataWhileTrafficFlows) {
  start(config());
  Prometheus prom(*rig_);
  ASSERT_TRUE(prom.waitReady(30)) << prom.log();
  // Traffic through the VIP for 10 s, new connections and keep-alive, while it scrapes.
  rig_->exec("c1", "wrk -t1 -c4 -d5s -H 'Connection: close' http://10.100.0.100/", 20);
  rig_->exec("c1", "wrk -t1 -c4 -d5s http://10.100.0.100/", 20);

  std::ifstream in(std::string(XLB_SOURCE_DIR) + "/contrib/grafana/xlb-dashboard.json");
  const nlohmann::json dash = nlohmann::json::parse(in, nullptr, false);
  ASSERT_FALSE(dash.is_discarded());
  int queries = 0;
  for (const auto& panel : dash["panels"]) {
    for (const auto& target : panel["targets"]) {
      // Grafana's variables, as it would fill them: every instance, a window of 15 scrapes.
      std::string expr = target["expr"];
      expr = std::regex_replace(expr, std::regex("\\$instance"), ".*");
      expr = std::regex_replace(expr, std::regex("\\$__rate_interval"), "15s");
      const nlohmann::json r = prom.query(expr);
      ++queries;
      ASSERT_FALSE(r.is_discarded()) << panel["title"] << ": " << expr;
      EXPECT_EQ(r["status"], "success") << panel["title"] << ": " << expr << "\n" << r.dump();
      EXPECT_FALSE(r["data"]["result"].empty())
          << "panel \"" << panel["title"].get<std::string>() << "\" has no data: " << expr;
    }
  }
  EXPECT_EQ(queries, 23);
  // The traffic is in the figures Prometheus holds, not only in the series' existence.
  const nlohmann::json created = prom.query("xlb_conntrack_created_total");
  ASSERT_FALSE(created["data"]["result"].empty());
  EXPECT_GT(std::stod(created["data"]["result"][0]["value"][1].get<std::string>()), 100.0);
  // The alerting rules loaded and evaluate; nothing fires on a healthy rig.
  const nlohmann::json rules = nlohmann::json::parse(prom.get("/api/v1/rules"), nullptr, false);
  ASSERT_FALSE(rules.is_discarded());
  int loaded = 0;
  for (const auto& g : rules["data"]["groups"]) {
    for (const auto& rule : g["rules"]) {
      ++loaded;
      EXPECT_EQ(rule["health"], "ok") << rule.dump();
      EXPECT_NE(rule["state"], "firing") << rule.dump();
    }
  }
  EXPECT_EQ(loaded, 10);
}

// An operator (or another tool) takes the XDP program off the interface behind xlbd's back: the
// kernel's answer shows in /metrics (for XlbXdpProgramMissing), /readyz and the log.
TEST_F(Observability, AnXdpProgramRemovedBehindXlbdsBackIsReportedLoudly) {
  start(config());
  const auto ready = [&] {
    return rig_->exec("lb", "curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:9180/readyz")
        .out;
  };
  EXPECT_NE(metrics().find("\nxlb_xdp_attached 1\n"), std::string::npos);
  EXPECT_EQ(ready(), "200");
  ASSERT_EQ(rig_->exec("lb", "ip link set dev eth0 xdp off").status, 0);
  std::string m;
  for (int i = 0; i < 30 && m.find("\nxlb_xdp_attached 0\n") == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    m = metrics();
  }
  EXPECT_NE(m.find("\nxlb_xdp_attached 0\n"), std::string::npos);
  EXPECT_EQ(ready(), "503");
  for (int i = 0; i < 30 && rig_->xlbdLog().find("no longer attached") == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_NE(rig_->xlbdLog().find("the XDP program is no longer attached to eth0"),
            std::string::npos);
}

}  // namespace
}  // namespace xlb
