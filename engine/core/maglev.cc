// SPDX-License-Identifier: Apache-2.0
// Maglev table population. Control-plane code: runs off the packet path when a backend set
// changes; the result is published in an immutable snapshot.
#include "xlb/maglev.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>

namespace xlb {
namespace {

// Fixed-key 64-bit hash of an address (FNV-1a then a finaliser): stable across runs and hosts.
std::uint64_t addrHash(const Address& a, std::uint64_t salt) noexcept {
  std::uint64_t h = 0xcbf29ce484222325ull ^ salt;
  for (std::uint8_t b : a.ip.bytes) {
    h ^= b;
    h *= 0x100000001b3ull;
  }
  h ^= static_cast<std::uint8_t>(a.family);
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ull;
  h ^= h >> 33;
  return h;
}

}  // namespace

bool isPrime(std::uint32_t n) noexcept {
  if (n < 2) return false;
  for (std::uint32_t d = 2; static_cast<std::uint64_t>(d) * d <= n; ++d) {
    if (n % d == 0) return false;
  }
  return true;
}

std::vector<std::uint16_t> buildMaglev(std::span<const MaglevBackend> backends,
                                       std::uint32_t size) {
  if (!isPrime(size)) throw std::invalid_argument("Maglev table size must be prime");
  if (backends.size() >= kMaglevEmpty) throw std::invalid_argument("too many backends");
  std::vector<std::uint16_t> table(size, kMaglevEmpty);
  const std::size_t n = backends.size();
  std::uint32_t maxWeight = 0;
  for (const auto& b : backends) maxWeight = std::max(maxWeight, b.weight);
  if (n == 0 || maxWeight == 0) return table;

  // Per backend: current position in its permutation, its skip, and weight credit. A backend
  // claims one slot each time its credit reaches maxWeight, so shares follow the weights.
  std::vector<std::uint32_t> pos(n), skip(n);
  std::vector<std::uint64_t> credit(n, 0);
  for (std::size_t i = 0; i < n; ++i) {
    pos[i] = static_cast<std::uint32_t>(addrHash(backends[i].address, 0x5bd1e995) % size);
    skip[i] =
        static_cast<std::uint32_t>(addrHash(backends[i].address, 0x27d4eb2f) % (size - 1)) + 1;
  }
  // Take turns in address order, not input order, so the table depends on the set alone.
  std::vector<std::size_t> order(n);
  for (std::size_t i = 0; i < n; ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](std::size_t x, std::size_t y) {
    const auto& ax = backends[x].address;
    const auto& ay = backends[y].address;
    if (ax.family != ay.family) return ax.family < ay.family;
    return ax.ip.bytes < ay.ip.bytes;
  });
  std::uint32_t filled = 0;
  while (true) {
    for (std::size_t i : order) {
      credit[i] += backends[i].weight;
      while (credit[i] >= maxWeight) {
        credit[i] -= maxWeight;
        // Walk this backend's permutation to its next free slot.
        std::uint32_t p = pos[i];
        while (table[p] != kMaglevEmpty) {
          p += skip[i];
          if (p >= size) p -= size;
        }
        table[p] = static_cast<std::uint16_t>(i);
        p += skip[i];
        if (p >= size) p -= size;
        pos[i] = p;
        if (++filled == size) return table;
      }
    }
  }
}

}  // namespace xlb
