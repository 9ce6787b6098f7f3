// SPDX-License-Identifier: Apache-2.0
// What a CLI::App declares, read once into plain records that the man page and the completion
// script render: the two renderings cannot disagree about an option.
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

namespace xlb::clidoc {

struct OptionDoc {
  std::vector<std::string> names;    // "-o", "--output"; a positional argument: its name
  std::string value;                 // the value's placeholder (TEXT, UINT); empty for a flag
  std::vector<std::string> choices;  // from CLI::IsMember
  std::string defaultValue;
  std::string help;
  bool required = false;
};

struct CommandDoc {
  std::string path;  // "vips add" (empty for the program itself)
  std::string help;
  std::vector<OptionDoc> arguments;  // positional
  std::vector<OptionDoc> options;
  std::vector<std::string> subcommands;
};

CommandDoc describe(const CLI::App& app, const std::string& path);

// Every subcommand below app, depth first, in the order they were added.
std::vector<CommandDoc> describeCommands(const CLI::App& app);

}  // namespace xlb::clidoc
