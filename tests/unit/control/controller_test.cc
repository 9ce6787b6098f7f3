// SPDX-License-Identifier: Apache-2.0
// The Controller's rules against fakes of what it drives (XdpMaps, WorkerControl), without root:
// a change reaches the maps, the workers and state_dir or none of them; expiry and half-open
// pressure are applied on tick(); the API's routes answer through the real handlers.
#include "xlb/controller.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>

#include "control_fakes.h"
#include "fixtures.h"
#include "xlb/api_routes.h"

namespace xlb {
namespace {

using testing::ControlFixture;

Address A(const char* s) {
  return *Address::parse(s);
}

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

// The program removed from the interface behind xlbd's back (ip link set dev X xdp off): the
// stats, the metrics and readiness say so, for an alert to fire.
TEST(Controller, AnXdpProgramGoneFromTheInterfaceShowsInStatsMetricsAndReadiness) {
  ControlFixture f;
  EXPECT_EQ(f.json(f.call(HttpMethod::kGet, "/api/v1/stats"))["xdp_attached"], true);
  EXPECT_NE(f.call(HttpMethod::kGet, "/metrics").body.find("\nxlb_xdp_attached 1\n"),
            std::string::npos);
  EXPECT_EQ(f.call(HttpMethod::kGet, "/readyz").status, 200);
  f.xdpAttached = false;
  f.controller->tick();
  EXPECT_EQ(f.json(f.call(HttpMethod::kGet, "/api/v1/stats"))["xdp_attached"], false);
  EXPECT_NE(f.call(HttpMethod::kGet, "/metrics").body.find("\nxlb_xdp_attached 0\n"),
            std::string::npos);
  const ApiReply r = f.call(HttpMethod::kGet, "/readyz");
  EXPECT_EQ(r.status, 503);
  EXPECT_NE(r.body.find("XDP program not attached"), std::string::npos) << r.body;
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

TEST(Controller, AVipAddedOverTheApiReachesMapsSnapshotAndStateDirAndDrainsAway) {
  ControlFixture f;
  const char* body =
      R"({"address":"10.0.0.101","ports":[443],"backend_ports":{"443":8443},)"
      R"("syn_flood":{"mode":"off"},"backends":[{"address":"10.0.0.21","weight":2}]})";
  const char* bad[] = {
      R"({"address":"10.0.0.101"})",                                            // no ports
      R"({"address":"10.0.0.101","ports":[443],"color":"red"})",                // unknown field
      R"({"address":"10.0.0.101","ports":[443],"backend_ports":{"80":8080}})",  // not served
      R"({"address":"10.0.0.101","ports":[443],"backend_ports":{"443":0}})",
      R"({"address":"10.0.0.2","ports":[443]})",  // a SNAT address
      R"({"address":"10.0.0.101","ports":[443],"backends":[{"address":"2001:db8::5"}]})",
      R"({"address":"10.0.0.101","ports":[443],"protocol":"sctp"})",
      R"({"address":"10.0.0.101","ports":[443],"protocol":"udp","syn_flood":{"mode":"off"}})",
  };
  for (const char* b : bad) {
    const ApiReply r = f.call(HttpMethod::kPost, "/api/v1/vips", b);
    EXPECT_EQ(r.status, 400) << b << " -> " << r.body;
  }
  EXPECT_EQ(f.maps.applied.vips.size(), 2u);  // nothing reached the maps
  ApiReply r = f.call(HttpMethod::kPost, "/api/v1/vips", body);
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(f.json(r)["backend_ports"]["443"], 8443);
  EXPECT_EQ(f.json(r)["state"], "active");
  EXPECT_EQ(f.call(HttpMethod::kPost, "/api/v1/vips", body).status, 409);
  ASSERT_EQ(f.maps.applied.vips.size(), 3u);
  EXPECT_EQ(f.maps.appliedIds, (std::vector<std::uint16_t>{0, 1, 2}));
  const VipEntry* v = f.worker.snapshot->findVip(Family::kV4, A("10.0.0.101").ip);
  ASSERT_NE(v, nullptr);
  EXPECT_EQ(v->id, 2);
  EXPECT_TRUE(v->servesPort(443));
  EXPECT_EQ(v->backendPort(443), 8443);
  ASSERT_EQ(v->backends.size(), 1u);
  // Health checks probe the backend's port.
  const auto targets = f.controller->healthTargets();
  EXPECT_TRUE(std::any_of(targets.begin(), targets.end(), [](const Controller::HealthTarget& t) {
    return t.backend == A("10.0.0.21") && t.port == 8443;
  }));
  // A restart brings it back from state_dir.
  {
    ControlFixture again([&](Config& c) { c.stateDir = f.dir.string(); });
    EXPECT_NE(again.worker.snapshot->findVip(Family::kV4, A("10.0.0.101").ip), nullptr);
  }
  // Removal: 204, no new connections (no backend), kept while a connection lives.
  f.worker.figures.backends.resize(8);
  const std::uint16_t id = v->backends[0].id;
  f.worker.figures.backends[id].active = 1;
  ASSERT_EQ(f.call(HttpMethod::kDelete, "/api/v1/vips/10.0.0.101").status, 204);
  EXPECT_EQ(f.call(HttpMethod::kDelete, "/api/v1/vips/10.0.0.101").status, 404);
  EXPECT_EQ(f.call(HttpMethod::kDelete, "/api/v1/vips/10.0.0.101?force=maybe").status, 400);
  const nlohmann::json listed = f.json(f.call(HttpMethod::kGet, "/api/v1/vips"));
  EXPECT_EQ(listed["items"][2]["state"], "draining");
  v = f.worker.snapshot->findVip(Family::kV4, A("10.0.0.101").ip);
  ASSERT_NE(v, nullptr);
  EXPECT_TRUE(v->backends.empty());
  EXPECT_EQ(f.call(HttpMethod::kPost, "/api/v1/vips", body).status, 409);  // still draining
  f.controller->tick();
  EXPECT_NE(f.worker.snapshot->findVip(Family::kV4, A("10.0.0.101").ip), nullptr);
  f.worker.figures.backends[id].active = 0;  // its last connection ended
  f.controller->tick();
  EXPECT_EQ(f.worker.snapshot->findVip(Family::kV4, A("10.0.0.101").ip), nullptr);
  EXPECT_EQ(f.maps.applied.vips.size(), 2u);
  ASSERT_EQ(f.call(HttpMethod::kPost, "/api/v1/vips", body).status, 201);  // the slot is free
  EXPECT_EQ(f.maps.appliedIds, (std::vector<std::uint16_t>{0, 1, 2}));
}

// A UDP service on the TCP VIP's address is a VIP of its own: its own slot, backends, listing and
// removal, named by ?protocol=udp (or ADDRESS/udp percent-encoded); it survives a restart.
TEST(Controller, AUdpServiceBesideATcpVipIsAVipOfItsOwn) {
  ControlFixture f;
  const char* dns =
      R"({"address":"10.0.0.100","protocol":"udp","ports":[53],"backends":[{"address":"10.0.0.31"}]})";
  ApiReply r = f.call(HttpMethod::kPost, "/api/v1/vips", dns);
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(f.json(r)["protocol"], "udp");
  EXPECT_EQ(f.json(r)["syn_flood"]["mode"], "off");
  EXPECT_EQ(f.call(HttpMethod::kPost, "/api/v1/vips", dns).status, 409);
  ASSERT_EQ(f.maps.applied.vips.size(), 3u);
  EXPECT_EQ(f.maps.applied.vips[2].protocol, kVipUdp);
  const VipEntry* udp = f.worker.snapshot->findVip(Family::kV4, A("10.0.0.100").ip, kProtoUdp);
  const VipEntry* tcp = f.worker.snapshot->findVip(Family::kV4, A("10.0.0.100").ip, kProtoTcp);
  ASSERT_NE(udp, nullptr);
  ASSERT_NE(tcp, nullptr);
  EXPECT_NE(udp->id, tcp->id);
  EXPECT_TRUE(udp->servesPort(53));
  EXPECT_FALSE(tcp->servesPort(53));
  r = f.call(HttpMethod::kGet, "/api/v1/vips/10.0.0.100/backends?protocol=udp");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(f.json(r)["protocol"], "udp");
  EXPECT_EQ(f.json(r)["items"][0]["address"], "10.0.0.31");
  r = f.call(HttpMethod::kGet, "/api/v1/vips/10.0.0.100%2Fudp/backends");
  EXPECT_EQ(f.json(r)["items"][0]["address"], "10.0.0.31") << r.body;
  r = f.call(HttpMethod::kGet, "/api/v1/vips/10.0.0.100/backends");
  EXPECT_EQ(f.json(r)["protocol"], "tcp");
  EXPECT_EQ(f.json(r)["items"][0]["address"], "10.0.0.11");
  EXPECT_EQ(f.call(HttpMethod::kGet, "/api/v1/vips/10.0.0.100/backends?protocol=sctp").status, 400);
  EXPECT_EQ(f.call(HttpMethod::kPost, "/api/v1/vips/10.0.0.100/backends?protocol=udp",
                   R"({"address":"10.0.0.32"})")
                .status,
            201);
  // SYN-flood settings belong to TCP.
  r = f.call(
      HttpMethod::kPatch, "/api/v1/config",
      R"({"vips":[{"address":"10.0.0.100","protocol":"udp","syn_flood":{"mode":"always"}}]})");
  EXPECT_EQ(r.status, 400) << r.body;
  r = f.call(HttpMethod::kPatch, "/api/v1/config",
             R"({"vips":[{"address":"10.0.0.100","protocol":"udp","ports":[53,443]}]})");
  EXPECT_EQ(r.status, 200) << r.body;
  {
    ControlFixture again([&](Config& c) { c.stateDir = f.dir.string(); });
    const VipEntry* back =
        again.worker.snapshot->findVip(Family::kV4, A("10.0.0.100").ip, kProtoUdp);
    ASSERT_NE(back, nullptr);
    EXPECT_TRUE(back->servesPort(443));
    EXPECT_EQ(back->backends.size(), 2u);
  }
  ASSERT_EQ(f.call(HttpMethod::kDelete, "/api/v1/vips/10.0.0.100?protocol=udp&force=true").status,
            204);
  f.controller->tick();
  EXPECT_EQ(f.worker.snapshot->findVip(Family::kV4, A("10.0.0.100").ip, kProtoUdp), nullptr);
  EXPECT_NE(f.worker.snapshot->findVip(Family::kV4, A("10.0.0.100").ip, kProtoTcp), nullptr);
}

TEST(Controller, ReloadAppliesTheFilesDifferencesAndNamesWhatNeedsARestart) {
  ControlFixture f;
  ASSERT_EQ(
      f.call(HttpMethod::kPost, "/api/v1/vips/10.0.0.100/backends", R"({"address":"10.0.0.13"})")
          .status,
      201);  // a runtime change, which the reload keeps
  Config next = f.config;
  next.vips[0].ports = {80, 8080};
  next.vips[0].backends.push_back({A("10.0.0.12"), 3});
  next.vips.pop_back();  // 2001:db8::100 goes (drains)
  next.blocklist = {*Prefix::parse("192.0.2.0/24")};
  next.workers = 2;  // needs a restart
  f.fileConfig = next;
  ApiReply r = f.call(HttpMethod::kPost, "/api/v1/config/reload");
  ASSERT_EQ(r.status, 200) << r.body;
  const nlohmann::json j = f.json(r);
  const auto has = [&](const char* key, const std::string& text) {
    for (const auto& c : j[key]) {
      if (c.get<std::string>().find(text) != std::string::npos) return true;
    }
    return false;
  };
  EXPECT_TRUE(has("changed", "VIP 10.0.0.100: ports 80,443 -> 80,8080")) << j.dump();
  EXPECT_TRUE(has("changed", "backend 10.0.0.12 added")) << j.dump();
  EXPECT_TRUE(has("changed", "VIP 2001:db8::100 removed")) << j.dump();
  EXPECT_TRUE(has("changed", "blocklist: 192.0.2.0/24 added")) << j.dump();
  EXPECT_EQ(j["restart_required"], nlohmann::json::array({"workers"}));
  EXPECT_TRUE(f.maps.blocked.count("192.0.2.0/24"));
  const VipEntry* v = f.worker.snapshot->findVip(Family::kV4, A("10.0.0.100").ip);
  ASSERT_NE(v, nullptr);
  EXPECT_TRUE(v->servesPort(8080));
  EXPECT_EQ(v->backends.size(), 3u);  // .11, .12 and the runtime .13
  EXPECT_EQ(f.json(f.call(HttpMethod::kGet, "/api/v1/config"))["workers"], 1);
  // A file that does not validate changes nothing.
  f.fileConfig = std::string("xlb.yaml: vips[0].ports[0]: \"0\" is not a port");
  r = f.call(HttpMethod::kPost, "/api/v1/config/reload");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("is not a port"), std::string::npos) << r.body;
  EXPECT_TRUE(f.worker.snapshot->findVip(Family::kV4, A("10.0.0.100").ip)->servesPort(8080));
  // The same file again: nothing to change.
  f.fileConfig = next;
  r = f.call(HttpMethod::kPost, "/api/v1/config/reload");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_TRUE(f.json(r)["changed"].empty()) << r.body;
}

}  // namespace
}  // namespace xlb
