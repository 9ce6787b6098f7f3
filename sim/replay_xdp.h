// SPDX-License-Identifier: Apache-2.0
// The replay's XDP stage: the program's native build (the default), the real object in the
// kernel (--kernel), or both held to each other frame by frame (--differential), filled from the
// configuration as xlbd fills its maps at start.
#pragma once

#include <array>
#include <memory>
#include <span>
#include <string>

#include "xdp_diff.h"
#include "xlb/xdp_program.h"

namespace xlb::sim {

enum class ReplayXdpMode : std::uint8_t { kNative, kKernel, kDifferential };

class ReplayXdp {
 public:
  // nullptr with `error` when the program cannot load (the kernel's needs root) or the
  // configuration does not fit its maps.
  static std::unique_ptr<ReplayXdp> load(ReplayXdpMode mode, const Config& config,
                                         const CookieKey& key, std::string& error);

  void setNow(TimeNs now);
  // The frame's action and output (valid until the next run). False with `error` when the
  // kernel and the native build disagree on it (--differential).
  bool run(std::span<const std::uint8_t> frame, XdpRun& out, std::string& error);
  // Packets per reason so far.
  std::array<std::uint64_t, kReasonCount> counts() const;

 private:
  ReplayXdp() = default;
  XdpProgram& prog() noexcept { return diff_ ? diff_->native() : *prog_; }
  const XdpProgram& prog() const noexcept { return diff_ ? diff_->native() : *prog_; }

  std::unique_ptr<XdpProgram> prog_;
  std::unique_ptr<XdpDiff> diff_;
};

}  // namespace xlb::sim
