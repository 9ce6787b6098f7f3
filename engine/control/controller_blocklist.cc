// SPDX-License-Identifier: Apache-2.0
// The Controller's blocklist changes: each reaches the map, memory and state_dir, or none.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <sstream>

#include "controller_detail.h"

namespace xlb {

using nlohmann::json;
using namespace controller_detail;

ApiResult Controller::listBlocklist(const std::string& after, std::size_t limit) const {
  std::lock_guard lock(mutex_);
  bool more = false;
  const std::vector<BlockEntry> page = blocklist_.page(after, limit, more);
  const std::int64_t wall = clock_();
  const TimeNs mono = monotonicNow();
  json items = json::array();
  for (const BlockEntry& e : page) {
    const std::optional<BlockHits> h = deps_.prog->blockHits(e.prefix);
    std::string lastHit;
    if (h && h->lastHitNs != 0 && h->lastHitNs <= mono) {
      lastHit = iso8601(wall - static_cast<std::int64_t>((mono - h->lastHitNs) / kNsPerSec));
    }
    items.push_back({{"cidr", e.prefix.toString()},
                     {"hits", h ? h->hits : 0},
                     {"last_hit", nullOr(lastHit)},
                     {"added_at", iso8601(e.addedAt)},
                     {"expires_at", nullOr(iso8601(e.expiresAt))},
                     {"comment", e.comment},
                     {"source", e.fromConfig ? "config" : "api"}});
  }
  json j = {{"items", items}, {"total", blocklist_.size()}};
  j["next"] = more && !page.empty() ? json(page.back().prefix.toString()) : json(nullptr);
  return ApiResult{200, j};
}

ApiResult Controller::addBlock(const Prefix& p, std::int64_t ttlSeconds,
                               const std::string& comment) {
  std::lock_guard lock(mutex_);
  if (blocklist_.find(p) != nullptr) {
    return ApiResult::error(409, "conflict", p.toString() + " is already on the blocklist");
  }
  std::string err;
  bool exists = false;
  if (!deps_.prog->blockAdd(p, err, &exists) && !exists) {
    return ApiResult::error(507, "blocklist_full", err);
  }
  BlockEntry e;
  e.prefix = p;
  e.comment = comment;
  e.addedAt = clock_();
  e.expiresAt = ttlSeconds > 0 ? e.addedAt + ttlSeconds : 0;
  blocklist_.add(e);
  if (!saveBlocklist(err)) {
    blocklist_.remove(p);
    deps_.prog->blockRemove(p);
    spdlog::error("{}", err);
    return ApiResult::error(500, "internal", "the change could not be persisted; nothing changed");
  }
  spdlog::info("blocklist: {} added{}", p.toString(),
               ttlSeconds > 0 ? " for " + std::to_string(ttlSeconds) + " s" : "");
  return ApiResult{201,
                   {{"cidr", p.toString()},
                    {"added_at", iso8601(e.addedAt)},
                    {"expires_at", nullOr(iso8601(e.expiresAt))},
                    {"comment", comment}}};
}

ApiResult Controller::removeBlock(const Prefix& p) {
  std::lock_guard lock(mutex_);
  const BlockEntry* found = blocklist_.find(p);
  if (found == nullptr) {
    return ApiResult::error(404, "not_found", p.toString() + " is not on the blocklist");
  }
  const BlockEntry saved = *found;
  blocklist_.remove(p);
  std::string err;
  if (!saveBlocklist(err)) {
    blocklist_.add(saved);
    spdlog::error("{}", err);
    return ApiResult::error(500, "internal", "the change could not be persisted; nothing changed");
  }
  deps_.prog->blockRemove(p);
  spdlog::info("blocklist: {} removed", p.toString());
  return ApiResult{204, nullptr};
}

std::variant<ImportOutcome, ApiResult> Controller::importBlocklist(
    const std::vector<ImportLine>& lines, std::int64_t ttlSeconds, const std::string& comment) {
  std::lock_guard lock(mutex_);
  ImportOutcome out;
  std::vector<Prefix> added;
  const std::int64_t now = clock_();
  for (const ImportLine& l : lines) {
    if (blocklist_.find(l.prefix) != nullptr) {
      out.rejected.push_back({l.line, l.text, "already on the blocklist"});
      continue;
    }
    std::string err;
    bool exists = false;
    if (!deps_.prog->blockAdd(l.prefix, err, &exists) && !exists) {
      out.rejected.push_back({l.line, l.text, err});
      continue;
    }
    BlockEntry be;
    be.prefix = l.prefix;
    be.comment = comment;
    be.addedAt = now;
    be.expiresAt = ttlSeconds > 0 ? now + ttlSeconds : 0;
    blocklist_.add(be);
    added.push_back(l.prefix);
    ++out.accepted;
  }
  std::string err;
  if (!added.empty() && !saveBlocklist(err)) {
    for (const Prefix& p : added) {
      blocklist_.remove(p);
      deps_.prog->blockRemove(p);
    }
    spdlog::error("{}", err);
    return ApiResult::error(500, "internal", "the change could not be persisted; nothing changed");
  }
  spdlog::info("blocklist: import accepted {}, rejected {}", out.accepted, out.rejected.size());
  return out;
}

// ---- VIPs and backends ----

}  // namespace xlb
