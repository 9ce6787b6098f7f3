// SPDX-License-Identifier: Apache-2.0
// The Controller's backend, connection and VIP-settings changes.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <sstream>

#include "controller_detail.h"

namespace xlb {

using nlohmann::json;
using namespace controller_detail;

std::variant<BackendView, ControlError> Controller::addBackend(const VipKey& vip,
                                                               const Address& backend,
                                                               std::uint32_t weight) {
  std::lock_guard lock(mutex_);
  const ServiceModel before = model_;
  if (auto e = model_.addBackend(vip, backend, weight)) return *e;
  if (auto failed = commitLocked(before)) return *failed;
  spdlog::info("backends: {} added to VIP {} (weight {})", backend.toString(), vip.toString(),
               weight);
  const BackendRecord& b = model_.findVip(vip)->backends.back();
  return backendView(b, fold(workerStats()));
}

std::variant<BackendView, ControlError> Controller::setBackend(const VipKey& vip,
                                                               const Address& backend,
                                                               std::optional<std::uint32_t> weight,
                                                               std::optional<BackendState> state) {
  std::lock_guard lock(mutex_);
  const ServiceModel before = model_;
  if (auto e = model_.setBackend(vip, backend, weight, state)) return *e;
  if (auto failed = commitLocked(before)) return *failed;
  const VipRecord* v = model_.findVip(vip);
  for (const BackendRecord& b : v->backends) {
    if (b.address != backend) continue;
    spdlog::info("backends: {} of VIP {} now weight {}, {}", backend.toString(), vip.toString(),
                 b.weight, enumName(b.state));
    return backendView(b, fold(workerStats()));
  }
  return ControlError{Failure::kInternal, "internal error"};
}

std::size_t Controller::killBackendLocked(const VipKey& vip, const Address& backend) {
  ConnFilter f;
  f.vip = vip.address;
  f.protocol = vip.protocol;
  f.backend = backend;
  return killLocked(f);
}

std::size_t Controller::killLocked(const ConnFilter& f) {
  std::size_t n = 0;
  for (WorkerControl* w : deps_.workers) n += w->kill(f, kWorkerTimeout).value_or(0);
  return n;
}

std::optional<ControlError> Controller::removeBackend(const VipKey& vip, const Address& backend,
                                                      bool force) {
  std::lock_guard lock(mutex_);
  const ServiceModel before = model_;
  if (auto e = model_.removeBackend(vip, backend)) return *e;
  if (auto failed = commitLocked(before)) return *failed;
  const std::size_t reset = force ? killBackendLocked(vip, backend) : 0;
  spdlog::info("backends: {} removed from VIP {}{}", backend.toString(), vip.toString(),
               force ? " (" + std::to_string(reset) + " connections reset)" : "");
  return std::nullopt;
}

// ---- Connections ----

std::variant<ConnListing, ControlError> Controller::listConnections(const ConnFilter& filter,
                                                                    ConnCursor from,
                                                                    std::uint32_t limit) const {
  ConnListing out;
  std::uint32_t worker = from.worker, index = from.index;
  std::uint32_t budget = kMaxScanPerPage;
  while (worker < deps_.workers.size() && out.items.size() < limit && budget > 0) {
    const auto room = static_cast<std::uint32_t>(limit - out.items.size());
    std::optional<ConnPage> page =
        deps_.workers[worker]->listConnections(filter, index, room, budget, kWorkerTimeout);
    if (!page) return ControlError{Failure::kUnavailable, "a worker did not answer in time"};
    out.items.insert(out.items.end(), page->items.begin(), page->items.end());
    budget = page->scanned >= budget ? 0 : budget - page->scanned;
    if (page->next == ConnPage::kNone) {
      ++worker;
      index = 0;
    } else {
      index = page->next;
    }
  }
  if (worker < deps_.workers.size()) out.next = ConnCursor{worker, index};
  return out;
}

std::variant<std::size_t, ControlError> Controller::killConnections(const Address& client,
                                                                    std::uint16_t port) {
  ConnFilter f;
  f.client = client;
  f.clientPort = port;
  std::size_t n = 0;
  for (WorkerControl* w : deps_.workers) {
    std::optional<std::size_t> k = w->kill(f, kWorkerTimeout);
    if (!k) return ControlError{Failure::kUnavailable, "a worker did not answer in time"};
    n += *k;
  }
  if (n == 0) {
    return ControlError{Failure::kNotFound,
                        "no connection from " + client.toString() + ":" + std::to_string(port)};
  }
  spdlog::info("connections: {} from {}:{} killed", n, client.toString(), port);
  return n;
}

// ---- Configuration ----

Config Controller::runningConfig() const {
  std::lock_guard lock(mutex_);
  return runningConfigLocked();
}

Config Controller::runningConfigLocked() const {
  Config c = config_;
  c.autoBlock = autoBlock_.config();
  c.vips.clear();
  for (const VipRecord& v : model_.vips()) {
    if (!v.draining) c.vips.push_back(v.config);
  }
  return c;
}

std::variant<Config, ControlError> Controller::patchConfig(const ConfigPatch& patch) {
  // All or nothing: every entry applies to a copy of the model before anything changes.
  std::lock_guard lock(mutex_);
  ServiceModel next = model_;
  for (const VipPatch& p : patch.vips) {
    if (p.ports || p.backendPorts) {
      const VipRecord* v = next.findVip(p.address);
      if (v == nullptr || v->draining) {
        return ControlError{Failure::kNotFound, "no VIP " + p.address.toString()};
      }
      if (auto e = next.setVipPorts(p.address, p.ports.value_or(v->config.ports), p.backendPorts))
        return *e;
    }
    if (p.mode || p.thresholdPps) {
      if (auto e = next.setSynFlood(p.address, p.mode, p.thresholdPps)) return *e;
    }
  }
  // Both parts undo themselves when they fail; automatic blocking goes first so that a VIP
  // change that fails can take it back too.
  const AutoBlockConfig blockBefore = autoBlock_.config();
  if (patch.autoBlock) {
    if (auto failed = setAutoBlockLocked(patch.autoBlock->applyTo(blockBefore))) return *failed;
  }
  if (!patch.vips.empty()) {
    const ServiceModel before = model_;
    model_ = std::move(next);
    if (auto failed = commitLocked(before, true)) {
      // When taking automatic blocking back is refused too, it stays as requested everywhere
      // (memory, XDP, state_dir agree): the answer must not claim that nothing changed.
      if (patch.autoBlock && setAutoBlockLocked(blockBefore)) {
        failed->message +=
            "; the auto_block settings could not be taken back either and stay as requested";
      }
      return *failed;
    }
    spdlog::info("config: VIP settings changed");
  }
  return runningConfigLocked();
}

}  // namespace xlb
