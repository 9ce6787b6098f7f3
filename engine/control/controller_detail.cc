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

std::string iso8601(std::int64_t t) {
  if (t == 0) return "";
  const auto tt = static_cast<time_t>(t);
  tm g{};
  gmtime_r(&tt, &g);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &g);
  return buf;
}

json nullOr(const std::string& s) {
  return s.empty() ? json(nullptr) : json(s);
}

Folded fold(const std::vector<WorkerStats>& ws) {
  Folded f;
  for (const WorkerStats& s : ws) {
    for (std::size_t i = 0; i < kReasonCount; ++i) f.reasons[i] += s.counters.reasons[i];
    for (std::size_t i = 0; i < kTcpStateCount; ++i) f.byState[i] += s.byState[i];
    for (std::size_t i = 0; i < kCloseReasonCount; ++i) f.closed[i] += s.closed[i];
    f.active += s.active;
    f.created += s.created;
    f.snatInUse += s.snatInUse;
    f.snatCapacity += s.snatCapacity;
    f.capacity += s.capacity;
    f.validated += s.counters.cookiesValidated;
    f.heldReleased += s.counters.heldReleased;
    f.synTimestamped += s.counters.synTimestamped;
    f.synNoTimestamp += s.counters.synNoTimestamp;
    f.twCollisions += s.counters.twCollisions;
    f.synRetransmits += s.counters.synRetransmits;
    f.handedOff += s.handedOff;
    f.handoffDrops += s.handoffDrops;
    f.sendDrops += s.sendDrops;
    f.packets += s.counters.packets;
    f.bytes += s.counters.bytes;
  }
  return f;
}

bool cookiesActive(const VipRecord& v, const SynState& st, bool pressure) {
  return v.config.synFlood.mode == SynFloodMode::kAlways ||
         (v.config.synFlood.mode == SynFloodMode::kAuto && (st.cookies || pressure));
}

BackendStats backendTotal(const std::vector<WorkerStats>& ws, std::uint16_t id) {
  BackendStats t;
  for (const WorkerStats& s : ws) {
    if (id >= s.backends.size()) continue;
    const BackendStats& b = s.backends[id];
    t.active += b.active;
    t.counters.created += b.counters.created;
    t.counters.bytesToBackend += b.counters.bytesToBackend;
    t.counters.bytesToClient += b.counters.bytesToClient;
  }
  return t;
}

Figures collectFigures(const ControllerDeps& d, std::size_t vipCount) {
  Figures g;
  for (const WorkerControl* w : d.workers) g.ws.push_back(w->stats());
  g.f = fold(g.ws);
  g.xdp = d.prog->stats();
  for (std::size_t i = 0; i < vipCount; ++i) {
    g.syn.push_back(d.prog->synState(static_cast<std::uint16_t>(i)));
  }
  for (std::size_t q = 0; q < d.sockets.size(); ++q) {
    const XskKernelStats k = d.sockets[q]->kernelStats();
    const IoCounters io = q < g.ws.size() ? g.ws[q].io : IoCounters{};
    g.queues.push_back({d.sockets[q]->queue(), io.rxFrames, io.txFrames, io.txRingFull,
                        k.fillRingEmpty, k.rxDropped, k.rxRingFull, d.sockets[q]->zeroCopy(),
                        io.framesTotal, io.framesFree, io.framesFill, io.framesApp, io.framesTx});
  }
  return g;
}

json internalErrorsJson() {
  json j = json::object();
  for (std::size_t i = 0; i < kBoundaryCount; ++i) {
    j[std::string(kBoundaryNames[i])] = boundaryErrors(static_cast<Boundary>(i));
  }
  return j;
}

}  // namespace xlb::controller_detail
