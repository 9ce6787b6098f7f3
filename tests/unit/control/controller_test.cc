// SPDX-License-Identifier: Apache-2.0
// The Controller's rules against fakes of what it drives (XdpMaps, WorkerControl), without root:
// a change reaches the maps, the workers and state_dir or none of them; expiry and half-open
// pressure are applied on tick(); the API's routes answer through the real handlers.
#include "xlb/controller.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <set>

#include "control_fakes.h"
#include "fixtures.h"
#include "xlb/api_routes.h"

namespace xlb {
namespace {

using testing::ControlFixture;

TEST(Controller, StartFillsTheMapsAndPublishesASnapshot) {
  ControlFixture f;
  EXPECT_EQ(f.maps.applies, 1);
  ASSERT_NE(f.worker.snapshot, nullptr);
  EXPECT_EQ(f.call(HttpMethod::kGet, "/healthz").status, 200);
}

TEST(Controller, ABlockReachesTheMapAndStateDirAndExpiresOnTheClock) {
  ControlFixture f;
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
  ControlFixture f;
  f.maps.capacity = f.maps.blocked.size();
  const ApiReply r = f.call(HttpMethod::kPost, "/api/v1/blocklist", R"({"cidr":"10.8.0.1"})");
  EXPECT_GE(r.status, 500) << r.body;
  EXPECT_EQ(f.json(f.call(HttpMethod::kGet, "/api/v1/blocklist"))["items"].size(), 0u);
  EXPECT_FALSE(std::filesystem::exists(f.dir / "blocklist.json"));
}

TEST(Controller, ABackendChangeIsPublishedAndAFailedMapWriteRollsBack) {
  ControlFixture f;
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
  ControlFixture f;
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

// Every figure of the lists in figures.h sits in GET /api/v1/stats at its group and key, with its
// member's value (distinct values prove each reads its own member).
TEST(Controller, StatsShowEveryListedFigureAtItsPlace) {
  ControlFixture f;
  WorkerStats w;
  std::uint64_t v = 1000;
  for (const auto& fig : kPipelineFigures) w.counters.*fig.member = ++v;
  for (const auto& fig : kWorkerFigures) w.*fig.member = ++v;
  f.worker.figures = w;
  const nlohmann::json s = f.json(f.call(HttpMethod::kGet, "/api/v1/stats"));
  v = 1000;
  for (const auto& fig : kPipelineFigures) {
    EXPECT_EQ(s[std::string(fig.group)][std::string(fig.key)], ++v) << fig.key;
  }
  for (const auto& fig : kWorkerFigures) {
    EXPECT_EQ(s[std::string(fig.group)][std::string(fig.key)], ++v) << fig.key;
  }
  EXPECT_EQ(s["workers"]["count"], 1);
}

// PATCH /api/v1/config: the handler refuses a malformed entry with 400 before anything changes;
// a valid one changes the VIP's settings.
TEST(Controller, ConfigPatchIsCheckedWholeBeforeAnythingChanges) {
  ControlFixture f;
  const char* bad[] = {
      R"({"vips":{}})",
      R"({"vips":[{"ports":[80]}]})",
      R"({"vips":[{"address":"10.0.0.100","weight":1}]})",
      R"({"vips":[{"address":"10.0.0.100","ports":[0]}]})",
      R"({"vips":[{"address":"10.0.0.100","syn_flood":{"mode":"sometimes"}}]})",
      R"({"vips":[{"address":"10.0.0.100","syn_flood":{"threshold_pps":0}}]})",
      R"({"vips":[{"address":"10.0.0.100","ports":[80]},{"address":"not-an-ip"}]})",
  };
  for (const char* body : bad) {
    EXPECT_EQ(f.call(HttpMethod::kPatch, "/api/v1/config", body).status, 400) << body;
  }
  nlohmann::json cfg = f.json(f.call(HttpMethod::kGet, "/api/v1/config"));
  EXPECT_EQ(cfg["vips"][0]["ports"], nlohmann::json::array({80, 443}));
  const ApiReply r = f.call(HttpMethod::kPatch, "/api/v1/config",
                            R"({"vips":[{"address":"10.0.0.100","ports":[8080],)"
                            R"("syn_flood":{"mode":"always","threshold_pps":5000}}]})");
  ASSERT_EQ(r.status, 200) << r.body;
  cfg = f.json(f.call(HttpMethod::kGet, "/api/v1/config"));
  EXPECT_EQ(cfg["vips"][0]["ports"], nlohmann::json::array({8080}));
  EXPECT_EQ(cfg["vips"][0]["syn_flood"]["mode"], "always");
  EXPECT_EQ(cfg["vips"][0]["syn_flood"]["threshold_pps"], 5000);
}

}  // namespace
}  // namespace xlb
