// SPDX-License-Identifier: Apache-2.0
// The service model's runtime overlay (what differs from the configuration file, kept in
// state_dir) and a reload onto a new file (rebase), which is the same overlay on a new base.
#include <algorithm>
#include <nlohmann/json.hpp>

#include "xlb/json_read.h"
#include "xlb/service_model.h"

namespace xlb {

using nlohmann::json;

namespace {

constexpr std::uint16_t kNoSlot = 0xffff;

ModelError badRequest(std::string m) {
  return {Failure::kBadRequest, std::move(m)};
}

const VipConfig* configured(const Config& c, const VipKey& a) {
  for (const VipConfig& v : c.vips) {
    if (v.key() == a) return &v;
  }
  return nullptr;
}

std::vector<std::uint16_t> sorted(std::vector<std::uint16_t> v) {
  std::sort(v.begin(), v.end());
  return v;
}

json synFloodJson(const SynFloodConfig& s) {
  return {{"mode", enumName(s.mode)}, {"threshold_pps", s.thresholdPps}};
}

// Backends that differ from the file: added over the API, or a configured one whose weight or
// state changed; and the configured ones removed.
void backendsJson(const VipRecord& v, const VipConfig* base, json& rec) {
  json backends = json::array();
  for (const BackendRecord& b : v.backends) {
    const BackendConfig* c = nullptr;
    if (base != nullptr) {
      for (const BackendConfig& bc : base->backends) {
        if (bc.address == b.address) c = &bc;
      }
    }
    if (c != nullptr && c->weight == b.weight && b.state == BackendState::kActive) continue;
    backends.push_back(
        {{"address", b.address.toString()}, {"weight", b.weight}, {"state", enumName(b.state)}});
  }
  json removed = json::array();
  if (base != nullptr) {
    for (const BackendConfig& c : base->backends) {
      const bool present =
          std::any_of(v.backends.begin(), v.backends.end(),
                      [&](const BackendRecord& b) { return b.address == c.address; });
      if (!present) removed.push_back(c.address.toString());
    }
  }
  rec["backends"] = std::move(backends);
  rec["removed_configured"] = std::move(removed);
}

}  // namespace

json backendPortsToJson(const BackendPorts& bp) {
  json out = json::object();
  for (const auto& [from, to] : bp) out[std::to_string(from)] = to;
  return out;
}

BackendPorts backendPortsFromJson(const json& j) {
  if (!j.is_object()) throw JsonReadError("\"backend_ports\" is not an object");
  BackendPorts out;
  for (const auto& [k, v] : j.items()) {
    std::uint64_t from = 0;
    if (!parseUint(k, 65535, from) || from == 0) {
      throw JsonReadError("backend_ports: \"" + k + "\" is not a port");
    }
    out[static_cast<std::uint16_t>(from)] = jsonInt<std::uint16_t>(v, "backend_ports." + k, 1);
  }
  return out;
}

VipConfig vipFromJson(const json& j) {
  if (!j.is_object()) throw JsonReadError("expected a VIP object");
  onlyFields(j, {"address", "protocol", "quic", "forwarding", "encapsulation", "ports",
                 "backend_ports", "syn_flood", "backends"});
  VipConfig c;
  const auto address = Address::parse(fieldString(j, "address", 64));
  if (!address) throw JsonReadError("\"address\" is not an IPv4 or IPv6 address");
  c.address = *address;
  if (j.contains("protocol")) {
    const std::optional<std::uint8_t> p = protocolNumber(fieldString(j, "protocol", 16));
    if (!p) throw JsonReadError("\"protocol\" must be tcp or udp");
    c.protocol = *p;
  }
  if (j.contains("quic")) {
    if (!j["quic"].is_boolean()) throw JsonReadError("\"quic\" is not true or false");
    c.quic = j["quic"].get<bool>();
    if (c.quic && c.protocol != kVipUdp)
      throw JsonReadError("\"quic\": only a UDP VIP carries QUIC");
  }
  if (c.protocol == kVipUdp) {
    if (j.contains("syn_flood")) throw JsonReadError("\"syn_flood\" applies to TCP VIPs only");
    c.synFlood.mode = SynFloodMode::kOff;
  }
  if (j.contains("forwarding")) {
    const auto f = parseEnum<Forwarding>(fieldString(j, "forwarding", 16));
    if (!f) throw JsonReadError("\"forwarding\" must be one of " + enumChoices<Forwarding>());
    c.forwarding = *f;
    if (c.forwarding == Forwarding::kDsr && !j.contains("syn_flood"))
      c.synFlood.mode = SynFloodMode::kOff;
  }
  if (j.contains("encapsulation")) {
    const auto e = parseEnum<DsrEncap>(fieldString(j, "encapsulation", 16));
    if (!e) throw JsonReadError("\"encapsulation\" must be one of " + enumChoices<DsrEncap>());
    c.encapsulation = *e;
  }
  c.ports.clear();
  for (const json& p : fieldArray(j, "ports"))
    c.ports.push_back(jsonInt<std::uint16_t>(p, "ports[]", 1));
  if (j.contains("backend_ports")) c.backendPorts = backendPortsFromJson(j["backend_ports"]);
  if (j.contains("syn_flood")) {
    const json& sf = j["syn_flood"];
    if (!sf.is_object()) throw JsonReadError("\"syn_flood\" is not an object");
    for (const auto& [k, v] : sf.items()) {
      if (k == "mode") {
        const auto m = parseEnum<SynFloodMode>(jsonString(v, "syn_flood.mode", 16));
        if (!m) throw JsonReadError("syn_flood.mode must be one of " + enumChoices<SynFloodMode>());
        c.synFlood.mode = *m;
      } else if (k == "threshold_pps") {
        c.synFlood.thresholdPps =
            jsonInt<std::uint32_t>(v, "syn_flood.threshold_pps", 1, 100'000'000);
      } else {
        throw JsonReadError("unknown field \"syn_flood." + k + "\"");
      }
    }
  }
  if (j.contains("backends")) {
    for (const json& jb : fieldArray(j, "backends")) {
      for (const auto& [k, v] : jb.items()) {
        if (k != "address" && k != "weight")
          throw JsonReadError("unknown field \"backends[]." + k + "\"");
      }
      BackendConfig b;
      const auto a = Address::parse(fieldString(jb, "address", 64));
      if (!a) throw JsonReadError("\"backends[].address\" is not an address");
      b.address = *a;
      if (jb.contains("weight")) b.weight = fieldInt<std::uint32_t>(jb, "weight", 0, kMaxWeight);
      c.backends.push_back(b);
    }
  }
  return c;
}

std::string ServiceModel::overlayJson() const {
  json vips = json::array();
  for (const VipRecord& v : vips_) {
    if (v.draining) continue;
    const VipConfig* base = v.fromConfig ? configured(config_, v.config.key()) : nullptr;
    json rec = {{"address", v.config.address.toString()},
                {"source", v.fromConfig ? "config" : "api"}};
    if (v.config.protocol != kVipTcp) rec["protocol"] = protocolName(v.config.protocol);
    if (v.config.quic) rec["quic"] = true;
    if (v.config.forwarding == Forwarding::kDsr) {
      rec["forwarding"] = enumName(v.config.forwarding);
      rec["encapsulation"] = enumName(v.config.encapsulation);
    }
    if (base == nullptr || sorted(base->ports) != sorted(v.config.ports)) {
      rec["ports"] = v.config.ports;
    }
    if (base == nullptr || base->backendPorts != v.config.backendPorts) {
      rec["backend_ports"] = backendPortsToJson(v.config.backendPorts);
    }
    if (v.config.protocol == kVipTcp &&
        (base == nullptr || base->synFlood.mode != v.config.synFlood.mode ||
         base->synFlood.thresholdPps != v.config.synFlood.thresholdPps)) {
      rec["syn_flood"] = synFloodJson(v.config.synFlood);
    }
    backendsJson(v, base, rec);
    vips.push_back(std::move(rec));
  }
  json removed = json::array();
  for (const VipConfig& c : config_.vips) {
    const VipRecord* v = findVip(c.key());
    if (v == nullptr || v->draining) removed.push_back(c.key().toString());
  }
  return json{{"version", 2}, {"vips", vips}, {"removed_vips", removed}}.dump(2);
}

std::optional<ModelError> ServiceModel::applyOverlay(const std::string& text) {
  // Parse and check everything first, then apply to a copy: a bad file changes nothing. Every
  // value is read with its type and range checked (JsonReadError names the key). Version 1
  // (before runtime VIPs) is version 2 with every setting stated and no removed VIPs.
  ServiceModel next = *this;
  try {
    const json j = json::parse(text);
    const auto version = fieldInt<std::int64_t>(j, "version", INT64_MIN, INT64_MAX);
    if (version != 1 && version != 2) {
      return badRequest("unknown state version " + std::to_string(version));
    }
    if (version == 2) {
      for (const json& r : fieldArray(j, "removed_vips")) {
        auto a = VipKey::parse(jsonString(r, "removed_vips[]", 64));
        if (!a) return badRequest("bad address in removed_vips");
        const VipRecord* v = next.findVip(*a);
        if (v != nullptr && !v->draining) next.dropVip(*a);  // a drain (reload) goes on
      }
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
  auto addr = Address::parse(fieldString(jv, "address", 64));
  if (!addr) return badRequest("bad VIP address");
  std::optional<VipKey> va = VipKey{*addr};
  if (jv.contains("protocol")) {
    const std::optional<std::uint8_t> p = protocolNumber(fieldString(jv, "protocol", 16));
    if (!p) return badRequest("bad VIP protocol");
    va->protocol = *p;
  }
  const bool fromApi = jv.contains("source") && fieldString(jv, "source", 16) == "api";
  VipRecord* v = vip(*va);
  if (v == nullptr && !fromApi) return std::nullopt;     // no longer configured: its changes go too
  if (v != nullptr && v->draining) return std::nullopt;  // removed: its settings no longer matter
  std::optional<std::vector<std::uint16_t>> ports;
  if (jv.contains("ports")) {
    ports.emplace();
    for (const json& p : fieldArray(jv, "ports")) {
      ports->push_back(jsonInt<std::uint16_t>(p, "ports[]", 1, 65535));
    }
  }
  std::optional<BackendPorts> backendPorts;
  if (jv.contains("backend_ports")) backendPorts = backendPortsFromJson(jv["backend_ports"]);
  if (v == nullptr) {  // added over the API: every setting is in the record
    VipConfig c;
    c.address = va->address;
    c.protocol = va->protocol;
    if (c.protocol == kVipUdp) c.synFlood.mode = SynFloodMode::kOff;
    c.quic = c.protocol == kVipUdp && jv.contains("quic") && jsonField(jv, "quic").is_boolean() &&
             jsonField(jv, "quic").get<bool>();
    if (jv.contains("forwarding")) {
      const auto f = parseEnum<Forwarding>(fieldString(jv, "forwarding", 16));
      const auto e = parseEnum<DsrEncap>(fieldString(jv, "encapsulation", 16));
      if (!f || !e) return badRequest("bad VIP forwarding");
      c.forwarding = *f;
      c.encapsulation = *e;
      if (c.forwarding == Forwarding::kDsr) c.synFlood.mode = SynFloodMode::kOff;
    }
    if (!ports) return badRequest("VIP " + va->toString() + " without ports");
    c.ports = *ports;
    c.backendPorts = backendPorts.value_or(BackendPorts{});
    if (auto e = addVip(c)) return e;
    v = vip(*va);
  } else if (fromApi && v->fromConfig) {
    ports.reset();  // the file names it now: the file's settings win, backends still merge
    backendPorts.reset();
  }
  if (ports || backendPorts) {
    if (auto e = setVipPorts(*va, ports.value_or(v->config.ports), backendPorts)) return e;
  }
  if (jv.contains("syn_flood") && !(fromApi && v->fromConfig)) {
    const json& sf = jsonField(jv, "syn_flood");
    const std::optional<SynFloodMode> m = parseEnum<SynFloodMode>(fieldString(sf, "mode", 16));
    if (!m) return badRequest("bad SYN flood mode");
    const auto threshold = fieldInt<std::uint32_t>(sf, "threshold_pps", 1, 100'000'000);
    if (auto e = setSynFlood(*va, m, threshold)) return e;
  }
  for (const json& r : fieldArray(jv, "removed_configured")) {
    auto a = Address::parse(jsonString(r, "removed_configured[]", 64));
    if (!a) return badRequest("bad removed backend address");
    std::erase_if(v->backends, [&](const BackendRecord& b) { return b.address == *a; });
  }
  for (const json& jb : fieldArray(jv, "backends")) {
    auto a = Address::parse(fieldString(jb, "address", 64));
    auto st = parseEnum<BackendState>(fieldString(jb, "state", 16));
    const auto w = fieldInt<std::uint32_t>(jb, "weight", 0, kMaxWeight);
    if (!a || !st || a->family != va->address.family) return badRequest("bad backend record");
    auto it = std::find_if(v->backends.begin(), v->backends.end(),
                           [&](const BackendRecord& b) { return b.address == *a; });
    if (it == v->backends.end()) {
      if (v->backends.size() >= kMaxBackendsPerVip) return badRequest("too many backends");
      const auto id = idFor(*va, *a);
      if (!id) return badRequest("too many backends");
      BackendRecord r;
      r.address = *a;
      r.id = *id;
      v->backends.push_back(r);
      it = v->backends.end() - 1;
    }
    it->weight = w;
    it->state = *st;
  }
  return std::nullopt;
}

std::variant<ServiceModel, ModelError> ServiceModel::rebase(const Config& config) const {
  const std::string overlay = overlayJson();  // the runtime changes, against the old file
  ServiceModel next = *this;                  // backend ids carry over, never reused
  next.config_ = config;
  next.vips_.clear();
  for (const VipRecord& v : vips_) {  // what the new file drops drains; drains go on
    if (v.draining || (v.fromConfig && configured(config, v.config.key()) == nullptr)) {
      next.vips_.push_back(v);
      next.vips_.back().draining = true;
    }
  }
  for (const VipConfig& c : config.vips) {
    if (next.findVip(c.key()) != nullptr) continue;  // draining: removed over the API
    std::optional<VipRecord> rec = next.recordOf(c, true);
    if (!rec)
      return ModelError{Failure::kConflict, "backend id space exhausted; restart to compact it"};
    VipRecord r = std::move(*rec);
    const VipRecord* old = findVip(c.key());
    r.id = old != nullptr ? old->id : kNoSlot;
    next.vips_.push_back(std::move(r));
  }
  for (const VipRecord& v : vips_) {  // added over the API and not named by the file
    if (!v.fromConfig && !v.draining && next.findVip(v.config.key()) == nullptr) {
      next.vips_.push_back(v);
    }
  }
  for (VipRecord& v : next.vips_) {
    if (v.id != kNoSlot) continue;
    const std::optional<std::uint16_t> slot = next.freeSlot();
    if (!slot)
      return badRequest("more than " + std::to_string(kMaxVips) + " VIPs with the ones draining");
    v.id = *slot;
  }
  if (auto e = next.applyOverlay(overlay)) return *e;
  for (VipRecord& v : next.vips_) {  // health as last checked
    const VipRecord* old = findVip(v.config.key());
    if (old == nullptr) continue;
    for (BackendRecord& b : v.backends) {
      for (const BackendRecord& ob : old->backends) {
        if (ob.address == b.address) b.health = ob.health;
      }
    }
  }
  return next;
}

}  // namespace xlb
