// SPDX-License-Identifier: Apache-2.0
#include "xlb/controller.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "controller_detail.h"
#include "xlb/boundary.h"

namespace xlb {

using nlohmann::json;
using namespace controller_detail;

Controller::Controller(const Config& config, ControllerDeps deps, std::unique_ptr<StateStore> store,
                       Clock clock)
    : config_(config),
      deps_(std::move(deps)),
      store_(std::move(store)),
      clock_(clock ? std::move(clock) : Clock(wallNow)),
      model_(config),
      blocklist_(config.blocklist, clock_()),
      started_(std::chrono::steady_clock::now()),
      autoBlock_(config.autoBlock) {}

bool Controller::start(std::string& error) {
  std::lock_guard lock(mutex_);
  if (store_) {
    if (!store_->open(error)) return false;
    std::string readErr;
    if (auto text = store_->load(kBackendsFile, readErr)) {
      if (auto e = model_.applyOverlay(*text)) {
        spdlog::error("{}/{}: {}; moved aside, starting from the configuration", store_->dir(),
                      kBackendsFile, e->message);
        store_->quarantine(kBackendsFile);
      } else {
        spdlog::info("restored runtime backend changes from {}/{}", store_->dir(), kBackendsFile);
      }
    } else if (!readErr.empty()) {
      error = readErr;
      return false;
    }
    if (auto text = store_->load(kBlocklistFile, readErr)) {
      if (auto e = blocklist_.applyOverlay(*text, clock_())) {
        spdlog::error("{}/{}: {}; moved aside, starting from the configuration", store_->dir(),
                      kBlocklistFile, e->message);
        store_->quarantine(kBlocklistFile);
      } else {
        spdlog::info("restored {} blocklist entries ({}/{})", blocklist_.size(), store_->dir(),
                     kBlocklistFile);
      }
    } else if (!readErr.empty()) {
      error = readErr;
      return false;
    }
    restoreAutoBlockLocked();
  }
  for (const BlockEntry& e : blocklist_.all()) {
    bool exists = false;
    if (!deps_.prog->blockAdd(e.prefix, error, &exists) && !exists) {
      error = "blocklist " + e.prefix.toString() + ": " + error;
      return false;
    }
  }
  error.clear();
  if (!applyXdpLocked(error)) return false;
  publishLocked();
  return true;
}

bool Controller::applyXdpLocked(std::string& error) {
  Config c = model_.effectiveConfig();
  c.autoBlock = autoBlock_.config();  // PATCH may have changed the file's
  return deps_.prog->apply(c, model_.vipIds(), deps_.cookieKey, error);
}

std::vector<std::optional<MacAddr>> Controller::resolveAll(std::size_t from) const {
  std::vector<std::optional<MacAddr>> macs;
  const std::vector<Address>& ids = model_.idAddresses();
  for (std::size_t i = from; i < ids.size(); ++i) {
    macs.push_back(deps_.resolve ? deps_.resolve(ids[i]) : std::nullopt);
  }
  return macs;
}

void Controller::publishLocked() {
  // Next hops are read once per backend id; refreshNextHopsLocked() renews them.
  std::vector<std::optional<MacAddr>> added = resolveAll(macs_.size());
  macs_.insert(macs_.end(), added.begin(), added.end());
  std::size_t i = 0;
  // Unknown next hops: broadcast, so the first packets are not lost to a wrong address; the
  // next refresh narrows it to the neighbour's MAC.
  SnapshotSpec spec = model_.spec(deps_.localMac, [&](const Address&) {
    const std::optional<MacAddr>& m = macs_[i++];
    return m ? *m : MacAddr{{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}};
  });
  spec.maglevSize = deps_.maglevSize;
  spec.invalidAcks = invalidAckLimit(autoBlock_.config());
  std::shared_ptr<const Snapshot> snap = Snapshot::build(spec);
  for (WorkerControl* w : deps_.workers) w->publish(snap);
  published_ = true;
}

void Controller::refreshNextHops() {
  std::lock_guard lock(mutex_);
  refreshNextHopsLocked();
}

void Controller::refreshNextHopsLocked() {
  if (deps_.refreshNextHops) deps_.refreshNextHops();
  lastRefresh_ = std::chrono::steady_clock::now();
  std::vector<std::optional<MacAddr>> macs = resolveAll(0);
  if (macs == macs_) return;
  spdlog::info("next hops changed; publishing a new snapshot");
  macs_ = std::move(macs);
  publishLocked();
}

void Controller::tick() noexcept {
  // The main loop's only work: nothing thrown here may end the daemon.
  guardBoundary(Boundary::kMainLoop, [&] {
    std::lock_guard lock(mutex_);
    faultPoint(Boundary::kMainLoop);
    tickLocked();
  });
}

void Controller::tickLocked() {
  const std::int64_t now = clock_();
  const std::vector<Prefix> due = blocklist_.expired(now);
  for (const Prefix& p : due) {
    dropBlockLocked(p);
    spdlog::info("blocklist: {} expired", p.toString());
  }
  if (!due.empty()) {
    std::string err;
    if (!saveBlocklist(err)) spdlog::error("{}", err);
  }
  autoBlockLocked(now);
  // The workers' figures, read once per tick for both uses.
  const std::vector<WorkerStats> ws = workerStats();
  synPressureLocked(ws);
  // Once a second: next hops (republish when the kernel's answer for any backend changed), and
  // the checksum hint.
  if (std::chrono::steady_clock::now() - lastRefresh_ >= std::chrono::seconds(1)) {
    refreshNextHopsLocked();
    hintChecksumsLocked(fold(ws));
    watchAttachmentLocked();
  }
  const auto& vips = model_.vips();
  if (std::any_of(vips.begin(), vips.end(), [](const VipRecord& v) { return v.draining; })) {
    finishDrainsLocked(fold(ws));
  }
}

void Controller::synPressureLocked(const std::vector<WorkerStats>& ws) {
  if (!synPressure_.update(ws)) return;
  deps_.prog->setSynPressure(synPressure_.on());
  if (synPressure_.on()) {
    spdlog::warn(
        "{} half-open connections hold SNAT ports or entries (limit {}): a SYN flood below the "
        "rate thresholds? SYN cookies on for every auto-mode VIP until they fall below {}",
        synPressure_.halfOpen(), synPressure_.limit(), synPressure_.limit() / 2);
  } else {
    spdlog::info(
        "half-open connections down to {}: auto-mode VIPs back to their SYN-rate "
        "thresholds",
        synPressure_.halfOpen());
  }
}

void Controller::hintChecksumsLocked(const WorkerStats& total) {
  // Frames with checksums a sender left to an offload (veth, containers) reach XDP unfinished;
  // backends drop them silently, so xlb drops the SYNs, counts them and says why, once a minute.
  const std::uint64_t partial = total.counters.of(Reason::kPartialChecksum);
  std::uint64_t bad = total.counters.of(Reason::kBadChecksum);
  bad += deps_.prog->stats()[static_cast<std::size_t>(Reason::kBadChecksum)].packets;
  const std::uint64_t seen = partial + bad;
  const std::uint64_t fresh = seen - checksumDropsSeen_;
  const std::uint64_t freshPartial = partial - partialDropsSeen_;
  checksumDropsSeen_ = seen;
  partialDropsSeen_ = partial;
  const auto now = std::chrono::steady_clock::now();
  if (fresh == 0 || (lastChecksumHint_ != std::chrono::steady_clock::time_point{} &&
                     now - lastChecksumHint_ < std::chrono::minutes(1))) {
    return;
  }
  lastChecksumHint_ = now;
  spdlog::warn(
      "{} SYN(s) dropped for bad TCP checksums in the last second ({} with only the pseudo-header "
      "sum: the sender left the checksum to an offload that never ran). On veth and in "
      "containers, turn TX checksum offload off on the senders (ethtool -K DEV tx off); see the "
      "README, \"Running on veth and in containers\"",
      fresh, freshPartial);
}

void Controller::watchAttachmentLocked() {
  if (!deps_.attached) return;
  const bool now = deps_.attached();
  if (wasAttached_ != false && !now) {
    spdlog::error(
        "the XDP program is no longer attached to {} (removed or replaced by someone else): "
        "nothing is balanced or filtered until xlbd is restarted (xlb_xdp_attached 0, /readyz "
        "503)",
        config_.interface);
  } else if (wasAttached_ == false && now) {
    spdlog::info("the XDP program is attached to {} again", config_.interface);
  }
  wasAttached_ = now;
}

std::optional<ControlError> Controller::commitLocked(const ServiceModel& before, bool vipSettings) {
  std::string err;
  if (!saveBackends(err) || (vipSettings && !applyXdpLocked(err))) {
    model_ = before;
    std::string ignored;
    if (vipSettings) applyXdpLocked(ignored);
    spdlog::error("{}", err);
    return ControlError{Failure::kInternal, "the change could not be applied; nothing changed"};
  }
  publishLocked();
  return std::nullopt;
}

std::size_t Controller::unresolvedNextHops() const {
  std::lock_guard lock(mutex_);
  return static_cast<std::size_t>(
      std::count_if(macs_.begin(), macs_.end(), [](const auto& m) { return !m.has_value(); }));
}

bool Controller::saveBackends(std::string& error) {
  return saveState(
      store_.get(), kBackendsFile, [&] { return model_.overlayJson(); }, error);
}
bool Controller::saveBlocklist(std::string& error) {
  return saveState(
      store_.get(), kBlocklistFile, [&] { return blocklist_.overlayJson(); }, error);
}

void Controller::reportHealth(const VipKey& vip, const Address& backend, bool up) {
  std::lock_guard lock(mutex_);
  if (!model_.setHealth(vip, backend, up ? Health::kUp : Health::kDown)) return;
  if (up) {
    spdlog::info("health: backend {} of VIP {} is up", backend.toString(), vip.toString());
  } else {
    spdlog::warn("health: backend {} of VIP {} is down{}", backend.toString(), vip.toString(),
                 config_.healthCheck.resetOnDown ? "; resetting its connections"
                                                 : "; its connections are left to finish");
  }
  publishLocked();
  if (!up && config_.healthCheck.resetOnDown) killBackendLocked(vip, backend);
}

std::vector<Controller::HealthTarget> Controller::healthTargets() const {
  std::lock_guard lock(mutex_);
  std::vector<HealthTarget> out;
  for (const VipRecord& v : model_.vips()) {
    if (v.draining) continue;
    // Backends are probed where they listen: the first served port's backend port.
    const std::uint16_t port = config_.healthCheck.port != 0
                                   ? config_.healthCheck.port
                                   : v.config.backendPort(v.config.ports.front());
    const std::optional<Address> source =
        firstOfFamily(config_.snat.addresses, v.config.address.family);
    for (const BackendRecord& b : v.backends) {
      out.push_back({v.config.key(), b.address, port, source});
    }
  }
  return out;
}

bool Controller::ready(std::string& why) const {
  std::lock_guard lock(mutex_);
  if (!published_)
    why = "no snapshot published yet";
  else if (deps_.attached && !deps_.attached())
    why = "XDP program not attached";
  else if (deps_.running && !deps_.running())
    why = "workers not running";
  return why.empty();
}

std::vector<WorkerStats> Controller::workerStats() const {
  std::vector<WorkerStats> out;
  for (const WorkerControl* w : deps_.workers) out.push_back(w->stats());
  return out;
}

// ---- Statistics and metrics ----

}  // namespace xlb
