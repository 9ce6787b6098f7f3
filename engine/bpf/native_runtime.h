// SPDX-License-Identifier: Apache-2.0
// The XDP program in process: bpf/native/xlb_native.c (the program's own source built as native
// code) over maps held here with the kernel's semantics. No privileges, no system call per
// frame; held to the kernel's answers by tests/bpf/xdp_differential_test.cc.
#pragma once

#include <array>
#include <memory>
#include <string>
#include <vector>

#include "native_maps.h"
#include "xlb/xdp_runtime.h"
#include "xlb_native.h"

namespace xlb {

class NativeXdp final : public XdpRuntime {
 public:
  // blocklistCapacity: the entries of each blocklist map, as the kernel object is given.
  NativeXdp(std::uint32_t blocklistCapacity, unsigned cpus);
  NativeXdp(const NativeXdp&) = delete;
  NativeXdp& operator=(const NativeXdp&) = delete;
  ~NativeXdp() override;

  XdpRuntimeKind kind() const noexcept override { return XdpRuntimeKind::kNative; }
  int update(XdpMap m, const void* key, const void* value, std::uint64_t flags) override;
  int updateArray(XdpMap m, std::uint32_t first, std::uint32_t count, const void* values) override;
  int remove(XdpMap m, const void* key) override;
  int lookup(XdpMap m, const void* key, void* value) const override;
  int lookupArray(XdpMap m, std::uint32_t count, void* values) const override;
  int nextKey(XdpMap m, const void* key, void* next) const override;
  XdpMapInfo info(XdpMap m) const override;
  XdpRun run(std::span<const std::uint8_t> frame, std::uint32_t repeat) override;
  std::size_t drainRing(XdpMap m, const RingRecordFn& fn) override;
  unsigned cpus() const noexcept override { return cpus_; }
  // What bpf_get_smp_processor_id() answers (the kernel: the CPU the test run is on).
  void setCpu(unsigned cpu) noexcept override { env_.cpu = cpu; }

  // A test run's linear room (kernel: a page less XDP_PACKET_HEADROOM and skb_shared_info);
  // a longer frame continues in up to 17 page-sized fragments the program cannot see.
  static constexpr std::uint32_t kHeadroom = 256;
  static constexpr std::uint32_t kMaxLinear = 4096 - kHeadroom - 320;
  static constexpr std::uint32_t kMaxFrame =
      kMaxLinear + XLB_NATIVE_MAX_FRAGS * XLB_NATIVE_FRAG_SIZE;

 private:
  struct Map {
    XdpMapInfo info;
    std::uint32_t stride = 0;  // arrays: bytes per value
    std::uint32_t width = 1;   // per-CPU arrays: cpus_
    std::vector<std::uint8_t> array;
    std::unique_ptr<NativeHash> hash;
    std::unique_ptr<NativeLpm> lpm;
    std::unique_ptr<NativeRing> ring;
  };
  Map& map(XdpMap m) noexcept { return maps_[static_cast<std::size_t>(m)]; }
  const Map& map(XdpMap m) const noexcept { return maps_[static_cast<std::size_t>(m)]; }

  unsigned cpus_;
  std::array<Map, kXdpMapCount> maps_;
  xlb_native_env env_{};
  std::vector<std::uint8_t> storage_;
  std::uint8_t* buffer_ = nullptr;  // in storage_, 64-byte aligned: headroom, linear, fragments
};

}  // namespace xlb
