// SPDX-License-Identifier: Apache-2.0
// xlbctl cluster [status] | drain | undrain.
#include <iostream>

#include "commands.h"

namespace xlbctl {

using nlohmann::json;

namespace {

void printCluster(const json& j) {
  std::cout << "member " << cell(j["self"]) << ": "
            << (j["ready"].get<bool>() ? "ready" : "not ready") << ", "
            << (j["announced"].get<bool>() ? "VIP routes announced" : "VIP routes withdrawn")
            << (j["draining"].get<bool>() ? ", draining" : "") << "\nflows held here "
            << j["local_flows"] << ", held by peers (directory) " << j["peer_flows"] << "\n";
  if (j.contains("drain")) {
    const json& d = j["drain"];
    std::cout << "drain: " << d["seconds"] << " s, " << d["remaining_flows"] << " flow(s) left"
              << (d["done"].get<bool>() ? " (done: safe to stop)" : "")
              << (d["timed_out"].get<bool>() ? " (drain_timeout passed)" : "") << "\n";
  }
  std::cout << "messages: sent " << j["messages_sent"] << ", received " << j["messages_received"]
            << ", bad " << j["bad_messages"] << ", lost " << j["lost_messages"] << "\n";
  printTable(j["members"], {{"MEMBER", "name"},
                            {"ADDRESS", "address"},
                            {"STATE", "state"},
                            {"READY", "ready"},
                            {"DRAINING", "draining"},
                            {"FLOWS", "flows"},
                            {"DOWNS", "downs"},
                            {"HEARD_MS", "last_heard_ms"}});
}

// Every cluster command answers with the member's state.
int call(const Session& s, const char* method, const char* path) {
  const json j = s.expect(s.request(method, path));
  if (s.asJson) {
    s.show(j);
  } else {
    printCluster(j);
  }
  return 0;
}

int status(const Session& s, const Options&) {
  return call(s, "GET", "/api/v1/cluster");
}
int drain(const Session& s, const Options&) {
  return call(s, "POST", "/api/v1/cluster/drain");
}
int undrain(const Session& s, const Options&) {
  return call(s, "DELETE", "/api/v1/cluster/drain");
}

}  // namespace

std::vector<Command> clusterCommands() {
  return {
      {"cluster",
       "status",
       "members, flows held here and by peers, drain progress",
       {{"GET", "/api/v1/cluster"}},
       [](CLI::App&, Options&) {},
       status},
      {"cluster",
       "drain",
       "withdraw this instance's VIP routes; its flows are served until they end",
       {{"POST", "/api/v1/cluster/drain"}},
       [](CLI::App&, Options&) {},
       drain},
      {"cluster",
       "undrain",
       "end the drain: announce the VIPs again",
       {{"DELETE", "/api/v1/cluster/drain"}},
       [](CLI::App&, Options&) {},
       undrain},
  };
}

}  // namespace xlbctl
