// SPDX-License-Identifier: Apache-2.0
// xlbctl blocklist list | add | del | import.
#include <iostream>

#include "commands.h"

namespace xlbctl {

using nlohmann::json;

namespace {

int list(const Session& s, const Options& o) {
  const json j = s.pages("/api/v1/blocklist", {}, o);
  if (s.asJson) {
    s.show(j);
    return 0;
  }
  printTable(j["items"], {{"cidr", "CIDR"},
                          {"hits", "HITS"},
                          {"last_hit", "LAST HIT"},
                          {"expires_at", "EXPIRES"},
                          {"source", "SOURCE"},
                          {"reason", "REASON"},
                          {"comment", "COMMENT"}});
  if (j["next"].is_string())
    std::cout << "(more: --all, or next=" << j["next"].get<std::string>() << ")\n";
  return 0;
}

int add(const Session& s, const Options& o) {
  json body = {{"cidr", o.cidr}, {"comment", o.comment}};
  if (o.ttl > 0) body["ttl_seconds"] = o.ttl;
  const json j = s.expect(s.request("POST", "/api/v1/blocklist", body.dump()));
  if (s.asJson)
    s.show(j);
  else
    std::cout << "blocked " << j["cidr"].get<std::string>() << "\n";
  return 0;
}

int del(const Session& s, const Options& o) {
  const auto slash = o.cidr.find('/');
  const std::string addr = o.cidr.substr(0, slash);
  const std::string len = slash == std::string::npos
                              ? (addr.find(':') != std::string::npos ? "128" : "32")
                              : o.cidr.substr(slash + 1);
  s.expect(s.request("DELETE", "/api/v1/blocklist/" + urlEncode(addr) + "/" + urlEncode(len)));
  if (!s.asJson) std::cout << "unblocked " << addr << "/" << len << "\n";
  return 0;
}

int import(const Session& s, const Options& o) {
  const std::string text = readAll(o.file);
  const json j = s.expect(s.request(
      "POST",
      "/api/v1/blocklist/import" +
          query({{"ttl_seconds", o.ttl ? std::to_string(o.ttl) : ""}, {"comment", o.comment}}),
      text, "text/plain"));
  if (s.asJson) {
    s.show(j);
    return 0;
  }
  std::cout << "accepted " << j["accepted"] << ", rejected " << j["rejected"] << "\n";
  for (const json& e : j["errors"]) {
    std::cout << "  line " << e["line"] << ": " << cell(e["text"]) << ": " << cell(e["reason"])
              << "\n";
  }
  return 0;
}

}  // namespace

std::vector<Command> blocklistCommands() {
  return {
      {"blocklist",
       "list",
       "list entries with hits and expiry",
       {{"GET", "/api/v1/blocklist"}},
       [](CLI::App& a, Options& o) {
         a.add_option("--limit", o.limit, "entries per page (1-1000)");
         a.add_flag("--all", o.all, "follow the continuation tokens to the end");
       },
       list},
      {"blocklist",
       "add",
       "block an address or prefix",
       {{"POST", "/api/v1/blocklist"}},
       [](CLI::App& a, Options& o) {
         a.add_option("cidr", o.cidr, "ADDRESS or ADDRESS/LEN")->required();
         a.add_option("--ttl", o.ttl, "seconds until the entry expires (0: never)");
         a.add_option("--comment", o.comment, "why");
       },
       add},
      {"blocklist",
       "del",
       "unblock an address or prefix",
       {{"DELETE", "/api/v1/blocklist/{address}/{prefix_length}"}},
       [](CLI::App& a, Options& o) {
         a.add_option("cidr", o.cidr, "ADDRESS or ADDRESS/LEN")->required();
       },
       del},
      {"blocklist",
       "import",
       "add one CIDR per line from a file (- for stdin)",
       {{"POST", "/api/v1/blocklist/import"}},
       [](CLI::App& a, Options& o) {
         a.add_option("file", o.file, "file, or - for standard input")->required();
         a.add_option("--ttl", o.ttl, "seconds until the entries expire (0: never)");
         a.add_option("--comment", o.comment, "why");
       },
       import},
  };
}

}  // namespace xlbctl
