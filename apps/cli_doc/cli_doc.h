// SPDX-License-Identifier: Apache-2.0
// Documentation generated from a program's own CLI11 definitions, so that the man pages and the
// bash completion cannot drift from the options the program accepts: each program answers the
// hidden arguments `--man` and `--bash-completion` by rendering the CLI::App it parses with.
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace xlb::clidoc {

// A prose section of a man page (DESCRIPTION, FILES, SIGNALS, ...). Paragraphs are separated by
// blank lines; a paragraph whose first line starts with "- " is a list, one item per "- " line;
// a line "term: text" inside a list renders the term in bold.
struct ManSection {
  std::string title;
  std::string body;
};

struct ManPage {
  std::string name;                // xlbd
  int section = 8;                 // 1 user commands, 8 system administration
  std::string summary;             // the NAME line's text after the dash
  std::vector<ManSection> before;  // sections between SYNOPSIS and OPTIONS (DESCRIPTION)
  std::vector<ManSection> after;   // sections after OPTIONS and COMMANDS
};

// The man page in roff (man macros) for app: NAME, SYNOPSIS, the prose before, OPTIONS, COMMANDS
// (every subcommand, nested, with its arguments and options), the prose after.
std::string renderMan(const CLI::App& app, const ManPage& page);

// A bash completion script for app: subcommands at every level, each level's options, the values
// of options checked with CLI::IsMember, and file names for other values.
std::string renderBashCompletion(const CLI::App& app, std::string_view program);

// Serves `--man` and `--bash-completion` when either is the only argument: prints the rendering
// to standard output and returns true. Checked before parsing, because a program that requires a
// subcommand would refuse the bare option.
bool printIfAsked(int argc, char** argv, const CLI::App& app, const ManPage& page);

// The documented pages of xlb's programs (prose only; the options come from the CLI::App).
ManPage xlbdPage();
ManPage xlbctlPage();
ManPage xlbSimPage();

}  // namespace xlb::clidoc
