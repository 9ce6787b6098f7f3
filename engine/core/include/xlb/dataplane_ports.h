// SPDX-License-Identifier: Apache-2.0
// What the Controller drives below it, as interfaces: the XDP program's maps (XdpMaps, done by
// XdpProgram) and the AF_XDP sockets' kernel counters (SocketInfo, done by XskIo); the workers
// are WorkerControl (worker.h). The daemon, the simulator and the bpf tests pass the real ones;
// the unit tests pass fakes, so the Controller's rules are tested without root. Only core types
// appear here, so the control plane needs neither libbpf nor the I/O layer to compile.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "xlb/addr.h"
#include "xlb/config.h"
#include "xlb/figures.h"
#include "xlb/reason.h"
#include "xlb/source_event.h"
#include "xlb/syncookie.h"

namespace xlb {

struct ReasonStat {
  std::uint64_t packets = 0;
  std::uint64_t bytes = 0;
};

struct BlockHits {
  std::uint64_t hits = 0;
  std::uint64_t lastHitNs = 0;  // the program's clock (CLOCK_MONOTONIC); 0 = never
};

// Auto-mode SYN state of one VIP, summed (counts) or OR-ed (cookies) over CPUs. `cookies` is on
// when a CPU has cookie mode on and saw a SYN within two windows (the program turns it off on the
// first SYN after a longer gap).
struct SynState {
  bool cookies = false;
  std::uint64_t switches = 0;
};

// The kernel's own AF_XDP counters for a socket (XDP_STATISTICS).
struct XskKernelStats {
  XLB_XSK_KERNEL_FIGURES(XLB_FIGURE_MEMBER)
};

inline constexpr auto kXskKernelFigures = XLB_FIGURE_TABLE(XskKernelStats, XLB_XSK_KERNEL_FIGURES);

// A health probe's target (the daemon's prober: io/tcp_probe.h).
struct ProbeTarget {
  Address backend;
  std::uint16_t port = 0;
  // The probe's source, bound explicitly (IP_FREEBIND); nullopt: the kernel's choice.
  std::optional<Address> source;
};

class XdpMaps {
 public:
  virtual ~XdpMaps() = default;
  // Replaces VIPs, served ports, SNAT addresses and range, SYN modes and the cookie key.
  // vipIds[i] is the slot of config.vips[i] (its port set and SYN-rate window): stable while
  // the VIP exists, so adding or removing another VIP moves nothing.
  virtual bool apply(const Config& config, std::span<const std::uint16_t> vipIds,
                     const CookieKey& key, std::string& error) = 0;
  // A configuration as loaded: each VIP's slot is its position.
  bool applyConfig(const Config& config, const CookieKey& key, std::string& error) {
    std::vector<std::uint16_t> ids(config.vips.size());
    for (std::size_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<std::uint16_t>(i);
    return apply(config, ids, key, error);
  }
  // Fails if the prefix is present (`exists` = true) or the map is full.
  virtual bool blockAdd(const Prefix& p, std::string& error, bool* exists = nullptr) = 0;
  virtual bool blockRemove(const Prefix& p) = 0;
  virtual std::optional<BlockHits> blockHits(const Prefix& p) const = 0;
  // Per-reason counters summed over CPUs.
  virtual std::array<ReasonStat, kReasonCount> stats() const = 0;
  virtual SynState synState(std::uint16_t vipId) const = 0;
  // Half-open pressure (the Controller's verdict): on, every auto-mode VIP answers SYNs with
  // cookies whatever its SYN rate.
  virtual void setSynPressure(bool on) = 0;
  // Appends the sources that crossed a limit since the last call (never waits).
  virtual void takeSourceEvents(std::vector<SourceEvent>& out) = 0;
};

class SocketInfo {
 public:
  virtual ~SocketInfo() = default;
  virtual std::uint32_t queue() const noexcept = 0;
  virtual bool zeroCopy() const noexcept = 0;
  virtual XskKernelStats kernelStats() const noexcept = 0;
};

}  // namespace xlb
