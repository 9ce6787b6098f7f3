// SPDX-License-Identifier: Apache-2.0
// Loads the configuration from YAML. Every invalid value is rejected with a message naming the
// key path and the offending value, e.g. `vips[0].ports[1]: "70000" is not a port (1-65535)`.
#pragma once

#include <string>
#include <string_view>
#include <variant>

#include "xlb/config.h"
#include "xlb/text.h"  // parseDuration, used with the loader

namespace xlb {

struct ConfigError {
  std::string message;
};

using ConfigResult = std::variant<Config, ConfigError>;

ConfigResult loadConfigString(std::string_view yaml);
ConfigResult loadConfigFile(const std::string& path);

}  // namespace xlb
