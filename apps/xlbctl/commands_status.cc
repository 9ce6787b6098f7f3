// SPDX-License-Identifier: Apache-2.0
// xlbctl stats, health, metrics, conns list | kill.
#include <iostream>

#include "commands.h"

namespace xlbctl {

using nlohmann::json;

namespace {

void printConntrack(const json& j) {
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
            << "; SYNs sent again " << c["syn_retransmits"] << "\n";
}

int stats(const Session& s, const Options&) {
  const json j = s.expect(s.request("GET", "/api/v1/stats"));
  if (s.asJson) {
    s.show(j);
    return 0;
  }
  printConntrack(j);
  const json& ho = j["half_open"];
  std::cout << "SYN cookies: sent " << j["syncookies"]["sent"] << ", validated "
            << j["syncookies"]["validated"] << ", invalid " << j["syncookies"]["invalid"]
            << "\nhalf-open connections " << ho["connections"] << " (cookies for auto-mode VIPs at "
            << ho["limit"] << ")" << (ho["pressure"].get<bool>() ? ": pressure on" : "")
            << "\nblocklist: " << j["blocklist"]["entries"] << " entries, "
            << j["blocklist"]["drops"] << " drops\npackets: xdp " << j["packets"]["xdp"]
            << ", engine " << j["packets"]["engine"] << "\n";
  if (j.contains("restart")) {
    const json& r = j["restart"];
    std::cout << "start: generation " << r["generation"] << ", adopted " << r["adopted"]
              << " connection(s), dropped " << r["dropped"];
    if (r["handover"].get<bool>()) {
      std::cout << "; took over from pid " << r["previous_pid"] << " (paused " << r["pause_ms"]
                << " ms)";
    }
    if (!r["refused"].get<std::string>().empty()) {
      std::cout << "; stored tables refused: " << r["refused"].get<std::string>();
    }
    std::cout << "\n(restart or upgrade without dropping a connection: xlbd --config FILE "
                 "--takeover)\n";
  }
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
  return 0;
}

int health(const Session& s, const Options&) {
  const xlb::HttpResponse live = s.request("GET", "/healthz");
  if (!live.error.empty()) {
    std::cerr << "xlbctl: xlbd is not reachable: " << live.error << "\n";
    return kExitUnreachable;
  }
  const xlb::HttpResponse ready = s.request("GET", "/readyz");
  const json rj = json::parse(ready.body, nullptr, false);
  if (s.asJson) {
    s.show({{"alive", live.status == 200}, {"ready", ready.status == 200}, {"detail", rj}});
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

int metrics(const Session& s, const Options&) {
  const xlb::HttpResponse r = s.request("GET", "/metrics");
  if (!r.error.empty() || r.status >= 400) s.expect(r);  // prints the error and exits
  std::cout << r.body;
  return 0;
}

// The status page's address, once it and its files answer (a browser is what reads it).
int ui(const Session& s, const Options&) {
  for (const char* path : {"/ui/", "/ui/app.js", "/ui/style.css"}) {
    const xlb::HttpResponse r = s.request("GET", path);
    if (!r.error.empty() || r.status >= 400) s.expect(r);  // prints the error and exits
  }
  if (s.asJson) {
    s.show({{"url", s.api + "/ui/"}});
  } else {
    std::cout << s.api << "/ui/\n";
  }
  return 0;
}

int connsList(const Session& s, const Options& o) {
  const json j = s.pages(
      "/api/v1/connections",
      {{"client", o.client}, {"backend", o.backend}, {"vip", o.vip}, {"state", o.state}}, o);
  if (s.asJson) {
    s.show(j);
    return 0;
  }
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
  return 0;
}

int connsKill(const Session& s, const Options& o) {
  const json j =
      s.expect(s.request("DELETE", "/api/v1/connections" + query({{"client", o.client}})));
  if (s.asJson)
    s.show(j);
  else
    std::cout << "killed " << j["killed"] << " connection(s)\n";
  return 0;
}

}  // namespace

std::vector<Command> statusCommands() {
  return {
      {"",
       "stats",
       "summary statistics",
       {{"GET", "/api/v1/stats"}},
       [](CLI::App&, Options&) {},
       stats},
      {"",
       "health",
       "liveness and readiness of xlbd",
       {{"GET", "/healthz"}, {"GET", "/readyz"}},
       [](CLI::App&, Options&) {},
       health},
      {"",
       "metrics",
       "the Prometheus metrics, as scraped",
       {{"GET", "/metrics"}},
       [](CLI::App&, Options&) {},
       metrics},
      {"",
       "ui",
       "check that the status page answers and print its address",
       {{"GET", "/ui"}, {"GET", "/ui/{asset}"}},
       [](CLI::App&, Options&) {},
       ui},
      {"conns",
       "list",
       "list connections (filters combine)",
       {{"GET", "/api/v1/connections"}},
       [](CLI::App& a, Options& o) {
         a.add_option("--client", o.client, "ADDR or ADDR:PORT");
         a.add_option("--backend", o.backend, "backend address");
         a.add_option("--vip", o.vip, "VIP address");
         a.add_option("--state", o.state, "TCP state (established, time_wait, ...)");
         a.add_option("--limit", o.limit, "connections per page (1-1000)");
         a.add_flag("--all", o.all, "follow the continuation tokens to the end");
       },
       connsList},
      {"conns",
       "kill",
       "remove a connection and reset both ends",
       {{"DELETE", "/api/v1/connections"}},
       [](CLI::App& a, Options& o) {
         a.add_option("client", o.client, "client ADDR:PORT ([ADDR]:PORT for IPv6)")->required();
       },
       connsKill},
  };
}

}  // namespace xlbctl
