// SPDX-License-Identifier: Apache-2.0
// Cross-field configuration checks.
#include "xlb/config.h"

#include <algorithm>
#include <set>

namespace xlb {

std::vector<std::string> snatSizing(const Config& c) {
  std::vector<std::string> out;
  if (c.snat.sustainedRate == 0) return out;
  const double rate = c.snat.sustainedRate;
  const double perAddress = static_cast<double>(c.snat.portHi) - c.snat.portLo + 1;
  for (Family f : {Family::kV4, Family::kV6}) {
    std::size_t addresses = 0;
    for (const Address& a : c.snat.addresses) addresses += a.family == f ? 1 : 0;
    if (addresses == 0) continue;
    const double ports = perAddress * static_cast<double>(addresses);
    const double heldSec = static_cast<double>(c.conntrack.timeouts.timeWait) / kNsPerSec;
    const char* fam = f == Family::kV4 ? "IPv4" : "IPv6";
    if (ports < rate * heldSec) {
      out.push_back(std::string(fam) + " SNAT: " + std::to_string(static_cast<long>(ports)) +
                    " ports cannot sustain " + std::to_string(c.snat.sustainedRate) +
                    " new connections/s: each closed connection holds its port for the " +
                    "time_wait timer, so about " +
                    std::to_string(static_cast<long>(rate * heldSec)) +
                    " are in use at once; new connections will be refused as snat_exhausted");
    }
    const double reuseSec = ports / rate;
    if (reuseSec < 60) {
      out.push_back(std::string(fam) + " SNAT: at " + std::to_string(c.snat.sustainedRate) +
                    " new connections/s a port is reused after " +
                    std::to_string(static_cast<long>(reuseSec)) +
                    " s, inside a backend's 60 s TIME_WAIT. xlb stamps SYNs with its own clock, so "
                    "clients that send TCP timestamps are unaffected; a SYN without them may be "
                    "refused (counted as snat.time_wait_collisions, reset and sent again). For no "
                    "reuse inside TIME_WAIT give it " +
                    std::to_string(static_cast<long>(rate * 60)) + " ports (addresses x range)");
    }
  }
  return out;
}

std::optional<std::uint8_t> protocolNumber(std::string_view name) {
  if (name == "tcp") return kVipTcp;
  if (name == "udp") return kVipUdp;
  return std::nullopt;
}

const char* protocolName(std::uint8_t proto) {
  return proto == kVipUdp ? "udp" : "tcp";
}

std::optional<VipKey> VipKey::parse(std::string_view text) {
  std::uint8_t proto = kVipTcp;
  const std::size_t slash = text.rfind('/');
  if (slash != std::string_view::npos) {
    const std::optional<std::uint8_t> p = protocolNumber(text.substr(slash + 1));
    if (!p) return std::nullopt;
    proto = *p;
    text = text.substr(0, slash);
  }
  const std::optional<Address> a = Address::parse(text);
  if (!a) return std::nullopt;
  return VipKey{*a, proto};
}

std::string VipKey::toString() const {
  return protocol == kVipUdp ? address.toString() + "/udp" : address.toString();
}

namespace {

std::string checkCluster(const ClusterConfig& c) {
  if (!c.enabled()) {
    return c.self.empty() ? std::string{} : "cluster.self: names no member (members are empty)";
  }
  if (c.members.size() < 2 || c.members.size() > kMaxClusterMembers) {
    return "cluster.members: a cluster has 2 to " + std::to_string(kMaxClusterMembers) +
           " members, not " + std::to_string(c.members.size());
  }
  std::set<std::string> names, addresses;
  for (std::size_t i = 0; i < c.members.size(); ++i) {
    const std::string key = "cluster.members[" + std::to_string(i) + "]";
    if (!names.insert(c.members[i].name).second) {
      return key + ".name: duplicate member " + c.members[i].name;
    }
    if (!addresses.insert(c.members[i].address.toString()).second) {
      return key + ".address: duplicate address " + c.members[i].address.toString();
    }
  }
  if (!c.self.empty() && names.count(c.self) == 0) {
    return "cluster.self: \"" + c.self + "\" is not a member's name";
  }
  if (c.deadAfter < 2 * c.heartbeat) {
    return "cluster.dead_after: must be at least twice cluster.heartbeat (one lost heartbeat "
           "must not make a peer gone)";
  }
  return {};
}

}  // namespace

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
    // An address may serve TCP and UDP, each once.
    if (!seenVips.insert(v.key().toString()).second) {
      return key + ".address: duplicate " + protocolName(v.protocol) + " VIP " + addr;
    }
    if (v.quic && v.protocol != kVipUdp) return key + ".quic: only a UDP VIP carries QUIC";
    if (v.forwarding == Forwarding::kDsr) {
      // Replies bypass xlb: nothing can answer SYNs for the backend, translate ports, or learn
      // QUIC connection IDs.
      if (v.synFlood.mode != SynFloodMode::kOff)
        return key + ".syn_flood: a DSR VIP's SYNs are its backends' (mode must be off)";
      if (!v.backendPorts.empty())
        return key + ".backend_ports: a DSR backend answers from the VIP's own port";
      if (v.quic) return key + ".quic: a DSR VIP never sees the server's packets";
    }
    bool haveSnat = false;
    for (const Address& s : c.snat.addresses) {
      if (s.family == v.address.family) haveSnat = true;
      if (s == v.address) return key + ".address: " + addr + " is also a SNAT address";
    }
    if (!haveSnat) {
      return key + ".address: no SNAT address of the same family as " + addr +
             " (add one to snat.addresses)";
    }
    for (const auto& [port, to] : v.backendPorts) {
      if (std::find(v.ports.begin(), v.ports.end(), port) == v.ports.end()) {
        return key + ".backend_ports: " + std::to_string(port) + " is not a port the VIP serves";
      }
      if (to == 0) return key + ".backend_ports: port 0 is not a port";
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
  if (c.cluster.enabled() && c.cluster.port >= c.snat.portLo && c.cluster.port <= c.snat.portHi) {
    return "cluster.port: " + std::to_string(c.cluster.port) +
           " is inside snat.ports: the XDP program would take the instances' datagrams for "
           "replies from backends";
  }
  return checkCluster(c.cluster);
}

}  // namespace xlb
