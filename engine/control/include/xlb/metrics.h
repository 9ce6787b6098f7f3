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
#include "xlb/worker.h"

namespace xlb {

struct MetricsInput {
  std::array<ReasonStat, kReasonCount> xdp{};
  WorkerStats engine;  // every worker's figures added up (WorkerStats::operator+=)
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
    BackendStats stats;
  };
  std::vector<Backend> backends;
  struct Queue {
    std::uint32_t queue = 0;
    bool zeroCopy = false;
    IoCounters io;          // the queue's worker's
    XskKernelStats kernel;  // the socket's, from the kernel
  };
  std::vector<Queue> queues;
  double uptimeSeconds = 0;
  std::array<std::uint64_t, kBoundaryCount> internalErrors{};
};

// The text exposition format (version 0.0.4), serialised by prometheus-cpp.
std::string renderMetrics(const MetricsInput& in);

inline constexpr const char* kMetricsContentType = "text/plain; version=0.0.4; charset=utf-8";

}  // namespace xlb
