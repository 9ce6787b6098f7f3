// SPDX-License-Identifier: Apache-2.0
#include "native_runtime.h"

#include <linux/bpf.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>

#include "xlb/block_filter.h"

namespace xlb {
namespace {

constexpr std::uint64_t kNoExist = 1;  // BPF_NOEXIST
// The frame starts 2 bytes past an 8-byte boundary (NET_IP_ALIGN), so IP headers after a
// 14-byte Ethernet header are aligned: native loads then need no unaligned access (UBSan).
constexpr std::uint32_t kIpAlign = 2;
constexpr std::size_t kBufferSize =
    NativeXdp::kHeadroom + kIpAlign + NativeXdp::kMaxFrame + XLB_NATIVE_FRAG_SIZE;

static_assert(kXdpMapCount == XLB_NMAP_COUNT, "both are made from XLB_MAPS");

bool blocklistMap(XdpMap m) {
  return m == XdpMap::kBlock4 || m == XdpMap::kBlock4Lpm || m == XdpMap::kBlock6 ||
         m == XdpMap::kBlock6Lpm;
}

}  // namespace

extern "C" void* xlb_native_hash_lookup(void* impl, const void* key) {
  return static_cast<NativeHash*>(impl)->find(key);
}

extern "C" long xlb_native_hash_delete(void* impl, const void* key) {
  auto* h = static_cast<NativeHash*>(impl);
  return h->erase(h->keyOf(key)) == 0 ? 0 : -ENOENT;
}

extern "C" long xlb_native_hash_update(void* impl, const void* key, const void* value, __u64 flags,
                                       int lru) {
  auto* h = static_cast<NativeHash*>(impl);
  const NativeHash::Key k = h->keyOf(key);
  int err = h->insert(k, value, flags);
  if (err == E2BIG && lru != 0) {
    // The kernel's LRU evicts the least recently used; any one entry serves a full meter here
    // (the tests that compare the two builds never fill it).
    NativeHash::Key victim{};
    if (h->next(nullptr, victim.data()) == 0) h->erase(h->keyOf(victim.data()));
    err = h->insert(k, value, flags);
  }
  return -err;
}

extern "C" long xlb_native_ring_output(void* impl, const void* data, __u64 size) {
  return -static_cast<NativeRing*>(impl)->push(data, size);
}

extern "C" void* xlb_native_lpm_lookup(void* impl, const void* key) {
  return static_cast<NativeLpm*>(impl)->find(key);
}

NativeXdp::NativeXdp(std::uint32_t blocklistCapacity, unsigned cpus) : cpus_(cpus == 0 ? 1 : cpus) {
  for (std::size_t i = 0; i < kXdpMapCount; ++i) {
    const xlb_native_map_spec& s = xlb_native_specs[i];
    Map& m = maps_[i];
    m.info = XdpMapInfo{s.type, s.key_size, s.value_size, s.max_entries};
    if (blocklistMap(static_cast<XdpMap>(i))) m.info.maxEntries = blocklistCapacity;
    if (static_cast<XdpMap>(i) == XdpMap::kBlockFilter) {
      m.info.maxEntries = BlockFilter::wordsFor(blocklistCapacity);
    }
    xlb_native_map& e = env_.maps[i];
    e.type = s.type;
    e.max_entries = m.info.maxEntries;
    switch (s.type) {
      case BPF_MAP_TYPE_ARRAY:
      case BPF_MAP_TYPE_PERCPU_ARRAY:
        m.width = s.type == BPF_MAP_TYPE_PERCPU_ARRAY ? cpus_ : 1;
        m.stride = m.width > 1 ? perCpuStride(s.value_size) : s.value_size;
        m.array.assign(std::size_t{m.info.maxEntries} * m.width * m.stride, 0);
        e.data = m.array.data();
        e.stride = m.stride;
        e.cpus = m.width;
        break;
      case BPF_MAP_TYPE_HASH:
      case BPF_MAP_TYPE_LRU_HASH:
        m.hash = std::make_unique<NativeHash>(s.key_size, s.value_size, m.info.maxEntries);
        e.impl = m.hash.get();
        break;
      case BPF_MAP_TYPE_RINGBUF:
        m.ring = std::make_unique<NativeRing>(m.info.maxEntries);
        e.impl = m.ring.get();
        break;
      case BPF_MAP_TYPE_LPM_TRIE:
        m.lpm = std::make_unique<NativeLpm>(s.key_size, s.value_size, m.info.maxEntries);
        e.impl = m.lpm.get();
        break;
      default:
        break;  // XSKMAP: no socket can be registered in process
    }
  }
  // Aligned by hand inside a vector: the frame's offset from an 8-byte boundary is what counts.
  storage_.assign(kBufferSize + 64, 0);
  const auto addr = reinterpret_cast<std::uintptr_t>(storage_.data());
  buffer_ = storage_.data() + ((64 - addr % 64) % 64);
}

NativeXdp::~NativeXdp() = default;

XdpMapInfo NativeXdp::info(XdpMap m) const {
  return map(m).info;
}

int NativeXdp::update(XdpMap id, const void* key, const void* value, std::uint64_t flags) {
  Map& m = map(id);
  if (m.hash) return m.hash->insert(m.hash->keyOf(key), value, flags);
  if (m.lpm) return m.lpm->insert(key, value, flags);
  if (m.array.empty()) return EOPNOTSUPP;
  // The kernel's order: flags, then the index, then BPF_NOEXIST (every array element exists).
  if (flags > 2) return EINVAL;
  std::uint32_t i = 0;
  std::memcpy(&i, key, 4);
  if (i >= m.info.maxEntries) return E2BIG;
  if (flags == kNoExist) return EEXIST;
  return updateArray(id, i, 1, value);
}

// Per-CPU: every CPU's value, each at an 8-byte stride, as the caller passes them.
int NativeXdp::updateArray(XdpMap id, std::uint32_t first, std::uint32_t count,
                           const void* values) {
  Map& m = map(id);
  if (m.array.empty()) return EOPNOTSUPP;
  if (first >= m.info.maxEntries || count > m.info.maxEntries - first) return E2BIG;
  const std::size_t stride = std::size_t{m.width} * m.stride;
  const std::size_t bytes = m.width > 1 ? stride : m.info.valueSize;
  for (std::uint32_t k = 0; k < count; ++k) {
    std::memcpy(m.array.data() + (first + k) * stride,
                static_cast<const std::uint8_t*>(values) + k * bytes, bytes);
  }
  return 0;
}

int NativeXdp::remove(XdpMap id, const void* key) {
  Map& m = map(id);
  if (m.hash) return m.hash->erase(m.hash->keyOf(key));
  if (m.lpm) return m.lpm->erase(key);
  return m.array.empty() ? ENOENT : EINVAL;
}

int NativeXdp::lookup(XdpMap id, const void* key, void* value) const {
  const Map& m = map(id);
  const void* v = nullptr;
  if (m.hash) {
    v = m.hash->find(key);
  } else if (m.lpm) {
    v = m.lpm->find(key);
  } else if (!m.array.empty()) {
    std::uint32_t i = 0;
    std::memcpy(&i, key, 4);
    if (i >= m.info.maxEntries) return ENOENT;
    const std::size_t bytes = std::size_t{m.width} * m.stride;
    std::memcpy(value, m.array.data() + i * bytes, m.width > 1 ? bytes : m.info.valueSize);
    return 0;
  }
  if (v == nullptr) return ENOENT;
  std::memcpy(value, v, m.info.valueSize);
  return 0;
}

int NativeXdp::lookupArray(XdpMap id, std::uint32_t count, void* values) const {
  const Map& m = map(id);
  if (m.array.empty() || count > m.info.maxEntries) return ENOENT;
  const std::size_t bytes = m.width > 1 ? std::size_t{m.width} * m.stride : m.info.valueSize;
  for (std::uint32_t i = 0; i < count; ++i) {
    std::memcpy(static_cast<std::uint8_t*>(values) + i * bytes,
                m.array.data() + i * std::size_t{m.width} * m.stride, bytes);
  }
  return 0;
}

int NativeXdp::nextKey(XdpMap id, const void* key, void* next) const {
  const Map& m = map(id);
  if (m.hash) {
    if (key == nullptr) return m.hash->next(nullptr, next);
    const NativeHash::Key k = m.hash->keyOf(key);
    return m.hash->next(&k, next);
  }
  if (m.lpm) return m.lpm->next(key, next);
  std::uint32_t i = 0;
  if (key != nullptr) {
    std::memcpy(&i, key, 4);
    i = i >= m.info.maxEntries ? 0 : i + 1;
  }
  if (i >= m.info.maxEntries || m.array.empty()) return ENOENT;
  std::memcpy(next, &i, 4);
  return 0;
}

std::size_t NativeXdp::drainRing(XdpMap id, const RingRecordFn& fn) {
  Map& m = map(id);
  if (!m.ring) return 0;
  return m.ring->drain([&](const std::vector<std::uint8_t>& r) { fn(r); });
}

XdpRun NativeXdp::run(std::span<const std::uint8_t> frame, std::uint32_t repeat) {
  XdpRun r;
  // What BPF_PROG_TEST_RUN refuses: shorter than an Ethernet header (EINVAL), more fragments
  // than a frame holds (ENOMEM).
  if (frame.size() < 14) {
    r.action = -EINVAL;
    return r;
  }
  if (frame.size() > kMaxFrame) {
    r.action = -ENOMEM;
    return r;
  }
  std::uint8_t* data = buffer_ + kHeadroom + kIpAlign;
  const auto len = static_cast<unsigned long>(frame.size());
  const unsigned long linear = std::min<unsigned long>(len, kMaxLinear);
  xlb_native_xdp_md ctx{};
  const auto start =
      repeat > 1 ? std::chrono::steady_clock::now() : std::chrono::steady_clock::time_point{};
  for (std::uint32_t i = 0; i < std::max<std::uint32_t>(repeat, 1); ++i) {
    std::memcpy(data, frame.data(), len);
    ctx.data = reinterpret_cast<unsigned long>(data);
    ctx.data_meta = ctx.data;
    ctx.data_end = ctx.data + linear;
    ctx.data_hard_end = ctx.data + kMaxLinear;
    ctx.frags_len = len - linear;
    r.action = xlb_native_run(&env_, &ctx);
  }
  if (repeat > 1) {
    const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                        std::chrono::steady_clock::now() - start)
                        .count();
    r.durationNs = static_cast<std::uint32_t>(ns / repeat);
  }
  // The fragments follow the linear part, which is whole whenever any are left.
  r.frame = std::span<const std::uint8_t>(data, ctx.data_end - ctx.data + ctx.frags_len);
  return r;
}

}  // namespace xlb
