// SPDX-License-Identifier: Apache-2.0
// BPF map semantics in process, for the native build of the XDP program: a hash map and an LPM
// trie with the kernel's answers (flags, limits, errors, longest-prefix lookups), over
// fixed-size keys of at most 24 bytes and fixed-size values. Keys are held as three zero-padded
// words, so hashing and comparing a key is a few word operations whatever its size. Value
// pointers stay valid until the next insertion; the program never holds one across frames.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

namespace xlb {

class NativeHash {
 public:
  static constexpr std::uint32_t kMaxKey = 40;
  using Key = std::array<std::uint64_t, kMaxKey / 8>;

  // keySize <= kMaxKey (the program's longest key is xlb_flow_key's 40 bytes).
  NativeHash(std::uint32_t keySize, std::uint32_t valueSize, std::uint32_t maxEntries);
  // The program's lookups come through here once or more per frame: inline, in constant-size
  // copies and word compares.
  Key keyOf(const void* key) const noexcept {
    // Loaded in 4-byte pieces into registers: the program writes its keys 4 bytes at a time,
    // and a wider load of narrower stores (or bytes copied into a zeroed word and read back as
    // one) stalls on store forwarding. Insertions read keys the same way, so words line up.
    const auto* p = static_cast<const std::uint8_t*>(key);
    switch (keySize_) {
      case 4:
        return Key{load32(p), 0, 0};
      case 16:
        return Key{pair(p), pair(p + 8), 0};
      case 20:
        return Key{pair(p), pair(p + 8), load32(p + 16)};
      default: {
        Key k{};
        std::memcpy(k.data(), key, keySize_);
        return k;
      }
    }
  }
  void* find(const void* key) const noexcept { return findKey(keyOf(key)); }
  void* findKey(const Key& k) const noexcept {
    const std::size_t i = locate(k);
    return i == kNotFound ? nullptr : value(i);
  }
  // 0 or EEXIST (BPF_NOEXIST), ENOENT (BPF_EXIST), E2BIG (full), EINVAL (other flags).
  int insert(const Key& k, const void* value, std::uint64_t flags);
  int erase(const Key& k);  // 0 or ENOENT
  // The key after `k` in table order (the first when `k` is null or absent); ENOENT.
  int next(const Key* k, void* out) const;
  std::uint32_t keySize() const noexcept { return keySize_; }

 private:
  enum : std::uint8_t { kEmpty, kFull, kGone };
  static std::uint64_t load32(const std::uint8_t* p) noexcept {
    std::uint32_t v;
    std::memcpy(&v, p, sizeof v);
    return v;
  }
  static std::uint64_t pair(const std::uint8_t* p) noexcept {
    return load32(p) | load32(p + 4) << 32;
  }
  static constexpr std::size_t kNotFound = ~std::size_t{0};
  static std::uint64_t hash(const Key& k) noexcept {
    std::uint64_t h = k[0] * 0x9e3779b97f4a7c15ull;
    h ^= (k[1] + 0x632be59bd9b4e019ull) * 0xbf58476d1ce4e5b9ull;
    h ^= (k[2] + 0x8cb92ba72f3d8dd7ull) * 0x94d049bb133111ebull;
    h ^= h >> 31;
    h *= 0xd6e8feb86659fd93ull;
    return h ^ (h >> 32);
  }
  // The key's slot, or kNotFound.
  std::size_t locate(const Key& k) const noexcept {
    for (std::size_t i = hash(k) & mask_;; i = (i + 1) & mask_) {
      if (state_[i] == kEmpty) return kNotFound;
      const Key& s = keys_[i];
      if (state_[i] == kFull && s[0] == k[0] && s[1] == k[1] && s[2] == k[2]) return i;
    }
  }
  void rehash(std::size_t slots);
  void* value(std::size_t i) const noexcept {
    return const_cast<std::uint64_t*>(values_.data()) + i * valueWords_;
  }

  std::uint32_t keySize_, valueSize_, maxEntries_, valueWords_;
  std::vector<Key> keys_;
  std::vector<std::uint8_t> state_;
  std::vector<std::uint64_t> values_;  // valueWords_ per slot: 8-byte aligned values
  std::size_t mask_ = 0;
  std::uint32_t used_ = 0;
  std::uint32_t gone_ = 0;
};

// Keys are {u32 prefixlen; u8 data[keySize - 4]} as bpf_lpm_trie_key. Bits past the prefix are
// not part of an entry. A lookup finds the longest entry no longer than the key's prefixlen.
class NativeLpm {
 public:
  NativeLpm(std::uint32_t keySize, std::uint32_t valueSize, std::uint32_t maxEntries);
  void* find(const void* key) const noexcept;
  // 0, EEXIST, ENOENT, EINVAL (prefixlen too long, bad flags) or ENOSPC (full).
  int insert(const void* key, const void* value, std::uint64_t flags);
  int erase(const void* key);
  int next(const void* key, void* out) const;

 private:
  using Key = NativeHash::Key;
  static std::uint32_t prefixLen(const void* key) noexcept;
  // The key cut to `len` bits with its prefixlen set to `len`.
  Key cut(const Key& k, std::uint32_t len) const noexcept;

  std::uint32_t bits_;
  NativeHash table_;
  std::vector<Key> masks_;                // per length: the data bits it keeps
  std::vector<Key> lengths_;              // per length: the prefixlen field holding it
  std::vector<std::uint32_t> perLength_;  // entries of each length
  std::vector<std::uint32_t> present_;    // lengths with entries, longest first
};

// A BPF ring buffer in process: records in order, refused (ENOSPC) once their bytes, each with
// the kernel's 8-byte header and rounded up to 8, would pass the ring's size.
class NativeRing {
 public:
  explicit NativeRing(std::uint32_t bytes) : capacity_(bytes) {}
  int push(const void* data, std::uint64_t size);
  // Hands each record to `fn` in order and empties the ring; how many there were.
  template <typename Fn>
  std::size_t drain(Fn&& fn) {
    const std::size_t n = records_.size();
    for (const std::vector<std::uint8_t>& r : records_) fn(r);
    records_.clear();
    used_ = 0;
    return n;
  }

 private:
  std::uint64_t capacity_;
  std::uint64_t used_ = 0;
  std::vector<std::vector<std::uint8_t>> records_;
};

}  // namespace xlb
