// SPDX-License-Identifier: Apache-2.0
// Prometheus exposition of xlb's figures. Everything is read at scrape time from per-worker and
// per-CPU counters the data path keeps anyway; nothing is updated per packet in a registry.
#pragma once

#include <array>
#include <string>
#include <vector>

#include "xlb/boundary.h"
#include "xlb/dataplane_ports.h"
#include "xlb/pipeline.h"

namespace xlb {

struct MetricsInput {
  std::array<ReasonStat, kReasonCount> xdp{};
  std::array<std::uint64_t, kReasonCount> engine{};
  std::array<std::uint64_t, kTcpStateCount> byState{};
  std::array<std::uint64_t, kCloseReasonCount> closed{};
  std::uint64_t capacity = 0;
  std::uint64_t created = 0;
  std::uint64_t snatInUse = 0;
  std::uint64_t cookiesValidated = 0;
  std::uint64_t synTimestamped = 0, synNoTimestamp = 0, twCollisions = 0, synRetransmits = 0;
  std::uint64_t blocklistEntries = 0;
  std::uint64_t halfOpen = 0, halfOpenLimit = 0, synPressureSwitches = 0;
  bool synPressure = false;
  struct Vip {
    std::string address;
    bool synFloodActive = false;
  };
  std::vector<Vip> vips;
  struct Backend {
    std::string vip;
    std::string address;
    bool up = false;
    std::uint64_t active = 0;
    BackendCounters counters;
  };
  std::vector<Backend> backends;
  struct Queue {
    std::uint32_t queue = 0;
    std::uint64_t rx = 0;
    std::uint64_t tx = 0;
    std::uint64_t txRingFull = 0;
    std::uint64_t fillRingEmpty = 0;
    std::uint64_t rxDropped = 0;
    std::uint64_t rxRingFull = 0;
    bool zeroCopy = false;
    std::uint32_t framesTotal = 0, framesFree = 0, framesFill = 0, framesApp = 0, framesTx = 0;
  };
  std::vector<Queue> queues;
  double uptimeSeconds = 0;
  std::array<std::uint64_t, kBoundaryCount> internalErrors{};
};

// The text exposition format (version 0.0.4), serialised by prometheus-cpp.
std::string renderMetrics(const MetricsInput& in);

inline constexpr const char* kMetricsContentType = "text/plain; version=0.0.4; charset=utf-8";

}  // namespace xlb
