// SPDX-License-Identifier: Apache-2.0
// Automatic blocking's settings as JSON: GET and PATCH /api/v1/config and state_dir's
// auto_block.json use this one form (durations in ms and s, as the API's other settings).
#pragma once

#include <nlohmann/json.hpp>

#include "xlb/auto_block.h"
#include "xlb/config.h"

namespace xlb {

nlohmann::json autoBlockToJson(const AutoBlockConfig& c);
// The fields `j` names, each checked against the bounds in config.h. Throws JsonReadError naming
// the field.
AutoBlockPatch autoBlockPatchFromJson(const nlohmann::json& j);
// `base` with the fields `j` names replaced (the state file).
inline AutoBlockConfig autoBlockFromJson(const nlohmann::json& j, const AutoBlockConfig& base) {
  return autoBlockPatchFromJson(j).applyTo(base);
}

}  // namespace xlb
