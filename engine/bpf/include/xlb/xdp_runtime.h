// SPDX-License-Identifier: Apache-2.0
// Where the XDP program runs: in the kernel (the object loaded with libbpf, frames through
// BPF_PROG_TEST_RUN) or in process (the same C source built as native code, bpf/native/). Both
// hold the program's maps; XdpProgram fills and reads them through this interface alike, so the
// configuration, blocklist and counters mean the same in either.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>

#include "xlb_common.h"

namespace xlb {

enum class XdpRuntimeKind : std::uint8_t {
  kKernel,  // the real object; needs root (CAP_BPF, CAP_NET_ADMIN)
  kNative,  // in process, no privileges; proved equal by the differential test
};

// The program's maps, in XLB_MAPS' order (xlb_common.h), the native build's too.
#define XLB_XDP_MAP_ENUM(id, name, ...) k##name,
enum class XdpMap : std::uint8_t { XLB_MAPS(XLB_XDP_MAP_ENUM, XLB_XDP_MAP_ENUM) };
#undef XLB_XDP_MAP_ENUM

// Each map's name in the object and its key and value sizes as xlb_common.h declares them (a
// ring buffer has neither): the kernel runtime finds its maps by these names, the loader checks
// the object against the sizes and the differential test names maps by them. In XdpMap's order.
struct XdpMapLayout {
  XdpMap map;
  const char* name;
  std::uint32_t keySize;
  std::uint32_t valueSize;
};
#define XLB_XDP_MAP_LAYOUT(id, name, obj, key, value) \
  XdpMapLayout{XdpMap::k##name, #obj, sizeof(key), sizeof(value)},
#define XLB_XDP_RING_LAYOUT(id, name, obj) XdpMapLayout{XdpMap::k##name, #obj, 0, 0},
inline constexpr std::array kXdpMaps = {XLB_MAPS(XLB_XDP_MAP_LAYOUT, XLB_XDP_RING_LAYOUT)};
#undef XLB_XDP_MAP_LAYOUT
#undef XLB_XDP_RING_LAYOUT
inline constexpr std::size_t kXdpMapCount = kXdpMaps.size();

constexpr const XdpMapLayout& layoutOf(XdpMap m) noexcept {
  return kXdpMaps[static_cast<std::size_t>(m)];
}

struct XdpMapInfo {
  std::uint32_t type = 0;  // BPF_MAP_TYPE_*
  std::uint32_t keySize = 0;
  std::uint32_t valueSize = 0;
  std::uint32_t maxEntries = 0;

  bool perCpu() const noexcept;
};

// bpf(2) passes a per-CPU map's values one after another, each rounded up to 8 bytes.
constexpr std::uint32_t perCpuStride(std::uint32_t valueSize) noexcept {
  return (valueSize + 7u) & ~7u;
}

// One frame's run. `frame` is the program's output (XDP_TX: the reply), valid until the next
// run on the same runtime.
struct XdpRun {
  int action = -1;  // XDP_* on success, -errno when the frame could not be run
  std::span<const std::uint8_t> frame;
  std::uint32_t durationNs = 0;  // kernel, repeat > 1: the kernel's mean time per run
};

using RingRecordFn = std::function<void(std::span<const std::uint8_t>)>;

class XdpRuntime {
 public:
  virtual ~XdpRuntime() = default;
  virtual XdpRuntimeKind kind() const noexcept = 0;
  // Errors are errno values (0: done), as the bpf(2) map commands give them. Per-CPU maps
  // read and write every CPU's value at once, each rounded up to 8 bytes.
  virtual int update(XdpMap m, const void* key, const void* value, std::uint64_t flags) = 0;
  // An array map's `count` values from index `first` on, one after another as update takes
  // them. The kernel writes them in one call (a /8 in the blocklist filter is 1,024 words); on
  // an error some may be written.
  virtual int updateArray(XdpMap m, std::uint32_t first, std::uint32_t count,
                          const void* values) = 0;
  virtual int remove(XdpMap m, const void* key) = 0;
  virtual int lookup(XdpMap m, const void* key, void* value) const = 0;
  // An array map's first `count` values, one after another, each as lookup gives it; ENOENT
  // when the map has fewer. The kernel reads them in one call (stats are read on every API and
  // metrics request, and by the differential test after every frame).
  virtual int lookupArray(XdpMap m, std::uint32_t count, void* values) const = 0;
  // The key after `key` (nullptr: the first); ENOENT after the last.
  virtual int nextKey(XdpMap m, const void* key, void* next) const = 0;
  virtual XdpMapInfo info(XdpMap m) const = 0;
  // Runs one frame on the CPU this thread is on (kernel) or CPU 0 (native: setCpu).
  virtual XdpRun run(std::span<const std::uint8_t> frame, std::uint32_t repeat) = 0;
  // Hands each record waiting in a ring buffer map to `fn`, oldest first, without waiting;
  // how many there were.
  virtual std::size_t drainRing(XdpMap m, const RingRecordFn& fn) = 0;
  virtual unsigned cpus() const noexcept = 0;  // the per-CPU maps' width
  // The bytes one lookup of `m` reads and one update writes: a per-CPU map's values for every
  // CPU, each at perCpuStride; any other map's one value.
  std::size_t valueBytes(XdpMap m) const;
  // The CPU whose per-CPU values the next runs count on. The kernel runs on the calling
  // thread's CPU (set its affinity instead): a no-op there.
  virtual void setCpu(unsigned cpu) noexcept { static_cast<void>(cpu); }
  virtual int progFd() const noexcept { return -1; }
};

}  // namespace xlb
