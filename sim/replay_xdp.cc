// SPDX-License-Identifier: Apache-2.0
#include "replay_xdp.h"

#include "xlb/assembly.h"

namespace xlb::sim {

std::unique_ptr<ReplayXdp> ReplayXdp::load(ReplayXdpMode mode, const Config& config,
                                           const CookieKey& key, std::string& error) {
  std::unique_ptr<ReplayXdp> x(new ReplayXdp());
  XdpOptions xo = xdpOptionsFor(config, true);
  if (mode == ReplayXdpMode::kDifferential) {
    x->diff_ = XdpDiff::load(xo, error);
  } else {
    xo.runtime = mode == ReplayXdpMode::kKernel ? XdpRuntimeKind::kKernel : XdpRuntimeKind::kNative;
    x->prog_ = XdpProgram::load(xo, error);
  }
  if (!x->prog_ && !x->diff_) {
    error = "the XDP stage cannot run (" + error + ")";
    if (mode != ReplayXdpMode::kNative) {
      error += std::string("; the kernel's needs root with BPF: drop ") +
               (mode == ReplayXdpMode::kKernel ? "--kernel" : "--differential") +
               " for the native build of the program";
    }
    return nullptr;
  }
  if (x->diff_) {
    if (!x->diff_->apply(config, key, error)) return nullptr;
    for (const Prefix& p : config.blocklist) {
      if (!x->diff_->blockAdd(p, error)) return nullptr;
    }
    return x;
  }
  if (!x->prog_->applyConfig(config, key, error)) return nullptr;
  for (const Prefix& p : config.blocklist) {
    bool exists = false;
    if (!x->prog_->blockAdd(p, error, &exists) && !exists) return nullptr;
  }
  return x;
}

void ReplayXdp::setNow(TimeNs now) {
  if (diff_) {
    diff_->setFixedNow(now);
  } else {
    prog_->setFixedNow(now);
  }
}

bool ReplayXdp::run(std::span<const std::uint8_t> frame, XdpRun& out, std::string& error) {
  if (!diff_) {
    out = prog_->runFrame(frame);
    return true;
  }
  if (std::string d = diff_->run(frame); !d.empty()) {
    error = "the kernel's XDP program and its native build differ on frame " +
            std::to_string(diff_->frames()) + ": " + d;
    return false;
  }
  out = diff_->lastNative();
  return true;
}

std::array<std::uint64_t, kReasonCount> ReplayXdp::counts() const {
  std::array<std::uint64_t, kReasonCount> out{};
  const auto st = prog().stats();
  for (std::size_t i = 0; i < kReasonCount; ++i) out[i] = st[i].packets;
  return out;
}

}  // namespace xlb::sim
