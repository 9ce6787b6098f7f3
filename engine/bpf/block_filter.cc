// SPDX-License-Identifier: Apache-2.0
#include "xlb/block_filter.h"

#include <algorithm>
#include <bit>
#include <cstdlib>
#include <new>

namespace xlb {

namespace {

constexpr std::uint64_t kV4Bits = std::uint64_t{XLB_BLOCK_FILTER_V4_WORDS} * 64;

// The address as the program reads it: host-order words, the first address bit at the top.
std::uint64_t bigEndianWord(const std::uint8_t* b, std::size_t n) noexcept {
  std::uint64_t w = 0;
  for (std::size_t i = 0; i < n; ++i) w = (w << 8) | b[i];
  return w;
}

// A bit's count after one more (add) or one fewer entry needs it; true when the bit flips
// (0 -> 1 on an add, 1 -> 0 on a removal). A saturated count stays, and with it the bit.
bool step(std::uint8_t& count, bool add) noexcept {
  if (count == 255) return false;
  if (add) return count++ == 0;
  if (count == 0) return false;
  return --count == 0;
}

}  // namespace

void BlockFilter::Free::operator()(std::uint8_t* p) const noexcept {
  std::free(p);  // from calloc, whose untouched pages stay unbacked
}

std::uint32_t BlockFilter::log2For(std::uint32_t capacity) noexcept {
  const std::uint64_t bits = std::bit_ceil(
      std::max<std::uint64_t>(std::uint64_t{capacity} * XLB_BLOCK_FILTER_BITS_PER_ENTRY, 64));
  return std::min<std::uint32_t>(static_cast<std::uint32_t>(std::countr_zero(bits)),
                                 XLB_BLOCK_FILTER_MAX_LOG2);
}

BlockFilter::BlockFilter(std::uint32_t capacity)
    : log2_(log2For(capacity)),
      // calloc: zeroed without touching every page (new[]() would write all 16 MiB)
      counts4_(static_cast<std::uint8_t*>(std::calloc(kV4Bits, 1))) {
  if (!counts4_) throw std::bad_alloc();
  words_.assign(wordsFor(capacity), 0);
  counts6_.assign(std::size_t{1} << log2_, 0);
}

BlockFilter::Bits BlockFilter::bitsOf(const Prefix& p) const noexcept {
  const std::uint8_t* b = p.addr.ip.bytes.data();
  if (p.addr.family == Family::kV4) {
    const std::uint64_t slash24 = bigEndianWord(b, 4) >> 8;
    if (p.length >= 24) return {slash24, 1};
    const std::uint64_t span = std::uint64_t{1} << (24 - p.length);
    return {slash24 & ~(span - 1), span};
  }
  return {kV4Bits +
              xlb_block_filter_bit6(p.length, bigEndianWord(b, 8), bigEndianWord(b + 8, 8), log2_),
          1};
}

std::uint64_t BlockFilter::bitOf(const Prefix& p) const noexcept {
  // IPv4's bit is the address's /24 whatever the prefix's length.
  return bitsOf(p.addr.family == Family::kV4 ? Prefix{p.addr, 32} : p).first;
}

std::uint8_t& BlockFilter::countOf(std::uint64_t bit) noexcept {
  return bit < kV4Bits ? counts4_[bit] : counts6_[bit - kV4Bits];
}

std::uint32_t& BlockFilter::lengthCount(const Prefix& p) noexcept {
  return p.addr.family == Family::kV4 ? lens4_[p.length] : lens6_[p.length];
}

std::optional<FilterWords> BlockFilter::change(const Prefix& p, bool add) {
  std::uint32_t& n = lengthCount(p);
  if (add) {
    ++n;
  } else if (n > 0) {
    --n;
  }
  const Bits bits = bitsOf(p);
  std::optional<std::uint64_t> lo, hi;  // the bits that flipped, first and last
  for (std::uint64_t bit = bits.first; bit < bits.first + bits.count; ++bit) {
    if (!step(countOf(bit), add)) continue;
    words_[bit >> 6] ^= std::uint64_t{1} << (bit & 63);
    if (!lo) lo = bit;
    hi = bit;
  }
  if (!lo) return std::nullopt;
  return FilterWords{static_cast<std::uint32_t>(*lo >> 6),
                     static_cast<std::uint32_t>((*hi >> 6) - (*lo >> 6) + 1)};
}

void BlockFilter::writeConfig(xlb_config& cfg) const noexcept {
  cfg.block_nlens6 = 0;
  for (std::size_t len = lens6_.size(); len-- > 0;) {
    if (lens6_[len] == 0) continue;
    if (cfg.block_nlens6 < XLB_BLOCK_FILTER_LENS) {
      cfg.block_lens6[cfg.block_nlens6] = static_cast<std::uint8_t>(len);
    }
    ++cfg.block_nlens6;  // past XLB_BLOCK_FILTER_LENS: the program asks the IPv6 maps
  }
  cfg.block_filter_log2 = static_cast<std::uint8_t>(log2_);
  std::uint8_t maps = 0;
  for (std::size_t len = 0; len < lens4_.size(); ++len) {
    if (lens4_[len] != 0) maps |= blockMapBit(Family::kV4, static_cast<unsigned>(len));
  }
  for (std::size_t len = 0; len < lens6_.size(); ++len) {
    if (lens6_[len] != 0) maps |= blockMapBit(Family::kV6, static_cast<unsigned>(len));
  }
  cfg.block_maps = maps;
}

std::size_t BlockFilter::entries() const noexcept {
  std::size_t n = 0;
  for (std::uint32_t c : lens4_) n += c;
  for (std::uint32_t c : lens6_) n += c;
  return n;
}

}  // namespace xlb
