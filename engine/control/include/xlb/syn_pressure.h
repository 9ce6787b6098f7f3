// SPDX-License-Identifier: Apache-2.0
// Half-open pressure: the auto SYN-flood mode's second trigger. A flood below a VIP's SYN-rate
// threshold (or spread over many VIPs) still creates an entry and takes a SNAT port for every
// spoofed SYN, and each holds them until the SYN timeout; enough of them starve legitimate
// connections of ports. The Controller folds the workers' half-open counts once per tick and,
// while they hold a quarter of the SNAT ports or of the connection entries (whichever is
// fewer), has every auto-mode VIP answer SYNs with cookies, which creates no state. Off again
// below half of that, so the state does not flap at the line.
#pragma once

#include <cstdint>
#include <span>

#include "xlb/worker.h"

namespace xlb {

class SynPressure {
 public:
  static constexpr std::uint64_t kShareDivisor = 4;  // on at a quarter of ports or entries

  // Folds the workers' figures; returns true when the state changed.
  bool update(std::span<const WorkerStats> workers) noexcept;

  bool on() const noexcept { return on_; }
  std::uint64_t halfOpen() const noexcept { return halfOpen_; }
  std::uint64_t limit() const noexcept { return limit_; }
  std::uint64_t switches() const noexcept { return switches_; }

 private:
  bool on_ = false;
  std::uint64_t halfOpen_ = 0;
  std::uint64_t limit_ = 0;
  std::uint64_t switches_ = 0;
};

}  // namespace xlb
