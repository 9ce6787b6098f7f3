// SPDX-License-Identifier: Apache-2.0
// GET /api/v1/stats rendered from the Controller's StatsView.
#include <cmath>
#include <nlohmann/json.hpp>

#include "api_render.h"

namespace xlb::render {

using nlohmann::json;

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
json afxdpJson(const std::vector<StatsView::Queue>& queues) {
  json afxdp = json::array();
  for (const StatsView::Queue& q : queues) {
    json o = {{"queue", q.queue},
              {"zero_copy", q.zeroCopy},
              {"frames",
               {{"total", q.io.frames.total},
                {"free", q.io.frames.free},
                {"fill", q.io.frames.fill},
                {"in_app", q.io.frames.inApp},
                {"in_tx", q.io.frames.inTx}}}};
    for (const auto& f : kIoFigures) o[std::string(f.key)] = q.io.*f.member;
    for (const auto& f : kXskKernelFigures) o[std::string(f.key)] = q.kernel.*f.member;
    afxdp.push_back(std::move(o));
  }
  return afxdp;
}

// Automatic blocking: its mode, and per kind what it did.
json autoBlockJson(const StatsView& v) {
  json blocked = json::object(), observed = json::object(), repeated = json::object(),
       allowed = json::object();
  for (std::size_t k = 0; k < kSourceKindCount; ++k) {
    blocked[kSourceKindNames[k]] = v.autoBlock.blocked[k];
    observed[kSourceKindNames[k]] = v.autoBlock.observed[k];
    repeated[kSourceKindNames[k]] = v.autoBlock.repeated[k];
    allowed[kSourceKindNames[k]] = v.autoBlock.allowed[k];
  }
  return {{"mode", enumName(v.autoBlockMode)},
          {"blocked", blocked},
          {"observed", observed},
          {"repeated", repeated},
          {"allowed", allowed},
          {"folds", v.autoBlock.folds}};
}

json internalErrorsJson(const StatsView& v) {
  json j = json::object();
  for (std::size_t i = 0; i < kBoundaryCount; ++i) {
    j[std::string(kBoundaryNames[i])] = v.internalErrors[i];
  }
  return j;
}

// VIPs with their backends.
json vipsJson(const StatsView& v) {
  json vips = json::array();
  for (const StatsView::Vip& vip : v.vips) {
    json backends = json::array();
    for (const StatsView::Backend& b : vip.backends) {
      backends.push_back({{"address", b.address},
                          {"active_connections", b.stats.active},
                          {"connections_total", b.stats.counters.created}});
    }
    vips.push_back({{"address", vip.address},
                    {"protocol", vip.protocol},
                    {"syn_flood_active", vip.synFloodActive},
                    {"syn_flood_switches", vip.synFloodSwitches},
                    {"backends", backends}});
  }
  return vips;
}

}  // namespace

json stats(const StatsView& v) {
  const WorkerStats& t = v.engine;
  std::array<std::uint64_t, kReasonCount> xdp{};
  std::uint64_t xdpPackets = 0;
  for (std::size_t i = 0; i < kReasonCount; ++i) {
    xdp[i] = v.xdp[i].packets;
    xdpPackets += xdp[i];
  }
  json j = {{"uptime_seconds", static_cast<std::int64_t>(v.uptimeSeconds)},
            {"xdp", reasonsJson(xdp)},
            {"engine", reasonsJson(t.counters.reasons)},
            {"conntrack", conntrackStatesJson(t)},
            {"half_open",
             {{"connections", v.halfOpen},
              {"limit", v.halfOpenLimit},
              {"pressure", v.synPressure},
              {"pressure_switches", v.synPressureSwitches}}},
            {"blocklist",
             {{"entries", v.blocklistEntries},
              {"drops", xdp[static_cast<std::size_t>(Reason::kBlocklist)]}}},
            {"auto_block", autoBlockJson(v)},
            {"vips", vipsJson(v)},
            {"afxdp", afxdpJson(v.queues)},
            {"internal_errors", internalErrorsJson(v)}};
  putFigures(j, kPipelineFigures, t.counters);
  putFigures(j, kWorkerFigures, t);
  j["packets"]["xdp"] = xdpPackets;
  j["snat"]["exhausted"] = t.counters.of(Reason::kSnatExhausted);
  j["syncookies"]["sent"] = xdp[static_cast<std::size_t>(Reason::kTxSyncookie)];
  j["syncookies"]["invalid"] = t.counters.of(Reason::kSyncookieInvalid);
  j["workers"]["count"] = v.workers;
  if (v.xdpAttached) j["xdp_attached"] = *v.xdpAttached;
  const RestartInfo& r = v.restart;
  j["restart"] = {{"generation", r.generation},
                  {"adopted", r.adopted},
                  {"dropped", r.dropped},
                  {"refused", r.refused},
                  {"previous_pid", r.previousPid},
                  {"handover", r.handover},
                  {"pause_ms", std::round(r.pauseMs * 10) / 10}};
  return j;
}

}  // namespace xlb::render
