// SPDX-License-Identifier: Apache-2.0
// Loads the configuration from YAML. Every invalid value is rejected with a message naming the
// key path and the offending value, e.g. `vips[0].ports[1]: "70000" is not a port (1-65535)`.
#pragma once

#include <string>
#include <string_view>
#include <variant>

#include "xlb/config.h"

namespace xlb {

struct ConfigError {
  std::string message;
};

using ConfigResult = std::variant<Config, ConfigError>;

ConfigResult loadConfigString(std::string_view yaml);
ConfigResult loadConfigFile(const std::string& path);

// "5s", "500ms", "2m", "1h" -> nanoseconds; nullopt for anything else.
std::optional<TimeNs> parseDuration(std::string_view text);

}  // namespace xlb
