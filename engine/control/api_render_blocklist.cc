// SPDX-License-Identifier: Apache-2.0
// Blocklist entries rendered from the Controller's views; times as ISO 8601 UTC.
#include <time.h>

#include "api_render.h"

namespace xlb::render {

using nlohmann::json;

namespace {

// "2026-11-30T20:04:38Z", or null for 0 (never).
json isoOrNull(std::int64_t t) {
  if (t == 0) return nullptr;
  const auto tt = static_cast<time_t>(t);
  tm g{};
  gmtime_r(&tt, &g);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &g);
  return std::string(buf);
}

// The kind of behaviour automatic blocking saw, or null for an entry made by hand.
json autoReason(const BlockEntry& e) {
  if (!e.autoReason) return nullptr;
  return sourceKindName(*e.autoReason);
}

}  // namespace

json blockAdded(const BlockEntry& e) {
  return {{"cidr", e.prefix.toString()},
          {"added_at", isoOrNull(e.addedAt)},
          {"expires_at", isoOrNull(e.expiresAt)},
          {"comment", e.comment}};
}

json blockPage(const BlockPage& p) {
  json items = json::array();
  for (const BlockView& v : p.items) {
    items.push_back({{"cidr", v.entry.prefix.toString()},
                     {"hits", v.hits},
                     {"last_hit", isoOrNull(v.lastHit)},
                     {"added_at", isoOrNull(v.entry.addedAt)},
                     {"expires_at", isoOrNull(v.entry.expiresAt)},
                     {"comment", v.entry.comment},
                     {"source", v.entry.source()},
                     {"reason", autoReason(v.entry)}});
  }
  json j = {{"items", items}, {"total", p.total}, {"next", nullptr}};
  if (p.more && !p.items.empty()) j["next"] = p.items.back().entry.prefix.toString();
  return j;
}

}  // namespace xlb::render
