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

BlockPage Controller::listBlocklist(const std::string& after, std::size_t limit) const {
  std::lock_guard lock(mutex_);
  BlockPage out;
  const std::vector<BlockEntry> page = blocklist_.page(after, limit, out.more);
  out.total = blocklist_.size();
  const std::int64_t wall = clock_();
  const TimeNs mono = monotonicNow();
  for (const BlockEntry& e : page) {
    BlockView v{e, 0, 0};
    if (const std::optional<BlockHits> h = deps_.prog->blockHits(e.prefix)) {
      v.hits = h->hits;
      if (h->lastHitNs != 0 && h->lastHitNs <= mono) {
        v.lastHit = wall - static_cast<std::int64_t>((mono - h->lastHitNs) / kNsPerSec);
      }
    }
    out.items.push_back(std::move(v));
  }
  return out;
}

std::variant<BlockEntry, ControlError> Controller::addBlock(const Prefix& p,
                                                            std::int64_t ttlSeconds,
                                                            const std::string& comment) {
  std::lock_guard lock(mutex_);
  if (blocklist_.find(p) != nullptr) {
    return ControlError{Failure::kConflict, p.toString() + " is already on the blocklist"};
  }
  BlockEntry e;
  e.prefix = p;
  e.comment = comment;
  e.addedAt = clock_();
  e.expiresAt = expiryAt(e.addedAt, ttlSeconds);
  if (auto failed = insertBlockLocked(e)) return *failed;
  spdlog::info("blocklist: {} added{}", p.toString(),
               ttlSeconds > 0 ? " for " + std::to_string(ttlSeconds) + " s" : "");
  return e;
}

std::optional<ControlError> Controller::removeBlock(const Prefix& p) {
  std::lock_guard lock(mutex_);
  const BlockEntry* found = blocklist_.find(p);
  if (found == nullptr) {
    return ControlError{Failure::kNotFound, p.toString() + " is not on the blocklist"};
  }
  const BlockEntry saved = *found;
  blocklist_.remove(p);
  std::string err;
  if (!saveBlocklist(err)) {
    blocklist_.add(saved);
    spdlog::error("{}", err);
    return ControlError{Failure::kInternal, "the change could not be persisted; nothing changed"};
  }
  deps_.prog->blockRemove(p);
  autoBlock_.forget(p);
  spdlog::info("blocklist: {} removed", p.toString());
  return std::nullopt;
}

std::variant<ImportOutcome, ControlError> Controller::importBlocklist(
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
    be.expiresAt = expiryAt(now, ttlSeconds);
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
    return ControlError{Failure::kInternal, "the change could not be persisted; nothing changed"};
  }
  spdlog::info("blocklist: import accepted {}, rejected {}", out.accepted, out.rejected.size());
  return out;
}

// ---- VIPs and backends ----

}  // namespace xlb
