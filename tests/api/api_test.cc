// SPDX-License-Identifier: Apache-2.0
// The REST API in process, over real HTTP (libcurl) on loopback: the real XDP program (loaded,
// not attached; its maps are what the blocklist writes, checked with BPF_PROG_TEST_RUN), real
// workers on in-memory I/O, real state_dir files. Every endpoint, bad input of every kind (none
// may get a 5xx), auth, limits, slow and concurrent clients, persistence and expiry.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <linux/bpf.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "harness.h"
#include "privileges.h"
#include "xlb/api_server.h"
#include "xlb/assembly.h"
#include "xlb/boundary.h"
#include "xlb/controller.h"
#include "xlb/health.h"
#include "xlb/http_client.h"
#include "xlb/memory_io.h"
#include "xlb/tcp_probe.h"
#include "xlb/xdp_program.h"

namespace xlb {
namespace {

using nlohmann::json;
using testing::A;
using testing::buildPacket;
using testing::Bytes;
using testing::PacketSpec;
using testing::parseInfo;

constexpr const char* kToken = "test-token-0123456789abcdef";

struct Reply {
  long status = 0;
  std::string body;
  std::string headers;
  json j() const { return json::parse(body, nullptr, false); }
};

Reply http(std::uint16_t port, const std::string& method, const std::string& path,
           const std::string& body = "", const char* token = kToken) {
  HttpRequest req;
  req.method = method;
  req.url = "http://127.0.0.1:" + std::to_string(port) + path;
  req.body = body;
  if (token != nullptr) req.token = token;
  const HttpResponse r = httpRequest(req);
  return Reply{r.status, r.body, r.headers};
}

Config apiConfig(const std::string& stateDir) {
  Config c = testing::testConfig(4096, 20000, 29999);
  c.blocklist = {*Prefix::parse("10.9.9.0/24")};
  c.stateDir = stateDir;
  c.workers = 2;
  c.healthCheck.enabled = false;
  return c;
}

// One control plane with its workers; destroyed and rebuilt on the same state_dir to restart.
struct Instance {
  Config config;
  std::atomic<std::int64_t> now{1'800'000'000};  // the controller's clock: outlives it
  std::unique_ptr<Assembly> lb;                  // the shared assembly on memory I/O
  XdpProgram* prog = nullptr;
  std::vector<MemoryIo*> ios;
  Controller* controller = nullptr;
  std::unique_ptr<ApiServer> server;
  std::string error;

  bool start(const Config& c,
             std::chrono::milliseconds headerTimeout = std::chrono::milliseconds(5000)) {
    config = c;
    AssemblyHooks h;
    h.cookieKey = CookieKey{1, 2};
    h.tableSeed = 7;
    h.localMac = *MacAddr::parse(testing::kLbMac);
    h.resolve = [](const Address& a) -> std::optional<MacAddr> { return testing::backendMac(a); };
    h.store = std::make_unique<StateStore>(c.stateDir);
    h.clock = [this] { return now.load(); };
    OpenQueue open = [this](std::uint32_t, XdpProgram&, std::string&) {
      auto io = std::make_unique<MemoryIo>();
      ios.push_back(io.get());
      return io;
    };
    lb = Assembly::build(c, open, std::move(h), error);
    if (!lb) return false;
    prog = &lb->program();
    controller = &lb->controller();
    if (!lb->start(error)) return false;
    lb->runWorkers();
    ApiServerOptions o;
    o.port = 0;
    o.token = kToken;
    o.maxBodyBytes = 2u << 20;
    o.headerTimeout = headerTimeout;
    server = std::make_unique<ApiServer>(*controller, o);
    return server->start(error);
  }
  void shutdown() {
    if (server) server->stop();
    if (lb) lb->stopWorkers();
  }
  ~Instance() { shutdown(); }
  std::uint16_t port() const { return server->port(); }
};

class Api : public ::testing::Test {
 protected:
  void SetUp() override {
    XLB_REQUIRE_ROOT();
    char tmpl[] = "/tmp/xlb-api-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    inst_ = std::make_unique<Instance>();
    ASSERT_TRUE(inst_->start(apiConfig(dir_))) << inst_->error;
    port_ = inst_->port();
  }
  void TearDown() override {
    inst_.reset();
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }
  void restart() {
    inst_.reset();
    inst_ = std::make_unique<Instance>();
    ASSERT_TRUE(inst_->start(apiConfig(dir_))) << inst_->error;
    port_ = inst_->port();
  }
  // Whether the XDP program drops a TCP SYN from `src` to the VIP for its blocklist
  // (BPF_PROG_TEST_RUN on the real program; its blocklist counter tells the reason).
  bool blocked(const std::string& src) {
    PacketSpec p;
    p.src = src;
    Bytes f = buildPacket(p);
    const auto before = inst_->prog->stats()[static_cast<std::size_t>(Reason::kBlocklist)].packets;
    const int action = inst_->prog->run(f).action;
    const auto after = inst_->prog->stats()[static_cast<std::size_t>(Reason::kBlocklist)].packets;
    return action == XDP_DROP && after == before + 1;
  }
  Reply get(const std::string& path) { return http(port_, "GET", path); }

