// SPDX-License-Identifier: Apache-2.0
// The expectations' JSON paths: a.b[0].c[key=value] (a key, an index, or the first array item
// whose key has the value).
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace xlb::sim {

// The value at `path`, or nullptr when any step does not exist.
const nlohmann::json* lookupPath(const nlohmann::json& root, const std::string& path);

}  // namespace xlb::sim
