// SPDX-License-Identifier: Apache-2.0
#include "xlb/service_model.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "xlb/json_read.h"

namespace xlb {

using nlohmann::json;

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

}  // namespace

// ---- ServiceModel ----

ServiceModel::ServiceModel(const Config& config) : config_(config) {
  for (std::size_t i = 0; i < config.vips.size(); ++i) {
    VipRecord v;
    v.config = config.vips[i];
    v.config.backends.clear();
    for (const BackendConfig& b : config.vips[i].backends) {
      BackendRecord r;
      r.address = b.address;
      r.weight = b.weight;
      r.fromConfig = true;
      r.id = *idFor(i, b.address);  // checkConfig caps configured backends at kMaxBackendIds
      v.backends.push_back(r);
    }
    vips_.push_back(std::move(v));
  }
}

std::optional<std::uint16_t> ServiceModel::idFor(std::size_t vipIndex, const Address& backend) {
  const auto key = std::make_pair(vipIndex, backend.toString());
  if (auto it = ids_.find(key); it != ids_.end()) return it->second;
  if (idAddress_.size() >= kMaxBackendIds) return std::nullopt;
  const auto id = static_cast<std::uint16_t>(idAddress_.size());
  ids_.emplace(key, id);
  idAddress_.push_back(backend);
  return id;
}

VipRecord* ServiceModel::vip(const Address& a) noexcept {
  for (VipRecord& v : vips_) {
    if (v.config.address == a) return &v;
  }
  return nullptr;
}

const VipRecord* ServiceModel::findVip(const Address& a) const noexcept {
  return const_cast<ServiceModel*>(this)->vip(a);
}

Config ServiceModel::effectiveConfig() const {
  Config c = config_;
  for (std::size_t i = 0; i < vips_.size(); ++i) {
    c.vips[i] = vips_[i].config;
    for (const BackendRecord& b : vips_[i].backends) {
      if (b.inRotation()) c.vips[i].backends.push_back({b.address, b.weight});
    }
  }
  return c;
}

std::optional<ModelError> ServiceModel::addBackend(const Address& vipAddr, const Address& backend,
                                                   std::uint32_t weight) {
  VipRecord* v = vip(vipAddr);
  if (v == nullptr) return notFound("no VIP " + vipAddr.toString());
  if (backend.family != vipAddr.family) {
    return badRequest("backend " + backend.toString() + " is not of the VIP's address family");
  }
  if (auto e = checkWeight(weight)) return e;
  for (const BackendRecord& b : v->backends) {
    if (b.address == backend) return conflict("backend " + backend.toString() + " exists");
  }
  if (v->backends.size() >= kMaxBackendsPerVip) {
    return conflict("the VIP has " + std::to_string(kMaxBackendsPerVip) + " backends already");
  }
  const auto id = idFor(static_cast<std::size_t>(v - vips_.data()), backend);
  if (!id) return conflict("backend id space exhausted; restart to compact it");
  BackendRecord r;
  r.address = backend;
  r.weight = weight;
  r.id = *id;
  v->backends.push_back(r);
  return std::nullopt;
}

