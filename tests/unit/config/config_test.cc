// SPDX-License-Identifier: Apache-2.0
// Configuration loading: the documented example loads; every invalid value is rejected with a
// message that names the key and the value.
#include <gtest/gtest.h>

#include "xlb/config_yaml.h"

#ifndef XLB_SOURCE_DIR
#error "XLB_SOURCE_DIR must be defined"
#endif

namespace xlb {
namespace {

const Config& ok(const ConfigResult& r) {
  if (auto* e = std::get_if<ConfigError>(&r)) ADD_FAILURE() << e->message;
  static Config empty;
  auto* c = std::get_if<Config>(&r);
  return c ? *c : empty;
}

TEST(Config, DocumentedExampleLoads) {
  auto r = loadConfigFile(std::string(XLB_SOURCE_DIR) + "/docs/xlb.example.yaml");
  const Config& c = ok(r);
  EXPECT_EQ(c.interface, "eth0");
  EXPECT_EQ(c.xdpMode, XdpMode::kAuto);
  ASSERT_EQ(c.vips.size(), 2u);
  EXPECT_EQ(c.vips[1].key().toString(), "10.0.0.100/udp");
  EXPECT_EQ(c.vips[1].ports, (std::vector<std::uint16_t>{53, 443}));
  EXPECT_TRUE(c.vips[1].quic);
  EXPECT_EQ(c.vips[1].synFlood.mode, SynFloodMode::kOff);
  EXPECT_EQ(c.conntrack.udpSharePercent, 50u);
  EXPECT_EQ(c.conntrack.timeouts.udp, 30 * kNsPerSec);
  EXPECT_EQ(c.conntrack.timeouts.udpSingle, 5 * kNsPerSec);
  EXPECT_EQ(c.vips[0].address.toString(), "10.0.0.100");
  EXPECT_EQ(c.vips[0].ports, (std::vector<std::uint16_t>{80, 443}));
  EXPECT_EQ(c.vips[0].synFlood.mode, SynFloodMode::kAuto);
  EXPECT_EQ(c.vips[0].synFlood.thresholdPps, 20000u);
  ASSERT_EQ(c.vips[0].backends.size(), 2u);
  EXPECT_EQ(c.vips[0].backends[1].weight, 2u);
  EXPECT_EQ(c.snat.portLo, 10000);
  EXPECT_EQ(c.snat.portHi, 32767);
  ASSERT_EQ(c.blocklist.size(), 2u);
  EXPECT_EQ(c.blocklist[1].toString(), "2001:db8::/32");
  EXPECT_EQ(c.conntrack.capacity, 1000000u);
  EXPECT_EQ(c.conntrack.timeouts.timeWait, 2 * kNsPerSec);
  EXPECT_EQ(c.control.listenPort, 9180);
  EXPECT_EQ(c.control.tokenFile, "/etc/xlb/token");
  EXPECT_EQ(c.runtimeDir, "/run/xlb");
  EXPECT_EQ(c.healthCheck.timeout, 500 * kNsPerMs);
  EXPECT_EQ(c.autoBlock.mode, AutoBlockMode::kOff);
  EXPECT_EQ(c.autoBlock.ttl, 600 * kNsPerSec);
  EXPECT_EQ(c.autoBlock.limits[static_cast<std::size_t>(SourceKind::kFiltered)], 500u);
  ASSERT_EQ(c.autoBlock.allow.size(), 1u);
  EXPECT_EQ(c.autoBlock.allow[0].toString(), "198.51.100.0/24");
}

TEST(Config, AutoBlockLoadsAndEveryBadValueIsNamed) {
  const std::string base =
      "snat: {addresses: [10.0.0.2]}\nvips: [{address: 10.0.0.100, backends: [{address: "
      "10.0.0.11}]}]\n";
  const ConfigResult loaded = loadConfigString(
      base +
      "auto_block: {mode: block, window: 200ms, limits: {packets: 50000}, ttl: 30s, "
      "fold: {ipv4: 20, ipv6: 56, sources: 0}, allow: [\"2001:db8::/32\"]}\n");
  const Config& c = ok(loaded);
  EXPECT_EQ(c.autoBlock.mode, AutoBlockMode::kBlock);
  EXPECT_EQ(c.autoBlock.window, 200 * kNsPerMs);
  EXPECT_EQ(c.autoBlock.limits,
            (std::array<std::uint32_t, kSourceKindCount>{1000, 500, 50000, 0, 1000}));
  EXPECT_EQ(c.autoBlock.foldV4, 20);
  EXPECT_EQ(c.autoBlock.foldSources, 0u);
  for (const auto& [text, want] : std::vector<std::pair<std::string, std::string>>{
           {"auto_block: {mode: always}", "auto_block.mode: \"always\""},
           {"auto_block: {window: 1ms}", "auto_block.window"},
           {"auto_block: {window: 2m}", "auto_block.window"},
           {"auto_block: {limits: {syn: 5}}", "auto_block.limits.syn: unknown kind"},
           {"auto_block: {limits: {packets: -1}}", "auto_block.limits.packets"},
           {"auto_block: {ttl: 0s}", "auto_block.ttl"},
           {"auto_block: {fold: {ipv4: 33}}", "auto_block.fold.ipv4"},
           {"auto_block: {fold: {ipv6: 8}}", "auto_block.fold.ipv6"},
           {"auto_block: {allow: [nope]}", "auto_block.allow[0]"},
           {"auto_block: {bogus: 1}", "bogus"}}) {
    const ConfigResult r = loadConfigString(base + text + "\n");
    ASSERT_TRUE(std::holds_alternative<ConfigError>(r)) << text;
    EXPECT_NE(std::get<ConfigError>(r).message.find(want), std::string::npos)
        << text << " -> " << std::get<ConfigError>(r).message;
  }
}

TEST(Config, BackendPortsMapServedPorts) {
  const ConfigResult r = loadConfigString(
      "snat: {addresses: [10.0.0.2]}\n"
      "vips: [{address: 10.0.0.100, ports: [80, 443], backend_ports: {443: 8443},\n"
      "        backends: [{address: 10.0.0.11}]}]\n");
  const Config& c = ok(r);  // r outlives the reference
  ASSERT_EQ(c.vips.size(), 1u);
  EXPECT_EQ(c.vips[0].backendPort(443), 8443);
  EXPECT_EQ(c.vips[0].backendPort(80), 80);
}

TEST(Config, DefaultsApply) {
  auto r = loadConfigString(R"(
snat: {addresses: [10.0.0.2]}
vips: [{address: 10.0.0.100, backends: [{address: 10.0.0.11}]}]
)");
  const Config& c = ok(r);
  EXPECT_EQ(c.vips[0].ports, (std::vector<std::uint16_t>{80, 443}));
  EXPECT_EQ(c.vips[0].backends[0].weight, 1u);
  EXPECT_EQ(c.workers, 1u);
  EXPECT_EQ(c.conntrack.capacity, 1'000'000u);
  EXPECT_EQ(c.conntrack.timeouts.established, 300 * kNsPerSec);
  EXPECT_EQ(c.control.listenHost, "127.0.0.1");
}

TEST(Config, Ipv6EverywhereAndBracketedListen) {
  auto r = loadConfigString(R"(
snat: {addresses: ["2001:db8::2"], ports: 20000-20100}
vips: [{address: "2001:db8::100", ports: [443], backends: [{address: "2001:db8::11"}]}]
control: {listen: "[::1]:9999"}
)");
  const Config& c = ok(r);
  EXPECT_EQ(c.control.listenHost, "::1");
  EXPECT_EQ(c.control.listenPort, 9999);
}

struct Bad {
  const char* yaml;
  const char* mustMention;  // key path and value
};

TEST(Config, EveryInvalidValueIsNamed) {
  const std::string base = "snat: {addresses: [10.0.0.2]}\n";
  const std::string vip = "vips: [{address: 10.0.0.100, backends: [{address: 10.0.0.11}]}]\n";
  const std::vector<Bad> cases = {
      {"", "empty"},
      {"[1, 2]", "expected a map"},
      {"bogus: 1\n", "bogus: unknown key"},
      {"interface: \"\"\n", "interface"},
      {"interface: this-name-is-far-too-long\n", "this-name-is-far-too-long"},
      {"xdp_mode: turbo\n", "xdp_mode: \"turbo\""},
      {"workers: 0\n", "workers: \"0\""},
      {"workers: 12abc\n", "workers: \"12abc\""},
      {"workers: -1\n", "workers: \"-1\""},
      {"snat: {addresses: [300.1.1.1]}\n", "snat.addresses[0]: \"300.1.1.1\""},
      {"snat: {addresses: []}\n", "snat.addresses"},
      {"snat: {addresses: [10.0.0.2], ports: 9-3}\n", "snat.ports: \"9-3\""},
      {"snat: {addresses: [10.0.0.2], ports: 1-70000}\n", "snat.ports: \"1-70000\""},
      {"snat: {addresses: [10.0.0.2], ports: 80}\n", "snat.ports: \"80\""},
      {"vips: [{address: 10.0.0.100, ports: [70000]}]\n", "vips[0].ports[0]: \"70000\""},
      {"vips: [{address: 10.0.0.100, ports: [80, 0]}]\n", "vips[0].ports[1]: \"0\""},
      {"vips: [{address: 10.0.0.100, ports: [80, 80]}]\n", "vips[0].ports[1]: duplicate port 80"},
      {"vips: [{address: 10.0.0.100, ports: []}]\n", "vips[0].ports"},
      {"vips: [{address: 10.0.0.100, protocol: sctp}]\n", "vips[0].protocol: \"sctp\""},
      {"vips: [{address: 10.0.0.100, protocol: udp, syn_flood: {mode: off}}]\n",
       "vips[0].syn_flood: applies to TCP VIPs only"},
      {"vips: [{address: 10.0.0.100, ports: [443], backend_ports: {80: 8080}}]\n",
       "vips[0].backend_ports: 80 is not a port the VIP serves"},
      {"vips: [{address: 10.0.0.100, ports: [443], backend_ports: {443: 0}}]\n",
       "vips[0].backend_ports.443: \"0\""},
      {"vips: [{address: 10.0.0.100, ports: [443], backend_ports: [8443]}]\n",
       "vips[0].backend_ports: expected a map"},
      {"vips: [{address: nope}]\n", "vips[0].address: \"nope\""},
      {"vips: [{ports: [80]}]\n", "vips[0].address: required"},
      {"vips: [{address: 10.0.0.100, syn_flood: {mode: maybe}}]\n",
       "vips[0].syn_flood.mode: \"maybe\""},
      {"vips: [{address: 10.0.0.100, syn_flood: {threshold_pps: 0}}]\n",
       "vips[0].syn_flood.threshold_pps: \"0\""},
      {"vips: [{address: 10.0.0.100, backends: [{address: 10.0.0.11, weight: 10001}]}]\n",
       "vips[0].backends[0].weight: \"10001\""},
      {"vips: [{address: 10.0.0.100, backends: [{address: \"2001:db8::1\"}]}]\n",
       "vips[0].backends[0].address: 2001:db8::1 is not of the same family"},
      {"vips: [{address: 10.0.0.100, backends: [{address: 10.0.0.11}, {address: 10.0.0.11}]}]\n",
       "vips[0].backends[1].address: duplicate backend 10.0.0.11"},
      {"vips: [{address: 10.0.0.100}, {address: 10.0.0.100}]\n",
       "vips[1].address: duplicate tcp VIP"},
      {"vips: [{address: 10.0.0.100}, {address: 10.0.0.100, protocol: udp},\n"
       "       {address: 10.0.0.100, protocol: udp}]\n",
       "vips[2].address: duplicate udp VIP 10.0.0.100"},
      {"vips: [{address: \"2001:db8::100\"}]\n",
       "vips[0].address: no SNAT address of the same family"},
      {"vips: [{address: 10.0.0.2}]\n", "vips[0].address: 10.0.0.2 is also a SNAT address"},
      {"vips: []\n", "vips: at least one VIP"},
      {"vips: [{address: 10.0.0.100, extra: 1}]\n", "vips[0].extra: unknown key"},
      {"blocklist: [10.0.0.0/33]\n", "blocklist[0]: \"10.0.0.0/33\""},
      {"blocklist: [\"2001:db8::/129\"]\n", "blocklist[0]: \"2001:db8::/129\""},
      {"blocklist: [\"\"]\n", "blocklist[0]: \"\""},
      {"conntrack: {capacity: 0}\n", "conntrack.capacity: \"0\""},
      {"conntrack: {capacity: 1e6}\n", "conntrack.capacity: \"1e6\""},
      {"conntrack: {timeouts: {syn: 5}}\n", "conntrack.timeouts.syn: \"5\""},
      {"conntrack: {timeouts: {fin: 1ms}}\n", "conntrack.timeouts.fin: \"1ms\""},
      {"conntrack: {timeouts: {established: 48h}}\n", "conntrack.timeouts.established: \"48h\""},
      {"conntrack: {timeouts: {idle: 5s}}\n", "conntrack.timeouts.idle: unknown key"},
      // Values whose nanoseconds overflow 64 bits once wrapped to 25 minutes and 290 ms.
      {"conntrack: {timeouts: {established: 5124096h}}\n",
       "conntrack.timeouts.established: \"5124096h\""},
      {"conntrack: {timeouts: {syn: 18446744074s}}\n", "conntrack.timeouts.syn: \"18446744074s\""},
      {"health_check: {interval: 99999999999999999999ms}\n", "health_check.interval"},
      {"control: {listen: localhost}\n", "control.listen: \"localhost\""},
      {"control: {listen: \"127.0.0.1:0\"}\n", "control.listen: \"127.0.0.1:0\""},
      {"state_dir: \"\"\n", "state_dir"},
      {"runtime_dir: \"\"\n", "runtime_dir"},
      {"health_check: {interval: 1s, timeout: 2s}\n", "health_check.timeout"},
      {"health_check: {rise: 0}\n", "health_check.rise: \"0\""},
      {"vips: [{address: 10.0.0.100\n", "YAML syntax error"},
      {"cluster: {self: a}\n", "cluster.members: required"},
      {"cluster: {members: [{name: a, address: 10.0.0.2}]}\n", "cluster.members: a cluster has 2"},
      {"cluster: {members: [{name: a, address: 10.0.0.2}, {name: a, address: 10.0.0.3}]}\n",
       "cluster.members[1].name: duplicate member a"},
      {"cluster: {members: [{name: a, address: 10.0.0.2}, {name: b, address: 10.0.0.2}]}\n",
       "cluster.members[1].address: duplicate address"},
      {"cluster: {members: [{name: a, address: 10.0.0.2}, {name: b, address: x}]}\n",
       "cluster.members[1].address: \"x\""},
      {"cluster: {members: [{name: a, address: 10.0.0.2}, {name: b}]}\n",
       "cluster.members[1]: needs name and address"},
      {"cluster: {self: c, members: [{name: a, address: 10.0.0.2}, {name: b, address: "
       "10.0.0.3}]}\n",
       "cluster.self: \"c\""},
      {"cluster: {heartbeat: 1s, members: [{name: a, address: 10.0.0.2}, "
       "{name: b, address: 10.0.0.3}]}\n",
       "cluster.dead_after: must be at least twice"},
      {"cluster: {port: 20000, members: [{name: a, address: 10.0.0.2}, "
       "{name: b, address: 10.0.0.3}]}\n",
       "cluster.port: 20000 is inside snat.ports"},
      {"cluster: {announce: {table: 254}, members: [{name: a, address: 10.0.0.2}, "
       "{name: b, address: 10.0.0.3}]}\n",
       "cluster.announce.table"},
      {"cluster: {announce: {device: x}, members: [{name: a, address: 10.0.0.2}, "
       "{name: b, address: 10.0.0.3}]}\n",
       "cluster.announce.table: required"},
  };
  for (const Bad& b : cases) {
    std::string yaml = b.yaml;
    // Complete the document where the case is about another key.
    if (!yaml.empty() && yaml[0] != '[' && yaml.find("snat:") == std::string::npos)
      yaml = base + yaml;
    if (!yaml.empty() && yaml[0] != '[' && yaml.find("vips:") == std::string::npos) yaml += vip;
    if (std::string(b.yaml).empty()) yaml = "";
    auto r = loadConfigString(yaml);
    auto* e = std::get_if<ConfigError>(&r);
    ASSERT_NE(e, nullptr) << "accepted:\n" << yaml;
    EXPECT_NE(e->message.find(b.mustMention), std::string::npos)
        << "message \"" << e->message << "\" does not mention \"" << b.mustMention << "\"";
  }
}

TEST(Config, ClusterLoads) {
  auto r = loadConfigString(R"(
snat: {addresses: [10.0.0.2], ports: 20000-29999}
vips: [{address: 10.0.0.100, backends: [{address: 10.0.0.11}]}]
cluster:
  members: [{name: lb1, address: 10.0.0.2}, {name: lb2, address: 10.0.0.3}]
  port: 9190
  heartbeat: 100ms
  dead_after: 500ms
  drain_timeout: 60s
  announce: {table: 100}
)");
  const auto* c = std::get_if<Config>(&r);
  ASSERT_NE(c, nullptr) << std::get<ConfigError>(r).message;
  EXPECT_TRUE(c->cluster.enabled());
  EXPECT_EQ(c->cluster.members.size(), 2u);
  EXPECT_EQ(c->cluster.members[1].name, "lb2");
  EXPECT_EQ(c->cluster.heartbeat, 100 * kNsPerMs);
  EXPECT_EQ(c->cluster.deadAfter, 500 * kNsPerMs);
  EXPECT_EQ(c->cluster.announceTable, 100u);
  EXPECT_EQ(c->cluster.announceDevice, "xlb-announce");
  EXPECT_TRUE(c->cluster.self.empty());
}

TEST(Config, MissingFileIsAClearError) {
  auto r = loadConfigFile("/nonexistent/xlb.yaml");
  auto* e = std::get_if<ConfigError>(&r);
  ASSERT_NE(e, nullptr);
  EXPECT_NE(e->message.find("/nonexistent/xlb.yaml: cannot open"), std::string::npos);
}

TEST(Config, DurationsParse) {
  EXPECT_EQ(parseDuration("500ms"), 500 * kNsPerMs);
  EXPECT_EQ(parseDuration("2m"), 120 * kNsPerSec);
  EXPECT_EQ(parseDuration("1h"), 3600 * kNsPerSec);
  EXPECT_FALSE(parseDuration("5"));
  EXPECT_FALSE(parseDuration("s"));
  EXPECT_FALSE(parseDuration("1.5s"));
  EXPECT_FALSE(parseDuration("-1s"));
  // Overflow is refused, never wrapped.
  EXPECT_FALSE(parseDuration("5124096h"));
  EXPECT_FALSE(parseDuration("18446744074s"));
  EXPECT_FALSE(parseDuration("307445734561826m"));
  EXPECT_FALSE(parseDuration("99999999999999999999ms"));
  EXPECT_EQ(parseDuration("18446744073s"), 18446744073ull * kNsPerSec);
  EXPECT_EQ(parseDuration("5124095h"), 5124095ull * 3600 * kNsPerSec);
}

// Backend ids are 16-bit: a configuration naming more backends than ids is refused with the
// reason, instead of the model dereferencing an empty id and the snapshot wrapping ids.
TEST(Config, MoreBackendsThanIdsIsRefused) {
  Config c;
  c.snat.addresses = {*Address::parse("10.0.0.2")};
  for (std::uint32_t v = 0; v < 17; ++v) {
    VipConfig vc;
    vc.address = *Address::parse("10.1." + std::to_string(v) + ".1");
    for (std::uint32_t b = 0; b < kMaxBackendsPerVip; ++b) {
      vc.backends.push_back(
          {*Address::parse("10.2" + std::to_string(v / 10) + "." +
                           std::to_string(v % 10 * 16 + b / 256) + "." + std::to_string(b % 256)),
           1});
    }
    c.vips.push_back(std::move(vc));
  }
  std::string err = checkConfig(c);
  EXPECT_NE(err.find("69632 backends in all"), std::string::npos) << err;
  EXPECT_NE(err.find("65535"), std::string::npos) << err;
  // Exactly at the limit is fine.
  c.vips.pop_back();
  c.vips.back().backends.pop_back();  // 16 × 4096 − 1
  EXPECT_EQ(checkConfig(c), "");
}

}  // namespace
}  // namespace xlb

