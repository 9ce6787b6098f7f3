// SPDX-License-Identifier: Apache-2.0
// The blocklist filter the XDP program probes before its blocklist maps (bpf/lib/blocklist.h):
// a bit per xlb_block_filter_bit() of every entry, set while any entry needs it. Host traffic
// from a source no entry covers finds a clear bit for each prefix length the list holds and
// skips the maps' lookups, which are real calls (the hash and the LPM trie).
//
// The loader's side: a count per bit (saturating: a bit 255 entries share stays set, which only
// costs those sources a lookup) so a removal clears a bit no other entry needs, and a count per
// prefix length so the program probes only the lengths present.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "xlb/addr.h"
#include "xlb_common.h"

namespace xlb {

// The blocklist map that holds an entry, as its XLB_BLOCK_* bit: a full-length prefix (a single
// address) goes to its family's hash map, a shorter one to its family's LPM trie. The loader's
// map choice and the config's block_maps both follow this one rule.
constexpr std::uint8_t blockMapBit(Family family, unsigned length) noexcept {
  if (family == Family::kV4) return length == 32 ? XLB_BLOCK_V4_EXACT : XLB_BLOCK_V4_LPM;
  return length == 128 ? XLB_BLOCK_V6_EXACT : XLB_BLOCK_V6_LPM;
}
constexpr bool isExactBlockMap(std::uint8_t bit) noexcept {
  return (bit & (XLB_BLOCK_V4_EXACT | XLB_BLOCK_V6_EXACT)) != 0;
}

class BlockFilter {
 public:
  // Sized for `capacity` entries per blocklist map: XLB_BLOCK_FILTER_BITS_PER_ENTRY bits each,
  // rounded up to a power of two, between one word and 2^XLB_BLOCK_FILTER_MAX_LOG2 bits.
  explicit BlockFilter(std::uint32_t capacity);
  static std::uint32_t log2For(std::uint32_t capacity) noexcept;
  // The filter map's entries (64-bit words) for `capacity`.
  static std::uint32_t wordsFor(std::uint32_t capacity) noexcept {
    return std::uint32_t{1} << (log2For(capacity) - 6);
  }

  std::uint32_t log2Bits() const noexcept { return log2_; }
  std::uint32_t words() const noexcept { return static_cast<std::uint32_t>(words_.size()); }
  std::uint64_t word(std::uint32_t i) const noexcept { return words_[i]; }

  // One entry added to or removed from the blocklist maps (the caller's maps accepted the
  // change). Returns the index of the word whose value changed, if one did.
  std::optional<std::uint32_t> add(const Prefix& p);
  std::optional<std::uint32_t> remove(const Prefix& p);

  // The bit the program probes for prefix `p` (or for an address as a prefix of `length`).
  std::uint64_t bitOf(const Prefix& p) const noexcept;

  // The config map's blocklist fields: which maps hold entries (block_maps), the lengths
  // present per family, or more than XLB_BLOCK_FILTER_LENS of them (the program then asks the
  // maps directly), and the filter's size.
  void writeConfig(xlb_config& cfg) const noexcept;
  // Entries on the blocklist (every add not yet removed).
  std::size_t entries() const noexcept;

 private:
  std::uint32_t& lengthCount(const Prefix& p) noexcept;
  std::uint32_t log2_;
  std::vector<std::uint64_t> words_;
  std::vector<std::uint8_t> counts_;        // per bit, saturating at 255
  std::array<std::uint32_t, 33> lens4_{};   // entries per IPv4 prefix length
  std::array<std::uint32_t, 129> lens6_{};  // entries per IPv6 prefix length
};

}  // namespace xlb
