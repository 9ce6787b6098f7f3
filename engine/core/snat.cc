// SPDX-License-Identifier: Apache-2.0
#include "xlb/snat.h"

#include <stdexcept>

namespace xlb {

SnatPool::SnatPool(const std::vector<Address>& addresses, std::uint16_t lo, std::uint16_t hi)
    : lo_(lo), hi_(hi), rangeSize_(static_cast<std::uint32_t>(hi) - lo + 1) {
  if (lo > hi) throw std::invalid_argument("SNAT port range: low > high");
  if (addresses.size() > kMaxAddresses) throw std::invalid_argument("too many SNAT addresses");
  pools_.resize(addresses.size());
  for (std::size_t i = 0; i < addresses.size(); ++i) {
    Pool& p = pools_[i];
    p.addr = addresses[i];
    p.ring.resize(rangeSize_);
    for (std::uint32_t k = 0; k < rangeSize_; ++k) p.ring[k] = static_cast<std::uint16_t>(lo + k);
    p.used.assign((rangeSize_ + 63) / 64, 0);
    p.ends.assign(std::size_t{rangeSize_} * kRecentBackends, PortEnd{});
    p.freeCount = rangeSize_;
  }
  index_.fill(kNoAddress);
  for (std::size_t i = 0; i < pools_.size(); ++i) {
    std::size_t h = pools_[i].addr.ip.mix() & 0xff;
    while (index_[h] != kNoAddress) h = (h + 1) & 0xff;
    index_[h] = static_cast<std::uint8_t>(i);
  }
}

std::uint64_t SnatPool::capacity() const noexcept {
  return static_cast<std::uint64_t>(rangeSize_) * pools_.size();
}

bool SnatPool::allocate(Family family, std::uint8_t& addrIdx, std::uint16_t& port) noexcept {
  const std::size_t n = pools_.size();
  for (std::size_t k = 0; k < n; ++k) {
    std::size_t i = (rr_ + k) % n;
    Pool& p = pools_[i];
    if (p.addr.family != family || p.freeCount == 0) continue;
    port = p.ring[p.head];
    p.head = p.head + 1 == rangeSize_ ? 0 : p.head + 1;
    --p.freeCount;
    std::uint32_t bit = static_cast<std::uint32_t>(port - lo_);
    p.used[bit / 64] |= std::uint64_t{1} << (bit % 64);
    addrIdx = static_cast<std::uint8_t>(i);
    rr_ = static_cast<std::uint32_t>(i + 1);
    ++inUseTotal_;
    return true;
  }
  return false;
}

bool SnatPool::inUse(std::uint8_t addrIdx, std::uint16_t port) const noexcept {
  if (addrIdx >= pools_.size() || !inRange(port)) return false;
  std::uint32_t bit = static_cast<std::uint32_t>(port - lo_);
  return (pools_[addrIdx].used[bit / 64] >> (bit % 64)) & 1;
}

bool SnatPool::release(std::uint8_t addrIdx, std::uint16_t port) noexcept {
  if (!inUse(addrIdx, port)) {
    ++badReleases_;
    return false;
  }
  Pool& p = pools_[addrIdx];
  std::uint32_t bit = static_cast<std::uint32_t>(port - lo_);
  p.used[bit / 64] &= ~(std::uint64_t{1} << (bit % 64));
  std::uint32_t tail = p.head + p.freeCount;
  if (tail >= rangeSize_) tail -= rangeSize_;
  p.ring[tail] = port;
  ++p.freeCount;
  --inUseTotal_;
  return true;
}

bool SnatPool::claim(std::uint8_t addrIdx, std::uint16_t port) noexcept {
  if (addrIdx >= pools_.size() || !inRange(port) || inUse(addrIdx, port)) return false;
  Pool& p = pools_[addrIdx];
  const auto bit = static_cast<std::uint32_t>(port - lo_);
  p.used[bit / 64] |= std::uint64_t{1} << (bit % 64);
  ++inUseTotal_;
  return true;
}

void SnatPool::rebuildFree() noexcept {
  for (Pool& p : pools_) {
    p.head = 0;
    p.freeCount = 0;
    for (std::uint32_t k = 0; k < rangeSize_; ++k) {
      if ((p.used[k / 64] >> (k % 64)) & 1) continue;
      p.ring[p.freeCount++] = static_cast<std::uint16_t>(lo_ + k);
    }
  }
}

void SnatPool::noteEnd(std::uint8_t addrIdx, std::uint16_t port, std::uint16_t backendId,
                       std::uint16_t backendPort, std::optional<std::uint32_t> endSeq) noexcept {
  if (addrIdx >= pools_.size() || !inRange(port)) return;
  PortEnd* ends = &pools_[addrIdx].ends[static_cast<std::size_t>(port - lo_) * kRecentBackends];
  // This backend's record leaves its place (or, when it has none, the oldest goes) ...
  std::size_t at = kRecentBackends - 1;
  for (std::size_t i = 0; i < kRecentBackends; ++i) {
    if (ends[i].backendId == backendId && ends[i].backendPort == backendPort) {
      at = i;
      break;
    }
  }
  if (!endSeq) {  // ... and an unknown end leaves no record behind to crowd the others out
    if (ends[at].backendId != backendId || ends[at].backendPort != backendPort) return;
    for (std::size_t i = at; i + 1 < kRecentBackends; ++i) ends[i] = ends[i + 1];
    ends[kRecentBackends - 1] = PortEnd{};
    return;
  }
  for (std::size_t i = at; i > 0; --i) ends[i] = ends[i - 1];
  ends[0] = PortEnd{backendId, backendPort, *endSeq};
}

std::optional<std::uint32_t> SnatPool::lastEnd(std::uint8_t addrIdx, std::uint16_t port,
                                               std::uint16_t backendId,
                                               std::uint16_t backendPort) const noexcept {
  if (addrIdx >= pools_.size() || !inRange(port)) return std::nullopt;
  const PortEnd* ends =
      &pools_[addrIdx].ends[static_cast<std::size_t>(port - lo_) * kRecentBackends];
  for (std::size_t i = 0; i < kRecentBackends; ++i) {
    if (ends[i].backendId == backendId && ends[i].backendPort == backendPort) return ends[i].seq;
  }
  return std::nullopt;
}

std::uint8_t SnatPool::find(Family family, const IpAddr& addr) const noexcept {
  // At most 64 addresses in 256 slots: probes stay short and always reach an empty slot.
  for (std::size_t h = addr.mix() & 0xff;; h = (h + 1) & 0xff) {
    const std::uint8_t i = index_[h];
    if (i == kNoAddress) return kNoAddress;
    if (pools_[i].addr.family == family && pools_[i].addr.ip == addr) return i;
  }
}

}  // namespace xlb
