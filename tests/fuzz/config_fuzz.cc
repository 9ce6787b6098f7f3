// SPDX-License-Identifier: Apache-2.0
// libFuzzer target: the YAML configuration loader (engine/config). A document is loaded or
// refused with a message; what it loads is valid by construction, so the checks inner layers
// rely on (checkConfig) pass on it and the engine builds its snapshot from it.
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_support.h"
#include "harness.h"
#include "xlb/config_yaml.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace xlb;
  if (size > 64 * 1024) return 0;
  const ConfigResult r =
      loadConfigString(std::string_view(reinterpret_cast<const char*>(data), size));
  if (const auto* e = std::get_if<ConfigError>(&r)) {
    if (e->message.empty()) fuzz::finding("config-fuzz", "refused without a message");
    return 0;
  }
  const Config& c = std::get<Config>(r);
  if (const std::string why = checkConfig(c); !why.empty()) {
    fuzz::finding("config-fuzz", "loaded a configuration checkConfig refuses: " + why);
  }
  // A small prime Maglev table, as the API target's: the default's 65,537 entries per VIP were
  // half of this target's time, and the table's size does not depend on the configuration.
  constexpr std::uint32_t kMaglevSize = 251;
  if (!Snapshot::fromConfig(c, *MacAddr::parse(testing::kLbMac), testing::backendMac,
                            kMaglevSize)) {
    fuzz::finding("config-fuzz", "loaded a configuration the engine cannot build");
  }
  return 0;
}
