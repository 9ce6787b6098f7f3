// SPDX-License-Identifier: Apache-2.0
// Every figure the statistics and the metrics report, read once by the Controller (folded across
// workers, the XDP program's per-CPU counters, per-VIP SYN state, per-queue AF_XDP figures) and
// rendered by the API's handlers: JSON for /api/v1/stats (renderStats), the Prometheus text for
// /metrics (renderMetrics).
#pragma once

#include <array>
#include <optional>
#include <string>
#include <vector>

#include "xlb/auto_block.h"
#include "xlb/boundary.h"
#include "xlb/cluster_port.h"
#include "xlb/dataplane_ports.h"
#include "xlb/pipeline.h"
#include "xlb/worker.h"

namespace xlb {

// How this process started: what it adopted from the previous one (flow_store.h, a hand-over).
struct RestartInfo {
  std::uint32_t generation = 0;  // processes that used the tables' file before this one
  std::uint64_t adopted = 0;     // connections taken over at start
  std::uint64_t dropped = 0;     // stored connections not taken (invalid, duplicate, refused file)
  std::string refused;           // why the stored tables were not adopted at all ("": they were)
  std::int32_t previousPid = 0;  // the previous process (0: none known)
  bool handover = false;         // took over a running xlbd's sockets (--takeover)
  double pauseMs = 0;            // with a hand-over: how long no worker ran
};

struct StatsView {
  std::array<ReasonStat, kReasonCount> xdp{};
  WorkerStats engine;  // every worker's figures added up (WorkerStats::operator+=)
  std::uint64_t blocklistEntries = 0;
  std::uint64_t halfOpen = 0, halfOpenLimit = 0, synPressureSwitches = 0;
  bool synPressure = false;
  AutoBlockMode autoBlockMode = AutoBlockMode::kOff;
  AutoBlockFigures autoBlock;
  struct Backend {
    std::string address;
    bool up = false;
    BackendStats stats;
  };
  struct Vip {
    std::string address;
    std::string protocol;  // "tcp" or "udp"
    bool synFloodActive = false;
    std::uint64_t synFloodSwitches = 0;
    std::vector<Backend> backends;
  };
  std::vector<Vip> vips;
  struct Queue {
    std::uint32_t queue = 0;
    bool zeroCopy = false;
    IoCounters io;          // the queue's worker's
    XskKernelStats kernel;  // the socket's, from the kernel
  };
  std::vector<Queue> queues;
  std::size_t workers = 0;
  std::optional<bool> xdpAttached;  // unknown without an attachment (the simulator, tests)
  double uptimeSeconds = 0;
  RestartInfo restart;
  std::array<std::uint64_t, kBoundaryCount> internalErrors{};
  std::optional<ClusterView> cluster;  // a cluster member only
};

}  // namespace xlb
