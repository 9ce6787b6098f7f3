// SPDX-License-Identifier: Apache-2.0
#include "xdp_diff.h"

#include <linux/bpf.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <map>
#include <vector>

namespace xlb::sim {
namespace {

using Bytes = std::vector<std::uint8_t>;
// Keys as strings: GCC 12 warns falsely on comparing vectors of bytes (-Wstringop-overread).
using Dump = std::map<std::string, Bytes>;

std::string keyOf(const std::uint8_t* k, std::size_t n) {
  return std::string(reinterpret_cast<const char*>(k), n);
}

std::span<const std::uint8_t> bytesOf(const std::string& k) {
  return {reinterpret_cast<const std::uint8_t*>(k.data()), k.size()};
}

std::string hex(std::span<const std::uint8_t> b, std::size_t from = 0, std::size_t count = 64) {
  std::string s;
  char buf[4];
  for (std::size_t i = from; i < std::min(b.size(), from + count); ++i) {
    std::snprintf(buf, sizeof buf, "%02x", b[i]);
    s += buf;
  }
  if (from + count < b.size()) s += "...";
  return s;
}

std::string valueDiff(const std::string& map, std::span<const std::uint8_t> key, const Bytes& k,
                      const Bytes& n) {
  std::size_t at = 0;
  while (at < k.size() && at < n.size() && k[at] == n[at]) ++at;
  const std::size_t from = at < 16 ? 0 : at - 16;
  return map + " key " + hex(key) + " differs at byte " + std::to_string(at) + ": kernel " +
         hex(k, from, 48) + " native " + hex(n, from, 48);
}

bool isArray(const XdpMapInfo& i) {
  return i.type == BPF_MAP_TYPE_ARRAY || i.type == BPF_MAP_TYPE_PERCPU_ARRAY;
}

// An array map's first `limit` values, one after another (empty when they cannot be read): read
// in one call and compared flat, as the blocklist filter has hundreds of thousands of words.
Bytes arrayValues(const XdpRuntime& rt, XdpMap m, std::uint32_t limit) {
  const std::uint32_t count = std::min(limit, rt.info(m).maxEntries);
  Bytes all(rt.valueBytes(m) * count);
  if (rt.lookupArray(m, count, all.data()) != 0) all.clear();
  return all;
}

// The kernel's values `a` against the native one's `b` of array `m`: the first difference, or "".
std::string compareArrays(XdpMap m, std::size_t valueSize, const Bytes& a, const Bytes& b) {
  const std::string name = layoutOf(m).name;
  if (a.size() != b.size()) {
    return name + ": kernel read " + std::to_string(a.size()) + " bytes, native " +
           std::to_string(b.size());
  }
  const auto at = std::mismatch(a.begin(), a.end(), b.begin()).first;
  if (at == a.end()) return {};
  const auto index =
      static_cast<std::uint32_t>(static_cast<std::size_t>(at - a.begin()) / valueSize);
  const auto from = static_cast<std::ptrdiff_t>(index * valueSize);
  const auto to = from + static_cast<std::ptrdiff_t>(valueSize);
  return valueDiff(name, {reinterpret_cast<const std::uint8_t*>(&index), 4},
                   Bytes(a.begin() + from, a.begin() + to),
                   Bytes(b.begin() + from, b.begin() + to));
}

// A hash or trie map's entries.
Dump dump(const XdpRuntime& rt, XdpMap m) {
  const XdpMapInfo i = rt.info(m);
  Dump d;
  Bytes value(rt.valueBytes(m));
  Bytes key(i.keySize), next(i.keySize);
  const void* prev = nullptr;
  for (std::uint32_t n = 0; n <= i.maxEntries && rt.nextKey(m, prev, next.data()) == 0; ++n) {
    if (rt.lookup(m, next.data(), value.data()) == 0)
      d.emplace(keyOf(next.data(), next.size()), value);
    key = next;
    prev = key.data();
  }
  return d;
}

// The kernel's dump `a` against the native one's `b` of map `m`: the first difference, or "".
std::string compareDumps(XdpMap m, const Dump& a, const Dump& b) {
  const std::string name = layoutOf(m).name;
  for (const auto& [key, v] : a) {
    auto it = b.find(key);
    if (it == b.end()) return name + " key " + hex(bytesOf(key)) + ": only in the kernel's";
    if (it->second != v) return valueDiff(name, bytesOf(key), v, it->second);
  }
  for (const auto& [key, v] : b) {
    if (a.find(key) == a.end())
      return name + " key " + hex(bytesOf(key)) + ": only in the native one's";
  }
  return {};
}

// Map `m` on both sides (arrays: the first `limit` indexes): the first difference, or "".
std::string compare(const XdpRuntime& k, const XdpRuntime& n, XdpMap m, std::uint32_t limit) {
  if (isArray(k.info(m))) {
    return compareArrays(m, k.valueBytes(m), arrayValues(k, m, limit), arrayValues(n, m, limit));
  }
  return compareDumps(m, dump(k, m), dump(n, m));
}

}  // namespace

std::unique_ptr<XdpDiff> XdpDiff::load(const XdpOptions& options, std::string& error) {
  std::unique_ptr<XdpDiff> d(new XdpDiff());
  XdpOptions o = options;
  o.runtime = XdpRuntimeKind::kKernel;
  o.adoptMapsFrom = 0;
  d->kernel_ = XdpProgram::load(o, error);
  if (!d->kernel_) return nullptr;
  o.runtime = XdpRuntimeKind::kNative;
  d->native_ = XdpProgram::load(o, error);
  if (!d->native_) return nullptr;
  return d;
}

bool XdpDiff::apply(const Config& config, const CookieKey& key, std::string& error) {
  blockKeysStale_ = true;
  vipSlots_ = static_cast<std::uint32_t>(config.vips.size());
  return kernel_->applyConfig(config, key, error) && native_->applyConfig(config, key, error);
}

bool XdpDiff::blockAdd(const Prefix& p, std::string& error) {
  blockKeysStale_ = true;
  bool existsK = false, existsN = false;
  const bool k = kernel_->blockAdd(p, error, &existsK);
  const bool n = native_->blockAdd(p, error, &existsN);
  if (k != n || existsK != existsN) {
    error = "blocklist add of " + p.toString() + " answered differently";
    return false;
  }
  return k || existsK;
}

void XdpDiff::setFixedNow(TimeNs now) {
  kernel_->setFixedNow(now);
  native_->setFixedNow(now);
}

void XdpDiff::setSynPressure(bool on) {
  kernel_->setSynPressure(on);
  native_->setSynPressure(on);
}

std::string XdpDiff::run(std::span<const std::uint8_t> frame) {
  ++frames_;
  const XdpRun k = kernel_->runFrame(frame);
  const XdpRun n = native_->runFrame(frame);
  lastNative_ = n;
  if (k.action != n.action) {
    return "action: kernel " + std::to_string(k.action) + ", native " + std::to_string(n.action);
  }
  const bool same =
      k.frame.size() == n.frame.size() &&
      (k.frame.empty() || std::memcmp(k.frame.data(), n.frame.data(), k.frame.size()) == 0);
  if (k.action >= 0 && !same) {
    std::size_t at = 0;
    while (at < k.frame.size() && at < n.frame.size() && k.frame[at] == n.frame[at]) ++at;
    return "output (" + std::to_string(k.frame.size()) + " and " + std::to_string(n.frame.size()) +
           " bytes) differs at byte " + std::to_string(at) + ": kernel " + hex(k.frame, at, 16) +
           " native " + hex(n.frame, at, 16);
  }
  // Automatic blocking's crossings: the same sources, kinds and counts, in the same order.
  std::vector<SourceEvent> ke, ne;
  kernel_->takeSourceEvents(ke);
  native_->takeSourceEvents(ne);
  const auto sameEvent = [](const SourceEvent& a, const SourceEvent& b) {
    return a.source == b.source && a.kind == b.kind && a.count == b.count;
  };
  if (!std::equal(ke.begin(), ke.end(), ne.begin(), ne.end(), sameEvent)) {
    return "source events: kernel " + std::to_string(ke.size()) + ", native " +
           std::to_string(ne.size()) + " (or they differ)";
  }
  return compareWrittenMaps();
}

std::string XdpDiff::compareWrittenMaps() {
  const XdpRuntime& k = kernel_->runtime();
  const XdpRuntime& n = native_->runtime();
  for (const auto& [m, limit] : {std::pair{XdpMap::kStats, ~0u}, {XdpMap::kSynRate, vipSlots_}}) {
    if (std::string d = compare(k, n, m, limit); !d.empty()) return d;
  }
  return compareBlocklist();
}

std::string XdpDiff::compareBlocklist() {
  static_assert(static_cast<int>(XdpMap::kBlock6Lpm) - static_cast<int>(XdpMap::kBlock4) == 3);
  const XdpRuntime& k = kernel_->runtime();
  const XdpRuntime& n = native_->runtime();
  for (std::size_t i = 0; i < blockKeys_.size(); ++i) {
    const auto m = static_cast<XdpMap>(static_cast<std::size_t>(XdpMap::kBlock4) + i);
    std::vector<Bytes>& keys = blockKeys_[i];
    if (blockKeysStale_) {
      // One dump per side: the maps may hold a million entries.
      const Dump native = dump(n, m);
      if (std::string d = compareDumps(m, dump(k, m), native); !d.empty()) return d;
      keys.clear();
      for (const auto& entry : native) {
        const auto b = bytesOf(entry.first);
        keys.emplace_back(b.begin(), b.end());
      }
      continue;
    }
    Bytes a(k.valueBytes(m)), b(n.valueBytes(m));
    for (const Bytes& key : keys) {
      const int ek = k.lookup(m, key.data(), a.data());
      const int en = n.lookup(m, key.data(), b.data());
      if (ek != 0 || en != 0) {
        return std::string(layoutOf(m).name) + " key " + hex(key) + " went after a frame: kernel " +
               std::to_string(ek) + ", native " + std::to_string(en);
      }
      if (a != b) return valueDiff(layoutOf(m).name, key, a, b);
    }
  }
  blockKeysStale_ = false;
  return {};
}

std::string XdpDiff::compareAllMaps() const {
  const XdpRuntime& k = kernel_->runtime();
  const XdpRuntime& n = native_->runtime();
  for (std::size_t i = 0; i < kXdpMapCount; ++i) {
    const auto m = static_cast<XdpMap>(i);
    if (m == XdpMap::kXsks) continue;       // sockets exist in the kernel only; none in a test run
    if (m == XdpMap::kSrcEvents) continue;  // a ring: no keys to compare
    if (m == XdpMap::kClock) continue;      // each side's own reading of its clock
    if (std::string d = compare(k, n, m, ~0u); !d.empty()) return d;
  }
  return {};
}

}  // namespace xlb::sim