namespace xlb {
namespace {

// The start-up check of SNAT capacity against a stated rate of new connections.
TEST(Config, SnatSizingAgainstAStatedRate) {
  auto load = [](const std::string& snat) {
    auto r = loadConfigString("snat: " + snat +
                              "\nvips: [{address: 10.0.0.100, backends: [{address: 10.0.0.11}]}]\n"
                              "conntrack: {timeouts: {time_wait: 2s}}\n");
    return std::get<Config>(r);
  };
  EXPECT_TRUE(snatSizing(load("{addresses: [10.0.0.2], ports: 10000-32767}")).empty());
  // 22,768 ports at 5,000/s: enough at once, but reused after 4 s, inside TIME_WAIT.
  auto w = snatSizing(load("{addresses: [10.0.0.2], ports: 10000-32767, sustained_rate: 5000}"));
  ASSERT_EQ(w.size(), 1u);
  EXPECT_NE(w[0].find("reused after 4 s"), std::string::npos) << w[0];
  EXPECT_NE(w[0].find("300000 ports"), std::string::npos) << w[0];
  // At 20,000/s the pool runs out outright as well.
  w = snatSizing(load("{addresses: [10.0.0.2], ports: 10000-32767, sustained_rate: 20000}"));
  ASSERT_EQ(w.size(), 2u);
  EXPECT_NE(w[0].find("cannot sustain 20000"), std::string::npos) << w[0];
  // 16 addresses at 5,000/s: a port comes back after 72 s, outside TIME_WAIT.
  std::string many;
  for (int i = 0; i < 16; ++i)
    many += (i ? ", " : "") + std::string("10.0.1.") + std::to_string(i + 1);
  EXPECT_TRUE(
      snatSizing(load("{addresses: [" + many + "], ports: 10000-32767, sustained_rate: 5000}"))
          .empty());
  auto bad = loadConfigString(
      "snat: {addresses: [10.0.0.2], sustained_rate: 0}\nvips: [{address: 10.0.0.100}]\n");
  ASSERT_TRUE(std::holds_alternative<ConfigError>(bad));
  EXPECT_NE(std::get<ConfigError>(bad).message.find("snat.sustained_rate"), std::string::npos);
}

}  // namespace
}  // namespace xlb
