// SPDX-License-Identifier: Apache-2.0
#include "closed_loop.h"

#include "scenario.h"
#include "world.h"

namespace xlb::sim {

int runScenario(const std::string& path, std::ostream& log) {
  try {
    Scenario s = loadScenario(path);
    World w(s, log);
    return w.run();
  } catch (const ScenarioError& e) {
    log << "xlb-sim: " << path << ": " << e.message << "\n";
    return 2;
  }
}

}  // namespace xlb::sim
