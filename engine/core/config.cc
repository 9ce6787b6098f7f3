// SPDX-License-Identifier: Apache-2.0
// Cross-field configuration checks.
#include "xlb/config.h"

#include <set>

namespace xlb {

std::optional<SynFloodMode> parseSynFloodMode(std::string_view name) noexcept {
  for (SynFloodMode m : {SynFloodMode::kOff, SynFloodMode::kAlways, SynFloodMode::kAuto}) {
    if (synFloodModeName(m) == name) return m;
  }
  return std::nullopt;
}

std::string_view synFloodModeName(SynFloodMode m) noexcept {
  switch (m) {
    case SynFloodMode::kOff:
      return "off";
    case SynFloodMode::kAlways:
      return "always";
    case SynFloodMode::kAuto:
      return "auto";
  }
  return "?";
}

std::string_view xdpModeName(XdpMode m) noexcept {
  switch (m) {
    case XdpMode::kAuto:
      return "auto";
    case XdpMode::kNative:
      return "native";
    case XdpMode::kGeneric:
      return "generic";
  }
  return "?";
}

std::string checkConfig(const Config& c) {
  if (c.vips.empty()) return "vips: at least one VIP is required";
  std::size_t backends = 0;
  for (const VipConfig& v : c.vips) backends += v.backends.size();
  if (backends > kMaxBackendIds) {
    return "vips: " + std::to_string(backends) +
           " backends in all; backend ids are 16-bit, so at " + "most " +
           std::to_string(kMaxBackendIds) + " backends can be configured";
  }
  std::set<std::string> seenVips;
  for (std::size_t i = 0; i < c.vips.size(); ++i) {
    const VipConfig& v = c.vips[i];
    const std::string key = "vips[" + std::to_string(i) + "]";
    const std::string addr = v.address.toString();
    if (!seenVips.insert(addr).second) return key + ".address: duplicate VIP " + addr;
    bool haveSnat = false;
    for (const Address& s : c.snat.addresses) {
      if (s.family == v.address.family) haveSnat = true;
      if (s == v.address) return key + ".address: " + addr + " is also a SNAT address";
    }
    if (!haveSnat) {
      return key + ".address: no SNAT address of the same family as " + addr +
             " (add one to snat.addresses)";
    }
    std::set<std::string> seenBackends;
    for (std::size_t j = 0; j < v.backends.size(); ++j) {
      const BackendConfig& b = v.backends[j];
      const std::string bkey = key + ".backends[" + std::to_string(j) + "]";
      const std::string baddr = b.address.toString();
      if (b.address.family != v.address.family) {
        return bkey + ".address: " + baddr + " is not of the same family as VIP " + addr;
      }
      if (!seenBackends.insert(baddr).second) return bkey + ".address: duplicate backend " + baddr;
    }
  }
  std::set<std::string> seenSnat;
  for (std::size_t i = 0; i < c.snat.addresses.size(); ++i) {
    const std::string a = c.snat.addresses[i].toString();
    if (!seenSnat.insert(a).second) {
      return "snat.addresses[" + std::to_string(i) + "]: duplicate address " + a;
    }
  }
  return {};
}

}  // namespace xlb
