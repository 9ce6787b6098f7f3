// SPDX-License-Identifier: Apache-2.0
// SplitMix64: the one small seeded generator xlb uses to spread a seed into keys and to make
// deterministic test and simulator inputs (not for anything an attacker must not predict).
#pragma once

#include <cstdint>

namespace xlb {

inline std::uint64_t splitmix64(std::uint64_t& state) noexcept {
  std::uint64_t z = (state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

}  // namespace xlb
