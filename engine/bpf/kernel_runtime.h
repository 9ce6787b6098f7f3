// SPDX-License-Identifier: Apache-2.0
// The XDP program in the kernel: the embedded xlb.bpf.o opened and loaded with libbpf (skeleton),
// every map's layout checked against bpf/xlb_common.h, maps read and written by fd, frames run
// with BPF_PROG_TEST_RUN.
#pragma once

#include <array>
#include <memory>
#include <string>
#include <vector>

#include "xlb/xdp_runtime.h"

struct xlb_bpf;      // the generated skeleton
struct ring_buffer;  // libbpf
struct bpf_map;      // libbpf

namespace xlb {

class KernelXdp final : public XdpRuntime {
 public:
  // Opens and loads the object. adoptMapsFrom: a previous program whose counter, destination and
  // SYN-rate maps are taken over when their layout matches (names in adoptedMaps()).
  static std::unique_ptr<KernelXdp> load(std::uint32_t blocklistCapacity,
                                         std::uint32_t adoptMapsFrom, std::string& error);
  KernelXdp(const KernelXdp&) = delete;
  KernelXdp& operator=(const KernelXdp&) = delete;
  ~KernelXdp() override;

  XdpRuntimeKind kind() const noexcept override { return XdpRuntimeKind::kKernel; }
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
  int progFd() const noexcept override;
  const std::vector<std::string>& adoptedMaps() const noexcept { return adopted_; }
  // The kernel's possible CPUs (the per-CPU maps' width); <= 0 on failure.
  static int possibleCpus() noexcept;

 private:
  KernelXdp() = default;
  int fd(XdpMap m) const noexcept;

  xlb_bpf* skel_ = nullptr;
  std::array<bpf_map*, kXdpMapCount> maps_{};  // by XdpMap, found by kXdpMaps' names
  unsigned cpus_ = 1;
  std::vector<std::string> adopted_;
  std::vector<std::uint8_t> out_;  // the test run's output
  ring_buffer* events_ = nullptr;  // xlb_src_events, opened on the first drain
  const RingRecordFn* drainFn_ = nullptr;
};

}  // namespace xlb
