// SPDX-License-Identifier: Apache-2.0
// xlbctl's commands as one table that mirrors the API's route table (api_routes.h): each command
// names the routes it calls, and a unit test checks that every route has a command and an entry
// in docs/openapi.yaml, so the route table, the CLI and the docs cannot drift apart.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "xlb/http_client.h"

namespace xlbctl {

inline constexpr int kExitApi = 1;
inline constexpr int kExitUsage = 2;
inline constexpr int kExitUnreachable = 3;

// Every option any command takes; a command's define() binds the ones it uses.
struct Options {
  std::size_t limit = 100;
  bool all = false;
  std::string cidr, comment, file;
  std::uint64_t ttl = 0;
  std::string vip, address, state;
  std::optional<std::uint32_t> weight;
  bool force = false;
  std::string client, backend;            // connection filters
  std::string ports, synFlood;            // config set, vips add
  std::vector<std::string> backendPorts;  // "443:8443"
  std::string backends;                   // vips add: "ADDR[/WEIGHT],..."
  std::optional<std::uint32_t> threshold;
  std::string forwarding, encapsulation;  // vips add: dsr, l2 | ipip
  bool quic = false;                      // vips add: a UDP VIP's flows found by QUIC CID
};

// The API connection and the output format, shared by every command.
struct Session {
  std::string api = "http://127.0.0.1:9180";
  std::string token;
  bool asJson = false;

  xlb::HttpResponse request(const std::string& method, const std::string& path,
                            const std::string& body = "",
                            const std::string& contentType = "application/json") const;
  // The reply as JSON; an error reply is printed and ends the process (kExitApi or
  // kExitUnreachable).
  nlohmann::json expect(const xlb::HttpResponse& r) const;
  // GET of a paged listing, following the continuation tokens with --all.
  nlohmann::json pages(const std::string& path,
                       const std::vector<std::pair<std::string, std::string>>& params,
                       const Options& o) const;
  void show(const nlohmann::json& j) const;
};

struct ApiUse {
  std::string_view method;   // "GET", ...
  std::string_view pattern;  // as in the route table
};

struct Command {
  std::string_view group;  // "blocklist", ...; empty for a top-level command
  std::string_view name;
  std::string_view help;
  std::vector<ApiUse> uses;
  void (*define)(CLI::App& app, Options& o);
  int (*run)(const Session& s, const Options& o);
};

// Command groups with their help text, then the commands (commands.cc, commands_*.cc).
const std::vector<std::pair<std::string_view, std::string_view>>& groups();
const std::vector<Command>& commands();

// Helpers the commands share (output.cc).
std::string urlEncode(const std::string& s);
std::string query(const std::vector<std::pair<std::string, std::string>>& params);
std::string cell(const nlohmann::json& v);
void printTable(const nlohmann::json& items,
                const std::vector<std::pair<std::string, std::string>>& cols);
std::string readAll(const std::string& path);

}  // namespace xlbctl
