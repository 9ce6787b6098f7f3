// SPDX-License-Identifier: Apache-2.0
// Shared by the Controller's files (controller*.cc): limits, state file names, and the figures
// folded from the workers and the XDP program for stats, metrics and listings.
#pragma once

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "xlb/controller.h"
#include "xlb/stats_view.h"

namespace xlb::controller_detail {

constexpr auto kWorkerTimeout = std::chrono::milliseconds(2000);
constexpr std::uint32_t kMaxScanPerPage = 65536;
constexpr const char* kBackendsFile = "services.json";  // VIP settings and backends
constexpr const char* kBlocklistFile = "blocklist.json";
constexpr const char* kAutoBlockFile = "auto_block.json";  // automatic blocking's settings

std::int64_t wallNow();

// Everything statistics and metrics report, read once: per-worker figures folded, the XDP
// program's per-CPU counters, per-VIP SYN state, per-queue AF_XDP figures.
struct Figures {
  WorkerStats total;  // every worker's figures added up
  std::array<ReasonStat, kReasonCount> xdp{};
  std::vector<SynState> syn;  // by VIP position in the model
  std::vector<StatsView::Queue> queues;
};

// Every worker's figures added up (WorkerStats::operator+=); backends by id.
WorkerStats fold(const std::vector<WorkerStats>& ws);
// Cookies answer this VIP's SYNs: always, or in auto mode while above the threshold or while
// half-open connections press on the SNAT ports (SynPressure).
bool cookiesActive(const VipRecord& v, const SynState& st, bool pressure);
// A backend's record with its figures from a fold, as the API shows it.
BackendView backendView(const BackendRecord& b, const WorkerStats& total);
// One backend id's figures from a fold (zeros for an id no worker has seen yet).
BackendStats backendOf(const WorkerStats& total, std::uint16_t id);
// `ws`: each worker's figures (Controller::workerStats); `vipIds`: the model's VIP slots, in order.
Figures collectFigures(const ControllerDeps& d, const std::vector<WorkerStats>& ws,
                       const std::vector<std::uint16_t>& vipIds);

// Renders and writes one state file. A rendering that fails (text the edge should have refused)
// is a failed save like a failed write, so the caller rolls the whole change back.
template <typename Render>
inline bool saveState(StateStore* store, const char* file, Render render, std::string& error) {
  if (store == nullptr) return true;
  std::string text;
  try {
    text = render();
  } catch (const std::exception& e) {
    error = std::string(file) + ": cannot render the state: " + e.what();
    return false;
  }
  return store->save(file, text, error);
}

}  // namespace xlb::controller_detail
