// SPDX-License-Identifier: Apache-2.0
#include "json_path.h"

#include <charconv>

namespace xlb::sim {

const nlohmann::json* lookupPath(const nlohmann::json& root, const std::string& path) {
  const nlohmann::json* cur = &root;
  std::size_t i = 0;
  while (i < path.size() && cur != nullptr) {
    if (path[i] == '.') {
      ++i;
      continue;
    }
    if (path[i] == '[') {
      const auto close = path.find(']', i);
      if (close == std::string::npos) return nullptr;
      const std::string sel = path.substr(i + 1, close - i - 1);
      i = close + 1;
      if (!cur->is_array()) return nullptr;
      const auto eq = sel.find('=');
      if (eq == std::string::npos) {
        std::size_t idx = 0;
        auto [p, ec] = std::from_chars(sel.data(), sel.data() + sel.size(), idx);
        if (ec != std::errc() || idx >= cur->size()) return nullptr;
        cur = &(*cur)[idx];
      } else {
        const std::string k = sel.substr(0, eq), v = sel.substr(eq + 1);
        const nlohmann::json* found = nullptr;
        for (const nlohmann::json& item : *cur) {
          if (item.contains(k) && ((item[k].is_string() && item[k] == v) ||
                                   (!item[k].is_string() && item[k].dump() == v))) {
            found = &item;
            break;
          }
        }
        cur = found;
      }
      continue;
    }
    const auto end = path.find_first_of(".[", i);
    const std::string key = path.substr(i, end == std::string::npos ? std::string::npos : end - i);
    i = end == std::string::npos ? path.size() : end;
    if (!cur->is_object() || !cur->contains(key)) return nullptr;
    cur = &(*cur)[key];
  }
  return cur;
}

}  // namespace xlb::sim
