// SPDX-License-Identifier: Apache-2.0
// The Controller's rules against fakes of what it drives (XdpMaps, WorkerControl), without root:
// a change reaches the maps, the workers and state_dir or none of them; expiry and half-open
// pressure are applied on tick(); the API's routes answer through the real handlers.
#include "xlb/controller.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <set>

#include "fixtures.h"
#include "xlb/api_routes.h"

namespace xlb {
namespace {

class FakeMaps final : public XdpMaps {
 public:
  bool applyConfig(const Config& config, const CookieKey&, std::string& error) override {
    if (failApply) {
      error = "fake: map write refused";
      return false;
    }
    applied = config;
    ++applies;
    return true;
  }
  bool blockAdd(const Prefix& p, std::string& error, bool* exists) override {
    if (exists) *exists = blocked.count(p.toString()) > 0;
    if (blocked.count(p.toString()) || blocked.size() >= capacity) {
      error = "fake: full or present";
      return false;
    }
    blocked.insert(p.toString());
    return true;
  }
  bool blockRemove(const Prefix& p) override { return blocked.erase(p.toString()) > 0; }
  std::optional<BlockHits> blockHits(const Prefix& p) const override {
    if (!blocked.count(p.toString())) return std::nullopt;
    return BlockHits{7, 0};
  }
  std::array<ReasonStat, kReasonCount> stats() const override { return {}; }
  SynState synState(std::uint16_t) const override { return {}; }
  void setSynPressure(bool on) override { pressure = on; }

  std::set<std::string> blocked;
  std::size_t capacity = 1000;
  bool failApply = false;
  bool pressure = false;
  int applies = 0;
  Config applied;
};

class FakeWorker final : public WorkerControl {
 public:
  void publish(std::shared_ptr<const Snapshot> s) override { snapshot = std::move(s); }
  WorkerStats stats() const override { return figures; }
  std::optional<ConnPage> listConnections(const ConnFilter&, std::uint32_t, std::uint32_t,
                                          std::uint32_t, std::chrono::milliseconds) override {
    return ConnPage{};
  }
  std::optional<std::size_t> kill(const ConnFilter&, std::chrono::milliseconds) override {
    return 0;
  }
  std::shared_ptr<const Snapshot> snapshot;
  WorkerStats figures;
};

struct Fixture {
  Fixture() {
    dir = std::filesystem::temp_directory_path() /
          ("xlb-controller-test-" + std::to_string(::getpid()) + "-" + std::to_string(++serial));
    std::filesystem::remove_all(dir);
    config = testing::testConfig(4096, 20000, 29999);
    config.stateDir = dir.string();
    config.healthCheck.enabled = false;
    ControllerDeps deps;
    deps.prog = &maps;
    deps.workers = {&worker};
    deps.localMac = *MacAddr::parse(testing::kLbMac);
    deps.resolve = [](const Address& a) -> std::optional<MacAddr> {
      return testing::backendMac(a);
    };
    controller = std::make_unique<Controller>(config, std::move(deps),
                                              std::make_unique<StateStore>(config.stateDir),
                                              [this] { return now; });
    std::string error;
    started = controller->start(error);
    EXPECT_TRUE(started) << error;
  }
  ~Fixture() { std::filesystem::remove_all(dir); }

  ApiReply call(HttpMethod m, const std::string& path, const std::string& body = "") {
    ApiRequest r;
    r.method = m;
    r.resource = path;
    r.body = body;
    r.authorization = "Bearer t";
    return dispatch(apiRoutes(), ApiLimits{"t", 1 << 20}, controller.get(), r);
  }
  nlohmann::json json(const ApiReply& r) { return nlohmann::json::parse(r.body); }

  static inline int serial = 0;
  std::filesystem::path dir;
  Config config;
  FakeMaps maps;
  FakeWorker worker;
  std::int64_t now = 1'800'000'000;
  std::unique_ptr<Controller> controller;
  bool started = false;
};

TEST(Controller, StartFillsTheMapsAndPublishesASnapshot) {
  Fixture f;
  EXPECT_EQ(f.maps.applies, 1);
  ASSERT_NE(f.worker.snapshot, nullptr);
  EXPECT_EQ(f.call(HttpMethod::kGet, "/healthz").status, 200);
}

TEST(Controller, ABlockReachesTheMapAndStateDirAndExpiresOnTheClock) {
  Fixture f;
  const ApiReply r =
      f.call(HttpMethod::kPost, "/api/v1/blocklist", R"({"cidr":"10.7.0.0/16","ttl_seconds":60})");
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_TRUE(f.maps.blocked.count("10.7.0.0/16"));
  EXPECT_TRUE(std::filesystem::exists(f.dir / "blocklist.json"));
  const nlohmann::json page = f.json(f.call(HttpMethod::kGet, "/api/v1/blocklist"));
  ASSERT_EQ(page["items"].size(), 1u);
  EXPECT_EQ(page["items"][0]["hits"], 7);
  f.now += 61;
  f.controller->tick();
  EXPECT_FALSE(f.maps.blocked.count("10.7.0.0/16"));
  EXPECT_EQ(f.json(f.call(HttpMethod::kGet, "/api/v1/blocklist"))["items"].size(), 0u);
}

TEST(Controller, AFullMapLeavesMemoryAndStateDirUnchanged) {
  Fixture f;
  f.maps.capacity = f.maps.blocked.size();
  const ApiReply r = f.call(HttpMethod::kPost, "/api/v1/blocklist", R"({"cidr":"10.8.0.1"})");
  EXPECT_GE(r.status, 500) << r.body;
  EXPECT_EQ(f.json(f.call(HttpMethod::kGet, "/api/v1/blocklist"))["items"].size(), 0u);
  EXPECT_FALSE(std::filesystem::exists(f.dir / "blocklist.json"));
}

TEST(Controller, ABackendChangeIsPublishedAndAFailedMapWriteRollsBack) {
  Fixture f;
  const auto first = f.worker.snapshot;
  ApiReply r = f.call(HttpMethod::kPatch, "/api/v1/vips/10.0.0.100/backends/10.0.0.11",
                      R"({"state":"draining"})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_NE(f.worker.snapshot, first);
  // VIP settings go to the maps: a refused write answers 500 and keeps the old ports.
  f.maps.failApply = true;
  r = f.call(HttpMethod::kPatch, "/api/v1/config",
             R"({"vips":[{"address":"10.0.0.100","ports":[80]}]})");
  EXPECT_EQ(r.status, 500) << r.body;
  const nlohmann::json cfg = f.json(f.call(HttpMethod::kGet, "/api/v1/config"));
  EXPECT_EQ(cfg["vips"][0]["ports"], nlohmann::json::array({80, 443}));
}

TEST(Controller, HalfOpenPressureFromTheWorkersReachesTheMapsOnTick) {
  Fixture f;
  WorkerStats w;
  w.snatCapacity = 4000;
  w.capacity = 4096;
  w.byState[static_cast<std::size_t>(TcpState::kSynReceived)] = 1000;
  f.worker.figures = w;
  f.controller->tick();
  EXPECT_TRUE(f.maps.pressure);
  const nlohmann::json s = f.json(f.call(HttpMethod::kGet, "/api/v1/stats"));
  EXPECT_EQ(s["half_open"]["limit"], 1000);
  EXPECT_EQ(s["half_open"]["pressure"], true);
  f.worker.figures.byState[static_cast<std::size_t>(TcpState::kSynReceived)] = 10;
  f.controller->tick();
  EXPECT_FALSE(f.maps.pressure);
}

}  // namespace
}  // namespace xlb
