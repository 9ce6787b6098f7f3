// SPDX-License-Identifier: Apache-2.0
// Automatic blocking's settings as JSON: GET and PATCH /api/v1/config and state_dir's
// auto_block.json use this one form (durations in ms and s, as the API's other settings).
#pragma once

#include <nlohmann/json.hpp>

#include "xlb/config.h"

namespace xlb {

nlohmann::json autoBlockToJson(const AutoBlockConfig& c);
// `base` with the fields `j` names replaced; every field is checked against the bounds in
// config.h. Throws JsonReadError naming the field.
AutoBlockConfig autoBlockFromJson(const nlohmann::json& j, const AutoBlockConfig& base);

}  // namespace xlb
