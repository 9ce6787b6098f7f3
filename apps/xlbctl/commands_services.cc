// SPDX-License-Identifier: Apache-2.0
// xlbctl vips list | add | remove, backends list | add | set | del, config show | set | reload.
#include <iostream>

#include "commands.h"
#include "xlb/config.h"

namespace xlbctl {

using nlohmann::json;

namespace {

constexpr const char* kVipHelp = "VIP address; ADDRESS/udp names a UDP service";

// "10.0.0.1/udp" -> {"address": "10.0.0.1", "protocol": "udp"}; the server checks both.
json vipObject(const std::string& vip) {
  const std::size_t slash = vip.rfind('/');
  if (slash == std::string::npos) return {{"address", vip}};
  return {{"address", vip.substr(0, slash)}, {"protocol", vip.substr(slash + 1)}};
}

std::string backendsPath(const Options& o) {
  return "/api/v1/vips/" + urlEncode(o.vip) + "/backends";
}

int vipsList(const Session& s, const Options&) {
  const json j = s.expect(s.request("GET", "/api/v1/vips"));
  if (s.asJson) {
    s.show(j);
    return 0;
  }
  json rows = json::array();
  for (const json& v : j["items"]) {
    rows.push_back({{"address", v["address"]},
                    {"protocol", v["protocol"]},
                    {"ports", v["ports"]},
                    {"syn_flood", v["syn_flood"]["mode"]},
                    {"cookies", v["syn_flood"]["active"]},
                    {"in_rotation", v["backends_in_rotation"]},
                    {"active", v["active_connections"]}});
  }
  printTable(rows, {{"address", "VIP"},
                    {"protocol", "PROTO"},
                    {"ports", "PORTS"},
                    {"syn_flood", "SYN FLOOD"},
                    {"cookies", "COOKIES ON"},
                    {"in_rotation", "IN ROTATION"},
                    {"active", "ACTIVE"}});
  return 0;
}

// "80,443" -> [80, 443]; false (with a message) on anything else.
bool parsePorts(const std::string& text, json& out) {
  out = json::array();
  std::size_t i = 0;
  while (i <= text.size()) {
    const std::size_t j = std::min(text.find(',', i), text.size());
    const std::string p = text.substr(i, j - i);
    if (p.empty() || p.find_first_not_of("0123456789") != std::string::npos || p.size() > 5) {
      std::cerr << "xlbctl: ports are numbers separated by commas\n";
      return false;
    }
    out.push_back(std::stoul(p));
    i = j + 1;
  }
  return true;
}

// ["443:8443", ...] -> {"443": 8443, ...}; the server checks the ranges.
bool parseBackendPorts(const std::vector<std::string>& items, json& out) {
  out = json::object();
  for (const std::string& item : items) {
    const std::size_t c = item.find(':');
    const std::string from = item.substr(0, c),
                      to = c == std::string::npos ? "" : item.substr(c + 1);
    if (from.empty() || to.empty() || from.size() > 5 || to.size() > 5 ||
        from.find_first_not_of("0123456789") != std::string::npos ||
        to.find_first_not_of("0123456789") != std::string::npos) {
      std::cerr << "xlbctl: --backend-port takes VIP_PORT:BACKEND_PORT, e.g. 443:8443\n";
      return false;
    }
    out[from] = std::stoul(to);
  }
  return true;
}

int vipsAdd(const Session& s, const Options& o) {
  json vip = vipObject(o.vip);
  json ports, backendPorts;
  if (!parsePorts(o.ports, ports) || !parseBackendPorts(o.backendPorts, backendPorts)) {
    return kExitUsage;
  }
  vip["ports"] = ports;
  if (!backendPorts.empty()) vip["backend_ports"] = backendPorts;
  json syn = json::object();
  if (!o.synFlood.empty()) syn["mode"] = o.synFlood;
  if (o.threshold) syn["threshold_pps"] = *o.threshold;
  if (!syn.empty()) vip["syn_flood"] = syn;
  if (!o.forwarding.empty()) vip["forwarding"] = o.forwarding;
  if (!o.encapsulation.empty()) vip["encapsulation"] = o.encapsulation;
  if (o.quic) vip["quic"] = true;
  json backends = json::array();
  std::size_t i = 0;
  while (!o.backends.empty() && i <= o.backends.size()) {  // ADDR or ADDR/WEIGHT
    const std::size_t j = std::min(o.backends.find(',', i), o.backends.size());
    const std::string item = o.backends.substr(i, j - i);
    const std::size_t slash = item.find('/');
    json b = {{"address", item.substr(0, slash)}};
    if (slash != std::string::npos) {
      const std::string w = item.substr(slash + 1);
      if (w.empty() || w.size() > 5 || w.find_first_not_of("0123456789") != std::string::npos) {
        std::cerr << "xlbctl: --backends takes ADDRESS[/WEIGHT],...\n";
        return kExitUsage;
      }
      b["weight"] = std::stoul(w);
    }
    backends.push_back(b);
    i = j + 1;
  }
  vip["backends"] = backends;
  const json j = s.expect(s.request("POST", "/api/v1/vips", vip.dump()));
  if (s.asJson)
    s.show(j);
  else
    std::cout << "added VIP " << o.vip << " (" << backends.size() << " backends)\n";
  return 0;
}

int vipsRemove(const Session& s, const Options& o) {
  s.expect(
      s.request("DELETE", "/api/v1/vips/" + urlEncode(o.vip) + (o.force ? "?force=true" : "")));
  if (!s.asJson) {
    std::cout << "removed VIP " << o.vip
              << (o.force ? " (its connections reset)\n" : " (its connections finish)\n");
  }
  return 0;
}

int configReload(const Session& s, const Options&) {
  const json j = s.expect(s.request("POST", "/api/v1/config/reload"));
  if (s.asJson) {
    s.show(j);
    return 0;
  }
  for (const json& c : j["changed"]) std::cout << "changed: " << cell(c) << "\n";
  for (const json& r : j["restart_required"]) {
    std::cout << "needs a restart (left as it runs): " << cell(r) << "\n";
  }
  if (j["changed"].empty() && j["restart_required"].empty()) std::cout << "nothing changed\n";
  return 0;
}

int backendsList(const Session& s, const Options& o) {
  const json j = s.expect(s.request("GET", backendsPath(o)));
  if (s.asJson) {
    s.show(j);
    return 0;
  }
  printTable(j["items"], {{"address", "ADDRESS"},
                          {"weight", "WEIGHT"},
                          {"state", "STATE"},
                          {"health", "HEALTH"},
                          {"in_rotation", "IN ROTATION"},
                          {"active_connections", "ACTIVE"},
                          {"connections_total", "TOTAL"}});
  return 0;
}

int backendsAdd(const Session& s, const Options& o) {
  const json body = {{"address", o.address}, {"weight", o.weight.value_or(1)}};
  const json j = s.expect(s.request("POST", backendsPath(o), body.dump()));
  if (s.asJson)
    s.show(j);
  else
    std::cout << "added " << o.address << " to " << o.vip << "\n";
  return 0;
}

int backendsSet(const Session& s, const Options& o) {
  json body = json::object();
  if (o.weight) body["weight"] = *o.weight;
  if (!o.state.empty()) body["state"] = o.state;
  const json j =
      s.expect(s.request("PATCH", backendsPath(o) + "/" + urlEncode(o.address), body.dump()));
  if (s.asJson)
    s.show(j);
  else
    std::cout << o.address << ": weight " << j["weight"] << ", " << cell(j["state"]) << "\n";
  return 0;
}

int backendsDel(const Session& s, const Options& o) {
  s.expect(s.request(
      "DELETE", backendsPath(o) + "/" + urlEncode(o.address) + (o.force ? "?force=true" : "")));
  if (!s.asJson) std::cout << "removed " << o.address << " from " << o.vip << "\n";
  return 0;
}

int configShow(const Session& s, const Options&) {
  s.show(s.expect(s.request("GET", "/api/v1/config")));
  return 0;
}

// --ports "80,443" --syn-flood auto --threshold N: one VIP's settings as a config patch.
int configSet(const Session& s, const Options& o) {
  json vip = vipObject(o.vip);
  if (!o.ports.empty()) {
    json ports;
    if (!parsePorts(o.ports, ports)) return kExitUsage;
    vip["ports"] = ports;
  }
  if (!o.backendPorts.empty()) {
    json backendPorts;
    if (!parseBackendPorts(o.backendPorts, backendPorts)) return kExitUsage;
    vip["backend_ports"] = backendPorts;
  }
  json syn = json::object();
  if (!o.synFlood.empty()) syn["mode"] = o.synFlood;
  if (o.threshold) syn["threshold_pps"] = *o.threshold;
  if (!syn.empty()) vip["syn_flood"] = syn;
  const json j = s.expect(s.request("PATCH", "/api/v1/config", json{{"vips", {vip}}}.dump()));
  if (s.asJson)
    s.show(j);
  else
    std::cout << "updated " << o.vip << "\n";
  return 0;
}

void vipAndAddress(CLI::App& a, Options& o) {
  a.add_option("vip", o.vip, kVipHelp)->required();
  a.add_option("address", o.address, "backend address")->required();
}

// The command table by group.
std::vector<Command> vipCommands() {
  return {
      {"vips",
       "list",
       "VIPs with ports, SYN-flood mode and backends in rotation",
       {{"GET", "/api/v1/vips"}},
       [](CLI::App&, Options&) {},
       vipsList},
      {"vips",
       "add",
       "add a VIP with its ports, backends and SYN-flood protection",
       {{"POST", "/api/v1/vips"}},
       [](CLI::App& a, Options& o) {
         a.add_option("vip", o.vip, kVipHelp)->required();
         a.add_option("--ports", o.ports, "served ports, comma-separated")->required();
         a.add_option("--backend-port", o.backendPorts,
                      "VIP_PORT:BACKEND_PORT, where backends listen on another port (repeatable)");
         a.add_option("--backends", o.backends, "ADDRESS[/WEIGHT],... (default weight 1)");
         a.add_option("--syn-flood", o.synFlood, "off, always or auto (default auto)")
             ->check(CLI::IsMember(xlb::enumNameList<xlb::SynFloodMode>()));
         a.add_option("--threshold", o.threshold, "auto mode: SYNs per second that switch on");
         a.add_option("--forwarding", o.forwarding, "full_nat (default) or dsr")
             ->check(CLI::IsMember(xlb::enumNameList<xlb::Forwarding>()));
         a.add_option("--encapsulation", o.encapsulation, "dsr: l2 (default) or ipip")
             ->check(CLI::IsMember(xlb::enumNameList<xlb::DsrEncap>()));
         a.add_flag("--quic", o.quic, "UDP VIP: also find flows by QUIC connection ID");
       },
       vipsAdd},
      {"vips",
       "remove",
       "remove a VIP (its connections finish; --force resets them)",
       {{"DELETE", "/api/v1/vips/{vip}"}},
       [](CLI::App& a, Options& o) {
         a.add_option("vip", o.vip, kVipHelp)->required();
         a.add_flag("--force", o.force, "reset its connections instead");
       },
       vipsRemove},
  };
}

std::vector<Command> backendCommands() {
  return {
      {"backends",
       "list",
       "backends of a VIP with state, health, connections",
       {{"GET", "/api/v1/vips/{vip}/backends"}},
       [](CLI::App& a, Options& o) { a.add_option("vip", o.vip, kVipHelp)->required(); },
       backendsList},
      {"backends",
       "add",
       "add a backend",
       {{"POST", "/api/v1/vips/{vip}/backends"}},
       [](CLI::App& a, Options& o) {
         vipAndAddress(a, o);
         a.add_option("--weight", o.weight, "weight (default 1)");
       },
       backendsAdd},
      {"backends",
       "set",
       "change weight and/or state (active, draining, down)",
       {{"PATCH", "/api/v1/vips/{vip}/backends/{address}"}},
       [](CLI::App& a, Options& o) {
         vipAndAddress(a, o);
         a.add_option("--weight", o.weight, "weight");
         a.add_option("--state", o.state, "active, draining or down")
             ->check(CLI::IsMember({"active", "draining", "down"}));
       },
       backendsSet},
      {"backends",
       "del",
       "remove a backend (its connections finish)",
       {{"DELETE", "/api/v1/vips/{vip}/backends/{address}"}},
       [](CLI::App& a, Options& o) {
         vipAndAddress(a, o);
         a.add_flag("--force", o.force, "reset its connections instead");
       },
       backendsDel},
  };
}

std::vector<Command> configCommands() {
  return {
      {"config",
       "show",
       "the running configuration (JSON)",
       {{"GET", "/api/v1/config"}},
       [](CLI::App&, Options&) {},
       configShow},
      {"config",
       "set",
       "change a VIP's served ports or SYN-flood protection",
       {{"PATCH", "/api/v1/config"}},
       [](CLI::App& a, Options& o) {
         a.add_option("vip", o.vip, kVipHelp)->required();
         a.add_option("--ports", o.ports, "served ports, comma-separated (replaces the list)");
         a.add_option("--backend-port", o.backendPorts,
                      "VIP_PORT:BACKEND_PORT (repeatable; replaces the backend ports)");
         a.add_option("--syn-flood", o.synFlood, "off, always or auto")
             ->check(CLI::IsMember(xlb::enumNameList<xlb::SynFloodMode>()));
         a.add_option("--threshold", o.threshold, "auto mode: SYNs per second that switch on");
       },
       configSet},
      {"config",
       "reload",
       "re-read xlbd's configuration file and apply what changed",
       {{"POST", "/api/v1/config/reload"}},
       [](CLI::App&, Options&) {},
       configReload},
  };
}

}  // namespace

std::vector<Command> serviceCommands() {
  std::vector<Command> all;
  for (const auto& part : {vipCommands(), backendCommands(), configCommands()}) {
    all.insert(all.end(), part.begin(), part.end());
  }
  return all;
}

}  // namespace xlbctl