std::optional<ModelError> ServiceModel::setBackend(const Address& vipAddr, const Address& backend,
                                                   std::optional<std::uint32_t> weight,
                                                   std::optional<BackendState> state) {
  VipRecord* v = vip(vipAddr);
  if (v == nullptr) return notFound("no VIP " + vipAddr.toString());
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

std::optional<ModelError> ServiceModel::removeBackend(const Address& vipAddr,
                                                      const Address& backend) {
  VipRecord* v = vip(vipAddr);
  if (v == nullptr) return notFound("no VIP " + vipAddr.toString());
  auto it = std::find_if(v->backends.begin(), v->backends.end(),
                         [&](const BackendRecord& b) { return b.address == backend; });
  if (it == v->backends.end()) {
    return notFound("no backend " + backend.toString() + " on VIP " + vipAddr.toString());
  }
  v->backends.erase(it);  // its id stays reserved: its connections may still be finishing
  return std::nullopt;
}

bool ServiceModel::setHealth(const Address& vipAddr, const Address& backend, Health h) {
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

std::optional<ModelError> ServiceModel::setVipPorts(const Address& vipAddr,
                                                    std::vector<std::uint16_t> ports) {
  VipRecord* v = vip(vipAddr);
  if (v == nullptr) return notFound("no VIP " + vipAddr.toString());
  if (ports.empty()) return badRequest("a VIP needs at least one port");
  std::sort(ports.begin(), ports.end());
  if (std::adjacent_find(ports.begin(), ports.end()) != ports.end()) {
    return badRequest("duplicate port");
  }
  if (ports.front() == 0) return badRequest("port 0 is not a port");
  v->config.ports = std::move(ports);
  return std::nullopt;
}

std::optional<ModelError> ServiceModel::setSynFlood(const Address& vipAddr,
                                                    std::optional<SynFloodMode> mode,
                                                    std::optional<std::uint32_t> thresholdPps) {
  VipRecord* v = vip(vipAddr);
  if (v == nullptr) return notFound("no VIP " + vipAddr.toString());
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
  for (std::size_t i = 0; i < vips_.size(); ++i) {
    const VipRecord& v = vips_[i];
    SnapshotSpec::Vip sv{.address = v.config.address,
                         .id = static_cast<std::uint16_t>(i),
                         .proto = v.config.protocol,
                         .synMode = v.config.synFlood.mode,
                         .ports = v.config.ports,
                         .backendPorts = v.config.backendPorts,
                         .backends = {}};
    for (const BackendRecord& b : v.backends) {
      if (b.inRotation()) sv.backends.push_back(BackendSlot{b.address, b.id, b.weight});
    }
    s.vips.push_back(std::move(sv));
  }
  return s;
}

std::string ServiceModel::overlayJson() const {
  json vips = json::array();
  for (std::size_t i = 0; i < vips_.size(); ++i) {
    const VipRecord& v = vips_[i];
    json backends = json::array();
    for (const BackendRecord& b : v.backends) {
      backends.push_back(
          {{"address", b.address.toString()}, {"weight", b.weight}, {"state", enumName(b.state)}});
    }
    json removed = json::array();
    for (const BackendConfig& c : config_.vips[i].backends) {
      const bool present =
          std::any_of(v.backends.begin(), v.backends.end(),
                      [&](const BackendRecord& b) { return b.address == c.address; });
      if (!present) removed.push_back(c.address.toString());
    }
    vips.push_back({{"address", v.config.address.toString()},
                    {"ports", v.config.ports},
                    {"syn_flood",
                     {{"mode", enumName(v.config.synFlood.mode)},
                      {"threshold_pps", v.config.synFlood.thresholdPps}}},
                    {"backends", backends},
                    {"removed_configured", removed}});
  }
  return json{{"version", 1}, {"vips", vips}}.dump(2);
}

std::optional<ModelError> ServiceModel::applyOverlay(const std::string& text) {
  // Parse and check everything first, then apply to a copy: a bad file changes nothing. Every
  // value is read with its type and range checked (JsonReadError names the key).
  ServiceModel next = *this;
  try {
    const json j = json::parse(text);
    if (const auto v = fieldInt<std::int64_t>(j, "version", INT64_MIN, INT64_MAX); v != 1) {
      return badRequest("unknown state version " + std::to_string(v));
    }
    for (const json& jv : fieldArray(j, "vips")) {
      if (auto e = next.applyVipOverlay(jv)) return e;
    }
  } catch (const json::exception& e) {
    return badRequest(std::string("malformed state: ") + e.what());
  } catch (const JsonReadError& e) {
    return badRequest(std::string("invalid state: ") + e.what());
  }
  *this = std::move(next);
  return std::nullopt;
}

std::optional<ModelError> ServiceModel::applyVipOverlay(const json& jv) {
  auto va = Address::parse(fieldString(jv, "address", 64));
  if (!va) return badRequest("bad VIP address");
  VipRecord* v = vip(*va);
  if (v == nullptr) return std::nullopt;  // no longer configured: its runtime changes go with it
  const auto vipIndex = static_cast<std::size_t>(v - vips_.data());
  std::vector<std::uint16_t> ports;
  for (const json& p : fieldArray(jv, "ports")) {
    ports.push_back(jsonInt<std::uint16_t>(p, "ports[]", 1, 65535));
  }
  if (auto e = setVipPorts(*va, ports)) return e;
  const json& sf = jsonField(jv, "syn_flood");
  const std::optional<SynFloodMode> m = parseEnum<SynFloodMode>(fieldString(sf, "mode", 16));
  if (!m) return badRequest("bad SYN flood mode");
  const auto threshold = fieldInt<std::uint32_t>(sf, "threshold_pps", 1, 100'000'000);
  if (auto e = setSynFlood(*va, m, threshold)) return e;
  std::vector<Address> removed;
  for (const json& r : fieldArray(jv, "removed_configured")) {
    auto a = Address::parse(jsonString(r, "removed_configured[]", 64));
    if (!a) return badRequest("bad removed backend address");
    removed.push_back(*a);
  }
  std::vector<BackendRecord> result;
  // Configured backends first (unless removed), with their runtime weight and state.
  for (const BackendConfig& c : config_.vips[vipIndex].backends) {
    if (std::find(removed.begin(), removed.end(), c.address) != removed.end()) continue;
    BackendRecord r;
    r.address = c.address;
    r.weight = c.weight;
    r.fromConfig = true;
    r.id = *idFor(vipIndex, c.address);
    result.push_back(r);
  }
  for (const json& jb : fieldArray(jv, "backends")) {
    auto a = Address::parse(fieldString(jb, "address", 64));
    auto st = parseEnum<BackendState>(fieldString(jb, "state", 16));
    const auto w = fieldInt<std::uint32_t>(jb, "weight", 0, kMaxWeight);
    if (!a || !st || a->family != va->family) return badRequest("bad backend record");
    auto it = std::find_if(result.begin(), result.end(),
                           [&](const BackendRecord& b) { return b.address == *a; });
    if (it == result.end()) {
      if (result.size() >= kMaxBackendsPerVip) return badRequest("too many backends");
      BackendRecord r;
      r.address = *a;
      const auto id = idFor(vipIndex, *a);
      if (!id) return badRequest("too many backends");
      r.id = *id;
      result.push_back(r);
      it = result.end() - 1;
    }
    it->weight = w;
    it->state = *st;
  }
  v->backends = std::move(result);
  return std::nullopt;
}

// ---- Blocklist ----

Blocklist::Key Blocklist::keyOf(const Prefix& p) noexcept {
  return Key{static_cast<std::uint8_t>(p.addr.family), p.addr.ip.bytes, p.length};
}

Blocklist::Blocklist(const std::vector<Prefix>& configured, std::int64_t now) {
  for (const Prefix& p : configured) {
    BlockEntry e;
    e.prefix = p;
    e.addedAt = now;
    e.fromConfig = true;
    e.comment = "configuration";
    entries_.emplace(keyOf(p), e);
  }
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
    if (e.expiresAt != 0 && e.expiresAt <= now) due.emplace_back(e.expiresAt, e.prefix);
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

std::string Blocklist::overlayJson() const {
  json added = json::array();
  for (const auto& [k, e] : entries_) {
    if (e.fromConfig) continue;
    added.push_back({{"cidr", e.prefix.toString()},
                     {"comment", e.comment},
                     {"added_at", e.addedAt},
                     {"expires_at", e.expiresAt}});
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
      if (e.expiresAt != 0 && e.expiresAt <= now) continue;  // expired while we were down
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
