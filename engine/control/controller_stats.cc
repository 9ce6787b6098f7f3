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

json Controller::backendJson(const BackendRecord& b, const std::vector<WorkerStats>& ws) const {
  const BackendStats t = backendTotal(ws, b.id);
  return json{{"address", b.address.toString()},
              {"weight", b.weight},
              {"state", enumName(b.state)},
              {"health", enumName(b.health)},
              {"in_rotation", b.inRotation()},
              {"active_connections", t.active},
              {"connections_total", t.counters.created},
              {"bytes_to_backend", t.counters.bytesToBackend},
              {"bytes_to_client", t.counters.bytesToClient},
              {"source", b.fromConfig ? "config" : "api"}};
}

namespace {

// "xdp" and "engine" hold every verdict reason seen by name (drops, passes and transmits), so
// one lookup answers "how many for reason R" at either stage.
json reasonsJson(const std::array<std::uint64_t, kReasonCount>& counts) {
  json out = json::object();
  for (std::size_t i = 0; i < kReasonCount; ++i) {
    if (counts[i] != 0) out[std::string(kReasonNames[i])] = counts[i];
  }
  return out;
}

json conntrackJson(const Folded& f) {
  json states = json::object();
  for (std::size_t i = 1; i < kTcpStateCount; ++i) {
    states[std::string(enumName(static_cast<TcpState>(i)))] = f.byState[i];
  }
  json closes = json::object();
  for (std::size_t i = 0; i < kCloseReasonCount; ++i) {
    closes[std::string(enumName(static_cast<CloseReason>(i)))] = f.closed[i];
  }
  return {{"active", f.active}, {"capacity", f.capacity}, {"created", f.created},
          {"by_state", states}, {"closed", closes},       {"syn_retransmits", f.synRetransmits}};
}

json afxdpJson(const std::vector<MetricsInput::Queue>& queues) {
  json afxdp = json::array();
  for (const MetricsInput::Queue& q : queues) {
    afxdp.push_back({{"queue", q.queue},
                     {"zero_copy", q.zeroCopy},
                     {"rx", q.rx},
                     {"tx", q.tx},
                     {"tx_ring_full", q.txRingFull},
                     {"rx_dropped", q.rxDropped},
                     {"rx_ring_full", q.rxRingFull},
                     {"fill_ring_empty", q.fillRingEmpty},
                     {"frames",
                      {{"total", q.framesTotal},
                       {"free", q.framesFree},
                       {"fill", q.framesFill},
                       {"in_app", q.framesApp},
                       {"in_tx", q.framesTx}}}});
  }
  return afxdp;
}

}  // namespace

json Controller::vipsStatsJson(const Figures& g) const {
  json vips = json::array();
  for (std::size_t i = 0; i < model_.vips().size(); ++i) {
    const VipRecord& v = model_.vips()[i];
    json backends = json::array();
    for (const BackendRecord& b : v.backends) {
      const BackendStats t = backendTotal(g.ws, b.id);
      backends.push_back({{"address", b.address.toString()},
                          {"active_connections", t.active},
                          {"connections_total", t.counters.created}});
    }
    vips.push_back({{"address", v.config.address.toString()},
                    {"syn_flood_active", cookiesActive(v, g.syn[i], synPressure_.on())},
                    {"syn_flood_switches", g.syn[i].switches},
                    {"backends", backends}});
  }
  return vips;
}

ApiResult Controller::stats() const {
  std::lock_guard lock(mutex_);
  const Figures g = collectFigures(deps_, model_.vips().size());
  const Folded& f = g.f;
  const auto& x = g.xdp;
  std::array<std::uint64_t, kReasonCount> xdpCounts{};
  std::uint64_t xdpPackets = 0;
  for (std::size_t i = 0; i < kReasonCount; ++i) {
    xdpCounts[i] = x[i].packets;
    xdpPackets += x[i].packets;
  }
  const auto uptime =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - started_);
  json j = {{"uptime_seconds", uptime.count()},
            {"packets", {{"xdp", xdpPackets}, {"engine", f.packets}}},
            {"xdp", reasonsJson(xdpCounts)},
            {"engine", reasonsJson(f.reasons)},
            {"conntrack", conntrackJson(f)},
            {"snat",
             {{"ports_in_use", f.snatInUse},
              {"ports_total", f.snatCapacity},
              {"exhausted", f.reasons[static_cast<std::size_t>(Reason::kSnatExhausted)]},
              {"syn_timestamped", f.synTimestamped},
              {"syn_without_timestamp", f.synNoTimestamp},
              {"time_wait_collisions", f.twCollisions}}},
            {"syncookies",
             {{"sent", x[static_cast<std::size_t>(Reason::kTxSyncookie)].packets},
              {"validated", f.validated},
              {"invalid", f.reasons[static_cast<std::size_t>(Reason::kSyncookieInvalid)]}}},
            {"half_open",
             {{"connections", synPressure_.halfOpen()},
              {"limit", synPressure_.limit()},
              {"pressure", synPressure_.on()},
              {"pressure_switches", synPressure_.switches()}}},
            {"blocklist",
             {{"entries", blocklist_.size()},
              {"drops", x[static_cast<std::size_t>(Reason::kBlocklist)].packets}}},
            {"vips", vipsStatsJson(g)},
            {"workers",
             {{"count", g.ws.size()},
              {"handed_off", f.handedOff},
              {"handoff_drops", f.handoffDrops},
              {"send_drops", f.sendDrops}}},
            {"afxdp", afxdpJson(g.queues)},
            {"internal_errors", internalErrorsJson()}};
  return ApiResult{200, j};
}

