// SPDX-License-Identifier: Apache-2.0
#include "controller_detail.h"

#include <time.h>

namespace xlb::controller_detail {

using nlohmann::json;

std::int64_t wallNow() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return ts.tv_sec;
}

WorkerStats fold(const std::vector<WorkerStats>& ws) {
  WorkerStats total;
  for (const WorkerStats& s : ws) total += s;
  return total;
}

bool cookiesActive(const VipRecord& v, const SynState& st, bool pressure) {
  return v.config.synFlood.mode == SynFloodMode::kAlways ||
         (v.config.synFlood.mode == SynFloodMode::kAuto && (st.cookies || pressure));
}

BackendView backendView(const BackendRecord& b, const WorkerStats& total) {
  return BackendView{
      b.address, b.weight, b.state, b.health, b.inRotation(), b.fromConfig, backendOf(total, b.id)};
}

BackendStats backendOf(const WorkerStats& total, std::uint16_t id) {
  return id < total.backends.size() ? total.backends[id] : BackendStats{};
}

Figures collectFigures(const ControllerDeps& d, const std::vector<WorkerStats>& ws,
                       const std::vector<std::uint16_t>& vipIds) {
  Figures g;
  g.total = fold(ws);
  g.xdp = d.prog->stats();
  for (std::uint16_t id : vipIds) g.syn.push_back(d.prog->synState(id));
  for (std::size_t q = 0; q < d.sockets.size(); ++q) {
    g.queues.push_back({d.sockets[q]->queue(), d.sockets[q]->zeroCopy(),
                        q < ws.size() ? ws[q].io : IoCounters{}, d.sockets[q]->kernelStats()});
  }
  return g;
}

}  // namespace xlb::controller_detail
