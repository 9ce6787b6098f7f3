// SPDX-License-Identifier: Apache-2.0
#include "xlb/auto_block.h"

#include <algorithm>

namespace xlb {

AutoBlockConfig AutoBlockPatch::applyTo(AutoBlockConfig c) const {
  if (mode) c.mode = *mode;
  if (window) c.window = *window;
  for (std::size_t i = 0; i < kSourceKindCount; ++i) {
    if (limits[i]) c.limits[i] = *limits[i];
  }
  if (ttl) c.ttl = *ttl;
  if (foldV4) c.foldV4 = *foldV4;
  if (foldV6) c.foldV6 = *foldV6;
  if (foldSources) c.foldSources = *foldSources;
  if (allow) c.allow = *allow;
  return c;
}

Prefix AutoBlocker::hostPrefix(const Address& a) {
  return Prefix{a, static_cast<std::uint8_t>(a.bitLength())};
}

Prefix AutoBlocker::foldPrefix(const Address& a) const {
  return Prefix::of(a, a.family == Family::kV4 ? config_.foldV4 : config_.foldV6);
}

bool AutoBlocker::allowed(const Address& a) const {
  return std::any_of(config_.allow.begin(), config_.allow.end(),
                     [&](const Prefix& p) { return p.contains(a); });
}

AutoBlockDecision AutoBlocker::decide(const SourceEvent& e, const Prefix& host, const Prefix& fold,
                                      std::int64_t now) {
  const auto kind = static_cast<std::size_t>(e.kind);
  AutoBlockDecision d;
  d.prefix = host;
  if (allowed(e.source)) {
    // Counted every time, reported once per TTL: a health checker above a limit crosses it in
    // every window, and a log line per window per checker buries everything else.
    ++figures_.allowed[kind];
    if (firstReport(host, now)) d.act = AutoBlockDecision::Act::kAllowed;
    return d;
  }
  if (config_.mode == AutoBlockMode::kObserve) {
    if (!firstReport(host, now)) {
      ++figures_.repeated[kind];
      return {};
    }
    ++figures_.observed[kind];
    d.act = AutoBlockDecision::Act::kObserve;
    return d;
  }
  ++figures_.blocked[kind];
  d.act = AutoBlockDecision::Act::kBlock;
  if (config_.foldSources == 0) return d;
  // A fold prefix may hold allowlisted addresses: then its sources stay single entries.
  const bool foldAllowed =
      std::any_of(config_.allow.begin(), config_.allow.end(), [&](const Prefix& a) {
        return a.addr.family == fold.addr.family &&
               (fold.contains(a.addr) || a.contains(fold.addr));
      });
  std::vector<Offender>& peers = byFold_[fold];
  std::erase_if(peers, [&](const Offender& o) { return hasExpired(o.expiresAt, now); });
  peers.push_back({e.source, expiryAt(now, config_.ttlSeconds())});
  if (foldAllowed || peers.size() < config_.foldSources) return d;
  d.prefix = fold;
  for (const Offender& o : peers) {
    if (!(o.source == e.source)) d.replaced.push_back(hostPrefix(o.source));
  }
  byFold_.erase(fold);
  ++figures_.folds;
  return d;
}

bool AutoBlocker::firstReport(const Prefix& host, std::int64_t now) {
  const std::int64_t until = expiryAt(now, config_.ttlSeconds());
  if (const auto it = reported_.find(host); it != reported_.end()) {
    if (!hasExpired(it->second, now)) return false;
    it->second = until;
    return true;
  }
  // Full: sweep out what has expired, at most once a second, so a flood of new sources while
  // it stays full costs a lookup each, not a pass over every source remembered.
  if (reported_.size() >= kReportedMax && now != lastSweep_) {
    lastSweep_ = now;
    std::erase_if(reported_, [&](const auto& kv) { return hasExpired(kv.second, now); });
  }
  if (reported_.size() < kReportedMax) reported_.emplace(host, until);
  return true;
}

void AutoBlocker::forget(const Prefix& p) {
  if (p.length != p.addr.bitLength()) {
    byFold_.erase(p);
    return;
  }
  const auto it = byFold_.find(foldPrefix(p.addr));
  if (it == byFold_.end()) return;
  std::erase_if(it->second, [&](const Offender& o) { return o.source == p.addr; });
  if (it->second.empty()) byFold_.erase(it);
}

}  // namespace xlb
