// SPDX-License-Identifier: Apache-2.0
#include "xlb/snapshot.h"

#include <bit>
#include <cstring>
#include <stdexcept>

namespace xlb {

std::shared_ptr<const Snapshot> Snapshot::fromConfig(const Config& config, const MacAddr& localMac,
                                                     const Resolver& resolve,
                                                     std::uint32_t maglevSize) {
  if (std::string err = checkConfig(config); !err.empty()) throw std::invalid_argument(err);
  SnapshotSpec spec;
  spec.localMac = localMac;
  spec.maglevSize = maglevSize;
  spec.snatAddresses = config.snat.addresses;
  spec.invalidAcks = invalidAckLimit(config.autoBlock);
  std::uint16_t nextBackendId = 0;
  for (std::size_t i = 0; i < config.vips.size(); ++i) {
    const VipConfig& vc = config.vips[i];
    SnapshotSpec::Vip v{.address = vc.address,
                        .id = static_cast<std::uint16_t>(i),
                        .proto = vc.protocol,
                        .quic = vc.quic,
                        .forwarding = vc.forwarding,
                        .encap = vc.encapsulation,
                        .synMode = vc.synFlood.mode,
                        .ports = vc.ports,
                        .backendPorts = vc.backendPorts,
                        .backends = {}};
    for (const BackendConfig& bc : vc.backends) {
      v.backends.push_back(BackendSlot{bc.address, nextBackendId++, bc.weight});
      spec.backendMacs.push_back(resolve(bc.address));
    }
    spec.vips.push_back(std::move(v));
  }
  return build(spec);
}

std::shared_ptr<const Snapshot> Snapshot::build(const SnapshotSpec& spec) {
  if (spec.vips.size() > kMaxVips) throw std::invalid_argument("too many VIPs");
  if (spec.backendMacs.size() > kMaxBackendIds) throw std::invalid_argument("too many backend ids");
  if (!isPrime(spec.maglevSize)) throw std::invalid_argument("Maglev size must be prime");
  auto s = std::make_shared<Snapshot>();
  s->localMac_ = spec.localMac;
  s->backendMacs_ = spec.backendMacs;
  s->invalidAcks_ = spec.invalidAcks;
  for (std::size_t i = 0; i < spec.vips.size(); ++i) {
    const SnapshotSpec::Vip& vs = spec.vips[i];
    VipEntry v;
    v.address = vs.address;
    v.id = vs.id;
    v.proto = vs.proto;
    v.quic = vs.quic;
    v.forwarding = vs.forwarding;
    v.encap = vs.encap;
    v.synMode = vs.synMode;
    for (std::uint16_t p : vs.ports) v.portBits[p >> 6] |= std::uint64_t{1} << (p & 63);
    v.backendPorts.assign(vs.backendPorts.begin(), vs.backendPorts.end());
    std::vector<MaglevBackend> mb;
    for (const BackendSlot& b : vs.backends) {
      if (b.id >= spec.backendMacs.size()) throw std::invalid_argument("backend id without a MAC");
      mb.push_back({b.address, b.weight});
    }
    v.backends = vs.backends;
    v.maglev = buildMaglev(mb, spec.maglevSize);
    s->vips_.push_back(std::move(v));
  }
  // At most half full, so probes are short and always end at an empty slot.
  const std::size_t locals = s->vips_.size() + spec.snatAddresses.size();
  const std::uint64_t size = std::bit_ceil(static_cast<std::uint64_t>(locals) * 2 + 2);
  s->local_.assign(size, LocalSlot{});
  s->localShift_ = 64 - static_cast<unsigned>(std::countr_zero(size));
  for (std::size_t i = 0; i < s->vips_.size(); ++i) {
    const VipEntry& v = s->vips_[i];
    const auto pos = static_cast<std::uint16_t>(i);
    Destination d = s->lookup(v.address.family, v.address.ip);
    if (d.kind == Destination::Kind::kNone) {
      d = {Destination::Kind::kVip, Destination::kNoVip, Destination::kNoVip};
    }
    (v.proto == kProtoUdp ? d.udpIndex : d.index) = pos;
    s->setLocal(v.address, d);
  }
  for (std::size_t i = 0; i < spec.snatAddresses.size(); ++i) {
    s->setLocal(spec.snatAddresses[i], {Destination::Kind::kSnat, static_cast<std::uint16_t>(i)});
  }
  return s;
}

std::size_t Snapshot::slotOf(Family family, const IpAddr& addr) const noexcept {
  // Fibonacci hashing on the top bits: one multiply for IPv4 (the second word is zero).
  std::uint64_t w[2];
  std::memcpy(w, addr.bytes.data(), 16);
  const std::uint64_t x = w[0] ^ (w[1] * 0xc2b2ae3d27d4eb4full) ^ static_cast<std::uint8_t>(family);
  return static_cast<std::size_t>((x * 0x9e3779b97f4a7c15ull) >> localShift_);
}

void Snapshot::setLocal(const Address& a, Destination d) {
  const std::size_t mask = local_.size() - 1;
  std::size_t h = slotOf(a.family, a.ip);
  while (local_[h].dest.kind != Destination::Kind::kNone &&
         !(local_[h].family == a.family && local_[h].ip == a.ip)) {
    h = (h + 1) & mask;
  }
  local_[h] = LocalSlot{a.ip, a.family, d};
}

Destination Snapshot::lookup(Family family, const IpAddr& addr) const noexcept {
  const std::size_t mask = local_.size() - 1;
  for (std::size_t h = slotOf(family, addr);; h = (h + 1) & mask) {
    const LocalSlot& slot = local_[h];
    if (slot.dest.kind == Destination::Kind::kNone) return {};
    if (slot.family == family && slot.ip == addr) return slot.dest;
  }
}

const VipEntry* Snapshot::findVip(Family family, const IpAddr& addr,
                                  std::uint8_t proto) const noexcept {
  const std::uint16_t i = lookup(family, addr).vipFor(proto);
  return i == Destination::kNoVip ? nullptr : &vips_[i];
}

}  // namespace xlb
