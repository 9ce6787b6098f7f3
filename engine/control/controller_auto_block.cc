// SPDX-License-Identifier: Apache-2.0
// Automatic blocking in the Controller: the XDP program's crossings and the workers' (invalid
// ACKs), judged by AutoBlocker, become
// blocklist entries (source "auto", the reason, the configured TTL) through the same path as the
// API's, or log lines in observe mode. Settings change with PATCH /api/v1/config and persist in
// state_dir (auto_block.json) until the file's own settings change on a reload.
#include <spdlog/spdlog.h>

#include "controller_detail.h"
#include "xlb/auto_block_json.h"
#include "xlb/json_read.h"

namespace xlb {

using namespace controller_detail;
using nlohmann::json;

std::optional<ControlError> Controller::insertBlockLocked(const BlockEntry& e,
                                                          std::span<const Prefix> folded) {
  std::string err;
  bool exists = false;
  if (!deps_.prog->blockAdd(e.prefix, err, &exists) && !exists) {
    return ControlError{Failure::kFull, err};
  }
  // The automatic entries the new one folds leave the list in the same save, so the file never
  // holds both; the program keeps them until that save is done.
  std::vector<BlockEntry> gone;
  for (const Prefix& p : folded) {
    const BlockEntry* old = blocklist_.find(p);
    if (old == nullptr || !old->autoReason) continue;
    gone.push_back(*old);
    blocklist_.remove(p);
  }
  blocklist_.add(e);
  if (!saveBlocklist(err)) {
    blocklist_.remove(e.prefix);
    for (const BlockEntry& g : gone) blocklist_.add(g);
    deps_.prog->blockRemove(e.prefix);
    spdlog::error("{}", err);
    return ControlError{Failure::kInternal, "the change could not be persisted; nothing changed"};
  }
  for (const BlockEntry& g : gone) dropBlockLocked(g.prefix);
  return std::nullopt;
}

void Controller::dropBlockLocked(const Prefix& p) {
  deps_.prog->blockRemove(p);
  blocklist_.remove(p);
  autoBlock_.forget(p);
}

void Controller::autoBlockLocked(std::int64_t now) {
  events_.clear();
  deps_.prog->takeSourceEvents(events_);
  for (WorkerControl* w : deps_.workers) w->takeSourceEvents(events_);
  for (const SourceEvent& ev : events_) {
    const AutoBlockDecision d =
        autoBlock_.judge(ev, now, [&](const Prefix& p) { return blocklist_.find(p) != nullptr; });
    const char* kind = sourceKindName(ev.kind);
    switch (d.act) {
      case AutoBlockDecision::Act::kNone:
        break;
      case AutoBlockDecision::Act::kAllowed:
        spdlog::info(
            "auto-block: {} reached {} {} in a window; allowlisted, not blocked (reported "
            "once per TTL)",
            ev.source.toString(), ev.count, kind);
        break;
      case AutoBlockDecision::Act::kObserve:
        spdlog::warn("auto-block (observe): would block {} ({} {} in a window)",
                     ev.source.toString(), ev.count, kind);
        break;
      case AutoBlockDecision::Act::kBlock:
        applyAutoBlockLocked(d, ev, now);
        break;
    }
  }
}

void Controller::applyAutoBlockLocked(const AutoBlockDecision& d, const SourceEvent& ev,
                                      std::int64_t now) {
  const AutoBlockConfig& c = autoBlock_.config();
  BlockEntry e;
  e.prefix = d.prefix;
  e.autoReason = ev.kind;
  e.addedAt = now;
  const std::int64_t ttl = c.ttlSeconds();
  e.expiresAt = expiryAt(now, ttl);
  e.comment = d.replaced.empty()
                  ? ev.source.toString() + ": " + std::to_string(ev.count) + " " +
                        sourceKindName(ev.kind) + " in " + std::to_string(c.window / kNsPerMs) +
                        " ms"
                  : std::to_string(d.replaced.size() + 1) + " sources blocked inside it";
  if (auto failed = insertBlockLocked(e, d.replaced)) {
    spdlog::error("auto-block: {} not blocked: {}", d.prefix.toString(), failed->message);
    return;
  }
  spdlog::warn("auto-block: {} blocked for {} s ({}{})", d.prefix.toString(), ttl, e.comment,
               d.replaced.empty() ? "" : ", folded");
}

std::optional<ControlError> Controller::setAutoBlockLocked(const AutoBlockConfig& c) {
  const AutoBlockConfig before = autoBlock_.config();
  std::string err;
  autoBlock_.configure(c);
  if (!applyXdpLocked(err)) {
    autoBlock_.configure(before);
    applyXdpLocked(err);
    return ControlError{Failure::kInternal, "the XDP program refused the settings: " + err};
  }
  if (!saveAutoBlock(err)) {
    autoBlock_.configure(before);
    applyXdpLocked(err);
    spdlog::error("{}", err);
    return ControlError{Failure::kInternal, "the change could not be persisted; nothing changed"};
  }
  if (!(invalidAckLimit(before) == invalidAckLimit(c))) publishLocked();  // the workers count those
  spdlog::info("auto-block: mode {}", enumName(c.mode));
  return std::nullopt;
}

bool Controller::saveAutoBlock(std::string& error) {
  // The file's settings beside the running ones: a start or reload whose file says something
  // else than it did then takes the file's (the operator edited it since).
  return saveState(
      store_.get(), kAutoBlockFile,
      [&] {
        return json{{"version", 1},
                    {"file", autoBlockToJson(config_.autoBlock)},
                    {"running", autoBlockToJson(autoBlock_.config())}}
            .dump(2);
      },
      error);
}

void Controller::restoreAutoBlockLocked() {
  std::string err;
  const std::optional<std::string> text = store_->load(kAutoBlockFile, err);
  if (!text) {
    if (!err.empty()) spdlog::error("{}", err);
    return;
  }
  try {
    const json j = json::parse(*text);
    fieldInt<int>(j, "version", 1, 1);  // throws on any other
    const AutoBlockConfig file = autoBlockFromJson(jsonField(j, "file"), AutoBlockConfig{});
    if (!(file == config_.autoBlock)) {
      spdlog::info("{}/{}: the file's auto_block changed since the last PATCH; the file's applies",
                   store_->dir(), kAutoBlockFile);
      return;
    }
    autoBlock_.configure(autoBlockFromJson(jsonField(j, "running"), AutoBlockConfig{}));
    spdlog::info("restored automatic blocking's settings ({}/{}): mode {}", store_->dir(),
                 kAutoBlockFile, enumName(autoBlock_.config().mode));
  } catch (const std::exception& e) {
    spdlog::error("{}/{}: {}; moved aside, starting from the configuration", store_->dir(),
                  kAutoBlockFile, e.what());
    store_->quarantine(kAutoBlockFile);
  }
}

AutoBlockFigures Controller::autoBlockFigures() const {
  std::lock_guard lock(mutex_);
  return autoBlock_.figures();
}

}  // namespace xlb
