// SPDX-License-Identifier: Apache-2.0
// The Controller's VIPs at runtime: add, remove (a drain, or reset with force), and a reload of
// the configuration file, which is the same changes worked out from the file.
#include <spdlog/spdlog.h>

#include <algorithm>

#include "controller_detail.h"

namespace xlb {

using namespace controller_detail;

namespace {

std::string portList(const std::vector<std::uint16_t>& ports) {
  std::string out;
  for (std::uint16_t p : ports) {
    if (!out.empty()) out += ',';
    out += std::to_string(p);
  }
  return out;
}

std::string backendPortList(const BackendPorts& bp) {
  std::string out;
  for (const auto& [from, to] : bp) {
    if (!out.empty()) out += ',';
    out += std::to_string(from);
    out += "->";
    out += std::to_string(to);
  }
  return out.empty() ? "none" : out;
}

// One VIP's differences, as the reload's answer and log line say them.
void describeVip(const VipRecord& a, const VipRecord& b, std::vector<std::string>& out) {
  const std::string vip = "VIP " + a.config.key().toString();
  if (a.config.ports != b.config.ports) {
    out.push_back(vip + ": ports " + portList(a.config.ports) + " -> " + portList(b.config.ports));
  }
  if (a.config.backendPorts != b.config.backendPorts) {
    out.push_back(vip + ": backend ports " + backendPortList(a.config.backendPorts) + " -> " +
                  backendPortList(b.config.backendPorts));
  }
  if (a.config.synFlood.mode != b.config.synFlood.mode ||
      a.config.synFlood.thresholdPps != b.config.synFlood.thresholdPps) {
    out.push_back(vip + ": syn_flood " + std::string(enumName(b.config.synFlood.mode)) + ", " +
                  std::to_string(b.config.synFlood.thresholdPps) + "/s");
  }
  for (const BackendRecord& nb : b.backends) {
    auto it = std::find_if(a.backends.begin(), a.backends.end(),
                           [&](const BackendRecord& x) { return x.address == nb.address; });
    if (it == a.backends.end()) {
      out.push_back(vip + ": backend " + nb.address.toString() + " added");
    } else if (it->weight != nb.weight || it->state != nb.state) {
      out.push_back(vip + ": backend " + nb.address.toString() + " weight " +
                    std::to_string(nb.weight) + ", " + std::string(enumName(nb.state)));
    }
  }
  for (const BackendRecord& ob : a.backends) {
    const bool kept = std::any_of(b.backends.begin(), b.backends.end(),
                                  [&](const BackendRecord& x) { return x.address == ob.address; });
    if (!kept) out.push_back(vip + ": backend " + ob.address.toString() + " removed");
  }
}

std::vector<std::string> describe(const ServiceModel& before, const ServiceModel& after) {
  std::vector<std::string> out;
  for (const VipRecord& b : after.vips()) {
    const VipRecord* a = before.findVip(b.config.key());
    if (a == nullptr || a->draining != b.draining) {
      out.push_back("VIP " + b.config.key().toString() +
                    (b.draining ? " removed (its connections finish)" : " added"));
    } else if (!b.draining) {
      describeVip(*a, b, out);
    }
  }
  return out;
}

// The settings a running xlbd cannot change: the reload names them and keeps the running ones.
std::vector<std::string> restartOnly(const Config& running, Config& next) {
  std::vector<std::string> names;
  auto keep = [&]<typename T>(T Config::*field, const char* name) {
    if (!(running.*field == next.*field)) names.emplace_back(name);
    next.*field = running.*field;
  };
  keep(&Config::interface, "interface");
  keep(&Config::xdpMode, "xdp_mode");
  keep(&Config::workers, "workers");
  keep(&Config::failOpen, "fail_open");
  keep(&Config::framesPerQueue, "frames_per_queue");
  keep(&Config::blocklistCapacity, "blocklist_capacity");
  keep(&Config::snat, "snat");
  keep(&Config::conntrack, "conntrack");
  keep(&Config::control, "control");
  keep(&Config::stateDir, "state_dir");
  keep(&Config::runtimeDir, "runtime_dir");
  keep(&Config::healthCheck, "health_check");
  return names;
}

}  // namespace

std::variant<VipView, ControlError> Controller::addVip(const VipConfig& vip) {
  std::lock_guard lock(mutex_);
  const ServiceModel before = model_;
  if (auto e = model_.addVip(vip)) return *e;
  if (auto failed = commitLocked(before, true)) return *failed;
  spdlog::info("vips: {} added (ports {}, {} backends)", vip.key().toString(), portList(vip.ports),
               vip.backends.size());
  const VipRecord* v = model_.findVip(vip.key());
  return vipViewLocked(static_cast<std::size_t>(v - model_.vips().data()), fold(workerStats()));
}

std::optional<ControlError> Controller::removeVip(const VipKey& vip, bool force) {
  std::lock_guard lock(mutex_);
  const ServiceModel before = model_;
  if (auto e = model_.removeVip(vip)) return *e;
  if (auto failed = commitLocked(before, true)) return *failed;
  ConnFilter f;
  f.vip = vip.address;
  f.protocol = vip.protocol;
  const std::size_t reset = force ? killLocked(f) : 0;
  spdlog::info("vips: {} removed; {}", vip.toString(),
               force ? std::to_string(reset) + " connections reset"
                     : "it takes no new connections and goes when its last one ends");
  return std::nullopt;
}

void Controller::finishDrainsLocked(const WorkerStats& total) {
  for (const VipRecord& v : std::vector<VipRecord>(model_.vips())) {
    if (!v.draining) continue;
    std::uint64_t active = 0;
    for (std::uint16_t id : model_.backendIdsOf(v.config.key())) {
      active += backendOf(total, id).active;
    }
    if (active != 0) continue;
    const ServiceModel before = model_;
    model_.dropVip(v.config.key());
    if (!commitLocked(before, true)) {
      spdlog::info("vips: {} drained and gone", v.config.key().toString());
    }
  }
}

void Controller::rebaseBlocklistLocked(const std::vector<Prefix>& configured, ReloadOutcome& out) {
  const Blocklist::Change c = blocklist_.rebase(configured, clock_());
  for (const Prefix& p : c.removed) {
    deps_.prog->blockRemove(p);
    out.changed.push_back("blocklist: " + p.toString() + " removed");
  }
  for (const Prefix& p : c.added) {
    std::string err;
    bool exists = false;
    if (!deps_.prog->blockAdd(p, err, &exists) && !exists) {
      blocklist_.remove(p);
      out.changed.push_back("blocklist: " + p.toString() + " not added: " + err);
      continue;
    }
    out.changed.push_back("blocklist: " + p.toString() + " added");
  }
  if (c.added.empty() && c.removed.empty()) return;
  std::string err;
  if (!saveBlocklist(err)) spdlog::error("{}", err);
}

std::variant<ReloadOutcome, ControlError> Controller::reload() {
  if (!deps_.loadConfig) {
    return ControlError{Failure::kBadRequest, "no configuration file to reload from"};
  }
  std::variant<Config, std::string> loaded = deps_.loadConfig();
  if (auto* err = std::get_if<std::string>(&loaded)) {
    spdlog::error("reload: {}; nothing changed", *err);
    return ControlError{Failure::kBadRequest,
                        "the configuration file does not validate; nothing "
                        "changed: " +
                            *err};
  }
  Config next = std::get<Config>(std::move(loaded));
  std::lock_guard lock(mutex_);
  ReloadOutcome out;
  out.restartRequired = restartOnly(config_, next);
  if (std::string e = checkConfig(next); !e.empty()) {  // the file's VIPs with the running SNAT
    return ControlError{Failure::kBadRequest, "nothing changed: " + e};
  }
  std::variant<ServiceModel, ModelError> rebased = model_.rebase(next);
  if (auto* e = std::get_if<ModelError>(&rebased)) return *e;
  const ServiceModel before = model_;
  model_ = std::get<ServiceModel>(std::move(rebased));
  out.changed = describe(before, model_);
  if (auto failed = commitLocked(before, true)) return *failed;
  const AutoBlockConfig fileAutoBlock = config_.autoBlock;
  config_ = next;
  rebaseBlocklistLocked(next.blocklist, out);
  if (!(next.autoBlock == fileAutoBlock)) {
    // The file's automatic blocking changed: it replaces what it said and what PATCH made.
    if (auto failed = setAutoBlockLocked(next.autoBlock)) {
      spdlog::error("reload: auto_block: {}", failed->message);
    } else {
      out.changed.push_back("auto_block: mode " + std::string(enumName(next.autoBlock.mode)));
    }
  }
  for (const std::string& c : out.changed) spdlog::info("reload: {}", c);
  for (const std::string& r : out.restartRequired) {
    spdlog::warn("reload: {} changed in the file; it takes a restart, the running value stays", r);
  }
  if (out.changed.empty()) spdlog::info("reload: nothing to change");
  return out;
}

}  // namespace xlb
