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

// The program's maps, in bpf/native/xlb_native.h's order.
enum class XdpMap : std::uint8_t {
  kCfg,
  kDests,
  kVipPorts,
  kSynRate,
  kBlock4,
  kBlock4Lpm,
  kBlock6,
  kBlock6Lpm,
  kXsks,
  kStats,
  kPeerFlows,
  kPeers,
  kSrcMeter,
  kSrcEvents,  // a ring buffer: drainRing only
  kBlockFilter,
  kClock,
};
inline constexpr std::size_t kXdpMapCount = 16;

// Each map's name in the object and its key and value sizes as xlb_common.h declares them (a
// ring buffer has neither): the one list the kernel runtime finds its maps by, the loader checks
// the object against and the differential test names them by. In XdpMap's order.
struct XdpMapLayout {
  XdpMap map;
  const char* name;
  std::uint32_t keySize;
  std::uint32_t valueSize;
};
inline constexpr std::array<XdpMapLayout, kXdpMapCount> kXdpMaps = {{
    {XdpMap::kCfg, "xlb_cfg", 4, sizeof(xlb_config)},
    {XdpMap::kDests, "xlb_dests", sizeof(xlb_addr_key), sizeof(xlb_dest)},
    {XdpMap::kVipPorts, "xlb_vip_ports", 4, sizeof(xlb_port_bits)},
    {XdpMap::kSynRate, "xlb_syn_rate", 4, sizeof(xlb_syn_rate)},
    {XdpMap::kBlock4, "xlb_block4", 4, sizeof(xlb_block_val)},
    {XdpMap::kBlock4Lpm, "xlb_block4_lpm", sizeof(xlb_lpm4_key), sizeof(xlb_block_val)},
    {XdpMap::kBlock6, "xlb_block6", 16, sizeof(xlb_block_val)},
    {XdpMap::kBlock6Lpm, "xlb_block6_lpm", sizeof(xlb_lpm6_key), sizeof(xlb_block_val)},
    {XdpMap::kXsks, "xlb_xsks", 4, 4},
    {XdpMap::kStats, "xlb_stats", 4, sizeof(xlb_stat)},
    {XdpMap::kPeerFlows, "xlb_peer_flows", sizeof(xlb_flow_key), 4},
    {XdpMap::kPeers, "xlb_peers", 4, sizeof(xlb_peers)},
    {XdpMap::kSrcMeter, "xlb_src_meter", sizeof(xlb_addr_key), sizeof(xlb_src_count)},
    {XdpMap::kSrcEvents, "xlb_src_events", 0, 0},
    {XdpMap::kBlockFilter, "xlb_block_filter", 4, 8},
    {XdpMap::kClock, "xlb_clock", 4, sizeof(xlb_clock)},
}};

constexpr const XdpMapLayout& layoutOf(XdpMap m) noexcept {
  return kXdpMaps[static_cast<std::size_t>(m)];
}

constexpr bool mapsInOrder() noexcept {
  for (std::size_t i = 0; i < kXdpMaps.size(); ++i) {
    if (static_cast<std::size_t>(kXdpMaps[i].map) != i) return false;
  }
  return true;
}
static_assert(mapsInOrder(), "kXdpMaps must list every map in XdpMap's order");

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
