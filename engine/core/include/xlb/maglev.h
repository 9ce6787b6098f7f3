// SPDX-License-Identifier: Apache-2.0
// Weighted Maglev consistent hashing (Eisenbud et al., NSDI 2016) with weights.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "xlb/addr.h"

namespace xlb {

inline constexpr std::uint32_t kDefaultMaglevSize = 65537;
inline constexpr std::uint16_t kMaglevEmpty = 0xffff;

struct MaglevBackend {
  Address address;
  std::uint32_t weight = 1;  // 0: takes no slots
};

// Builds the lookup table: slot -> index into `backends`. Deterministic for a given backend set
// (the permutation of a backend depends only on its address, not on its position), so every
// worker and every restart agrees. `size` must be prime; at most 65535 backends. Backends with
// weight w get a share of slots proportional to w. An empty or all-zero-weight set yields a
// table of kMaglevEmpty.
std::vector<std::uint16_t> buildMaglev(std::span<const MaglevBackend> backends,
                                       std::uint32_t size = kDefaultMaglevSize);

bool isPrime(std::uint32_t n) noexcept;

}  // namespace xlb
