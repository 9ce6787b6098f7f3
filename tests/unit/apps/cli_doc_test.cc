// SPDX-License-Identifier: Apache-2.0
// The man page and bash completion rendered from a CLI::App: what the app declares is what the
// page documents and what the completion offers (the completion is run in a real bash).
#include "cli_doc.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>

namespace xlb::clidoc {
namespace {

struct Fixture {
  CLI::App app{"tool: does things"};
  std::string output = "table", file, name;
  unsigned ttl = 0;
  bool all = false;
  CLI::App* group = nullptr;

  Fixture() {
    app.add_option("-o,--output", output, "table or json")
        ->check(CLI::IsMember({"table", "json"}))
        ->capture_default_str();
    group = app.add_subcommand("things", "manage things");
    CLI::App* add = group->add_subcommand("add", "add a thing");
    add->add_option("name", name, "the thing's name")->required();
    add->add_option("--ttl", ttl, "seconds to keep it");
    add->add_flag("--all", all, "every one");
    app.add_subcommand("load", "load a file")->add_option("--from", file, ".dotted help");
  }
};

ManPage page() {
  ManPage p;
  p.name = "tool";
  p.section = 8;
  p.summary = "a test tool";
  p.before.push_back({"DESCRIPTION", "First paragraph.\n\n- term: its text\n- a bullet"});
  p.after.push_back({"SEE ALSO", "other(1)"});
  return p;
}

TEST(CliDoc, TheManPageDocumentsEveryOptionAndCommandTheAppDeclares) {
  Fixture f;
  const std::string man = renderMan(f.app, page());
  EXPECT_NE(man.find(".TH TOOL 8"), std::string::npos) << man;
  EXPECT_NE(man.find("tool \\- a test tool"), std::string::npos);
  EXPECT_NE(man.find("\\fB\\-o\\fR, \\fB\\-\\-output\\fR \\fITEXT\\fR\ntable or json. One of: "
                     "\\fBtable\\fR, \\fBjson\\fR. Default: \\fBtable\\fR."),
            std::string::npos)
      << man;
  EXPECT_NE(man.find(".SS \"tool things add \\fIname\\fR [\\fIOPTIONS\\fR]\"\nadd a thing"),
            std::string::npos)
      << man;
  EXPECT_NE(man.find("\\fBname\\fR\nthe thing's name. Required."), std::string::npos) << man;
  EXPECT_NE(man.find("\\fB\\-\\-all\\fR\nevery one."), std::string::npos) << man;
  EXPECT_NE(man.find("\\fB\\-\\-ttl\\fR \\fIUINT\\fR"), std::string::npos) << man;
  // A line that would start with a dot is escaped, not taken for a request.
  EXPECT_NE(man.find("\n\\&.dotted help."), std::string::npos) << man;
  // The help option is documented once, for the program, not under every command.
  EXPECT_EQ(man.find("\\-\\-help"), man.rfind("\\-\\-help")) << man;
  // Prose: a list item with a term, a bullet, the sections in order.
  EXPECT_NE(man.find(".TP\n\\fBterm\\fR\nits text"), std::string::npos) << man;
  EXPECT_NE(man.find(".IP \\(bu 2\na bullet"), std::string::npos) << man;
  EXPECT_LT(man.find(".SH DESCRIPTION"), man.find(".SH OPTIONS"));
  EXPECT_LT(man.find(".SH OPTIONS"), man.find(".SH COMMANDS"));
  EXPECT_LT(man.find(".SH COMMANDS"), man.find(".SH SEE ALSO"));
}

// Sources the script in bash, sets the words typed so far and prints COMPREPLY.
std::string complete(const std::string& script, const std::string& words) {
  const std::filesystem::path path =
      std::filesystem::temp_directory_path() / ("xlb-completion-" + std::to_string(::getpid()));
  std::ofstream(path) << script;
  const std::string cmd = "bash -c 'source " + path.string() + "; COMP_WORDS=(" + words +
                          "); COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 )); _tool; "
                          "echo \"${COMPREPLY[*]}\"'";
  std::string out;
  if (FILE* p = ::popen(cmd.c_str(), "r")) {
    std::array<char, 512> buf{};
    while (std::fgets(buf.data(), buf.size(), p) != nullptr) out += buf.data();
    ::pclose(p);
  }
  std::filesystem::remove(path);
  if (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

TEST(CliDoc, TheCompletionOffersCommandsOptionsAndChoicesWhereTheyApply) {
  Fixture f;
  const std::string script = renderBashCompletion(f.app, "tool");
  EXPECT_NE(script.find("complete -F _tool tool"), std::string::npos);
  EXPECT_EQ(complete(script, "tool \"\""), "things load");
  EXPECT_EQ(complete(script, "tool th"), "things");
  EXPECT_EQ(complete(script, "tool -\"\""), "-h --help -o --output");
  EXPECT_EQ(complete(script, "tool --output \"\""), "table json");
  EXPECT_EQ(complete(script, "tool -o js"), "json");
  // An option's value is skipped on the way to the command it precedes.
  EXPECT_EQ(complete(script, "tool -o json things \"\""), "add");
  EXPECT_EQ(complete(script, "tool things add x --"), "--ttl --all");
  // After a value-taking option the value is a file name, not a command.
  EXPECT_EQ(complete(script, "tool things add x --ttl 5 --a"), "--all");
}

}  // namespace
}  // namespace xlb::clidoc
