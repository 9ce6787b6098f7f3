// SPDX-License-Identifier: Apache-2.0
#include "xlb/snapshot.h"

#include <bit>
#include <stdexcept>

namespace xlb {
namespace {
std::uint64_t vipHash(Family f, const IpAddr& a) noexcept {
  return a.mix() ^ static_cast<std::uint8_t>(f);
}
}  // namespace

std::shared_ptr<const Snapshot> Snapshot::fromConfig(const Config& config, const MacAddr& localMac,
                                                     const Resolver& resolve,
                                                     std::uint32_t maglevSize) {
  if (std::string err = checkConfig(config); !err.empty()) throw std::invalid_argument(err);
  auto s = std::make_shared<Snapshot>();
  s->localMac_ = localMac;
  std::uint16_t nextBackendId = 0;
  for (std::size_t i = 0; i < config.vips.size(); ++i) {
    const VipConfig& vc = config.vips[i];
    VipEntry v;
    v.address = vc.address;
    v.id = static_cast<std::uint16_t>(i);
    v.proto = vc.protocol;
    for (std::uint16_t p : vc.ports) v.portBits[p >> 6] |= std::uint64_t{1} << (p & 63);
    std::vector<MaglevBackend> mb;
    for (const BackendConfig& bc : vc.backends) {
      BackendSlot b{bc.address, nextBackendId++, bc.weight};
      s->backendMacs_.push_back(resolve(bc.address));
      v.backends.push_back(b);
      mb.push_back({bc.address, bc.weight});
    }
    v.maglev = buildMaglev(mb, maglevSize);
    s->vips_.push_back(std::move(v));
  }
  const std::uint64_t size = std::bit_ceil(static_cast<std::uint64_t>(s->vips_.size()) * 2 + 2);
  s->index_.assign(size, -1);
  s->indexMask_ = size - 1;
  for (std::size_t i = 0; i < s->vips_.size(); ++i) {
    std::uint64_t h = vipHash(s->vips_[i].address.family, s->vips_[i].address.ip) & s->indexMask_;
    while (s->index_[h] >= 0) h = (h + 1) & s->indexMask_;
    s->index_[h] = static_cast<std::int32_t>(i);
  }
  return s;
}

const VipEntry* Snapshot::findVip(Family family, const IpAddr& addr) const noexcept {
  if (index_.empty()) return nullptr;
  for (std::uint64_t h = vipHash(family, addr) & indexMask_;; h = (h + 1) & indexMask_) {
    std::int32_t i = index_[h];
    if (i < 0) return nullptr;
    const VipEntry& v = vips_[static_cast<std::size_t>(i)];
    if (v.address.family == family && v.address.ip == addr) return &v;
  }
}

}  // namespace xlb
