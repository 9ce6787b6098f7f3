// SPDX-License-Identifier: Apache-2.0
#include "scenario.h"

#include <algorithm>
#include <cmath>
#include <variant>

#include "xlb/config_yaml.h"
#include "xlb/parse.h"
#include "xlb/text.h"

namespace xlb::sim {

[[noreturn]] void bad(const std::string& m) {
  throw ScenarioError{m};
}

TimeNs duration(const YAML::Node& n, const std::string& what) {
  if (!n || !n.IsScalar()) bad(what + ": a duration is required (e.g. 250ms, 2s)");
  const std::string s = n.as<std::string>();
  const std::optional<TimeNs> d = parseDuration(s);
  if (!d) bad(what + ": \"" + s + "\" is not a duration (digits and us, ms, s, m or h)");
  // A scenario longer than a year of virtual time is a typo.
  if (*d > TimeNs{365} * 86400 * kNsPerSec) bad(what + ": \"" + s + "\" is out of range");
  return *d;
}

std::string str(const YAML::Node& n, const std::string& what, const std::string& dflt) {
  if (!n) {
    if (dflt.empty()) bad(what + " is required");
    return dflt;
  }
  return n.as<std::string>();
}

Address addressOf(const std::string& s, const std::string& what) {
  auto a = Address::parse(s);
  if (!a) bad(what + ": \"" + s + "\" is not an address");
  return *a;
}

Address nthInPrefix(const Prefix& p, std::uint64_t i) {
  Address a = p.addr;
  std::uint64_t v = i + 1;
  for (int b = static_cast<int>(a.bitLength() / 8) - 1; b >= 0 && v > 0; --b) {
    const std::uint64_t sum = a.ip.bytes[static_cast<std::size_t>(b)] + (v & 0xff);
    a.ip.bytes[static_cast<std::size_t>(b)] = static_cast<std::uint8_t>(sum);
    v = (v >> 8) + (sum >> 8);
  }
  return a;
}

namespace {

ClientClose clientClose(const std::string& s) {
  if (const auto c = parseEnum<ClientClose>(s)) return *c;
  bad("clients: close \"" + s + "\" is not one of " + enumChoices<ClientClose>());
}

std::uint8_t protocol(const YAML::Node& n, const std::string& what) {
  const std::string p = str(n, what, "tcp");
  const std::optional<std::uint8_t> v = protocolNumber(p);
  if (!v) bad(what + ": \"" + p + "\" is not tcp or udp");
  return *v;
}

ServerClose serverClose(const std::string& s) {
  if (const auto c = parseEnum<ServerClose>(s)) return *c;
  bad("services: close \"" + s + "\" is not one of " + enumChoices<ServerClose>());
}

Service service(const YAML::Node& n) {
  Service v;
  v.port = num<std::uint16_t>(n["port"], "services.port", 80);
  v.response = num<std::uint64_t>(n["response"], "services.response", 1000);
  v.close = serverClose(str(n["close"], "services.close", "after_client"));
  if (n["close_after"]) v.closeAfter = duration(n["close_after"], "services.close_after");
  if (n["delay"]) v.delay = duration(n["delay"], "services.delay");
  v.protocol = protocol(n["protocol"], "services.protocol");
  v.quic = n["quic"] && n["quic"].as<std::string>() == "true";
  if (v.protocol == kVipUdp && v.response > 1400) bad("services.response: at most 1400 for udp");
  return v;
}

ClientGroup clientGroup(const YAML::Node& n) {
  ClientGroup g;
  g.name = str(n["name"], "clients.name");
  auto p = Prefix::parse(str(n["sources"], "clients.sources"));
  if (!p) bad("clients." + g.name + ".sources is not a prefix");
  g.sources = *p;
  g.hosts = num<std::uint32_t>(n["hosts"], "clients.hosts", 50);
  g.vip = addressOf(str(n["vip"], "clients.vip"), "clients.vip");
  g.port = num<std::uint16_t>(n["port"], "clients.port", 80);
  g.sessions = num<std::uint64_t>(n["sessions"], "clients.sessions", 1);
  if (n["start"]) g.start = duration(n["start"], "clients.start");
  g.rate = num<double>(n["rate"], "clients.rate", 100);
  g.request = num<std::uint64_t>(n["request"], "clients.request", 100);
  g.response = num<std::uint64_t>(n["response"], "clients.response", 1000);
  g.close = clientClose(str(n["close"], "clients.close", "first"));
  if (n["close_after"]) g.closeAfter = duration(n["close_after"], "clients.close_after");
  g.protocol = protocol(n["protocol"], "clients.protocol");
  g.exchanges = num<std::uint32_t>(n["exchanges"], "clients.exchanges", 1);
  g.quic = n["quic"] && n["quic"].as<std::string>() == "true";
  g.rebindAfter = num<std::uint32_t>(n["rebind_after"], "clients.rebind_after", 0);
  if (g.quic && g.request < 30) bad("clients." + g.name + ": a QUIC request needs 30 bytes");
  if (n["think"]) g.think = duration(n["think"], "clients.think");
  if (g.protocol == kVipUdp && (g.request > 1400 || g.exchanges == 0))
    bad("clients." + g.name + ": udp requests are 1..1400 bytes, exchanges at least 1");
  if (g.hosts == 0 || g.rate <= 0) bad("clients." + g.name + ": hosts and rate must be positive");
  return g;
}

Flood flood(const YAML::Node& n) {
  Flood f;
  f.vip = addressOf(str(n["vip"], "flood.vip"), "flood.vip");
  f.port = num<std::uint16_t>(n["port"], "flood.port", 80);
  f.start = duration(n["start"], "flood.start");
  f.length = duration(n["duration"], "flood.duration");
  f.rate = num<double>(n["rate"], "flood.rate", 1000);
  f.protocol = protocol(n["protocol"], "flood.protocol");
  if (n["flags"]) {
    const std::string flags = str(n["flags"], "flood.flags");
    if (flags == "syn")
      f.flags = kTcpSyn;
    else if (flags == "rst")
      f.flags = kTcpRst;
    else if (flags == "ack")
      f.flags = kTcpAck;
    else
      bad("flood.flags: \"" + flags + "\" is not syn, rst or ack");
  }
  if (n["target"]) {
    const std::string target = str(n["target"], "flood.target");
    if (target != "random" && target != "live") bad("flood.target: random or live");
    f.live = target == "live";
  }
  if (f.live && (f.protocol != kVipTcp || f.flags == kTcpSyn)) {
    bad("flood.target: live takes TCP resets or ACKs");
  }
  auto p = Prefix::parse(str(n["sources"], "flood.sources"));
  if (!p) bad("flood.sources is not a prefix");
  f.sources = *p;
  return f;
}

Raw raw(const YAML::Node& n) {
  Raw r;
  r.at = duration(n["at"], "raw.at");
  r.kind = str(n["kind"], "raw.kind");
  r.count = num<std::uint32_t>(n["count"], "raw.count", 1);
  r.vip = addressOf(str(n["vip"], "raw.vip"), "raw.vip");
  r.port = num<std::uint16_t>(n["port"], "raw.port", 80);
  r.src = str(n["src"], "raw.src", "10.200.0.1");
  return r;
}

Event event(const YAML::Node& n) {
  Event e;
  e.at = duration(n["at"], "events.at");
  if (n["api"]) {
    std::istringstream in(n["api"].as<std::string>());
    in >> e.method >> e.path;
    if (e.path.empty()) bad("events.api: \"METHOD /path\"");
    e.body = str(n["body"], "events.body", " ");
    if (e.body == " ") e.body.clear();
    e.status = num<long>(n["status"], "events.status", 0);
  } else if (n["cluster"]) {
    e.cluster = str(n["cluster"], "events.cluster");
    e.member = str(n["member"], "events.member");
    if (e.cluster != "add" && e.cluster != "drain" && e.cluster != "undrain" &&
        e.cluster != "kill" && e.cluster != "restart") {
      bad("events.cluster: add, drain, undrain, kill or restart");
    }
  } else {
    e.backend = str(n["backend"], "events.backend");
    e.set = str(n["set"], "events.set");
    if (e.set != "silent" && e.set != "normal") bad("events.set: silent or normal");
  }
  return e;
}

// cluster_start and route_delay, checked against the configuration's members: the first member
// carries the scenario's API and runs throughout.
void loadCluster(const YAML::Node& root, Scenario& s) {
  const ClusterConfig& c = s.config.cluster;
  auto known = [&c](const std::string& name) {
    for (const ClusterMember& m : c.members) {
      if (m.name == name) return true;
    }
    return false;
  };
  if (root["route_delay"]) s.routeDelay = duration(root["route_delay"], "route_delay");
  for (const YAML::Node& n : root["cluster_start"]) {
    s.clusterStart.push_back(str(n, "cluster_start"));
    if (!known(s.clusterStart.back())) bad("cluster_start: no member " + s.clusterStart.back());
  }
  if ((root["cluster_start"] || root["route_delay"]) && !c.enabled()) {
    bad("cluster_start, route_delay: the configuration has no cluster: section");
  }
  if (s.clusterStart.empty()) {
    for (const ClusterMember& m : c.members) s.clusterStart.push_back(m.name);
  }
  for (const Event& e : s.events) {
    if (e.cluster.empty()) continue;
    if (!known(e.member)) bad("events.member: no cluster member " + e.member);
    if (e.member == c.members[0].name && e.cluster != "drain" && e.cluster != "undrain") {
      bad("events.member: " + e.member + " carries the scenario's API; it can drain, not stop");
    }
  }
  if (c.enabled() && std::find(s.clusterStart.begin(), s.clusterStart.end(), c.members[0].name) ==
                         s.clusterStart.end()) {
    bad("cluster_start: must hold the first member, " + c.members[0].name);
  }
}

Expectation expectation(const YAML::Node& n) {
  Expectation x;
  const std::string at = str(n["at"], "expect.at", "end");
  x.atEnd = at == "end";
  if (!x.atEnd) x.at = duration(n["at"], "expect.at");
  x.node = n;
  YAML::Emitter e;
  e << YAML::Flow << n;
  x.text = e.c_str();
  return x;
}

}  // namespace

Scenario loadScenario(const std::string& path) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::Exception& e) {
    bad(path + ": " + e.what());
  }
  Scenario s;
  s.name = str(root["name"], "name");
  s.seed = num<std::uint64_t>(root["seed"], "seed", 1);
  s.length = duration(root["duration"], "duration");
  if (root["latency"]) s.latency = duration(root["latency"], "latency");
  ConfigResult cr = loadConfigString(str(root["config"], "config"));
  if (auto* e = std::get_if<ConfigError>(&cr)) bad("config: " + e->message);
  s.config = std::get<Config>(cr);
  s.config.workers = 1;
  for (const YAML::Node& n : root["services"]) s.services.push_back(service(n));
  if (s.services.empty()) s.services = {Service{80}, Service{443}};
  for (const YAML::Node& n : root["clients"]) s.groups.push_back(clientGroup(n));
  for (const YAML::Node& n : root["flood"]) s.floods.push_back(flood(n));
  for (const YAML::Node& n : root["raw"]) s.raws.push_back(raw(n));
  for (const YAML::Node& n : root["events"]) s.events.push_back(event(n));
  for (const YAML::Node& n : root["expect"]) s.expects.push_back(expectation(n));
  loadCluster(root, s);
  return s;
}

}  // namespace xlb::sim
