// SPDX-License-Identifier: Apache-2.0
#include "xlb/quic.h"

#include <bit>

namespace xlb {

bool parseQuicLongHeader(const std::uint8_t* p, std::size_t len, QuicLongHeader& out) noexcept {
  // flags(1) version(4) dcid_len(1) dcid scid_len(1) scid: RFC 8999 5.1.
  if (len < 7 || !(p[0] & 0x80)) return false;
  out.version = static_cast<std::uint32_t>(p[1]) << 24 | static_cast<std::uint32_t>(p[2]) << 16 |
                static_cast<std::uint32_t>(p[3]) << 8 | p[4];
  out.dcidLen = p[5];
  if (out.dcidLen > kQuicMaxCidLen || 6u + out.dcidLen + 1u > len) return false;
  out.dcid = p + 6;
  out.scidLen = p[6 + out.dcidLen];
  if (out.scidLen > kQuicMaxCidLen || 7u + out.dcidLen + out.scidLen > len) return false;
  out.scid = p + 7 + out.dcidLen;
  return true;
}

CidTable::CidTable(std::size_t slots)
    : slots_(std::bit_ceil(slots < kProbe ? kProbe : slots)), mask_(slots_.size() - 1) {}

std::uint64_t CidTable::hash(const std::uint8_t* cid, std::size_t len) noexcept {
  std::uint64_t h = 0xcbf29ce484222325ull ^ len;  // FNV-1a, then a final mix
  for (std::size_t i = 0; i < len; ++i) h = (h ^ cid[i]) * 0x100000001b3ull;
  h ^= h >> 29;
  h *= 0xbf58476d1ce4e5b9ull;
  return h ^ (h >> 32);
}

void CidTable::learn(const std::uint8_t* cid, std::uint8_t len, std::uint32_t idx,
                     std::uint32_t tag, std::uint64_t seq) noexcept {
  if (len == 0 || len > kQuicMaxCidLen) return;
  const std::uint64_t h = hash(cid, len);
  Slot* victim = nullptr;
  for (std::size_t i = 0; i < kProbe; ++i) {
    Slot& s = slots_[(h + i) & mask_];
    if (s.len == len && s.hash == h && std::memcmp(s.cid.data(), cid, len) == 0) {
      victim = &s;  // known: refresh it
      break;
    }
    if (victim == nullptr || s.len == 0 || (victim->len != 0 && s.seq < victim->seq)) victim = &s;
    if (s.len == 0) break;
  }
  victim->hash = h;
  victim->seq = seq;
  victim->idx = idx;
  victim->tag = tag;
  victim->len = len;
  std::memcpy(victim->cid.data(), cid, len);
  lengths_ |= 1u << len;
}

}  // namespace xlb
