// SPDX-License-Identifier: Apache-2.0
// The immutable service snapshot (VIPs, ports, backends, Maglev tables, next-hop MACs) the
// control plane builds off the packet path and workers read between batches.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <utility>
#include <vector>

#include "xlb/addr.h"
#include "xlb/config.h"
#include "xlb/maglev.h"
#include "xlb/parse.h"
#include "xlb/source_event.h"

namespace xlb {

struct BackendSlot {
  Address address;
  std::uint16_t id = 0;  // stable across snapshots; indexes Snapshot::backendMacs
  std::uint32_t weight = 1;
};

struct VipEntry {
  Address address;
  std::uint16_t id = 0;
  std::uint8_t proto = 6;
  bool quic = false;  // UDP: flows also found by the server's QUIC connection ID
  Forwarding forwarding = Forwarding::kFullNat;
  DsrEncap encap = DsrEncap::kL2;
  SynFloodMode synMode =
      SynFloodMode::kOff;  // not off: an ACK missing the table may carry a cookie
  std::array<std::uint64_t, 1024> portBits{};  // 65536-bit set of served ports
  // Served ports whose backends listen elsewhere, sorted; most VIPs have none. Read per SYN.
  std::vector<std::pair<std::uint16_t, std::uint16_t>> backendPorts;
  std::vector<std::uint16_t> maglev;  // slot -> index into backends
  std::vector<BackendSlot> backends;

  bool servesPort(std::uint16_t p) const noexcept { return (portBits[p >> 6] >> (p & 63)) & 1; }
  std::uint16_t backendPort(std::uint16_t p) const noexcept {
    for (const auto& [from, to] : backendPorts) {
      if (from == p) return to;
    }
    return p;
  }
};

// What a destination address is to this load balancer. An address may be a TCP VIP and a UDP
// VIP at once (HTTPS and QUIC on 443), each its own entry in vips().
struct Destination {
  enum class Kind : std::uint8_t { kNone = 0, kVip, kSnat };
  static constexpr std::uint16_t kNoVip = 0xffff;
  Kind kind = Kind::kNone;
  // kVip: the TCP VIP's position in vips() (kNoVip: none); kSnat: the SNAT address's position
  // in the configuration.
  std::uint16_t index = 0;
  std::uint16_t udpIndex = kNoVip;  // kVip: the UDP VIP's position in vips(), or kNoVip

  // The position of the VIP serving `proto` at this address, or kNoVip.
  std::uint16_t vipFor(std::uint8_t proto) const noexcept {
    if (kind != Kind::kVip) return kNoVip;
    return proto == kProtoUdp ? udpIndex : proto == kProtoTcp ? index : kNoVip;
  }
};

// What a snapshot is built from when backends change at runtime (the control plane's model):
// stable backend ids, and per VIP only the backends that take new connections.
struct SnapshotSpec {
  struct Vip {
    Address address;
    std::uint16_t id = 0;  // stable while the VIP exists (the XDP program's slot for it)
    std::uint8_t proto = 6;
    bool quic = false;
    Forwarding forwarding = Forwarding::kFullNat;
    DsrEncap encap = DsrEncap::kL2;
    SynFloodMode synMode = SynFloodMode::kOff;
    std::vector<std::uint16_t> ports;
    BackendPorts backendPorts;
    std::vector<BackendSlot> backends;  // in the Maglev table: active, healthy, weight > 0
  };
  MacAddr localMac;
  std::vector<Vip> vips;
  std::vector<Address> snatAddresses;
  // Next hop per backend id, for every id an entry may still carry (draining, down and removed
  // backends keep theirs while their connections finish).
  std::vector<MacAddr> backendMacs;
  std::uint32_t maglevSize = kDefaultMaglevSize;
  // Automatic blocking's engine-side kind (source_event.h); off: not counted.
  SourceLimit invalidAcks;
};

class Snapshot {
 public:
  using Resolver = std::function<MacAddr(const Address&)>;

  // Builds from a spec. Throws std::invalid_argument when a backend id has no MAC, there are
  // more VIPs than the data path holds, or the Maglev size is not prime.
  static std::shared_ptr<const Snapshot> build(const SnapshotSpec& spec);

  // Builds from configuration. `resolve` gives each backend's next-hop MAC (from the kernel's
  // neighbour table in the daemon, fixed in tests). Throws std::invalid_argument on a config
  // that checkConfig() rejects.
  static std::shared_ptr<const Snapshot> fromConfig(const Config& config, const MacAddr& localMac,
                                                    const Resolver& resolve,
                                                    std::uint32_t maglevSize = kDefaultMaglevSize);

  // Classifies a destination address with one probe of a small open-addressed table holding
  // every VIP and SNAT address (the per-packet question "is this for us, and how?").
  Destination lookup(Family family, const IpAddr& addr) const noexcept;
  // The VIP with this address serving `proto`, or nullptr.
  const VipEntry* findVip(Family family, const IpAddr& addr,
                          std::uint8_t proto = kProtoTcp) const noexcept;

  const MacAddr& localMac() const noexcept { return localMac_; }
  const std::vector<VipEntry>& vips() const noexcept { return vips_; }
  const MacAddr& backendMac(std::uint16_t id) const noexcept {
    return id < backendMacs_.size() ? backendMacs_[id] : localMac_;
  }
  // Backend ids in use are below this.
  std::size_t backendIds() const noexcept { return backendMacs_.size(); }
  const SourceLimit& invalidAcks() const noexcept { return invalidAcks_; }

 private:
  MacAddr localMac_;
  std::vector<VipEntry> vips_;
  std::vector<MacAddr> backendMacs_;
  SourceLimit invalidAcks_;
  struct LocalSlot {
    IpAddr ip;
    Family family = Family::kNone;
    Destination dest;
  };
  void setLocal(const Address& a, Destination d);  // adds or replaces the address's slot
  std::size_t slotOf(Family family, const IpAddr& addr) const noexcept;
  std::vector<LocalSlot> local_;  // open addressing, linear probing; kind kNone = empty
  unsigned localShift_ = 64;
};

}  // namespace xlb
