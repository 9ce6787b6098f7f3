// SPDX-License-Identifier: Apache-2.0
// The native build of the XDP program held against the real object in the kernel, frame for
// frame: both loaded with the same options, filled with the same configuration, blocklist,
// clock and pressure, fed the same frames. A difference in the action, in any emitted byte or in
// what the program wrote to its maps (per-reason counters, SYN-rate windows, blocklist hits and
// last-hit times) is a finding, reported with the map, key and both values. Used by the
// differential test (label bpf), its fuzz target and `xlb-sim replay --differential`.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "xlb/xdp_program.h"

namespace xlb::sim {

class XdpDiff {
 public:
  // Loads both runtimes (the kernel one needs root); nullptr with `error`. The caller pins its
  // thread to CPU 0, the CPU the native build counts on.
  static std::unique_ptr<XdpDiff> load(const XdpOptions& options, std::string& error);

  bool apply(const Config& config, const CookieKey& key, std::string& error);
  bool blockAdd(const Prefix& p, std::string& error);
  void setFixedNow(TimeNs now);
  void setSynPressure(bool on);

  // Runs the frame on both. Empty when they agree; otherwise what differs.
  std::string run(std::span<const std::uint8_t> frame);
  // Every map, whole (the configuration, destinations and port sets too). Empty when equal.
  std::string compareAllMaps() const;

  // The native build's last run (its output stays valid until the next run).
  const XdpRun& lastNative() const noexcept { return lastNative_; }
  XdpProgram& kernel() noexcept { return *kernel_; }
  XdpProgram& native() noexcept { return *native_; }
  std::uint64_t frames() const noexcept { return frames_; }

 private:
  XdpDiff() = default;
  // The maps the program writes: counters, SYN-rate windows of the configured VIPs' slots and
  // the blocklist's values.
  std::string compareWrittenMaps();
  // The blocklist maps. A frame writes values in place (a hit's count and time) and never adds
  // or removes a key, so the keys are compared whole only after the control plane changed them
  // (`blockKeysStale_`); after a frame, only the listed keys' values. Walking a hash map visits
  // every bucket, and the blocklist's hold a million by default.
  std::string compareBlocklist();

  std::unique_ptr<XdpProgram> kernel_, native_;
  XdpRun lastNative_;
  std::uint32_t vipSlots_ = 0;
  std::uint64_t frames_ = 0;
  bool blockKeysStale_ = true;
  std::array<std::vector<std::vector<std::uint8_t>>, 4> blockKeys_;  // kBlock4 .. kBlock6Lpm
};

}  // namespace xlb::sim
