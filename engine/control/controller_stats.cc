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

json Controller::backendJson(const BackendRecord& b, const WorkerStats& total) const {
  const BackendStats t = backendOf(total, b.id);
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

// Each figure of a list at its place: out[group][key] (figures.h).
template <typename Holder, typename Table>
void putFigures(json& out, const Table& table, const Holder& h) {
  for (const Figure<Holder>& f : table) out[std::string(f.group)][std::string(f.key)] = h.*f.member;
}

json conntrackStatesJson(const WorkerStats& t) {
  json states = json::object();
  for (std::size_t i = 1; i < kTcpStateCount; ++i) {
    states[std::string(enumName(static_cast<TcpState>(i)))] = t.byState[i];
  }
  json closes = json::object();
  for (std::size_t i = 0; i < kCloseReasonCount; ++i) {
    closes[std::string(enumName(static_cast<CloseReason>(i)))] = t.closed[i];
  }
  return {{"by_state", states}, {"closed", closes}};
}

// One object per queue: the I/O's and the kernel's figures by key, and UMEM frames by place.
json afxdpJson(const std::vector<MetricsInput::Queue>& queues) {
  json afxdp = json::array();
  for (const MetricsInput::Queue& q : queues) {
    json o = {{"queue", q.queue},
              {"zero_copy", q.zeroCopy},
              {"frames",
               {{"total", q.io.framesTotal},
                {"free", q.io.framesFree},
                {"fill", q.io.framesFill},
                {"in_app", q.io.framesApp},
                {"in_tx", q.io.framesTx}}}};
    for (const auto& f : kIoFigures) o[std::string(f.key)] = q.io.*f.member;
    for (const auto& f : kXskKernelFigures) o[std::string(f.key)] = q.kernel.*f.member;
    afxdp.push_back(std::move(o));
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
      const BackendStats t = backendOf(g.total, b.id);
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
  const WorkerStats& t = g.total;
  std::array<std::uint64_t, kReasonCount> xdp{};
  std::uint64_t xdpPackets = 0;
  for (std::size_t i = 0; i < kReasonCount; ++i) {
    xdp[i] = g.xdp[i].packets;
    xdpPackets += xdp[i];
  }
  const auto uptime =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - started_);
  json j = {{"uptime_seconds", uptime.count()},
            {"xdp", reasonsJson(xdp)},
            {"engine", reasonsJson(t.counters.reasons)},
            {"conntrack", conntrackStatesJson(t)},
            {"half_open",
             {{"connections", synPressure_.halfOpen()},
              {"limit", synPressure_.limit()},
              {"pressure", synPressure_.on()},
              {"pressure_switches", synPressure_.switches()}}},
            {"blocklist",
             {{"entries", blocklist_.size()},
              {"drops", xdp[static_cast<std::size_t>(Reason::kBlocklist)]}}},
            {"vips", vipsStatsJson(g)},
            {"afxdp", afxdpJson(g.queues)},
            {"internal_errors", internalErrorsJson()}};
  putFigures(j, kPipelineFigures, t.counters);
  putFigures(j, kWorkerFigures, t);
  j["packets"]["xdp"] = xdpPackets;
  j["snat"]["exhausted"] = t.counters.of(Reason::kSnatExhausted);
  j["syncookies"]["sent"] = xdp[static_cast<std::size_t>(Reason::kTxSyncookie)];
  j["syncookies"]["invalid"] = t.counters.of(Reason::kSyncookieInvalid);
  j["workers"]["count"] = deps_.workers.size();
  return ApiResult{200, j};
}

std::string Controller::metrics() const {
  std::lock_guard lock(mutex_);
  const Figures g = collectFigures(deps_, model_.vips().size());
  MetricsInput in;
  in.xdp = g.xdp;
  in.engine = g.total;
  in.blocklistEntries = blocklist_.size();
  in.halfOpen = synPressure_.halfOpen();
  in.halfOpenLimit = synPressure_.limit();
  in.synPressure = synPressure_.on();
  in.synPressureSwitches = synPressure_.switches();
  for (std::size_t i = 0; i < model_.vips().size(); ++i) {
    const VipRecord& v = model_.vips()[i];
    in.vips.push_back({v.config.address.toString(), cookiesActive(v, g.syn[i], synPressure_.on())});
    for (const BackendRecord& b : v.backends) {
      in.backends.push_back({v.config.address.toString(), b.address.toString(), b.inRotation(),
                             backendOf(g.total, b.id)});
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
  const WorkerStats total = fold(workerStats());
  json items = json::array();
  for (std::size_t i = 0; i < model_.vips().size(); ++i) {
    const VipRecord& v = model_.vips()[i];
    std::uint64_t active = 0;
    std::size_t inRotation = 0;
    for (const BackendRecord& b : v.backends) {
      active += backendOf(total, b.id).active;
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
  const WorkerStats total = fold(workerStats());
  json items = json::array();
  for (const BackendRecord& b : v->backends) items.push_back(backendJson(b, total));
  return ApiResult{200, {{"vip", vip.toString()}, {"items", items}}};
}

}  // namespace xlb
