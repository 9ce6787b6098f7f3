// SPDX-License-Identifier: Apache-2.0
// xlbctl: the command-line client of xlbd's REST API (libcurl). Every API error becomes a
// message on stderr and a non-zero exit: 1 for an error the API reported, 2 for usage errors,
// 3 when the API cannot be reached.

#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "xlb/http_client.h"
#include "xlb/text.h"

using nlohmann::json;

namespace {

constexpr int kExitApi = 1;
constexpr int kExitUnreachable = 3;

std::string urlEncode(const std::string& s) {
  std::string out;
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", c);
      out += buf;
    }
  }
  return out;
}

struct Client {
  std::string api = "http://127.0.0.1:9180";
  std::string token;

  xlb::HttpResponse request(const std::string& method, const std::string& path,
                            const std::string& body = "",
                            const std::string& contentType = "application/json") const {
    xlb::HttpRequest r;
    r.method = method;
    r.url = api + path;
    r.body = body;
    r.token = token;
    r.contentType = contentType;
    r.timeoutSeconds = 30;
    return xlb::httpRequest(r);
  }
};

// Turns a reply into JSON, or prints the error and exits.
json expect(const xlb::HttpResponse& r) {
  if (!r.error.empty()) {
    std::cerr << "xlbctl: cannot reach the API: " << r.error << "\n";
    std::exit(kExitUnreachable);
  }
  json j = json::parse(r.body, nullptr, false);
  if (r.status >= 400) {
    std::string msg = r.body;
    if (j.is_object() && j.contains("error")) {
      msg = j["error"].value("message", "") + " (" + j["error"].value("code", "") + ")";
    }
    std::cerr << "xlbctl: HTTP " << r.status << ": " << msg << "\n";
    if (r.status == 401) std::cerr << "xlbctl: pass the API token with --token-file\n";
    std::exit(kExitApi);
  }
  return r.body.empty() ? json(nullptr) : j;
}

std::string cell(const json& v) {
  if (v.is_null()) return "-";
  if (v.is_string()) return v.get<std::string>();
  return v.dump();
}

void printTable(const json& items, const std::vector<std::pair<std::string, std::string>>& cols) {
  std::vector<std::size_t> width;
  for (const auto& [key, title] : cols) width.push_back(title.size());
  std::vector<std::vector<std::string>> rows;
  for (const json& it : items) {
    std::vector<std::string> row;
    for (std::size_t i = 0; i < cols.size(); ++i) {
      row.push_back(cell(it.contains(cols[i].first) ? it[cols[i].first] : json(nullptr)));
      width[i] = std::max(width[i], row.back().size());
    }
    rows.push_back(std::move(row));
  }
  auto line = [&](const std::vector<std::string>& r) {
    for (std::size_t i = 0; i < r.size(); ++i) {
      std::cout << r[i] << (i + 1 < r.size() ? std::string(width[i] - r[i].size() + 2, ' ') : "");
    }
    std::cout << "\n";
  };
  std::vector<std::string> head;
  for (const auto& [key, title] : cols) head.push_back(title);
  line(head);
  for (const auto& r : rows) line(r);
}

std::string readAll(const std::string& path) {
  std::ostringstream s;
  if (path == "-") {
    s << std::cin.rdbuf();
    return s.str();
  }
  std::ifstream f(path);
  if (!f) {
    std::cerr << "xlbctl: cannot read " << path << "\n";
    std::exit(2);
  }
  s << f.rdbuf();
  return s.str();
}

std::string query(const std::vector<std::pair<std::string, std::string>>& params) {
  std::string q;
  for (const auto& [k, v] : params) {
    if (v.empty()) continue;
    q += (q.empty() ? "?" : "&") + k + "=" + urlEncode(v);
  }
  return q;
}

}  // namespace

