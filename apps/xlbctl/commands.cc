// SPDX-License-Identifier: Apache-2.0
#include "commands.h"

namespace xlbctl {

std::vector<Command> blocklistCommands();
std::vector<Command> serviceCommands();
std::vector<Command> statusCommands();
std::vector<Command> clusterCommands();

const std::vector<std::pair<std::string_view, std::string_view>>& groups() {
  static const std::vector<std::pair<std::string_view, std::string_view>> g = {
      {"blocklist", "list, add, delete and import blocklist entries"},
      {"vips", "list, add and remove VIPs"},
      {"backends", "list, add, change and remove a VIP's backends"},
      {"conns", "list and kill connections"},
      {"config", "show the running configuration, change a VIP's settings, reload the file"},
      {"cluster", "a cluster member's state; drain it and bring it back"},
  };
  return g;
}

const std::vector<Command>& commands() {
  static const std::vector<Command> all = [] {
    std::vector<Command> c;
    for (auto part :
         {blocklistCommands(), serviceCommands(), statusCommands(), clusterCommands()}) {
      c.insert(c.end(), part.begin(), part.end());
    }
    return c;
  }();
  return all;
}

}  // namespace xlbctl