  std::string dir_;
  std::unique_ptr<Instance> inst_;
  std::uint16_t port_ = 0;
};

TEST_F(Api, HealthReadinessAndMetrics) {
  EXPECT_EQ(http(port_, "GET", "/healthz", "", nullptr).status, 200);
  Reply r = http(port_, "GET", "/readyz", "", nullptr);
  EXPECT_EQ(r.status, 200) << r.body;
  r = get("/metrics");
  ASSERT_EQ(r.status, 200);
  EXPECT_NE(r.headers.find("text/plain; version=0.0.4"), std::string::npos) << r.headers;
  for (const char* name :
       {"xlb_packets_total", "xlb_drops_total{stage=\"xdp\",reason=\"blocklist\"}",
        "xlb_conntrack_entries{state=\"established\"}", "xlb_conntrack_capacity 4096",
        "xlb_conntrack_created_total", "xlb_conntrack_closed_total{reason=\"killed\"}",
        "xlb_snat_ports_in_use", "xlb_snat_exhausted_total", "xlb_syncookies_sent_total",
        "xlb_syncookies_validated_total", "xlb_syncookies_invalid_total",
        "xlb_synflood_active{vip=\"10.0.0.100\",protocol=\"tcp\"}", "xlb_blocklist_entries 1",
        "xlb_blocklist_drops_total",
        "xlb_backend_up{vip=\"10.0.0.100\",protocol=\"tcp\",backend=\"10.0.0.11\"} 1",
        "xlb_backend_connections{", "xlb_backend_connections_total{", "xlb_backend_bytes_total{",
        "xlb_build_info{version="}) {
    EXPECT_NE(r.body.find(name), std::string::npos) << name;
  }
  if (std::system("command -v promtool >/dev/null 2>&1") == 0) {
    const std::string path = dir_ + "/metrics.txt";
    std::ofstream(path) << r.body;
    EXPECT_EQ(std::system(("promtool check metrics < " + path).c_str()), 0);
  } else {
    EXPECT_FALSE(testing::underCi()) << "promtool (Debian package prometheus) is missing";
  }
}

TEST_F(Api, BlocklistLifecycleIsEnforcedByXdp) {
  EXPECT_FALSE(blocked("10.0.0.7"));
  Reply r = http(port_, "POST", "/api/v1/blocklist",
                 R"({"cidr":"10.0.0.7","ttl_seconds":60,"comment":"scanner"})");
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(r.j()["cidr"], "10.0.0.7/32");
  // Synchronous: the map holds the entry before the reply leaves.
  EXPECT_TRUE(blocked("10.0.0.7"));
  EXPECT_EQ(http(port_, "POST", "/api/v1/blocklist", R"({"cidr":"10.0.0.7/32"})").status, 409);

  r = get("/api/v1/blocklist");
  ASSERT_EQ(r.status, 200);
  json items = r.j()["items"];
  ASSERT_EQ(items.size(), 2u) << r.body;
  EXPECT_EQ(items[0]["cidr"], "10.0.0.7/32");
  EXPECT_EQ(items[0]["comment"], "scanner");
  EXPECT_EQ(items[0]["hits"], 1);  // the verdict check above
  EXPECT_TRUE(items[0]["expires_at"].is_string());
  EXPECT_TRUE(items[0]["last_hit"].is_string());
  EXPECT_EQ(items[1]["cidr"], "10.9.9.0/24");
  EXPECT_TRUE(items[1]["expires_at"].is_null());

  // Pagination: one per page, following the token.
  r = get("/api/v1/blocklist?limit=1");
  ASSERT_EQ(r.j()["items"].size(), 1u);
  const std::string next = r.j()["next"];
  r = get("/api/v1/blocklist?limit=1&next=" + next);
  EXPECT_EQ(r.j()["items"][0]["cidr"], "10.9.9.0/24");
  EXPECT_TRUE(r.j()["next"].is_null());

  // IPv6 prefix, and delete.
  EXPECT_EQ(http(port_, "POST", "/api/v1/blocklist", R"({"cidr":"2001:db8:bad::/48"})").status,
            201);
  EXPECT_EQ(http(port_, "DELETE", "/api/v1/blocklist/2001:db8:bad::/48").status, 204);
  EXPECT_EQ(http(port_, "DELETE", "/api/v1/blocklist/10.0.0.7/32").status, 204);
  EXPECT_FALSE(blocked("10.0.0.7"));
  EXPECT_EQ(http(port_, "DELETE", "/api/v1/blocklist/10.0.0.7/32").status, 404);
  EXPECT_TRUE(blocked("10.9.9.200"));  // the configured prefix
}

TEST_F(Api, ExpiredEntriesLeaveTheKernelMap) {
  ASSERT_EQ(
      http(port_, "POST", "/api/v1/blocklist", R"({"cidr":"10.0.0.8","ttl_seconds":5})").status,
      201);
  EXPECT_TRUE(blocked("10.0.0.8"));
  inst_->now += 4;
  inst_->controller->tick();
  EXPECT_TRUE(blocked("10.0.0.8"));
  inst_->now += 2;
  inst_->controller->tick();
  EXPECT_FALSE(blocked("10.0.0.8"));
  EXPECT_EQ(get("/api/v1/blocklist").j()["total"], 1);
  EXPECT_FALSE(inst_->prog->blockHits(*Prefix::parse("10.0.0.8/32")).has_value());
}

TEST_F(Api, ImportCountsAcceptedAndRejectedLines) {
  const std::string text =
      "# scanners\n10.1.0.0/16\n  10.2.0.1  # one host\n\n300.1.1.1\n10.1.0.0/16\n2001:db8::/129\n"
      "2001:db8:1::/64\n";
  Reply r = http(port_, "POST", "/api/v1/blocklist/import?ttl_seconds=600&comment=feed", text);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.j()["accepted"], 3);
  EXPECT_EQ(r.j()["rejected"], 3);
  EXPECT_EQ(r.j()["errors"][0]["line"], 5);
  EXPECT_TRUE(blocked("10.1.200.3"));

