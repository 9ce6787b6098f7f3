// SPDX-License-Identifier: Apache-2.0
// xlbctl: the command-line client of xlbd's REST API (libcurl). The commands come from one table
// (xlbctl/commands.h) that mirrors the API's routes. Every API error becomes a message on stderr
// and a non-zero exit: 1 for an error the API reported, 2 for usage errors, 3 when the API cannot
// be reached.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <string>

#include "cli_doc.h"
#include "xlb/text.h"
#include "xlbctl/commands.h"

namespace {

using xlbctl::Options;
using xlbctl::Session;

// The token from --token-file, XLB_TOKEN_FILE or the default path when readable.
bool readToken(std::string tokenFile, Session& s) {
  if (tokenFile.empty() && ::access("/var/lib/xlb/api-token", R_OK) == 0) {
    tokenFile = "/var/lib/xlb/api-token";
  }
  if (tokenFile.empty()) return true;
  std::ifstream f(tokenFile);
  if (!f || !std::getline(f, s.token)) {
    std::cerr << "xlbctl: cannot read the token file " << tokenFile << "\n";
    return false;
  }
  return true;
}

int run(int argc, char** argv) {
  CLI::App app{"xlbctl: control a running xlbd through its REST API"};
  app.require_subcommand(1);
  Session session;
  if (const char* e = std::getenv("XLB_API")) session.api = e;
  const char* tokenEnv = std::getenv("XLB_TOKEN_FILE");
  std::string tokenFile = tokenEnv != nullptr ? tokenEnv : "";
  std::string output = "table";
  app.add_option("--api", session.api, "API base URL (env XLB_API)")->capture_default_str();
  app.add_option("--token-file", tokenFile,
                 "file holding the API token (env XLB_TOKEN_FILE; default /var/lib/xlb/api-token "
                 "when readable)");
  app.add_option("-o,--output", output, "table or json")->check(CLI::IsMember({"table", "json"}));

  std::map<std::string_view, CLI::App*> group;
  for (const auto& [name, help] : xlbctl::groups()) {
    group[name] = app.add_subcommand(std::string(name), std::string(help));
    group[name]->require_subcommand(1);
  }
  Options options;
  std::vector<std::pair<CLI::App*, const xlbctl::Command*>> parsed;
  for (const xlbctl::Command& c : xlbctl::commands()) {
    CLI::App& parent = c.group.empty() ? app : *group.at(c.group);
    CLI::App* sub = parent.add_subcommand(std::string(c.name), std::string(c.help));
    c.define(*sub, options);
    parsed.emplace_back(sub, &c);
  }

  if (xlb::clidoc::printIfAsked(argc, argv, app, xlb::clidoc::xlbctlPage())) return 0;
  CLI11_PARSE(app, argc, argv);
  if (!xlb::validUtf8(options.comment)) {
    std::cerr << "xlbctl: --comment is not valid UTF-8\n";
    return xlbctl::kExitUsage;
  }
  if (!readToken(tokenFile, session)) return xlbctl::kExitUsage;
  while (!session.api.empty() && session.api.back() == '/') session.api.pop_back();
  session.asJson = output == "json";
  for (const auto& [sub, command] : parsed) {
    if (sub->parsed()) return command->run(session, options);
  }
  return xlbctl::kExitUsage;
}

}  // namespace

int main(int argc, char** argv) {
  // Nothing the user types may end in an abort: an unexpected exception is a clear message.
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "xlbctl: error: " << e.what() << "\n";
    return 1;
  }
}
