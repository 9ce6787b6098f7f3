// SPDX-License-Identifier: Apache-2.0
#include "xlb/blocklist.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "xlb/json_read.h"

namespace xlb {

using nlohmann::json;

namespace {

ControlError badRequest(std::string m) {
  return {Failure::kBadRequest, std::move(m)};
}

BlockEntry configuredEntry(const Prefix& p, std::int64_t now) {
  BlockEntry e;
  e.prefix = p;
  e.addedAt = now;
  e.fromConfig = true;
  e.comment = "configuration";
  return e;
}

}  // namespace

Blocklist::Key Blocklist::keyOf(const Prefix& p) noexcept {
  return Key{static_cast<std::uint8_t>(p.addr.family), p.addr.ip.bytes, p.length};
}

Blocklist::Blocklist(const std::vector<Prefix>& configured, std::int64_t now) {
  for (const Prefix& p : configured) entries_.emplace(keyOf(p), configuredEntry(p, now));
}

const BlockEntry* Blocklist::find(const Prefix& p) const noexcept {
  auto it = entries_.find(keyOf(p));
  return it == entries_.end() ? nullptr : &it->second;
}

bool Blocklist::add(BlockEntry e) {
  const Key k = keyOf(e.prefix);
  if (entries_.count(k) != 0) return false;
  std::erase(removedConfigured_, e.prefix);
  entries_.emplace(k, std::move(e));
  return true;
}

bool Blocklist::remove(const Prefix& p) {
  auto it = entries_.find(keyOf(p));
  if (it == entries_.end()) return false;
  if (it->second.fromConfig) removedConfigured_.push_back(p);
  entries_.erase(it);
  return true;
}

std::vector<Prefix> Blocklist::expired(std::int64_t now) const {
  std::vector<std::pair<std::int64_t, Prefix>> due;
  for (const auto& [k, e] : entries_) {
    if (hasExpired(e.expiresAt, now)) due.emplace_back(e.expiresAt, e.prefix);
  }
  std::sort(due.begin(), due.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<Prefix> out;
  out.reserve(due.size());
  for (auto& d : due) out.push_back(d.second);
  return out;
}

std::vector<BlockEntry> Blocklist::page(const std::string& after, std::size_t limit,
                                        bool& more) const {
  auto it = entries_.begin();
  if (!after.empty()) {
    if (auto p = Prefix::parse(after)) it = entries_.upper_bound(keyOf(*p));
  }
  std::vector<BlockEntry> out;
  for (; it != entries_.end() && out.size() < limit; ++it) out.push_back(it->second);
  more = it != entries_.end();
  return out;
}

std::vector<BlockEntry> Blocklist::all() const {
  std::vector<BlockEntry> out;
  for (const auto& [k, e] : entries_) out.push_back(e);
  return out;
}

Blocklist::Change Blocklist::rebase(const std::vector<Prefix>& configured, std::int64_t now) {
  Change out;
  auto named = [&](const Prefix& p) {
    return std::any_of(configured.begin(), configured.end(),
                       [&](const Prefix& c) { return keyOf(c) == keyOf(p); });
  };
  for (auto it = entries_.begin(); it != entries_.end();) {
    if (it->second.fromConfig && !named(it->second.prefix)) {
      out.removed.push_back(it->second.prefix);
      it = entries_.erase(it);
    } else {
      ++it;
    }
  }
  std::erase_if(removedConfigured_, [&](const Prefix& p) { return !named(p); });
  for (const Prefix& p : configured) {
    const bool removedByOperator =
        std::any_of(removedConfigured_.begin(), removedConfigured_.end(),
                    [&](const Prefix& r) { return keyOf(r) == keyOf(p); });
    if (removedByOperator || entries_.count(keyOf(p)) != 0) continue;
    entries_.emplace(keyOf(p), configuredEntry(p, now));
    out.added.push_back(p);
  }
  return out;
}

std::string Blocklist::overlayJson() const {
  json added = json::array();
  for (const auto& [k, e] : entries_) {
    if (e.fromConfig) continue;
    json item = {{"cidr", e.prefix.toString()},
                 {"comment", e.comment},
                 {"added_at", e.addedAt},
                 {"expires_at", e.expiresAt}};
    if (e.autoReason) item["auto_reason"] = sourceKindName(*e.autoReason);
    added.push_back(std::move(item));
  }
  json removed = json::array();
  for (const Prefix& p : removedConfigured_) removed.push_back(p.toString());
  return json{{"version", 1}, {"entries", added}, {"removed_configured", removed}}.dump(2);
}

std::optional<ModelError> Blocklist::applyOverlay(const std::string& text, std::int64_t now) {
  Blocklist next = *this;
  try {
    const json j = json::parse(text);
    if (const auto v = fieldInt<std::int64_t>(j, "version", INT64_MIN, INT64_MAX); v != 1) {
      return badRequest("unknown state version " + std::to_string(v));
    }
    for (const json& r : fieldArray(j, "removed_configured")) {
      auto p = Prefix::parse(jsonString(r, "removed_configured[]", 64));
      if (!p) return badRequest("bad prefix in removed_configured");
      next.remove(*p);
    }
    for (const json& je : fieldArray(j, "entries")) {
      auto p = Prefix::parse(fieldString(je, "cidr", 64));
      if (!p) return badRequest("bad prefix in entries");
      BlockEntry e;
      e.prefix = *p;
      e.comment = fieldString(je, "comment", kMaxBlockComment);
      e.addedAt = fieldInt<std::int64_t>(je, "added_at", 0, kMaxWallSeconds);
      e.expiresAt = fieldInt<std::int64_t>(je, "expires_at", 0, kMaxWallSeconds);
      if (je.contains("auto_reason")) {
        e.autoReason = sourceKindByName(fieldString(je, "auto_reason", 64));
        if (!e.autoReason) return badRequest("unknown auto_reason in entries");
      }
      if (hasExpired(e.expiresAt, now)) continue;  // expired while we were down
      next.add(std::move(e));
    }
  } catch (const json::exception& e) {
    return badRequest(std::string("malformed state: ") + e.what());
  } catch (const JsonReadError& e) {
    return badRequest(std::string("invalid state: ") + e.what());
  }
  *this = std::move(next);
  return std::nullopt;
}

}  // namespace xlb
