// SPDX-License-Identifier: Apache-2.0
#include "native_maps.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <functional>
#include <limits>
#include <stdexcept>

namespace xlb {
namespace {

constexpr std::uint64_t kAny = 0;      // BPF_ANY
constexpr std::uint64_t kNoExist = 1;  // BPF_NOEXIST
constexpr std::uint64_t kExist = 2;    // BPF_EXIST

}  // namespace

NativeHash::NativeHash(std::uint32_t keySize, std::uint32_t valueSize, std::uint32_t maxEntries)
    : keySize_(keySize),
      valueSize_(valueSize),
      maxEntries_(maxEntries),
      valueWords_((valueSize + 7) / 8) {
  if (keySize == 0 || keySize > kMaxKey) throw std::invalid_argument("native map key too long");
  rehash(16);
}

void NativeHash::rehash(std::size_t slots) {
  std::vector<Key> keys(slots);
  std::vector<std::uint8_t> state(slots, kEmpty);
  std::vector<std::uint64_t> values(slots * valueWords_, 0);
  keys.swap(keys_);
  state.swap(state_);
  values.swap(values_);
  mask_ = slots - 1;
  gone_ = 0;
  for (std::size_t j = 0; j < state.size(); ++j) {
    if (state[j] != kFull) continue;
    std::size_t i = hash(keys[j]) & mask_;
    while (state_[i] != kEmpty) i = (i + 1) & mask_;
    state_[i] = kFull;
    keys_[i] = keys[j];
    std::copy_n(values.begin() + static_cast<std::ptrdiff_t>(j * valueWords_), valueWords_,
                values_.begin() + static_cast<std::ptrdiff_t>(i * valueWords_));
  }
}

int NativeHash::insert(const Key& k, const void* v, std::uint64_t flags) {
  if (flags != kAny && flags != kNoExist && flags != kExist) return EINVAL;
  const std::size_t at = locate(k);
  if (at != kNotFound) {
    if (flags == kNoExist) return EEXIST;
    std::memcpy(value(at), v, valueSize_);
    return 0;
  }
  if (flags == kExist) return ENOENT;
  if (used_ >= maxEntries_) return E2BIG;
  // At most half full, counting removed slots, so probes stay short; a rehash leaves it at
  // most a quarter full.
  if ((std::size_t{used_} + gone_ + 1) * 2 > mask_ + 1) {
    std::size_t n = mask_ + 1;
    while ((std::size_t{used_} + 1) * 4 > n) n *= 2;
    rehash(n);
  }
  std::size_t i = hash(k) & mask_;
  while (state_[i] == kFull) i = (i + 1) & mask_;
  if (state_[i] == kGone) --gone_;
  state_[i] = kFull;
  keys_[i] = k;
  std::fill_n(values_.begin() + static_cast<std::ptrdiff_t>(i * valueWords_), valueWords_, 0);
  std::memcpy(value(i), v, valueSize_);
  ++used_;
  return 0;
}

int NativeHash::erase(const Key& k) {
  const std::size_t i = locate(k);
  if (i == kNotFound) return ENOENT;
  state_[i] = kGone;
  --used_;
  ++gone_;
  return 0;
}

int NativeHash::next(const Key* k, void* out) const {
  std::size_t from = 0;
  if (k != nullptr) {
    const std::size_t at = locate(*k);
    if (at != kNotFound) from = at + 1;
  }
  for (std::size_t i = from; i <= mask_; ++i) {
    if (state_[i] == kFull) {
      std::memcpy(out, keys_[i].data(), keySize_);
      return 0;
    }
  }
  return ENOENT;
}

NativeLpm::NativeLpm(std::uint32_t keySize, std::uint32_t valueSize, std::uint32_t maxEntries)
    : bits_((keySize - 4) * 8),
      table_(keySize, valueSize, maxEntries),
      masks_(bits_ + 1),
      lengths_(bits_ + 1),
      perLength_(bits_ + 1, 0) {
  for (std::uint32_t len = 0; len <= bits_; ++len) {
    // Built as key bytes and read as a key is, so the words line up on any byte order.
    std::array<std::uint8_t, NativeHash::kMaxKey> m{}, l{};
    for (std::uint32_t bit = 0; bit < len; ++bit) {
      m[4 + bit / 8] |= static_cast<std::uint8_t>(0x80u >> (bit % 8));
    }
    std::memcpy(l.data(), &len, 4);
    masks_[len] = table_.keyOf(m.data());
    lengths_[len] = table_.keyOf(l.data());
  }
}

std::uint32_t NativeLpm::prefixLen(const void* key) noexcept {
  std::uint32_t len = 0;
  std::memcpy(&len, key, 4);
  return len;
}

NativeLpm::Key NativeLpm::cut(const Key& k, std::uint32_t len) const noexcept {
  const Key& m = masks_[len];
  const Key& l = lengths_[len];
  return Key{(k[0] & m[0]) | l[0], (k[1] & m[1]) | l[1], (k[2] & m[2]) | l[2]};
}

void* NativeLpm::find(const void* key) const noexcept {
  const std::uint32_t len = prefixLen(key);
  const Key k = table_.keyOf(key);
  for (const std::uint32_t l : present_) {
    if (l > len) continue;
    if (void* v = table_.findKey(cut(k, l))) return v;
  }
  return nullptr;
}

int NativeLpm::insert(const void* key, const void* value, std::uint64_t flags) {
  const std::uint32_t len = prefixLen(key);
  if (len > bits_) return EINVAL;
  const Key k = cut(table_.keyOf(key), len);
  const bool had = table_.findKey(k) != nullptr;
  const int err = table_.insert(k, value, flags);
  if (err == E2BIG) return ENOSPC;  // the trie's answer when full
  if (err == 0 && !had && perLength_[len]++ == 0) {
    present_.push_back(len);
    std::sort(present_.begin(), present_.end(), std::greater<>());
  }
  return err;
}

int NativeLpm::erase(const void* key) {
  const std::uint32_t len = prefixLen(key);
  if (len > bits_) return EINVAL;
  const int err = table_.erase(cut(table_.keyOf(key), len));
  if (err == 0 && --perLength_[len] == 0) std::erase(present_, len);
  return err;
}

int NativeLpm::next(const void* key, void* out) const {
  if (key == nullptr || prefixLen(key) > bits_) return table_.next(nullptr, out);
  const Key k = cut(table_.keyOf(key), prefixLen(key));
  return table_.next(&k, out);
}

int NativeRing::push(const void* data, std::uint64_t size) {
  const std::uint64_t cost = 8 + ((size + 7) & ~std::uint64_t{7});
  if (used_ + cost > capacity_) return ENOSPC;
  const auto* p = static_cast<const std::uint8_t*>(data);
  records_.emplace_back(p, p + size);
  used_ += cost;
  return 0;
}

}  // namespace xlb
