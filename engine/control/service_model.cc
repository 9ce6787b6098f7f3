// SPDX-License-Identifier: Apache-2.0
// The service model's VIPs and backends (the overlay and reload: service_overlay.cc).
#include "xlb/service_model.h"

#include <algorithm>

namespace xlb {

namespace {

ModelError notFound(std::string m) {
  return {Failure::kNotFound, std::move(m)};
}
ModelError badRequest(std::string m) {
  return {Failure::kBadRequest, std::move(m)};
}
ModelError conflict(std::string m) {
  return {Failure::kConflict, std::move(m)};
}

std::optional<ModelError> checkWeight(std::uint32_t w) {
  if (w > kMaxWeight) return badRequest("weight must be 0.." + std::to_string(kMaxWeight));
  return std::nullopt;
}

// Served ports: at least one, no duplicate, no 0; every backend port maps a served port.
std::optional<ModelError> checkPorts(std::vector<std::uint16_t>& ports, const BackendPorts& bp) {
  if (ports.empty()) return badRequest("a VIP needs at least one port");
  std::sort(ports.begin(), ports.end());
  if (std::adjacent_find(ports.begin(), ports.end()) != ports.end()) {
    return badRequest("duplicate port");
  }
  if (ports.front() == 0) return badRequest("port 0 is not a port");
  for (const auto& [from, to] : bp) {
    if (!std::binary_search(ports.begin(), ports.end(), from)) {
      return badRequest("backend_ports: " + std::to_string(from) + " is not a port the VIP serves");
    }
    if (to == 0) return badRequest("backend_ports: port 0 is not a port");
  }
  return std::nullopt;
}

}  // namespace

ServiceModel::ServiceModel(const Config& config) : config_(config) {
  for (std::size_t i = 0; i < config.vips.size(); ++i) {
    // checkConfig caps VIPs at kMaxVips and configured backends at kMaxBackendIds.
    VipRecord v = *recordOf(config.vips[i], true);
    v.id = static_cast<std::uint16_t>(i);
    vips_.push_back(std::move(v));
  }
}

std::optional<VipRecord> ServiceModel::recordOf(const VipConfig& c, bool fromConfig) {
  if (idAddress_.size() + c.backends.size() > kMaxBackendIds) return std::nullopt;
  VipRecord v;
  v.config = c;
  v.config.backends.clear();
  v.fromConfig = fromConfig;
  for (const BackendConfig& b : c.backends) {
    BackendRecord r;
    r.address = b.address;
    r.weight = b.weight;
    r.fromConfig = fromConfig;
    r.id = *idFor(c.address, b.address);  // room checked above
    v.backends.push_back(r);
  }
  return v;
}

std::optional<std::uint16_t> ServiceModel::idFor(const VipKey& vipAddr, const Address& backend) {
  const auto key = std::make_pair(vipAddr.toString(), backend.toString());
  if (auto it = ids_.find(key); it != ids_.end()) return it->second;
  if (idAddress_.size() >= kMaxBackendIds) return std::nullopt;
  const auto id = static_cast<std::uint16_t>(idAddress_.size());
  ids_.emplace(key, id);
  idAddress_.push_back(backend);
  return id;
}

std::vector<std::uint16_t> ServiceModel::backendIdsOf(const VipKey& vipAddr) const {
  const std::string v = vipAddr.toString();
  std::vector<std::uint16_t> out;
  for (auto it = ids_.lower_bound({v, std::string()}); it != ids_.end() && it->first.first == v;
       ++it) {
    out.push_back(it->second);
  }
  return out;
}

VipRecord* ServiceModel::vip(const VipKey& a) noexcept {
  for (VipRecord& v : vips_) {
    if (v.config.key() == a) return &v;
  }
  return nullptr;
}

const VipRecord* ServiceModel::findVip(const VipKey& a) const noexcept {
  return const_cast<ServiceModel*>(this)->vip(a);
}

Config ServiceModel::effectiveConfig() const {
  Config c = config_;
  c.vips.clear();
  for (const VipRecord& v : vips_) {
    c.vips.push_back(v.config);
    if (v.draining) continue;
    for (const BackendRecord& b : v.backends) {
      if (b.inRotation()) c.vips.back().backends.push_back({b.address, b.weight});
    }
  }
  return c;
}

std::vector<std::uint16_t> ServiceModel::vipIds() const {
  std::vector<std::uint16_t> out;
  for (const VipRecord& v : vips_) out.push_back(v.id);
  return out;
}

std::optional<std::uint16_t> ServiceModel::freeSlot() const {
  for (std::uint32_t id = 0; id < kMaxVips; ++id) {
    const bool used =
        std::any_of(vips_.begin(), vips_.end(), [&](const VipRecord& v) { return v.id == id; });
    if (!used) return static_cast<std::uint16_t>(id);
  }
  return std::nullopt;
}

std::optional<ModelError> ServiceModel::addVip(const VipConfig& c) {
  if (const VipRecord* old = findVip(c.key())) {
    return conflict("VIP " + c.key().toString() +
                    (old->draining ? " is still draining its connections" : " exists"));
  }
  const std::optional<std::uint16_t> slot = freeSlot();
  if (!slot) return conflict("the data path holds " + std::to_string(kMaxVips) + " VIPs already");
  // The cross-field rules of a configuration file, over every VIP with this one added.
  Config candidate = effectiveConfig();
  candidate.vips.push_back(c);
  if (std::string e = checkConfig(candidate); !e.empty()) {
    return badRequest(e.substr(e.find(": ") == std::string::npos ? 0 : e.find(": ") + 2));
  }
  std::vector<std::uint16_t> ports = c.ports;
  if (auto e = checkPorts(ports, c.backendPorts)) return e;
  if (c.backends.size() > kMaxBackendsPerVip) return badRequest("too many backends");
  for (const BackendConfig& b : c.backends) {
    if (auto e = checkWeight(b.weight)) return e;
  }
  std::optional<VipRecord> rec = recordOf(c, false);
  if (!rec) return conflict("backend id space exhausted; restart to compact it");
  VipRecord v = std::move(*rec);
  v.config.ports = std::move(ports);
  v.id = *slot;
  vips_.push_back(std::move(v));
  return std::nullopt;
}

std::optional<ModelError> ServiceModel::removeVip(const VipKey& a) {
  VipRecord* v = vip(a);
  if (v == nullptr || v->draining) return notFound("no VIP " + a.toString());
  v->draining = true;
  return std::nullopt;
}

void ServiceModel::dropVip(const VipKey& a) {
  std::erase_if(vips_, [&](const VipRecord& v) { return v.config.key() == a; });
}

std::optional<ModelError> ServiceModel::addBackend(const VipKey& vipAddr, const Address& backend,
                                                   std::uint32_t weight) {
  VipRecord* v = vip(vipAddr);
  if (v == nullptr || v->draining) return notFound("no VIP " + vipAddr.toString());
  if (backend.family != vipAddr.address.family) {
    return badRequest("backend " + backend.toString() + " is not of the VIP's address family");
  }
  if (auto e = checkWeight(weight)) return e;
  for (const BackendRecord& b : v->backends) {
    if (b.address == backend) return conflict("backend " + backend.toString() + " exists");
  }
  if (v->backends.size() >= kMaxBackendsPerVip) {
    return conflict("the VIP has " + std::to_string(kMaxBackendsPerVip) + " backends already");
  }
  const auto id = idFor(vipAddr, backend);
  if (!id) return conflict("backend id space exhausted; restart to compact it");
  BackendRecord r;
  r.address = backend;
  r.weight = weight;
  r.id = *id;
  v->backends.push_back(r);
  return std::nullopt;
}

std::optional<ModelError> ServiceModel::setBackend(const VipKey& vipAddr, const Address& backend,
                                                   std::optional<std::uint32_t> weight,
                                                   std::optional<BackendState> state) {
  VipRecord* v = vip(vipAddr);
  if (v == nullptr || v->draining) return notFound("no VIP " + vipAddr.toString());
  for (BackendRecord& b : v->backends) {
    if (b.address != backend) continue;
    if (weight) {
      if (auto e = checkWeight(*weight)) return e;
      b.weight = *weight;
    }
    if (state) b.state = *state;
    return std::nullopt;
  }
  return notFound("no backend " + backend.toString() + " on VIP " + vipAddr.toString());
}

std::optional<ModelError> ServiceModel::removeBackend(const VipKey& vipAddr,
                                                      const Address& backend) {
  VipRecord* v = vip(vipAddr);
  if (v == nullptr || v->draining) return notFound("no VIP " + vipAddr.toString());
  auto it = std::find_if(v->backends.begin(), v->backends.end(),
                         [&](const BackendRecord& b) { return b.address == backend; });
  if (it == v->backends.end()) {
    return notFound("no backend " + backend.toString() + " on VIP " + vipAddr.toString());
  }
  v->backends.erase(it);  // its id stays reserved: its connections may still be finishing
  return std::nullopt;
}

bool ServiceModel::setHealth(const VipKey& vipAddr, const Address& backend, Health h) {
  VipRecord* v = vip(vipAddr);
  if (v == nullptr) return false;
  for (BackendRecord& b : v->backends) {
    if (b.address == backend && b.health != h) {
      b.health = h;
      return true;
    }
  }
  return false;
}

std::optional<ModelError> ServiceModel::setVipPorts(const VipKey& vipAddr,
                                                    std::vector<std::uint16_t> ports,
                                                    std::optional<BackendPorts> backendPorts) {
  VipRecord* v = vip(vipAddr);
  if (v == nullptr || v->draining) return notFound("no VIP " + vipAddr.toString());
  BackendPorts bp = backendPorts ? std::move(*backendPorts) : v->config.backendPorts;
  if (auto e = checkPorts(ports, bp)) return e;
  v->config.ports = std::move(ports);
  v->config.backendPorts = std::move(bp);
  return std::nullopt;
}

std::optional<ModelError> ServiceModel::setSynFlood(const VipKey& vipAddr,
                                                    std::optional<SynFloodMode> mode,
                                                    std::optional<std::uint32_t> thresholdPps) {
  VipRecord* v = vip(vipAddr);
  if (v == nullptr || v->draining) return notFound("no VIP " + vipAddr.toString());
  if (v->config.protocol != kVipTcp) return badRequest("syn_flood applies to TCP VIPs only");
  if (thresholdPps && (*thresholdPps == 0 || *thresholdPps > 100'000'000)) {
    return badRequest("threshold_pps must be 1..100000000");
  }
  if (mode) v->config.synFlood.mode = *mode;
  if (thresholdPps) v->config.synFlood.thresholdPps = *thresholdPps;
  return std::nullopt;
}

SnapshotSpec ServiceModel::spec(const MacAddr& localMac, const Snapshot::Resolver& resolve) const {
  SnapshotSpec s;
  s.localMac = localMac;
  s.snatAddresses = config_.snat.addresses;
  for (const Address& a : idAddress_) s.backendMacs.push_back(resolve(a));
  for (const VipRecord& v : vips_) {
    SnapshotSpec::Vip sv{.address = v.config.address,
                         .id = v.id,
                         .proto = v.config.protocol,
                         .quic = v.config.quic,
                         .forwarding = v.config.forwarding,
                         .encap = v.config.encapsulation,
                         .synMode = v.config.synFlood.mode,
                         .ports = v.config.ports,
                         .backendPorts = v.config.backendPorts,
                         .backends = {}};
    for (const BackendRecord& b : v.backends) {
      if (b.inRotation() && !v.draining) {
        sv.backends.push_back(BackendSlot{b.address, b.id, b.weight});
      }
    }
    s.vips.push_back(std::move(sv));
  }
  return s;
}

}  // namespace xlb