std::string Controller::metrics() const {
  std::lock_guard lock(mutex_);
  const Figures g = collectFigures(deps_, model_.vips().size());
  MetricsInput in;
  in.xdp = g.xdp;
  in.engine = g.f.reasons;
  in.byState = g.f.byState;
  in.closed = g.f.closed;
  in.capacity = g.f.capacity;
  in.created = g.f.created;
  in.snatInUse = g.f.snatInUse;
  in.cookiesValidated = g.f.validated;
  in.synTimestamped = g.f.synTimestamped;
  in.synNoTimestamp = g.f.synNoTimestamp;
  in.twCollisions = g.f.twCollisions;
  in.synRetransmits = g.f.synRetransmits;
  in.blocklistEntries = blocklist_.size();
  in.halfOpen = synPressure_.halfOpen();
  in.halfOpenLimit = synPressure_.limit();
  in.synPressure = synPressure_.on();
  in.synPressureSwitches = synPressure_.switches();
  for (std::size_t i = 0; i < model_.vips().size(); ++i) {
    const VipRecord& v = model_.vips()[i];
    in.vips.push_back({v.config.address.toString(), cookiesActive(v, g.syn[i], synPressure_.on())});
    for (const BackendRecord& b : v.backends) {
      const BackendStats t = backendTotal(g.ws, b.id);
      in.backends.push_back({v.config.address.toString(), b.address.toString(), b.inRotation(),
                             t.active, t.counters});
    }
  }
  in.queues = g.queues;
  for (std::size_t i = 0; i < kBoundaryCount; ++i) {
    in.internalErrors[i] = boundaryErrors(static_cast<Boundary>(i));
  }
  in.uptimeSeconds = static_cast<double>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                             std::chrono::steady_clock::now() - started_)
                                             .count()) /
                     1000.0;
  return renderMetrics(in);
}

// ---- Blocklist ----

ApiResult Controller::listVips() const {
  std::lock_guard lock(mutex_);
  const std::vector<WorkerStats> ws = workerStats();
  json items = json::array();
  for (std::size_t i = 0; i < model_.vips().size(); ++i) {
    const VipRecord& v = model_.vips()[i];
    std::uint64_t active = 0;
    std::size_t inRotation = 0;
    for (const BackendRecord& b : v.backends) {
      active += backendTotal(ws, b.id).active;
      inRotation += b.inRotation() ? 1u : 0u;
    }
    items.push_back(
        {{"address", v.config.address.toString()},
         {"protocol", "tcp"},
         {"ports", v.config.ports},
         {"syn_flood",
          {{"mode", enumName(v.config.synFlood.mode)},
           {"threshold_pps", v.config.synFlood.thresholdPps},
           {"active", cookiesActive(v, deps_.prog->synState(static_cast<std::uint16_t>(i)),
                                    synPressure_.on())}}},
         {"backends", v.backends.size()},
         {"backends_in_rotation", inRotation},
         {"active_connections", active}});
  }
  return ApiResult{200, {{"items", items}}};
}

ApiResult Controller::listBackends(const Address& vip) const {
  std::lock_guard lock(mutex_);
  const VipRecord* v = model_.findVip(vip);
  if (v == nullptr) return ApiResult::error(404, "not_found", "no VIP " + vip.toString());
  const std::vector<WorkerStats> ws = workerStats();
  json items = json::array();
  for (const BackendRecord& b : v->backends) items.push_back(backendJson(b, ws));
  return ApiResult{200, {{"vip", vip.toString()}, {"items", items}}};
}

}  // namespace xlb
