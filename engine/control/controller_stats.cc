// SPDX-License-Identifier: Apache-2.0
// The Controller's figures: statistics, metrics, VIPs and backends with their counts.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <sstream>

#include "controller_detail.h"

namespace xlb {

using nlohmann::json;
using namespace controller_detail;

VipView Controller::vipViewLocked(std::size_t i, const WorkerStats& total) const {
  const VipRecord& v = model_.vips()[i];
  VipView out{
      v.config, v.draining, cookiesActive(v, deps_.prog->synState(v.id), synPressure_.on()), {}};
  out.config.backends.clear();
  for (const BackendRecord& b : v.backends) out.backends.push_back(backendView(b, total));
  return out;
}

StatsView Controller::statsView() const {
  std::lock_guard lock(mutex_);
  const Figures g = collectFigures(deps_, workerStats(), model_.vipIds());
  StatsView in;
  in.xdp = g.xdp;
  in.engine = g.total;
  in.workers = deps_.workers.size();
  if (deps_.attached) in.xdpAttached = deps_.attached();
  in.restart = restart_;
  in.blocklistEntries = blocklist_.size();
  in.halfOpen = synPressure_.halfOpen();
  in.halfOpenLimit = synPressure_.limit();
  in.synPressure = synPressure_.on();
  in.synPressureSwitches = synPressure_.switches();
  in.autoBlockMode = autoBlock_.config().mode;
  in.autoBlock = autoBlock_.figures();
  for (std::size_t i = 0; i < model_.vips().size(); ++i) {
    const VipRecord& v = model_.vips()[i];
    StatsView::Vip& sv =
        in.vips.emplace_back(StatsView::Vip{v.config.address.toString(),
                                            protocolName(v.config.protocol),
                                            cookiesActive(v, g.syn[i], synPressure_.on()),
                                            g.syn[i].switches,
                                            {}});
    for (const BackendRecord& b : v.backends) {
      sv.backends.push_back({b.address.toString(), b.inRotation(), backendOf(g.total, b.id)});
    }
  }
  in.queues = g.queues;
  if (cluster_ != nullptr) in.cluster = cluster_->view();
  for (std::size_t i = 0; i < kBoundaryCount; ++i) {
    in.internalErrors[i] = boundaryErrors(static_cast<Boundary>(i));
  }
  in.uptimeSeconds = static_cast<double>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                             std::chrono::steady_clock::now() - started_)
                                             .count()) /
                     1000.0;
  return in;
}

// ---- Blocklist ----

std::vector<VipView> Controller::listVips() const {
  std::lock_guard lock(mutex_);
  const WorkerStats total = fold(workerStats());
  std::vector<VipView> out;
  for (std::size_t i = 0; i < model_.vips().size(); ++i) out.push_back(vipViewLocked(i, total));
  return out;
}

std::variant<VipView, ControlError> Controller::vip(const VipKey& vip) const {
  std::lock_guard lock(mutex_);
  const VipRecord* v = model_.findVip(vip);
  if (v == nullptr) return ControlError{Failure::kNotFound, "no VIP " + vip.toString()};
  return vipViewLocked(static_cast<std::size_t>(v - model_.vips().data()), fold(workerStats()));
}

void Controller::setRestartInfo(const RestartInfo& r) {
  std::lock_guard lock(mutex_);
  restart_ = r;
}

std::vector<FlowTarget> Controller::flowTargets() const {
  std::lock_guard lock(mutex_);
  std::vector<FlowTarget> out;
  for (const VipRecord& v : model_.vips()) {
    for (const BackendRecord& b : v.backends) {
      out.push_back(FlowTarget{v.config.address, v.id, b.address, b.id, v.config.protocol});
    }
  }
  return out;
}

}  // namespace xlb
