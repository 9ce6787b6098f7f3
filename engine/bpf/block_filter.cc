// SPDX-License-Identifier: Apache-2.0
#include "xlb/block_filter.h"

#include <algorithm>
#include <bit>

namespace xlb {

namespace {

// The address as the program hands it to xlb_block_filter_bit(): host-order words, the first
// address bit at the top of `hi`.
std::uint64_t bigEndianWord(const std::uint8_t* b, std::size_t n) noexcept {
  std::uint64_t w = 0;
  for (std::size_t i = 0; i < n; ++i) w = (w << 8) | b[i];
  return w;
}

}  // namespace

std::uint32_t BlockFilter::log2For(std::uint32_t capacity) noexcept {
  const std::uint64_t bits = std::bit_ceil(
      std::max<std::uint64_t>(std::uint64_t{capacity} * XLB_BLOCK_FILTER_BITS_PER_ENTRY, 64));
  return std::min<std::uint32_t>(static_cast<std::uint32_t>(std::countr_zero(bits)),
                                 XLB_BLOCK_FILTER_MAX_LOG2);
}

BlockFilter::BlockFilter(std::uint32_t capacity) : log2_(log2For(capacity)) {
  words_.assign(std::size_t{1} << (log2_ - 6), 0);
  counts_.assign(std::size_t{1} << log2_, 0);
}

std::uint64_t BlockFilter::bitOf(const Prefix& p) const noexcept {
  const std::uint8_t* b = p.addr.ip.bytes.data();
  if (p.addr.family == Family::kV4) {
    return xlb_block_filter_bit(XLB_FAMILY_V4, p.length, bigEndianWord(b, 4) << 32, 0, log2_);
  }
  return xlb_block_filter_bit(XLB_FAMILY_V6, p.length, bigEndianWord(b, 8), bigEndianWord(b + 8, 8),
                              log2_);
}

std::uint32_t& BlockFilter::lengthCount(const Prefix& p) noexcept {
  return p.addr.family == Family::kV4 ? lens4_[p.length] : lens6_[p.length];
}

std::optional<std::uint32_t> BlockFilter::add(const Prefix& p) {
  ++lengthCount(p);
  const std::uint64_t bit = bitOf(p);
  std::uint8_t& c = counts_[bit];
  if (c == 255) return std::nullopt;  // saturated: stays set
  if (c++ != 0) return std::nullopt;
  words_[bit >> 6] |= std::uint64_t{1} << (bit & 63);
  return static_cast<std::uint32_t>(bit >> 6);
}

std::optional<std::uint32_t> BlockFilter::remove(const Prefix& p) {
  std::uint32_t& n = lengthCount(p);
  if (n > 0) --n;
  const std::uint64_t bit = bitOf(p);
  std::uint8_t& c = counts_[bit];
  if (c == 0 || c == 255) return std::nullopt;
  if (--c != 0) return std::nullopt;
  words_[bit >> 6] &= ~(std::uint64_t{1} << (bit & 63));
  return static_cast<std::uint32_t>(bit >> 6);
}

void BlockFilter::writeConfig(xlb_config& cfg) const noexcept {
  const auto fill = [](const auto& lens, std::uint8_t* out, std::uint8_t& n) {
    n = 0;
    for (std::size_t len = lens.size(); len-- > 0;) {
      if (lens[len] == 0) continue;
      if (n < XLB_BLOCK_FILTER_LENS) out[n] = static_cast<std::uint8_t>(len);
      ++n;  // past XLB_BLOCK_FILTER_LENS: the program asks the maps
    }
  };
  fill(lens4_, cfg.block_lens4, cfg.block_nlens4);
  fill(lens6_, cfg.block_lens6, cfg.block_nlens6);
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
