// SPDX-License-Identifier: Apache-2.0
// Expectations: sessions, API answers (JSON paths), metrics.
#include <cmath>
#include <sstream>

#include "json_path.h"
#include "world.h"
#include "xlb/http_client.h"

namespace xlb::sim {

using nlohmann::json;

namespace {

// The group's figure by expectation key.
std::uint64_t groupFigure(const ClientGroup& g, const std::string& key) {
  const std::uint64_t unfinished = g.started - g.completed - g.reset - g.failed;
  if (key == "started") return g.started;
  if (key == "completed") return g.completed;
  if (key == "reset") return g.reset;
  if (key == "failed") return g.failed;
  if (key == "connect_ms") return static_cast<std::uint64_t>(g.connectMax / kNsPerMs);
  if (key == "slow_connects") return g.slowConnects;
  return unfinished;
}

}  // namespace

bool World::report(const Expectation& x, bool ok, const std::string& got) {
  if (!ok)
    log_ << "FAIL: " << x.text << ": " << got << "\n";
  else
    log_ << "  ok: " << x.text << " (" << got << ")\n";
  return ok;
}

bool World::checkSessions(const Expectation& x) {
  const YAML::Node& n = x.node;
  const std::string name = n["sessions"].as<std::string>();
  const ClientGroup* g = nullptr;
  for (const ClientGroup& cg : s_.groups) {
    if (cg.name == name) g = &cg;
  }
  if (g == nullptr) bad("expect.sessions: no client group " + name);
  bool ok = true;
  std::ostringstream got;
  got << "got started " << g->started << ", completed " << g->completed << ", reset " << g->reset
      << ", failed " << g->failed << ", unfinished " << groupFigure(*g, "unfinished")
      << ", slowest handshake " << groupFigure(*g, "connect_ms") << " ms, " << g->slowConnects
      << " needed the SYN again";
  for (const char* k :
       {"started", "completed", "reset", "failed", "unfinished", "connect_ms", "slow_connects"}) {
    const std::string key = k;
    const std::uint64_t have = groupFigure(*g, key);
    if (n[key]) ok = ok && n[key].as<std::uint64_t>() == have;
    if (n[key + "_min"]) ok = ok && have >= n[key + "_min"].as<std::uint64_t>();
    if (n[key + "_max"]) ok = ok && have <= n[key + "_max"].as<std::uint64_t>();
  }
  std::string text = got.str();
  return report(x, ok, ok ? text.substr(4) : text);
}

bool World::checkWeights(const Expectation& x) {
  const YAML::Node& n = x.node;
  const std::string vip = n["weights"].as<std::string>();
  const double within = num<double>(n["within"], "expect.within", 0.05);
  const HttpReply r = http("GET", "/api/v1/vips/" + vip + "/backends");
  const json j = json::parse(r.body, nullptr, false);
  if (!j.is_object() || !j.contains("items")) {
    return report(x, false, std::to_string(r.status) + " " + r.body);
  }
  double total = 0, weights = 0;
  for (const json& b : j["items"]) {
    total += b["connections_total"].get<double>();
    weights += b["weight"].get<double>();
  }
  bool ok = total > 0;
  std::ostringstream got;
  for (const json& b : j["items"]) {
    const double want = total * b["weight"].get<double>() / weights;
    const double have = b["connections_total"].get<double>();
    got << b["address"].get<std::string>() << " " << have << " (weight share " << want << ") ";
    if (want > 0 && std::fabs(have - want) / want > within) ok = false;
  }
  return report(x, ok, got.str());
}

// A metric's value, or a JSON path into an API answer (a reason never seen counts zero).
json World::observed(const YAML::Node& n) {
  json actual;
  // The simulated QUIC servers' own count: short headers from a tuple their connection did not
  // start from (what xlb's QUIC support exists to prevent).
  if (n["backends"] && n["backends"].as<std::string>() == "quic_tuple_changes") {
    return quicTupleChanges_;
  }
  // Frames DSR backends sent straight to clients (never through the LB).
  if (n["backends"] && n["backends"].as<std::string>() == "dsr_direct") return dsrDirect_;
  if (n["metric"]) {
    const std::string what = n["metric"].as<std::string>();
    const HttpReply r = http("GET", "/metrics");
    std::istringstream in(r.body);
    for (std::string line; std::getline(in, line);) {
      if (line.rfind(what + " ", 0) == 0) actual = std::stod(line.substr(what.size() + 1));
    }
    return actual;
  }
  const std::string path = str(n["get"], "expect.get");
  const std::string jpath = str(n["path"], "expect.path");
  // A cluster member's own API (the first member's by default).
  const std::size_t member = n["member"] ? memberIndex(n["member"].as<std::string>()) : 0;
  const HttpReply r = http("GET", path, "", member);
  const json j = json::parse(r.body, nullptr, false);
  const json* v = lookupPath(j, jpath);
  if (v != nullptr) actual = *v;
  const bool reasonMap = jpath.rfind("xdp.", 0) == 0 || jpath.rfind("engine.", 0) == 0;
  if (v == nullptr && reasonMap && j.is_object() &&
      jpath.find('.', jpath.find('.') + 1) == std::string::npos) {
    actual = 0;
  }
  return actual;
}

bool World::check(const Expectation& x) {
  const YAML::Node& n = x.node;
  if (n["sessions"]) return checkSessions(x);
  if (n["weights"]) return checkWeights(x);
  if (n["cluster"]) return checkKills(x);
  const json actual = observed(n);
  bool ok = !actual.is_null();
  auto asNum = [](const json& v) { return v.is_number() ? v.get<double>() : std::nan(""); };
  if (ok && n["equals"]) {
    const YAML::Node& e = n["equals"];
    if (actual.is_string())
      ok = actual.get<std::string>() == e.as<std::string>();
    else if (actual.is_boolean())
      ok = actual.get<bool>() == e.as<bool>();
    else
      ok = asNum(actual) == e.as<double>();
  }
  if (ok && n["min"]) ok = asNum(actual) >= n["min"].as<double>();
  if (ok && n["max"]) ok = asNum(actual) <= n["max"].as<double>();
  if (!ok) return report(x, false, "got " + (actual.is_null() ? "nothing" : actual.dump()));
  return report(x, true, "got " + actual.dump());
}

}  // namespace xlb::sim
