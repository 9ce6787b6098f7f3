// SPDX-License-Identifier: Apache-2.0
// QUIC by connection ID: the header fields every QUIC version keeps (RFC 8999) and a table from
// the connection IDs servers chose to the flows that carry them. A QUIC client whose address or
// port changes (NAT rebinding) keeps sending to the server's connection ID; finding the flow by it
// keeps the client on its backend and on its SNAT tuple, so the backend never sees the change.
// Pure: no allocation after construction, no syscalls.
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <vector>

namespace xlb {

inline constexpr std::size_t kQuicMaxCidLen = 20;

// A long header (first bit set): version, destination and source connection IDs. False when the
// datagram is too short or a length is beyond 20 (not QUIC v1/v2, or damaged).
struct QuicLongHeader {
  std::uint32_t version = 0;
  std::uint8_t dcidLen = 0;
  std::uint8_t scidLen = 0;
  const std::uint8_t* dcid = nullptr;
  const std::uint8_t* scid = nullptr;
};
bool parseQuicLongHeader(const std::uint8_t* p, std::size_t len, QuicLongHeader& out) noexcept;

inline bool quicIsLongHeader(const std::uint8_t* p, std::size_t len) noexcept {
  return len >= 1 && (p[0] & 0x80) != 0;
}

// Server-chosen connection IDs -> connection table entries. Open addressing with a bounded probe;
// a full neighbourhood overwrites its oldest slot, so a worker tracks at most `slots` IDs at once
// and older ones fall out (their connections keep working; only a rebinding would miss). Each
// slot keeps a tag of the entry it names: an entry reused by another flow does not match.
class CidTable {
 public:
  static constexpr std::size_t kProbe = 8;

  explicit CidTable(std::size_t slots = 1u << 16);

  void learn(const std::uint8_t* cid, std::uint8_t len, std::uint32_t idx, std::uint32_t tag,
             std::uint64_t seq) noexcept;
  // The entry a short header's DCID names, trying every length learned so far; kNone when none
  // matches. `match(idx, tag)` says whether the entry still carries that flow.
  static constexpr std::uint32_t kNone = 0xffffffffu;
  template <typename Match>
  std::uint32_t find(const std::uint8_t* dcid, std::size_t avail, Match match) const noexcept {
    for (std::uint8_t len = 1; len <= kQuicMaxCidLen; ++len) {
      if (!(lengths_ >> len & 1u) || len > avail) continue;
      const std::uint64_t h = hash(dcid, len);
      for (std::size_t i = 0; i < kProbe; ++i) {
        const Slot& s = slots_[(h + i) & mask_];
        if (s.len == len && s.hash == h && std::memcmp(s.cid.data(), dcid, len) == 0 &&
            match(s.idx, s.tag)) {
          return s.idx;
        }
      }
    }
    return kNone;
  }
  std::size_t slots() const noexcept { return slots_.size(); }

 private:
  struct Slot {
    std::uint64_t hash = 0;
    std::uint64_t seq = 0;  // when learned: the oldest of a full neighbourhood is replaced
    std::uint32_t idx = 0;
    std::uint32_t tag = 0;
    std::uint8_t len = 0;  // 0: empty
    std::array<std::uint8_t, kQuicMaxCidLen> cid{};
  };
  static std::uint64_t hash(const std::uint8_t* cid, std::size_t len) noexcept;
  std::vector<Slot> slots_;
  std::size_t mask_;
  std::uint32_t lengths_ = 0;  // bit n: a connection ID of n bytes was learned
};

}  // namespace xlb