  // A bulk import over 1 MiB: ~75k host entries.
  std::string bulk;
  int n = 0;
  for (int a = 0; bulk.size() < (1u << 20) + 1000; ++a, ++n) {
    bulk += "10." + std::to_string(50 + a / 64000) + "." + std::to_string(a / 250 % 256) + "." +
            std::to_string(a % 250 + 1) + "\n";
  }
  r = http(port_, "POST", "/api/v1/blocklist/import", bulk);
  ASSERT_EQ(r.status, 200) << r.body.substr(0, 300);
  EXPECT_EQ(r.j()["accepted"], n);
  EXPECT_EQ(get("/api/v1/blocklist?limit=1").j()["total"], n + 4);
  EXPECT_TRUE(blocked("10.50.3.7"));
}

TEST_F(Api, BadInputGetsA4xxNeverA5xx) {
  struct Case {
    const char* method;
    std::string path;
    std::string body;
    long status;
  };
  const std::vector<Case> cases = {
      {"POST", "/api/v1/blocklist", "{", 400},
      {"POST", "/api/v1/blocklist", "[1,2]", 400},
      {"POST", "/api/v1/blocklist", R"({"cidr":5})", 400},
      {"POST", "/api/v1/blocklist", R"({"cidr":"10.0.0.0/33"})", 400},
      {"POST", "/api/v1/blocklist", R"({"cidr":"300.1.1.1"})", 400},
      {"POST", "/api/v1/blocklist", R"({"cidr":""})", 400},
      {"POST", "/api/v1/blocklist", R"({"cidr":"2001:db8::/129"})", 400},
      {"POST", "/api/v1/blocklist", R"({"cidr":"1.2.3.4/"})", 400},
      {"POST", "/api/v1/blocklist", R"({"cidr":"1.2.3.4","ttl_seconds":-1})", 400},
      {"POST", "/api/v1/blocklist", R"({"cidr":"1.2.3.4","ttl_seconds":"12abc"})", 400},
      {"POST", "/api/v1/blocklist", R"({"cidr":"1.2.3.4","ttl_seconds":1e30})", 400},
      {"POST", "/api/v1/blocklist", R"({"cidr":"1.2.3.4","extra":1})", 400},
      {"POST", "/api/v1/blocklist", R"({"cidr":"1.2.3.4","comment":[]})", 400},
      {"DELETE", "/api/v1/blocklist/10.0.0.1/33", "", 400},
      {"DELETE", "/api/v1/blocklist/10.0.0.1/12abc", "", 400},
      {"DELETE", "/api/v1/blocklist/10.0.0.1/-1", "", 400},
      {"DELETE", "/api/v1/blocklist/300.1.1.1/32", "", 400},
      {"DELETE", "/api/v1/blocklist/10.0.0.1/8", "", 400},  // host bits set
      {"DELETE", "/api/v1/blocklist/2001:db8::/129", "", 400},
      {"DELETE", "/api/v1/blocklist/10.0.0.1", "", 404},
      {"GET", "/api/v1/blocklist?limit=12abc", "", 400},
      {"GET", "/api/v1/blocklist?limit=-1", "", 400},
      {"GET", "/api/v1/blocklist?limit=70000", "", 400},
      {"GET", "/api/v1/blocklist?limit=0", "", 400},
      {"GET", "/api/v1/blocklist?next=garbage", "", 400},
      {"GET", "/api/v1/blocklist?bogus=1", "", 400},
      {"POST", "/api/v1/blocklist/import?ttl_seconds=12abc", "10.0.0.1\n", 400},
      {"GET", "/api/v1/connections?client=1.2.3.4:70000", "", 400},
      {"GET", "/api/v1/connections?client=1.2.3.4:12abc", "", 400},
      {"GET", "/api/v1/connections?state=bogus", "", 400},
      {"GET", "/api/v1/connections?vip=abc", "", 400},
      {"GET", "/api/v1/connections?next=9.9", "", 400},
      {"GET", "/api/v1/connections?next=x", "", 400},
      {"DELETE", "/api/v1/connections", "", 400},
      {"DELETE", "/api/v1/connections?client=1.2.3.4", "", 400},
      {"DELETE", "/api/v1/connections?client=1.2.3.4:-1", "", 400},
      {"DELETE", "/api/v1/connections?client=1.2.3.4:1", "", 404},
      {"GET", "/api/v1/vips/abc/backends", "", 400},
      {"GET", "/api/v1/vips/10.0.0.99/backends", "", 404},
      {"POST", "/api/v1/vips/10.0.0.100/backends", R"({"address":"10.0.0.12","weight":"12abc"})",
       400},
      {"POST", "/api/v1/vips/10.0.0.100/backends", R"({"address":"10.0.0.12","weight":70000})",
       400},
      {"POST", "/api/v1/vips/10.0.0.100/backends", R"({"address":"10.0.0.12","weight":-1})", 400},
      {"POST", "/api/v1/vips/10.0.0.100/backends", R"({"address":"2001:db8::12"})", 400},
      {"POST", "/api/v1/vips/10.0.0.100/backends", R"({"address":"10.0.0.11"})", 409},
      {"POST", "/api/v1/vips/10.0.0.100/backends", R"({})", 400},
      {"POST", "/api/v1/vips/10.0.0.99/backends", R"({"address":"10.0.0.12"})", 404},
      {"PATCH", "/api/v1/vips/10.0.0.100/backends/10.0.0.11", R"({"state":"bogus"})", 400},
      {"PATCH", "/api/v1/vips/10.0.0.100/backends/10.0.0.11", R"({})", 400},
      {"PATCH", "/api/v1/vips/10.0.0.100/backends/10.0.0.99", R"({"weight":2})", 404},
      {"DELETE", "/api/v1/vips/10.0.0.100/backends/10.0.0.11?force=maybe", "", 400},
      {"PATCH", "/api/v1/config", R"({"vips":[{"address":"10.0.0.100","ports":[70000]}]})", 400},
      {"PATCH", "/api/v1/config", R"({"vips":[{"address":"10.0.0.100","ports":[]}]})", 400},
      {"PATCH", "/api/v1/config", R"({"vips":[{"address":"10.0.0.99","ports":[80]}]})", 404},
      {"PATCH", "/api/v1/config", R"({"vips":[{"address":"10.0.0.100","syn_flood":{"mode":"x"}}]})",
       400},
      {"PATCH", "/api/v1/config", R"({"workers":4})", 400},
      {"GET", "/api/v1/nope", "", 404},
      {"GET", "/nope", "", 404},
      {"GET", "/api/v2/stats", "", 404},
      {"PUT", "/api/v1/stats", "", 405},
      {"POST", "/healthz", "", 405},
      {"GET", "/api/v1/blocklist/%zz/32", "", 400},
      // Text that is not UTF-8: refused at the edge, and echoed safely in the message.
      {"POST", "/api/v1/blocklist/import?comment=%FF", "10.0.0.1\n", 400},
      {"POST", "/api/v1/blocklist/import?comment=ok%C3", "10.0.0.1\n", 400},
      {"POST", "/api/v1/blocklist", "{\"cidr\":\"10.0.0.1\",\"comment\":\"\xff\"}", 400},
      {"GET", "/api/v1/vips/%FF/backends", "", 400},
      {"GET", "/api/v1/blocklist?%FF=1", "", 400},
      {"DELETE", "/api/v1/connections?client=%FF:1", "", 400},
  };
  for (const Case& c : cases) {
    const Reply r = http(port_, c.method, c.path, c.body);
    EXPECT_EQ(r.status, c.status) << c.method << " " << c.path << " " << c.body << " -> " << r.body;
    const json j = r.j();
    EXPECT_TRUE(j.is_object() && j["error"]["code"].is_string() &&
                j["error"]["message"].is_string())
        << c.method << " " << c.path << ": " << r.body;
  }
  // Nothing changed on the way.
  EXPECT_EQ(get("/api/v1/blocklist").j()["total"], 1);
  EXPECT_EQ(get("/api/v1/vips/10.0.0.100/backends").j()["items"].size(), 1u);
}

// The comment that once aborted the daemon: refused with a 400 naming the field; nothing reaches
// the map, memory or state_dir, and every later change and listing still works.
TEST_F(Api, CommentThatIsNotUtf8IsRefusedAndChangesNothing) {
  Reply r = http(port_, "POST", "/api/v1/blocklist/import?comment=%FF", "10.0.0.31\n10.0.0.32\n");
  ASSERT_EQ(r.status, 400) << r.body;
  EXPECT_NE(r.j()["error"]["message"].get<std::string>().find("comment"), std::string::npos);
  EXPECT_FALSE(blocked("10.0.0.31"));
  ASSERT_EQ(
      http(port_, "POST", "/api/v1/blocklist", R"({"cidr":"10.0.0.33","ttl_seconds":1})").status,
      201);
  EXPECT_EQ(get("/api/v1/blocklist").status, 200);
  inst_->now += 2;
  inst_->controller->tick();  // the expiry that once let the exception out of the main loop
  EXPECT_FALSE(blocked("10.0.0.33"));
  EXPECT_EQ(get("/api/v1/blocklist").j()["total"], 1);
}

// Below the edge, a change that cannot be persisted is rolled back whole: the reply is a 500 and
// the map, the listing and the state file are as before.
TEST_F(Api, AChangeThatCannotBePersistedIsRolledBack) {
  const std::string file = dir_ + "/blocklist.json";
  ASSERT_EQ(http(port_, "POST", "/api/v1/blocklist", R"({"cidr":"10.0.0.40"})").status, 201);
  auto read = [&] {
    std::stringstream ss;
    ss << std::ifstream(file).rdbuf();
    return ss.str();
  };
  const std::string before = read();
  auto a = inst_->controller->addBlock(*Prefix::parse("10.0.0.41/32"), 0, "bad \xff");
  ASSERT_TRUE(std::holds_alternative<ControlError>(a));
  EXPECT_EQ(std::get<ControlError>(a).failure, Failure::kInternal);
  auto b = inst_->controller->importBlocklist({{1, "10.0.0.42", *Prefix::parse("10.0.0.42/32")},
                                               {2, "10.0.0.43", *Prefix::parse("10.0.0.43/32")}},
                                              0, "\xc3");
  ASSERT_TRUE(std::holds_alternative<ControlError>(b));
  EXPECT_EQ(std::get<ControlError>(b).failure, Failure::kInternal);
  for (const char* host : {"10.0.0.41", "10.0.0.42", "10.0.0.43"}) EXPECT_FALSE(blocked(host));
  EXPECT_TRUE(blocked("10.0.0.40"));
  EXPECT_EQ(get("/api/v1/blocklist").j()["total"], 2);
  EXPECT_EQ(read(), before);
  EXPECT_EQ(http(port_, "POST", "/api/v1/blocklist", R"({"cidr":"10.0.0.44"})").status, 201);
}

std::uint64_t internalErrors(const json& stats, const char* boundary) {
  return stats["internal_errors"][boundary].get<std::uint64_t>();
}

// An exception at each boundary (API handler, main loop, worker, health checker) is caught,
// counted in /api/v1/stats and /metrics, and the daemon keeps serving.
TEST_F(Api, AnExceptionAtEachBoundaryIsCountedAndServingGoesOn) {
  const json s0 = get("/api/v1/stats").j();

  armFault(Boundary::kApi);
  Reply r = get("/api/v1/stats");
  EXPECT_EQ(r.status, 500);
  EXPECT_EQ(r.j()["error"]["message"], "internal error") << r.body;  // no internals shown
  EXPECT_EQ(get("/api/v1/stats").status, 200);

  ASSERT_EQ(
      http(port_, "POST", "/api/v1/blocklist", R"({"cidr":"10.0.0.50","ttl_seconds":1})").status,
      201);
  inst_->now += 2;
  armFault(Boundary::kMainLoop);
  inst_->controller->tick();  // throws inside, returns normally
  EXPECT_TRUE(blocked("10.0.0.50"));
  inst_->controller->tick();  // the next tick does the work
  EXPECT_FALSE(blocked("10.0.0.50"));

  armFault(Boundary::kWorker);
  const auto t0 = std::chrono::steady_clock::now();
  r = get("/api/v1/connections");
  EXPECT_EQ(r.status, 503) << r.body;
  // Answered at once, not after the 2 s worker timeout.
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(1500));
  EXPECT_EQ(get("/api/v1/connections").status, 200);

