// SPDX-License-Identifier: Apache-2.0
// The blocklist filter the XDP program probes before its blocklist maps (bpf/lib/blocklist.h),
// set while any entry needs a bit. IPv4: a bit per /24, indexed by the address (2^24 bits); an
// entry sets the bits of the /24s it intersects, so a source's own /24 answers for every length.
// IPv6: a bit per xlb_block_filter_bit6() of every entry, probed once per length present. Host
// traffic from a source no entry covers finds clear bits and skips the maps' lookups, which are
// real calls (the hash and the LPM trie).
//
// The loader's side: a count per bit (saturating: a bit 255 entries share stays set, which only
// costs those sources a lookup) so a removal clears a bit no other entry needs, and a count per
// prefix length so the program probes only the IPv6 lengths present.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
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

// The filter words an add or a removal changed: [first, first + count).
struct FilterWords {
  std::uint32_t first = 0;
  std::uint32_t count = 0;
  bool operator==(const FilterWords&) const = default;
};

class BlockFilter {
 public:
  // IPv6's part sized for `capacity` entries per blocklist map: XLB_BLOCK_FILTER_BITS_PER_ENTRY
  // bits each, rounded up to a power of two, between one word and 2^XLB_BLOCK_FILTER_MAX_LOG2
  // bits. IPv4's part is always XLB_BLOCK_FILTER_V4_WORDS.
  explicit BlockFilter(std::uint32_t capacity);
  static std::uint32_t log2For(std::uint32_t capacity) noexcept;
  // The filter map's entries (64-bit words) for `capacity`: IPv4's, then IPv6's.
  static std::uint32_t wordsFor(std::uint32_t capacity) noexcept {
    return XLB_BLOCK_FILTER_V4_WORDS + (std::uint32_t{1} << (log2For(capacity) - 6));
  }

  std::uint32_t log2Bits() const noexcept { return log2_; }
  std::uint32_t words() const noexcept { return static_cast<std::uint32_t>(words_.size()); }
  std::uint64_t word(std::uint32_t i) const noexcept { return words_[i]; }
  // The values of a range add or remove returned, one after another, for one batch write.
  const std::uint64_t* wordsAt(FilterWords w) const noexcept { return words_.data() + w.first; }

  // One entry added to or removed from the blocklist maps (the caller's maps accepted the
  // change). Returns the words whose values changed, if any did.
  std::optional<FilterWords> add(const Prefix& p) { return change(p, true); }
  std::optional<FilterWords> remove(const Prefix& p) { return change(p, false); }

  // The bit the program probes for a source under `p`: IPv4, the /24 of p's address (a shorter
  // prefix sets the bits of every /24 under it); IPv6, the hashed bit of the prefix.
  std::uint64_t bitOf(const Prefix& p) const noexcept;

  // The config map's blocklist fields: which maps hold entries (block_maps), the IPv6 lengths
  // present, or more than XLB_BLOCK_FILTER_LENS of them (the program then asks the IPv6 maps
  // directly), and the size of IPv6's part.
  void writeConfig(xlb_config& cfg) const noexcept;
  // Entries on the blocklist (every add not yet removed).
  std::size_t entries() const noexcept;

 private:
  struct Bits {
    std::uint64_t first;
    std::uint64_t count;
  };
  struct Free {
    void operator()(std::uint8_t* p) const noexcept;
  };
  Bits bitsOf(const Prefix& p) const noexcept;
  std::uint8_t& countOf(std::uint64_t bit) noexcept;
  std::optional<FilterWords> change(const Prefix& p, bool add);
  std::uint32_t& lengthCount(const Prefix& p) noexcept;

  std::uint32_t log2_;
  std::vector<std::uint64_t> words_;
  // Per IPv4 bit (2^24): zeroed by calloc, so only the pages of /24s an entry ever touched are
  // backed, not 16 MiB per program.
  std::unique_ptr<std::uint8_t[], Free> counts4_;
  std::vector<std::uint8_t> counts6_;       // per IPv6 bit
  std::array<std::uint32_t, 33> lens4_{};   // entries per IPv4 prefix length
  std::array<std::uint32_t, 129> lens6_{};  // entries per IPv6 prefix length
};

}  // namespace xlb
