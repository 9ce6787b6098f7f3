// SPDX-License-Identifier: Apache-2.0
// xlbctl vips list, backends list | add | set | del, config show | set.
#include <iostream>

#include "commands.h"
#include "xlb/config.h"

namespace xlbctl {

using nlohmann::json;

namespace {

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
                    {"ports", v["ports"]},
                    {"syn_flood", v["syn_flood"]["mode"]},
                    {"cookies", v["syn_flood"]["active"]},
                    {"in_rotation", v["backends_in_rotation"]},
                    {"active", v["active_connections"]}});
  }
  printTable(rows, {{"address", "VIP"},
                    {"ports", "PORTS"},
                    {"syn_flood", "SYN FLOOD"},
                    {"cookies", "COOKIES ON"},
                    {"in_rotation", "IN ROTATION"},
                    {"active", "ACTIVE"}});
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
  json vip = {{"address", o.vip}};
  if (!o.ports.empty()) {
    json ports = json::array();
    std::size_t i = 0;
    while (i <= o.ports.size()) {
      const std::size_t j = std::min(o.ports.find(',', i), o.ports.size());
      const std::string p = o.ports.substr(i, j - i);
      if (p.empty() || p.find_first_not_of("0123456789") != std::string::npos || p.size() > 5) {
        std::cerr << "xlbctl: --ports takes port numbers separated by commas\n";
        return kExitUsage;
      }
      ports.push_back(std::stoul(p));
      i = j + 1;
    }
    vip["ports"] = ports;
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
  a.add_option("vip", o.vip, "VIP address")->required();
  a.add_option("address", o.address, "backend address")->required();
}

}  // namespace

std::vector<Command> serviceCommands() {
  return {
      {"vips",
       "list",
       "VIPs with ports, SYN-flood mode and backends in rotation",
       {{"GET", "/api/v1/vips"}},
       [](CLI::App&, Options&) {},
       vipsList},
      {"backends",
       "list",
       "backends of a VIP with state, health, connections",
       {{"GET", "/api/v1/vips/{vip}/backends"}},
       [](CLI::App& a, Options& o) { a.add_option("vip", o.vip, "VIP address")->required(); },
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
         a.add_option("vip", o.vip, "VIP address")->required();
         a.add_option("--ports", o.ports, "served ports, comma-separated (replaces the list)");
         a.add_option("--syn-flood", o.synFlood, "off, always or auto")
             ->check(CLI::IsMember(xlb::enumNameList<xlb::SynFloodMode>()));
         a.add_option("--threshold", o.threshold, "auto mode: SYNs per second that switch on");
       },
       configSet},
  };
}

}  // namespace xlbctl