  // No targets, so the checker sends nothing out of the test's process.
  for (const Controller::HealthTarget& t : inst_->controller->healthTargets()) {
    ASSERT_FALSE(inst_->controller->removeBackend(t.vip, t.backend, false).has_value());
  }
  ASSERT_TRUE(inst_->controller->healthTargets().empty());
  HealthCheckConfig hc;
  hc.interval = 20 * kNsPerMs;
  hc.timeout = 10 * kNsPerMs;
  HealthChecker checker(*inst_->controller, hc, probeTcp);
  armFault(Boundary::kHealth);
  checker.start();
  for (int i = 0; i < 200 && checker.rounds() < 3; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  checker.stop();
  EXPECT_GE(checker.rounds(), 3u);  // rounds went on after the one that threw

  const json s1 = get("/api/v1/stats").j();
  for (const char* b : {"api", "main_loop", "worker", "health_check"}) {
    EXPECT_EQ(internalErrors(s1, b), internalErrors(s0, b) + 1) << b;
  }
  const std::string m = get("/metrics").body;
  EXPECT_NE(m.find("xlb_internal_errors_total{boundary=\"worker\"} " +
                   std::to_string(internalErrors(s1, "worker"))),
            std::string::npos)
      << m.substr(0, 2000);
}

TEST_F(Api, MutationsNeedTheToken) {
  for (const char* token :
       {static_cast<const char*>(nullptr), "wrong", "test-token-0123456789abcdeX"}) {
    const Reply r = http(port_, "POST", "/api/v1/blocklist", R"({"cidr":"10.0.0.9"})", token);
    EXPECT_EQ(r.status, 401) << r.body;
    EXPECT_NE(r.headers.find("WWW-Authenticate: Bearer"), std::string::npos) << r.headers;
    EXPECT_EQ(r.j()["error"]["code"], "unauthorized");
  }
  EXPECT_FALSE(blocked("10.0.0.9"));
  // Reads do not need it.
  EXPECT_EQ(http(port_, "GET", "/api/v1/stats", "", nullptr).status, 200);
}

TEST_F(Api, BodiesOverTheLimitGet413) {
  const std::string big(3u << 20, 'a');
  const Reply r = http(port_, "POST", "/api/v1/blocklist/import", big);
  EXPECT_EQ(r.status, 413);
  EXPECT_EQ(http(port_, "GET", "/healthz").status, 200);
}

TEST_F(Api, BackendsChangeWhereNewConnectionsGo) {
  Reply r = http(port_, "POST", "/api/v1/vips/10.0.0.100/backends",
                 R"({"address":"10.0.0.12","weight":3})");
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(r.j()["weight"], 3);
  EXPECT_EQ(r.j()["state"], "active");
  // New connections spread over both.
  auto spread = [&](std::uint16_t firstPort) {
    std::map<std::string, int> per;
    for (std::uint16_t i = 0; i < 64; ++i) {
      PacketSpec p;
      p.sport = static_cast<std::uint16_t>(firstPort + i);
      inst_->ios[0]->inject(buildPacket(p));
    }
    for (int t = 0; t < 200; ++t) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      for (auto& io : inst_->ios) {
        for (const auto& f : io->takeSent())
          ++per[Address{Family::kV4, parseInfo(f).dst}.toString()];
      }
      int total = 0;
      for (auto& [k, v] : per) total += v;
      if (total == 64) break;
    }
    return per;
  };
  auto per = spread(30000);
  EXPECT_GT(per["10.0.0.11"], 0);
  EXPECT_GT(per["10.0.0.12"], per["10.0.0.11"]);
  // Draining: no new connections, existing ones stay.
  r = http(port_, "PATCH", "/api/v1/vips/10.0.0.100/backends/10.0.0.12", R"({"state":"draining"})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.j()["in_rotation"], false);
  per = spread(31000);
  EXPECT_EQ(per["10.0.0.11"], 64);
  EXPECT_EQ(per.count("10.0.0.12"), 0u);
  std::this_thread::sleep_for(std::chrono::milliseconds(250));  // workers publish every 100 ms
  r = get("/api/v1/vips/10.0.0.100/backends");
  json items = r.j()["items"];
  ASSERT_EQ(items.size(), 2u);
  EXPECT_GT(items[1]["active_connections"].get<int>(), 0) << r.body;
  EXPECT_EQ(items[1]["state"], "draining");
  // Removal with force resets them: the entries turn killed.
  EXPECT_EQ(http(port_, "DELETE", "/api/v1/vips/10.0.0.100/backends/10.0.0.12?force=true").status,
            204);
  const json killed = get("/api/v1/connections?backend=10.0.0.12&limit=1000").j();
  EXPECT_FALSE(killed["items"].empty());
  for (const json& c : killed["items"]) EXPECT_EQ(c["state"], "killed");
  EXPECT_EQ(http(port_, "DELETE", "/api/v1/vips/10.0.0.100/backends/10.0.0.12").status, 404);
  EXPECT_EQ(get("/api/v1/vips").j()["items"][0]["backends"], 1);
}

TEST_F(Api, ConnectionsAreListedFilteredAndKilled) {
  for (std::uint16_t i = 0; i < 10; ++i) {
    PacketSpec p;
    p.sport = static_cast<std::uint16_t>(40000 + i);
    inst_->ios[i % 2]->inject(buildPacket(p));
  }
  json all;
  for (int t = 0; t < 100; ++t) {
    all = get("/api/v1/connections").j();
    if (all["items"].size() == 10) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_EQ(all["items"].size(), 10u) << all.dump();
  EXPECT_EQ(all["items"][0]["state"], "syn_sent");
  EXPECT_EQ(all["items"][0]["backend"], "10.0.0.11");
  // Pages of three cover the same ten.
  std::set<int> ports;
  std::string next;
  int pages = 0;
  do {
    const json pj = get("/api/v1/connections?limit=3" + (next.empty() ? "" : "&next=" + next)).j();
    for (const json& c : pj["items"]) ports.insert(c["client_port"].get<int>());
    next = pj["next"].is_string() ? pj["next"].get<std::string>() : "";
    ++pages;
  } while (!next.empty() && pages < 20);
  EXPECT_EQ(ports.size(), 10u);
  EXPECT_EQ(get("/api/v1/connections?client=10.0.0.1:40003").j()["items"].size(), 1u);
  EXPECT_EQ(get("/api/v1/connections?state=established").j()["items"].size(), 0u);
  EXPECT_EQ(get("/api/v1/connections?vip=10.0.0.100&state=syn_sent").j()["items"].size(), 10u);

  for (auto& io : inst_->ios) io->takeSent();
  Reply r = http(port_, "DELETE", "/api/v1/connections?client=10.0.0.1:40003");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.j()["killed"], 1);
  // The probes went out: one to the client from the VIP, one to the backend.
  std::vector<MemoryIo::Frame> sent;
  for (auto& io : inst_->ios)
    for (auto& f : io->takeSent()) sent.push_back(f);
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_EQ((Address{Family::kV4, parseInfo(sent[0]).dst}.toString()), "10.0.0.1");
  EXPECT_EQ(parseInfo(sent[0]).dport, 40003);
  EXPECT_EQ((Address{Family::kV4, parseInfo(sent[1]).dst}.toString()), "10.0.0.11");
  EXPECT_EQ(get("/api/v1/connections?state=killed").j()["items"].size(), 1u);
  EXPECT_EQ(http(port_, "DELETE", "/api/v1/connections?client=10.0.0.1:40003").status, 404);
}

TEST_F(Api, ConfigPatchChangesPortsAndSynMode) {
  Reply r = http(
      port_, "PATCH", "/api/v1/config",
      R"({"vips":[{"address":"10.0.0.100","ports":[8080],"syn_flood":{"mode":"always","threshold_pps":500}}]})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.j()["vips"][0]["ports"], json::array({8080}));
  EXPECT_EQ(r.j()["vips"][0]["syn_flood"]["mode"], "always");
  // XDP now drops port 80 and answers port 8080 SYNs with cookies.
  PacketSpec p;
  Bytes f = buildPacket(p);
  EXPECT_EQ(inst_->prog->run(f).action, XDP_DROP);
  p.dport = 8080;
  f = buildPacket(p);
  EXPECT_EQ(inst_->prog->run(f).action, XDP_TX);
  EXPECT_EQ(get("/api/v1/config").j()["vips"][0]["syn_flood"]["threshold_pps"], 500);
}

// The XDP verdict reason a SYN to vip:port gets from the real program. Traffic for the engine
// counts as no_socket_drop here: the workers run on memory I/O, so no AF_XDP socket is in the
// program's map (fail-closed), which is the verdict "ours, for a worker".
std::optional<Reason> xdpReason(XdpProgram& prog, const char* vip, std::uint16_t port) {
  PacketSpec p;
  p.dst = vip;
  p.dport = port;
  Bytes f = buildPacket(p);
  const auto before = prog.stats();
  prog.run(f);
  const auto after = prog.stats();
  for (std::size_t r = 0; r < kReasonCount; ++r) {
    if (after[r].packets != before[r].packets) return static_cast<Reason>(r);
  }
  return std::nullopt;
}

TEST_F(Api, AVipAddedAtRuntimeReachesXdpAndTheEngineAndLeavesBoth) {
  Reply r = http(port_, "POST", "/api/v1/vips",
                 R"({"address":"10.0.0.101","ports":[443],"backend_ports":{"443":8443},)"
                 R"("syn_flood":{"mode":"off"},"backends":[{"address":"10.0.0.21"}]})");
  ASSERT_EQ(r.status, 201) << r.body;
  XdpProgram& prog = *inst_->prog;
  EXPECT_EQ(xdpReason(prog, "10.0.0.101", 443), Reason::kNoSocketDrop);
  EXPECT_EQ(xdpReason(prog, "10.0.0.101", 80), Reason::kPortFilter);
  EXPECT_EQ(xdpReason(prog, "10.0.0.100", 80), Reason::kNoSocketDrop);  // the other VIP unmoved
  // The engine sends its SYN to the backend's port.
  PacketSpec p;
  p.dst = "10.0.0.101";
  p.dport = 443;
  inst_->ios[0]->inject(buildPacket(p));
  std::vector<MemoryIo::Frame> sent;
  for (int t = 0; t < 200 && sent.empty(); ++t) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    for (auto& io : inst_->ios)
      for (auto& f : io->takeSent()) sent.push_back(f);
  }
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ((Address{Family::kV4, parseInfo(sent[0]).dst}.toString()), "10.0.0.21");
  EXPECT_EQ(parseInfo(sent[0]).dport, 8443);
  // Removed with force: its connection is reset, the VIP stays until that entry is gone, then
  // XDP hands its traffic to the host like any address that is not ours.
  ASSERT_EQ(http(port_, "DELETE", "/api/v1/vips/10.0.0.101?force=true").status, 204);
  EXPECT_EQ(get("/api/v1/vips").j()["items"][2]["state"], "draining");
  EXPECT_EQ(xdpReason(prog, "10.0.0.101", 443), Reason::kNoSocketDrop);
  bool gone = false;
  for (int t = 0; t < 60 && !gone; ++t) {  // the RST grace is 1 s
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    inst_->controller->tick();
    gone = get("/api/v1/vips").j()["items"].size() == 2;
  }
  EXPECT_TRUE(gone);
  EXPECT_EQ(xdpReason(prog, "10.0.0.101", 443), Reason::kPassNotOurs);
  EXPECT_EQ(xdpReason(prog, "10.0.0.100", 80), Reason::kNoSocketDrop);
}

TEST_F(Api, StateSurvivesARestartAndABadFileIsSetAside) {
  ASSERT_EQ(
      http(port_, "POST", "/api/v1/blocklist", R"({"cidr":"10.0.0.77","comment":"keep"})").status,
      201);
  ASSERT_EQ(http(port_, "DELETE", "/api/v1/blocklist/10.9.9.0/24").status, 204);
  ASSERT_EQ(
      http(port_, "POST", "/api/v1/vips/10.0.0.100/backends", R"({"address":"10.0.0.12"})").status,
      201);
  ASSERT_EQ(http(port_, "PATCH", "/api/v1/vips/10.0.0.100/backends/10.0.0.11",
                 R"({"weight":5,"state":"draining"})")
                .status,
            200);
  restart();
  json bl = get("/api/v1/blocklist").j();
  ASSERT_EQ(bl["items"].size(), 1u) << bl.dump();
  EXPECT_EQ(bl["items"][0]["cidr"], "10.0.0.77/32");
  EXPECT_EQ(bl["items"][0]["comment"], "keep");
  EXPECT_TRUE(blocked("10.0.0.77"));
  EXPECT_FALSE(blocked("10.9.9.1"));  // the configured entry stays deleted
  json be = get("/api/v1/vips/10.0.0.100/backends").j()["items"];
  ASSERT_EQ(be.size(), 2u);
  EXPECT_EQ(be[0]["weight"], 5);
  EXPECT_EQ(be[0]["state"], "draining");
  EXPECT_EQ(be[1]["address"], "10.0.0.12");

  inst_.reset();
  std::ofstream(dir_ + "/blocklist.json") << "{\"version\": 1, \"entries\": [tru";
  restart();
  EXPECT_EQ(get("/api/v1/blocklist").j()["total"], 1);  // the configured entry only
  bool aside = false;
  for (const auto& e : std::filesystem::directory_iterator(dir_)) {
    aside = aside || e.path().filename().string().starts_with("blocklist.json.corrupt-");
  }
  EXPECT_TRUE(aside);
}

TEST_F(Api, SlowClientDoesNotBlockOthers) {
  inst_.reset();
  inst_ = std::make_unique<Instance>();
  ASSERT_TRUE(inst_->start(apiConfig(dir_), std::chrono::milliseconds(300))) << inst_->error;
  port_ = inst_->port();
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port_);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
  const char partial[] = "GET /api/v1/stats HTTP/1.1\r\nHost: x\r\n";  // never finished
  ASSERT_GT(::write(fd, partial, sizeof partial - 1), 0);
  EXPECT_EQ(get("/healthz").status, 200);
  // The header timeout ends the slow one.
  timeval tv{3, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  char buf[512];
  const ssize_t n = ::read(fd, buf, sizeof buf);
  ::close(fd);
  EXPECT_GE(n, 0) << "the server neither answered nor closed within 3 s";
  if (n > 0) {
    EXPECT_NE(std::string(buf, static_cast<std::size_t>(n)).find("408"), std::string::npos);
  }
}

TEST_F(Api, ConcurrentReadersAndWriters) {
  std::atomic<int> bad{0};
  std::vector<std::thread> ts;
  for (int t = 0; t < 4; ++t) {
    ts.emplace_back([&, t] {
      for (int i = 0; i < 40; ++i) {
        const std::string cidr = "10.77." + std::to_string(t) + "." + std::to_string(i + 1);
        Reply r;
        switch (i % 4) {
          case 0:
            r = http(port_, "POST", "/api/v1/blocklist", R"({"cidr":")" + cidr + R"("})");
            break;
          case 1:
            r = get("/api/v1/stats");
            break;
          case 2:
            r = get("/metrics");
            break;
          default:
            r = get("/api/v1/blocklist?limit=5");
            break;
        }
        if (r.status != 200 && r.status != 201) ++bad;
      }
    });
  }
  for (auto& th : ts) th.join();
  EXPECT_EQ(bad.load(), 0);
  EXPECT_EQ(get("/api/v1/blocklist").j()["total"], 1 + 4 * 10);
}

}  // namespace
}  // namespace xlb
