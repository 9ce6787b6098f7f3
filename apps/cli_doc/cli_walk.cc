// SPDX-License-Identifier: Apache-2.0
#include "cli_walk.h"

namespace xlb::clidoc {
namespace {

// CLI::IsMember describes itself as "{a,b,c}" after the type: "TEXT:{table,json}".
std::vector<std::string> choicesOf(const std::string& typeName) {
  std::vector<std::string> out;
  const auto open = typeName.find(":{");
  const auto close = typeName.find('}', open);
  if (open == std::string::npos || close == std::string::npos) return out;
  std::string item;
  for (std::size_t i = open + 2; i < close; ++i) {
    if (typeName[i] == ',') {
      out.push_back(item);
      item.clear();
    } else {
      item += typeName[i];
    }
  }
  if (!item.empty()) out.push_back(item);
  return out;
}

OptionDoc optionDoc(const CLI::Option& o) {
  OptionDoc d;
  if (o.nonpositional()) {
    for (const std::string& s : o.get_snames()) d.names.push_back("-" + s);
    for (const std::string& l : o.get_lnames()) d.names.push_back("--" + l);
  } else {
    d.names.push_back(o.get_name(true));
  }
  const std::string type = o.get_type_name();
  // A positional argument's name is its placeholder; a flag takes no value.
  if (o.nonpositional() && o.get_expected_max() > 0) {
    d.value = type.substr(0, type.find(':'));
    if (d.value.empty()) d.value = "VALUE";
  }
  d.choices = choicesOf(type);
  d.defaultValue = o.get_default_str();
  d.help = o.get_description();
  if (!o.get_envname().empty()) d.help += " (environment: " + o.get_envname() + ")";
  d.required = o.get_required();
  return d;
}

void walk(const CLI::App& app, const std::string& path, std::vector<CommandDoc>& out) {
  for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; })) {
    const std::string subPath = path.empty() ? sub->get_name() : path + " " + sub->get_name();
    out.push_back(describe(*sub, subPath));
    walk(*sub, subPath, out);
  }
}

}  // namespace

CommandDoc describe(const CLI::App& app, const std::string& path) {
  CommandDoc c;
  c.path = path;
  c.help = app.get_description();
  for (const CLI::Option* o : app.get_options()) {
    // Every command has -h/--help; the page says it once, for the program.
    if (!path.empty() && o == app.get_help_ptr()) continue;
    (o->nonpositional() ? c.options : c.arguments).push_back(optionDoc(*o));
  }
  for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; })) {
    c.subcommands.push_back(sub->get_name());
  }
  return c;
}

std::vector<CommandDoc> describeCommands(const CLI::App& app) {
  std::vector<CommandDoc> out;
  walk(app, "", out);
  return out;
}

}  // namespace xlb::clidoc