int run(int argc, char** argv) {
  CLI::App app{"xlbctl: control a running xlbd through its REST API"};
  app.require_subcommand(1);
  Client client;
  if (const char* e = std::getenv("XLB_API")) client.api = e;
  std::string tokenFile = std::getenv("XLB_TOKEN_FILE") ? std::getenv("XLB_TOKEN_FILE") : "";
  std::string output = "table";
  app.add_option("--api", client.api, "API base URL (env XLB_API)")->capture_default_str();
  app.add_option("--token-file", tokenFile,
                 "file holding the API token (env XLB_TOKEN_FILE; default /var/lib/xlb/api-token "
                 "when readable)");
  app.add_option("-o,--output", output, "table or json")->check(CLI::IsMember({"table", "json"}));

  // blocklist
  auto* bl = app.add_subcommand("blocklist", "list, add, delete and import blocklist entries");
  bl->require_subcommand(1);
  std::size_t limit = 100;
  bool all = false;
  auto* blList = bl->add_subcommand("list", "list entries with hits and expiry");
  blList->add_option("--limit", limit, "entries per page (1-1000)");
  blList->add_flag("--all", all, "follow the continuation tokens to the end");
  std::string cidr, comment, file;
  std::uint64_t ttl = 0;
  auto* blAdd = bl->add_subcommand("add", "block an address or prefix");
  blAdd->add_option("cidr", cidr, "ADDRESS or ADDRESS/LEN")->required();
  blAdd->add_option("--ttl", ttl, "seconds until the entry expires (0: never)");
  blAdd->add_option("--comment", comment, "why");
  auto* blDel = bl->add_subcommand("del", "unblock an address or prefix");
  blDel->add_option("cidr", cidr, "ADDRESS or ADDRESS/LEN")->required();
  auto* blImport = bl->add_subcommand("import", "add one CIDR per line from a file (- for stdin)");
  blImport->add_option("file", file, "file, or - for standard input")->required();
  blImport->add_option("--ttl", ttl, "seconds until the entries expire (0: never)");
  blImport->add_option("--comment", comment, "why");

  // backends
  auto* be = app.add_subcommand("backends", "list, add, change and remove a VIP's backends");
  be->require_subcommand(1);
  std::string vip, address, state;
  std::optional<std::uint32_t> weight;
  bool force = false;
  auto* beList = be->add_subcommand("list", "backends of a VIP with state, health, connections");
  beList->add_option("vip", vip, "VIP address")->required();
  auto* beAdd = be->add_subcommand("add", "add a backend");
  beAdd->add_option("vip", vip, "VIP address")->required();
  beAdd->add_option("address", address, "backend address")->required();
  beAdd->add_option("--weight", weight, "weight (default 1)");
  auto* beSet = be->add_subcommand("set", "change weight and/or state (active, draining, down)");
  beSet->add_option("vip", vip, "VIP address")->required();
  beSet->add_option("address", address, "backend address")->required();
  beSet->add_option("--weight", weight, "weight");
  beSet->add_option("--state", state, "active, draining or down")
      ->check(CLI::IsMember({"active", "draining", "down"}));
  auto* beDel = be->add_subcommand("del", "remove a backend (its connections finish)");
  beDel->add_option("vip", vip, "VIP address")->required();
  beDel->add_option("address", address, "backend address")->required();
  beDel->add_flag("--force", force, "reset its connections instead");

  // connections
  auto* cn = app.add_subcommand("conns", "list and kill connections");
  cn->require_subcommand(1);
  std::string fClient, fBackend, fVip, fState;
  auto* cnList = cn->add_subcommand("list", "list connections (filters combine)");
  cnList->add_option("--client", fClient, "ADDR or ADDR:PORT");
  cnList->add_option("--backend", fBackend, "backend address");
  cnList->add_option("--vip", fVip, "VIP address");
  cnList->add_option("--state", fState, "TCP state (established, time_wait, ...)");
  cnList->add_option("--limit", limit, "connections per page (1-1000)");
  cnList->add_flag("--all", all, "follow the continuation tokens to the end");
  auto* cnKill = cn->add_subcommand("kill", "remove a connection and reset both ends");
  cnKill->add_option("client", fClient, "client ADDR:PORT ([ADDR]:PORT for IPv6)")->required();

  auto* st = app.add_subcommand("stats", "summary statistics");
  auto* hl = app.add_subcommand("health", "liveness and readiness of xlbd");

  CLI11_PARSE(app, argc, argv);
  if (!xlb::validUtf8(comment)) {
    std::cerr << "xlbctl: --comment is not valid UTF-8\n";
    return 2;
  }

  if (tokenFile.empty() && ::access("/var/lib/xlb/api-token", R_OK) == 0) {
    tokenFile = "/var/lib/xlb/api-token";
  }
  if (!tokenFile.empty()) {
    std::ifstream f(tokenFile);
    if (!f || !std::getline(f, client.token)) {
      std::cerr << "xlbctl: cannot read the token file " << tokenFile << "\n";
      return 2;
    }
  }
  while (!client.api.empty() && client.api.back() == '/') client.api.pop_back();
  const bool asJson = output == "json";
  auto show = [&](const json& j) { std::cout << j.dump(2) << "\n"; };

  auto pages = [&](const std::string& path,
                   const std::vector<std::pair<std::string, std::string>>& params) {
    json items = json::array();
    std::string next;
    json last;
    do {
      auto p = params;
      p.emplace_back("limit", std::to_string(limit));
      p.emplace_back("next", next);
      last = expect(client.request("GET", path + query(p)));
      for (const json& it : last["items"]) items.push_back(it);
      next = last["next"].is_string() ? last["next"].get<std::string>() : "";
    } while (all && !next.empty());
    last["items"] = items;
    if (all) last["next"] = nullptr;
    return last;
  };

  if (blList->parsed()) {
    json j = pages("/api/v1/blocklist", {});
    if (asJson)
      show(j);
    else {
      printTable(j["items"], {{"cidr", "CIDR"},
                              {"hits", "HITS"},
                              {"last_hit", "LAST HIT"},
                              {"expires_at", "EXPIRES"},
                              {"source", "SOURCE"},
                              {"comment", "COMMENT"}});
      if (j["next"].is_string())
        std::cout << "(more: --all, or next=" << j["next"].get<std::string>() << ")\n";
    }
  } else if (blAdd->parsed()) {
    json body = {{"cidr", cidr}, {"comment", comment}};
    if (ttl > 0) body["ttl_seconds"] = ttl;
    json j = expect(client.request("POST", "/api/v1/blocklist", body.dump()));
    if (asJson)
      show(j);
    else
      std::cout << "blocked " << j["cidr"].get<std::string>() << "\n";
  } else if (blDel->parsed()) {
    const auto slash = cidr.find('/');
    std::string addr = cidr.substr(0, slash);
    std::string len = slash == std::string::npos
                          ? (addr.find(':') != std::string::npos ? "128" : "32")
                          : cidr.substr(slash + 1);
    expect(client.request("DELETE", "/api/v1/blocklist/" + urlEncode(addr) + "/" + urlEncode(len)));
    if (!asJson) std::cout << "unblocked " << addr << "/" << len << "\n";
  } else if (blImport->parsed()) {
    const std::string text = readAll(file);
    json j = expect(client.request(
        "POST",
        "/api/v1/blocklist/import" +
            query({{"ttl_seconds", ttl ? std::to_string(ttl) : ""}, {"comment", comment}}),
        text, "text/plain"));
    if (asJson)
      show(j);
    else {
      std::cout << "accepted " << j["accepted"] << ", rejected " << j["rejected"] << "\n";
      for (const json& e : j["errors"]) {
        std::cout << "  line " << e["line"] << ": " << cell(e["text"]) << ": " << cell(e["reason"])
                  << "\n";
      }
    }
  } else if (beList->parsed()) {
    json j = expect(client.request("GET", "/api/v1/vips/" + urlEncode(vip) + "/backends"));
    if (asJson)
      show(j);
    else
      printTable(j["items"], {{"address", "ADDRESS"},
                              {"weight", "WEIGHT"},
                              {"state", "STATE"},
                              {"health", "HEALTH"},
                              {"in_rotation", "IN ROTATION"},
                              {"active_connections", "ACTIVE"},
                              {"connections_total", "TOTAL"}});
  } else if (beAdd->parsed()) {
    json body = {{"address", address}, {"weight", weight.value_or(1)}};
    json j =
        expect(client.request("POST", "/api/v1/vips/" + urlEncode(vip) + "/backends", body.dump()));
    if (asJson)
      show(j);
    else
      std::cout << "added " << address << " to " << vip << "\n";
  } else if (beSet->parsed()) {
    json body = json::object();
    if (weight) body["weight"] = *weight;
    if (!state.empty()) body["state"] = state;
    json j = expect(client.request(
        "PATCH", "/api/v1/vips/" + urlEncode(vip) + "/backends/" + urlEncode(address),
        body.dump()));
    if (asJson)
      show(j);
    else
      std::cout << address << ": weight " << j["weight"] << ", " << cell(j["state"]) << "\n";
  } else if (beDel->parsed()) {
    expect(client.request("DELETE", "/api/v1/vips/" + urlEncode(vip) + "/backends/" +
                                        urlEncode(address) + (force ? "?force=true" : "")));
    if (!asJson) std::cout << "removed " << address << " from " << vip << "\n";
  } else if (cnList->parsed()) {
    json j = pages("/api/v1/connections",
                   {{"client", fClient}, {"backend", fBackend}, {"vip", fVip}, {"state", fState}});
    if (asJson)
      show(j);
    else {
      printTable(j["items"], {{"client", "CLIENT"},
                              {"client_port", "PORT"},
                              {"vip", "VIP"},
                              {"vip_port", "VPORT"},
                              {"backend", "BACKEND"},
                              {"snat_port", "SNAT PORT"},
                              {"state", "STATE"},
                              {"expires_in_ms", "EXPIRES MS"}});
      if (j["next"].is_string())
        std::cout << "(more: --all, or next=" << j["next"].get<std::string>() << ")\n";
    }
  } else if (cnKill->parsed()) {
    json j = expect(client.request("DELETE", "/api/v1/connections" + query({{"client", fClient}})));
    if (asJson)
      show(j);
    else
      std::cout << "killed " << j["killed"] << " connection(s)\n";
  } else if (st->parsed()) {
    json j = expect(client.request("GET", "/api/v1/stats"));
    if (asJson)
      show(j);
    else {
      const json& c = j["conntrack"];
      std::cout << "connections: active " << c["active"] << " of " << c["capacity"] << ", created "
                << c["created"] << "\n  by state:";
      for (const auto& [k, v] : c["by_state"].items())
        if (v != 0) std::cout << " " << k << " " << v;
      std::cout << "\n  closed:";
      for (const auto& [k, v] : c["closed"].items()) std::cout << " " << k << " " << v;
      const json& sn = j["snat"];
      std::cout << "\nSNAT ports in use: " << sn["ports_in_use"] << " of " << sn["ports_total"]
                << ", exhausted " << sn["exhausted"] << "\n  reuse: SYNs timestamped "
                << sn["syn_timestamped"] << ", without timestamps " << sn["syn_without_timestamp"]
                << ", refused by a backend's TIME_WAIT " << sn["time_wait_collisions"]
                << "; SYNs sent again " << c["syn_retransmits"] << "\nSYN cookies: sent "
                << j["syncookies"]["sent"] << ", validated " << j["syncookies"]["validated"]
                << ", invalid " << j["syncookies"]["invalid"]
                << "\nblocklist: " << j["blocklist"]["entries"] << " entries, "
                << j["blocklist"]["drops"] << " drops\npackets: xdp " << j["packets"]["xdp"]
                << ", engine " << j["packets"]["engine"] << "\n";
      for (const char* stage : {"xdp", "engine"}) {
        std::cout << stage << " reasons:";
        for (const auto& [k, v] : j[stage].items()) std::cout << " " << k << " " << v;
        std::cout << "\n";
      }
      for (const json& v : j["vips"]) {
        std::cout << "VIP " << cell(v["address"])
                  << (v["syn_flood_active"].get<bool>() ? " (SYN cookies on)" : "") << ":";
        for (const json& b : v["backends"]) {
          std::cout << " " << cell(b["address"]) << " " << b["active_connections"] << "/"
                    << b["connections_total"];
        }
        std::cout << "  (active/total)\n";
      }
    }
  } else if (hl->parsed()) {
    const xlb::HttpResponse live = client.request("GET", "/healthz");
    if (!live.error.empty()) {
      std::cerr << "xlbctl: xlbd is not reachable: " << live.error << "\n";
      return kExitUnreachable;
    }
    const xlb::HttpResponse ready = client.request("GET", "/readyz");
    json rj = json::parse(ready.body, nullptr, false);
    if (asJson) {
      show({{"alive", live.status == 200}, {"ready", ready.status == 200}, {"detail", rj}});
    } else {
      std::cout << "alive: " << (live.status == 200 ? "yes" : "no")
                << "\nready: " << (ready.status == 200 ? "yes" : "no");
      if (ready.status != 200 && rj.is_object() && rj.contains("error")) {
        std::cout << " (" << cell(rj["error"]["message"]) << ")";
      }
      std::cout << "\n";
    }
    return ready.status == 200 ? 0 : kExitApi;
  }
  return 0;
}

int main(int argc, char** argv) {
  // Nothing the user types may end in an abort: an unexpected exception is a clear message.
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "xlbctl: error: " << e.what() << "\n";
    return 1;
  }
}
