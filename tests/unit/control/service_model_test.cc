// SPDX-License-Identifier: Apache-2.0
// The control plane's pure parts: the service model (stable ids, rotation, overlay round trip),
// the blocklist registry (order, paging, expiry, overlay), health rise/fall counting, atomic
// state files and the API's strict parsers.
#include "xlb/service_model.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "xlb/api_server.h"
#include "xlb/health.h"
#include "xlb/state_store.h"

namespace xlb {
namespace {

Address A(const char* s) {
  return *Address::parse(s);
}
Prefix P(const char* s) {
  return *Prefix::parse(s);
}

Config twoBackends() {
  Config c;
  c.snat.addresses = {A("10.0.0.2")};
  VipConfig v;
  v.address = A("10.0.0.100");
  v.backends = {{A("10.0.0.11"), 1}, {A("10.0.0.12"), 2}};
  c.vips = {v};
  return c;
}

TEST(ServiceModel, IdsAreStableAndOnlyRotationIsInTheSnapshot) {
  ServiceModel m(twoBackends());
  const Address vip = A("10.0.0.100");
  ASSERT_FALSE(m.addBackend(vip, A("10.0.0.13"), 1));
  EXPECT_EQ(m.addBackend(vip, A("10.0.0.13"), 1)->failure, Failure::kConflict);
  EXPECT_EQ(m.addBackend(vip, A("2001:db8::1"), 1)->failure, Failure::kBadRequest);
  EXPECT_EQ(m.addBackend(A("10.0.0.99"), A("10.0.0.14"), 1)->failure, Failure::kNotFound);
  ASSERT_FALSE(m.setBackend(vip, A("10.0.0.11"), std::nullopt, BackendState::kDraining));
  ASSERT_FALSE(m.removeBackend(vip, A("10.0.0.12")));
  EXPECT_TRUE(m.setHealth(vip, A("10.0.0.13"), Health::kDown));
  EXPECT_FALSE(m.setHealth(vip, A("10.0.0.13"), Health::kDown));  // no change
  SnapshotSpec s = m.spec(MacAddr{}, [](const Address&) { return MacAddr{}; });
  // Ids 0, 1 (removed, MAC kept for its connections) and 2.
  EXPECT_EQ(s.backendMacs.size(), 3u);
  EXPECT_TRUE(s.vips[0].backends.empty());  // draining, removed, down
  ASSERT_TRUE(m.setHealth(vip, A("10.0.0.13"), Health::kUp));
  s = m.spec(MacAddr{}, [](const Address&) { return MacAddr{}; });
  ASSERT_EQ(s.vips[0].backends.size(), 1u);
  EXPECT_EQ(s.vips[0].backends[0].id, 2);
  // Re-adding a removed backend gets its old id back.
  ASSERT_FALSE(m.addBackend(vip, A("10.0.0.12"), 1));
  EXPECT_EQ(m.vips()[0].backends.back().id, 1);
}

TEST(ServiceModel, OverlayRoundTripsOverTheConfiguration) {
  ServiceModel m(twoBackends());
  const Address vip = A("10.0.0.100");
  ASSERT_FALSE(m.addBackend(vip, A("10.0.0.13"), 7));
  ASSERT_FALSE(m.removeBackend(vip, A("10.0.0.11")));
  ASSERT_FALSE(m.setBackend(vip, A("10.0.0.12"), 9, BackendState::kDown));
  ASSERT_FALSE(m.setVipPorts(vip, {8443, 80}));
  const std::string overlay = m.overlayJson();

  ServiceModel r(twoBackends());
  ASSERT_FALSE(r.applyOverlay(overlay));
  ASSERT_EQ(r.vips()[0].backends.size(), 2u);
  EXPECT_EQ(r.vips()[0].backends[0].address, A("10.0.0.12"));
  EXPECT_EQ(r.vips()[0].backends[0].weight, 9u);
  EXPECT_EQ(r.vips()[0].backends[0].state, BackendState::kDown);
  EXPECT_EQ(r.vips()[0].backends[1].weight, 7u);
  EXPECT_EQ(r.vips()[0].config.ports, (std::vector<std::uint16_t>{80, 8443}));
  // A broken overlay changes nothing.
  ServiceModel b(twoBackends());
  EXPECT_TRUE(b.applyOverlay("{\"version\":1,\"vips\":[{\"address\":\"10.0.0.100\"}]}"));
  EXPECT_TRUE(b.applyOverlay("not json"));
  EXPECT_EQ(b.vips()[0].backends.size(), 2u);
}

VipConfig runtimeVip(const char* address) {
  VipConfig v;
  v.address = A(address);
  v.ports = {443, 80};
  v.backendPorts = {{443, 8443}};
  v.backends = {{A("10.0.0.21"), 1}, {A("10.0.0.22"), 3}};
  return v;
}

TEST(ServiceModel, RuntimeVipsTakeAFreeSlotDrainAndGiveItBack) {
  ServiceModel m(twoBackends());
  ASSERT_FALSE(m.addVip(runtimeVip("10.0.0.101")));
  const VipRecord* v = m.findVip(A("10.0.0.101"));
  ASSERT_NE(v, nullptr);
  EXPECT_EQ(v->id, 1);
  EXPECT_FALSE(v->fromConfig);
  EXPECT_EQ(v->config.ports, (std::vector<std::uint16_t>{80, 443}));
  EXPECT_EQ(v->config.backendPort(443), 8443);
  EXPECT_EQ(v->config.backendPort(80), 80);
  EXPECT_EQ(m.vipIds(), (std::vector<std::uint16_t>{0, 1}));
  // Checked whole, as a configuration file is.
  EXPECT_EQ(m.addVip(runtimeVip("10.0.0.101"))->failure, Failure::kConflict);
  VipConfig v6 = runtimeVip("2001:db8::100");
  v6.backends = {{A("2001:db8::1"), 1}};
  const auto noSnat6 = m.addVip(v6);
  ASSERT_TRUE(noSnat6);
  EXPECT_EQ(noSnat6->failure, Failure::kBadRequest);
  EXPECT_NE(noSnat6->message.find("SNAT"), std::string::npos) << noSnat6->message;
  VipConfig unserved = runtimeVip("10.0.0.102");
  unserved.backendPorts = {{8080, 80}};
  EXPECT_EQ(m.addVip(unserved)->failure, Failure::kBadRequest);
  VipConfig mixed = runtimeVip("10.0.0.102");
  mixed.backends.push_back({A("2001:db8::1"), 1});
  EXPECT_EQ(m.addVip(mixed)->failure, Failure::kBadRequest);
  EXPECT_EQ(m.vips().size(), 2u);
  // Removing drains: no backend in the snapshot, the slot and the ids kept.
  ASSERT_FALSE(m.removeVip(A("10.0.0.101")));
  EXPECT_EQ(m.removeVip(A("10.0.0.101"))->failure, Failure::kNotFound);
  EXPECT_EQ(m.addVip(runtimeVip("10.0.0.101"))->failure, Failure::kConflict);
  EXPECT_EQ(m.addBackend(A("10.0.0.101"), A("10.0.0.23"), 1)->failure, Failure::kNotFound);
  const SnapshotSpec s = m.spec(MacAddr{}, [](const Address&) { return MacAddr{}; });
  ASSERT_EQ(s.vips.size(), 2u);
  EXPECT_EQ(s.vips[1].id, 1);
  EXPECT_TRUE(s.vips[1].backends.empty());
  EXPECT_EQ(m.backendIdsOf(A("10.0.0.101")), (std::vector<std::uint16_t>{2, 3}));
  EXPECT_TRUE(m.effectiveConfig().vips[1].backends.empty());
  // Its drain over, the slot is free for the next VIP.
  m.dropVip(A("10.0.0.101"));
  ASSERT_FALSE(m.addVip(runtimeVip("10.0.0.103")));
  EXPECT_EQ(m.findVip(A("10.0.0.103"))->id, 1);
}

TEST(ServiceModel, OverlayKeepsRuntimeVipsAndOnlyWhatDiffersFromTheFile) {
  Config file = twoBackends();
  VipConfig second = runtimeVip("10.0.0.110");
  file.vips.push_back(second);
  ServiceModel m(file);
  ASSERT_FALSE(m.addVip(runtimeVip("10.0.0.101")));
  ASSERT_FALSE(m.addBackend(A("10.0.0.101"), A("10.0.0.29"), 5));
  ASSERT_FALSE(m.removeVip(A("10.0.0.110")));  // a configured VIP removed at runtime
  const std::string overlay = m.overlayJson();
  // Settings the API did not touch are not in it: the file's win after an edit and a restart.
  const nlohmann::json j = nlohmann::json::parse(overlay);
  ASSERT_EQ(j["vips"].size(), 2u);
  EXPECT_EQ(j["vips"][0]["address"], "10.0.0.100");
  EXPECT_FALSE(j["vips"][0].contains("ports"));
  EXPECT_FALSE(j["vips"][0].contains("syn_flood"));
  EXPECT_TRUE(j["vips"][1].contains("ports"));  // added over the API: everything
  EXPECT_EQ(j["removed_vips"], nlohmann::json::array({"10.0.0.110"}));

  Config edited = file;
  edited.vips[0].ports = {8080};
  ServiceModel r(edited);
  ASSERT_FALSE(r.applyOverlay(overlay));
  ASSERT_EQ(r.vips().size(), 2u);
  EXPECT_EQ(r.vips()[0].config.ports, (std::vector<std::uint16_t>{8080}));
  EXPECT_EQ(r.findVip(A("10.0.0.110")), nullptr);
  const VipRecord* added = r.findVip(A("10.0.0.101"));
  ASSERT_NE(added, nullptr);
  EXPECT_FALSE(added->fromConfig);
  EXPECT_EQ(added->config.backendPort(443), 8443);
  ASSERT_EQ(added->backends.size(), 3u);
  EXPECT_EQ(added->backends[2].address, A("10.0.0.29"));
  EXPECT_EQ(added->backends[2].weight, 5u);
  // A version-1 file (before runtime VIPs) still reads.
  ServiceModel old(twoBackends());
  ASSERT_FALSE(old.applyOverlay(
      R"({"version":1,"vips":[{"address":"10.0.0.100","ports":[81],)"
      R"("syn_flood":{"mode":"off","threshold_pps":5},"removed_configured":[],"backends":[]}]})"));
  EXPECT_EQ(old.vips()[0].config.ports, (std::vector<std::uint16_t>{81}));
}

TEST(ServiceModel, RebaseAppliesTheNewFileUnderTheRuntimeChanges) {
  Config file = twoBackends();
  file.vips.push_back(runtimeVip("10.0.0.110"));
  ServiceModel m(file);
  const Address vip = A("10.0.0.100");
  ASSERT_FALSE(m.addBackend(vip, A("10.0.0.13"), 4));  // a runtime change
  ASSERT_TRUE(m.setHealth(vip, A("10.0.0.11"), Health::kUp));
  ASSERT_FALSE(m.addVip(runtimeVip("10.0.0.101")));
  const std::uint16_t id11 = m.vips()[0].backends[0].id;

  Config next = twoBackends();  // 10.0.0.110 dropped, a new VIP, new ports and a new backend
  next.vips[0].ports = {80, 8080};
  next.vips[0].backends.push_back({A("10.0.0.14"), 1});
  VipConfig fresh = runtimeVip("10.0.0.120");
  next.vips.push_back(fresh);
  auto rebased = m.rebase(next);
  ASSERT_TRUE(std::holds_alternative<ServiceModel>(rebased));
  const ServiceModel& r = std::get<ServiceModel>(rebased);
  const VipRecord* v = r.findVip(vip);
  ASSERT_NE(v, nullptr);
  EXPECT_EQ(v->config.ports, (std::vector<std::uint16_t>{80, 8080}));
  ASSERT_EQ(v->backends.size(), 4u);  // .11 .12 from the file, .14 new, .13 from the API
  EXPECT_EQ(v->backends[0].id, id11);
  EXPECT_EQ(v->backends[0].health, Health::kUp);
  EXPECT_TRUE(std::any_of(v->backends.begin(), v->backends.end(),
                          [](const BackendRecord& b) { return b.address == A("10.0.0.13"); }));
  const VipRecord* dropped = r.findVip(A("10.0.0.110"));
  ASSERT_NE(dropped, nullptr);
  EXPECT_TRUE(dropped->draining);
  EXPECT_EQ(dropped->id, 1);
  EXPECT_EQ(r.findVip(A("10.0.0.101"))->id, 2);  // added over the API: kept, same slot
  EXPECT_EQ(r.findVip(A("10.0.0.120"))->id, 3);
  // More VIPs than slots, with the draining ones: refused, nothing changes.
  Config many = twoBackends();
  for (std::uint32_t i = 0; i < kMaxVips; ++i) {
    VipConfig x = runtimeVip("10.0.0.1");
    x.address = A(("10.9." + std::to_string(i / 250) + "." + std::to_string(i % 250 + 1)).c_str());
    x.backends.clear();
    many.vips.push_back(x);
  }
  many.vips.resize(kMaxVips);
  EXPECT_TRUE(std::holds_alternative<ModelError>(m.rebase(many)));
}

TEST(Blocklist, OrdersPagesExpiresAndRoundTrips) {
  Blocklist b({P("10.9.0.0/16")}, 100);
  BlockEntry e;
  e.prefix = P("10.1.0.0/16");
  e.expiresAt = 200;
  EXPECT_TRUE(b.add(e));
  EXPECT_FALSE(b.add(e));
  e.prefix = P("2001:db8::/32");
  e.expiresAt = 0;
  EXPECT_TRUE(b.add(e));
  bool more = false;
  auto page = b.page("", 2, more);
  ASSERT_EQ(page.size(), 2u);
  EXPECT_TRUE(more);
  EXPECT_EQ(page[0].prefix, P("10.1.0.0/16"));
  page = b.page(page.back().prefix.toString(), 2, more);
  ASSERT_EQ(page.size(), 1u);
  EXPECT_FALSE(more);
  EXPECT_EQ(page[0].prefix, P("2001:db8::/32"));
  EXPECT_TRUE(b.expired(199).empty());
  EXPECT_EQ(b.expired(200).size(), 1u);
  EXPECT_TRUE(b.remove(P("10.9.0.0/16")));

  Blocklist r({P("10.9.0.0/16")}, 100);
  ASSERT_FALSE(r.applyOverlay(b.overlayJson(), 150));
  EXPECT_EQ(r.size(), 2u);
  EXPECT_EQ(r.find(P("10.9.0.0/16")), nullptr);  // deletion of a configured entry persists
  Blocklist late({}, 0);
  ASSERT_FALSE(late.applyOverlay(b.overlayJson(), 250));
  EXPECT_EQ(late.size(), 1u);  // the one that expired while down is gone
}

// Numbers in state files are read with their type and range checked: each of these was once
// read as UB or as a wrapped value (1e99 → UB, 4294967297 → 1, port 65616 → 80).
TEST(ServiceModel, OverlayRefusesMistypedAndOutOfRangeNumbers) {
  const std::string good =
      R"({"version":1,"vips":[{"address":"10.0.0.100","ports":[80],)"
      R"("syn_flood":{"mode":"auto","threshold_pps":500},"removed_configured":[],)"
      R"("backends":[{"address":"10.0.0.13","weight":3,"state":"active"}]}]})";
  {
    ServiceModel m(twoBackends());
    ASSERT_FALSE(m.applyOverlay(good));
    EXPECT_EQ(m.vips()[0].backends.size(), 3u);
  }
  const std::vector<std::pair<std::string, std::string>> bad = {
      {R"("version":1)", R"("version":1e99)"},
      {R"("version":1)", R"("version":4294967297)"},
      {R"("version":1)", R"("version":"1")"},
      {R"("ports":[80])", R"("ports":[65616])"},
      {R"("ports":[80])", R"("ports":[-1])"},
      {R"("ports":[80])", R"("ports":[80.5])"},
      {R"("weight":3)", R"("weight":4294967297)"},
      {R"("weight":3)", R"("weight":-4294967295)"},
      {R"("weight":3)", R"("weight":1e300)"},
      {R"("threshold_pps":500)", R"("threshold_pps":4294967297)"},
      {R"("threshold_pps":500)", R"("threshold_pps":0)"},
      {R"("state":"active")", R"("state":7)"},
  };
  for (const auto& [from, to] : bad) {
    std::string text = good;
    text.replace(text.find(from), from.size(), to);
    ServiceModel m(twoBackends());
    const auto e = m.applyOverlay(text);
    ASSERT_TRUE(e) << to;
    EXPECT_EQ(e->failure, Failure::kBadRequest) << to;
    EXPECT_EQ(m.vips()[0].backends.size(), 2u) << to;  // nothing applied
    EXPECT_EQ(m.vips()[0].config.synFlood.thresholdPps, 20000u) << to;
  }
  ServiceModel m(twoBackends());
  auto e = m.applyOverlay(R"({"version":3,"vips":[]})");
  ASSERT_TRUE(e);
  EXPECT_NE(e->message.find("version 3"), std::string::npos) << e->message;
}

TEST(Blocklist, OverlayRefusesMistypedTimesAndComments) {
  const std::string good =
      R"({"version":1,"removed_configured":[],"entries":[{"cidr":"10.1.0.0/16",)"
      R"("comment":"x","added_at":100,"expires_at":0}]})";
  {
    Blocklist b({}, 0);
    ASSERT_FALSE(b.applyOverlay(good, 50));
    EXPECT_EQ(b.size(), 1u);
  }
  const std::vector<std::pair<std::string, std::string>> bad = {
      {R"("added_at":100)", R"("added_at":1e300)"},
      {R"("added_at":100)", R"("added_at":-5)"},
      {R"("expires_at":0)", R"("expires_at":18446744073709551615)"},
      {R"("comment":"x")", R"("comment":5)"},
      {R"("comment":"x")", "\"comment\":\"" + std::string(300, 'a') + "\""},
      {R"("version":1)", R"("version":1.0)"},
      {R"("cidr":"10.1.0.0/16")", R"("cidr":["10.1.0.0/16"])"},
  };
  for (const auto& [from, to] : bad) {
    std::string text = good;
    text.replace(text.find(from), from.size(), to);
    Blocklist b({}, 0);
    const auto e = b.applyOverlay(text, 50);
    ASSERT_TRUE(e) << to;
    EXPECT_EQ(b.size(), 0u) << to;
  }
}

TEST(Health, TheFirstProbeDecidesThenRiseAndFallNeedStreaks) {
  HealthTracker t(2, 3);
  EXPECT_EQ(t.record("a", true), std::optional<bool>(true));
  EXPECT_EQ(t.record("b", false), std::optional<bool>(false));
  EXPECT_FALSE(t.record("b", true));
  EXPECT_EQ(t.record("b", true), std::optional<bool>(true));
  EXPECT_FALSE(t.record("a", true));
  EXPECT_FALSE(t.record("a", false));
  EXPECT_FALSE(t.record("a", false));
  EXPECT_FALSE(t.record("a", true));  // streak broken
  EXPECT_FALSE(t.record("a", false));
  EXPECT_FALSE(t.record("a", false));
  EXPECT_EQ(t.record("a", false), std::optional<bool>(false));
  EXPECT_FALSE(t.record("a", false));
}

TEST(StateStore, WritesAtomicallyAndCleansTemporaries) {
  const std::string dir = ::testing::TempDir() + "xlb-state-" + std::to_string(::getpid());
  std::filesystem::remove_all(dir);
  StateStore s(dir);
  std::string err;
  ASSERT_TRUE(s.open(err)) << err;
  ASSERT_TRUE(s.save("a.json", "one", err)) << err;
  ASSERT_TRUE(s.save("a.json", "two", err)) << err;
  EXPECT_EQ(s.load("a.json", err).value_or(""), "two");
  EXPECT_FALSE(s.load("missing.json", err).has_value());
  EXPECT_TRUE(err.empty());
  std::ofstream(dir + "/a.json.tmp.99") << "half";  // a write a crash cut short
  StateStore again(dir);
  ASSERT_TRUE(again.open(err));
  EXPECT_FALSE(std::filesystem::exists(dir + "/a.json.tmp.99"));
  EXPECT_EQ(again.load("a.json", err).value_or(""), "two");
  std::filesystem::remove_all(dir);
}

TEST(ApiParsing, WholeStringsOnly) {
  std::uint64_t v = 0;
  EXPECT_TRUE(parseUint("42", 100, v));
  EXPECT_EQ(v, 42u);
  for (const char* bad : {"12abc", "-1", "", " 1", "101", "99999999999999999999999"}) {
    EXPECT_FALSE(parseUint(bad, 100, v)) << bad;
  }
  Address a;
  std::uint16_t port = 0;
  EXPECT_TRUE(parseAddrPort("10.0.0.1:80", a, port));
  EXPECT_TRUE(parseAddrPort("[2001:db8::1]:443", a, port));
  EXPECT_EQ(port, 443);
  for (const char* bad : {"10.0.0.1", "10.0.0.1:0", "10.0.0.1:70000", "2001:db8::1:80",
                          "[10.0.0.1]:80", "[2001:db8::1]", "10.0.0.1:8a"}) {
    EXPECT_FALSE(parseAddrPort(bad, a, port)) << bad;
  }
  bool ok = false;
  EXPECT_EQ(percentDecode("%5B%3a%5d", ok), "[:]");
  EXPECT_TRUE(ok);
  percentDecode("%zz", ok);
  EXPECT_FALSE(ok);
  percentDecode("%4", ok);
  EXPECT_FALSE(ok);
  EXPECT_TRUE(tokenEquals("abc", "abc"));
  EXPECT_FALSE(tokenEquals("abc", "abd"));
  EXPECT_FALSE(tokenEquals("abc", "abcd"));
}

}  // namespace
}  // namespace xlb
