// SPDX-License-Identifier: Apache-2.0
#include "xlb/metrics.h"

#include <prometheus/metric_family.h>
#include <prometheus/text_serializer.h>

#include <deque>
#include <sstream>

#ifndef XLB_VERSION
#define XLB_VERSION "0.0.0"
#endif

namespace xlb {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

class Builder {
 public:
  MetricFamily& family(std::string name, std::string help, MetricType type) {
    families_.push_back(MetricFamily{std::move(name), std::move(help), type, {}});
    return families_.back();
  }
  static void add(MetricFamily& f, std::vector<ClientMetric::Label> labels, double v) {
    ClientMetric m;
    m.label = std::move(labels);
    if (f.type == MetricType::Counter)
      m.counter.value = v;
    else
      m.gauge.value = v;
    f.metric.push_back(std::move(m));
  }
  std::vector<MetricFamily> families() const { return {families_.begin(), families_.end()}; }

 private:
  std::deque<MetricFamily> families_;  // references handed out stay valid as it grows
};

double d(std::uint64_t v) {
  return static_cast<double>(v);
}

constexpr auto C = MetricType::Counter;
constexpr auto G = MetricType::Gauge;

}  // namespace

namespace {

// Build, uptime, internal errors.
void addProcess(Builder& b, const StatsView& in) {
  b.add(b.family("xlb_build_info", "Build information; the value is always 1", G),
        {{"version", XLB_VERSION}}, 1);
  b.add(b.family("xlb_uptime_seconds", "Seconds since the control plane started", G), {},
        in.uptimeSeconds);
  if (in.xdpAttached) {
    b.add(b.family("xlb_xdp_attached",
                   "1 while xlb's XDP program is the one attached to its interface", G),
          {}, *in.xdpAttached ? 1 : 0);
  }
  b.add(b.family("xlb_restart_generation",
                 "Processes that used the connection tables' file before this one", G),
        {}, in.restart.generation);
  b.add(b.family("xlb_restart_connections_adopted",
                 "Connections this process took over from the previous one at start", G),
        {}, d(in.restart.adopted));
  b.add(b.family("xlb_restart_connections_dropped",
                 "Stored connections this process could not take over at start", G),
        {}, d(in.restart.dropped));
  {
    auto& f = b.family("xlb_internal_errors_total",
                       "Exceptions caught at a boundary (the daemon kept serving); see the log", C);
    for (std::size_t i = 0; i < kBoundaryCount; ++i) {
      b.add(f, {{"boundary", std::string(kBoundaryNames[i])}}, d(in.internalErrors[i]));
    }
  }
}

// One metric per figure of a list (figures.h) that has a metric of its own.
template <typename Holder, typename Table>
void addFigures(Builder& b, const Table& table, const Holder& h) {
  for (const Figure<Holder>& f : table) {
    if (f.metric.empty()) continue;
    b.add(b.family(std::string(f.metric), std::string(f.help),
                   f.kind == FigureKind::kCounter ? C : G),
          {}, d(h.*f.member));
  }
}

// Packets by stage verdict and drops by reason.
void addPackets(Builder& b, const StatsView& in) {
  // Packets by stage verdict: what XDP did with every packet it saw, what the engine did with
  // every packet handed to it, and what the engine forwarded each way.
  std::array<std::uint64_t, kReasonCount> xdp{};
  for (std::size_t i = 0; i < kReasonCount; ++i) xdp[i] = in.xdp[i].packets;
  const auto& engine = in.engine.counters.reasons;
  const auto xdpAct = actionCounts(xdp);
  const auto engAct = actionCounts(engine);
  MetricFamily& pk = b.family(
      "xlb_packets_total",
      "Packets by direction and verdict: direction xdp (all packets the XDP program saw) and "
      "engine (packets the AF_XDP engine processed) with the action taken; client_to_backend and "
      "backend_to_client: packets the engine forwarded",
      C);
  for (Action a : {Action::kPass, Action::kDrop, Action::kTx, Action::kRedirect}) {
    Builder::add(pk, {{"direction", "xdp"}, {"verdict", std::string(enumName(a))}},
                 d(xdpAct[static_cast<std::size_t>(a)]));
  }
  for (Action a : {Action::kPass, Action::kDrop, Action::kTx, Action::kHold}) {
    Builder::add(pk, {{"direction", "engine"}, {"verdict", std::string(enumName(a))}},
                 d(engAct[static_cast<std::size_t>(a)]));
  }
  Builder::add(pk, {{"direction", "client_to_backend"}, {"verdict", "forwarded"}},
               d(in.engine.counters.of(Reason::kTxToBackend)));
  Builder::add(pk, {{"direction", "backend_to_client"}, {"verdict", "forwarded"}},
               d(in.engine.counters.of(Reason::kTxToClient)));

  MetricFamily& drops =
      b.family("xlb_drops_total", "Packets dropped, by stage (xdp, engine) and reason", C);
  for (std::size_t i = 0; i < kReasonCount; ++i) {
    if (kReasonActions[i] != Action::kDrop) continue;
    Builder::add(drops, {{"stage", "xdp"}, {"reason", std::string(kReasonNames[i])}}, d(xdp[i]));
    Builder::add(drops, {{"stage", "engine"}, {"reason", std::string(kReasonNames[i])}},
                 d(engine[i]));
  }
}

// Connections by state and by close reason.
void addConnections(Builder& b, const StatsView& in) {
  MetricFamily& st = b.family("xlb_conntrack_entries", "Connection entries by TCP state", G);
  for (std::size_t i = 1; i < kTcpStateCount; ++i) {
    Builder::add(st, {{"state", std::string(enumName(static_cast<TcpState>(i)))}},
                 d(in.engine.byState[i]));
  }
  MetricFamily& cl =
      b.family("xlb_conntrack_closed_total", "Connection entries removed, by reason", C);
  for (std::size_t i = 0; i < kCloseReasonCount; ++i) {
    Builder::add(cl, {{"reason", std::string(enumName(static_cast<CloseReason>(i)))}},
                 d(in.engine.closed[i]));
  }
  b.add(b.family("xlb_snat_exhausted_total", "New connections refused for want of a SNAT port", C),
        {}, d(in.engine.counters.of(Reason::kSnatExhausted)));
}

// SYN cookies, SYN-flood mode and half-open pressure, blocklist.
void addProtection(Builder& b, const StatsView& in) {
  b.add(b.family("xlb_syncookies_sent_total", "SYN-ACKs with a cookie sent by XDP", C), {},
        d(in.xdp[static_cast<std::size_t>(Reason::kTxSyncookie)].packets));
  b.add(b.family("xlb_syncookies_invalid_total", "ACKs with an invalid cookie (dropped)", C), {},
        d(in.engine.counters.of(Reason::kSyncookieInvalid)));
  MetricFamily& sf = b.family("xlb_synflood_active",
                              "1 while the VIP answers SYNs with cookies (mode always, or auto "
                              "above its threshold or under half-open pressure)",
                              G);
  for (const auto& v : in.vips) {
    if (v.protocol != "tcp") continue;  // SYN cookies are TCP's
    Builder::add(sf, {{"vip", v.address}, {"protocol", v.protocol}}, v.synFloodActive ? 1 : 0);
  }
  b.add(b.family("xlb_half_open_connections",
                 "Connections whose handshake has not completed (SYN sent or SYN-ACK seen)", G),
        {}, d(in.halfOpen));
  b.add(b.family("xlb_half_open_limit",
                 "Half-open connections that switch SYN cookies on for auto-mode VIPs", G),
        {}, d(in.halfOpenLimit));
  b.add(b.family("xlb_syn_pressure_active",
                 "1 while half-open connections keep SYN cookies on for auto-mode VIPs", G),
        {}, in.synPressure ? 1 : 0);
  b.add(b.family("xlb_syn_pressure_switches_total",
                 "Times half-open pressure switched SYN cookies on", C),
        {}, d(in.synPressureSwitches));
  b.add(b.family("xlb_blocklist_entries", "Blocklist entries (addresses and prefixes)", G), {},
        d(in.blocklistEntries));
  b.add(b.family("xlb_blocklist_drops_total", "Packets dropped by the blocklist in XDP", C), {},
        d(in.xdp[static_cast<std::size_t>(Reason::kBlocklist)].packets));
}

// Automatic blocking: per kind of behaviour, what it did.
void addAutoBlock(Builder& b, const StatsView& in) {
  MetricFamily& f = b.family("xlb_auto_block_total",
                             "Sources that crossed an automatic-blocking limit, by kind and by "
                             "what was done (blocked, observed: observe mode, repeated: "
                             "observe mode, already reported within the TTL, allowed: on the "
                             "allowlist)",
                             C);
  for (std::size_t k = 0; k < kSourceKindCount; ++k) {
    const std::string kind = kSourceKindNames[k];
    Builder::add(f, {{"reason", kind}, {"action", "blocked"}}, d(in.autoBlock.blocked[k]));
    Builder::add(f, {{"reason", kind}, {"action", "observed"}}, d(in.autoBlock.observed[k]));
    Builder::add(f, {{"reason", kind}, {"action", "repeated"}}, d(in.autoBlock.repeated[k]));
    Builder::add(f, {{"reason", kind}, {"action", "allowed"}}, d(in.autoBlock.allowed[k]));
  }
  b.add(b.family("xlb_auto_block_folds_total",
                 "Prefixes that replaced the single sources blocked inside them", C),
        {}, d(in.autoBlock.folds));
  b.add(b.family("xlb_auto_block_mode", "Automatic blocking: 0 off, 1 observe, 2 block", G), {},
        static_cast<double>(in.autoBlockMode));
}

// Per backend: in rotation, live connections, totals, bytes.
void addBackends(Builder& b, const StatsView& in) {
  MetricFamily& up = b.family("xlb_backend_up",
                              "1 when the backend takes new connections (active, healthy, "
                              "weight above zero)",
                              G);
  MetricFamily& bc = b.family("xlb_backend_connections", "Live connections per backend", G);
  MetricFamily& bct =
      b.family("xlb_backend_connections_total", "Connections created per backend", C);
  MetricFamily& bb =
      b.family("xlb_backend_bytes_total", "Bytes of frames forwarded per backend and direction", C);
  for (const StatsView::Vip& v : in.vips) {
    for (const StatsView::Backend& be : v.backends) {
      const BackendCounters& c = be.stats.counters;
      Builder::add(up, {{"vip", v.address}, {"protocol", v.protocol}, {"backend", be.address}},
                   be.up ? 1 : 0);
      Builder::add(bc, {{"vip", v.address}, {"protocol", v.protocol}, {"backend", be.address}},
                   d(be.stats.active));
      Builder::add(bct, {{"vip", v.address}, {"protocol", v.protocol}, {"backend", be.address}},
                   d(c.created));
      Builder::add(bb,
                   {{"vip", v.address},
                    {"protocol", v.protocol},
                    {"backend", be.address},
                    {"direction", "to_backend"}},
                   d(c.bytesToBackend));
      Builder::add(bb,
                   {{"vip", v.address},
                    {"protocol", v.protocol},
                    {"backend", be.address},
                    {"direction", "to_client"}},
                   d(c.bytesToClient));
    }
  }
}

// One family per figure of a per-queue list, a sample per queue.
template <typename Holder, typename Table, typename Get>
void addQueueFigures(Builder& b, const StatsView& in, const Table& table, Get get) {
  for (const Figure<Holder>& f : table) {
    MetricFamily& fam = b.family(std::string(f.metric), std::string(f.help),
                                 f.kind == FigureKind::kCounter ? C : G);
    for (const auto& q : in.queues) {
      Builder::add(fam, {{"queue", std::to_string(q.queue)}}, d(get(q).*f.member));
    }
  }
}

// Per AF_XDP queue: frames, rings, UMEM frames by place.
void addQueues(Builder& b, const StatsView& in) {
  using Q = StatsView::Queue;
  addQueueFigures<IoCounters>(b, in, kIoFigures,
                              [](const Q& q) -> const IoCounters& { return q.io; });
  addQueueFigures<XskKernelStats>(b, in, kXskKernelFigures,
                                  [](const Q& q) -> const XskKernelStats& { return q.kernel; });
  MetricFamily& zc = b.family("xlb_xsk_zerocopy", "1 when the queue's socket runs zero-copy", G);
  MetricFamily& fr =
      b.family("xlb_xsk_frames",
               "UMEM frames by place (free, fill, in_app, in_tx); they add up to the "
               "queue's frames",
               G);
  for (const auto& q : in.queues) {
    const std::string queue = std::to_string(q.queue);
    Builder::add(zc, {{"queue", queue}}, q.zeroCopy ? 1 : 0);
    const std::pair<const char*, std::uint32_t> places[] = {{"free", q.io.frames.free},
                                                            {"fill", q.io.frames.fill},
                                                            {"in_app", q.io.frames.inApp},
                                                            {"in_tx", q.io.frames.inTx}};
    for (const auto& [place, n] : places) {
      Builder::add(fr, {{"queue", queue}, {"place", place}}, n);
    }
  }
}

// A cluster member: its own state, its figures, and each member as it sees it.
void addCluster(Builder& b, const ClusterView& c) {
  b.add(b.family("xlb_cluster_ready",
                 "1 when every live peer's flows are known (announcing is allowed)", G),
        {}, c.ready ? 1 : 0);
  b.add(b.family("xlb_cluster_draining", "1 while this instance drains", G), {}, c.draining);
  b.add(b.family("xlb_cluster_announced", "1 while this instance's VIP routes are announced", G),
        {}, c.announced ? 1 : 0);
  addFigures(b, kClusterFigures, c);
  auto& up = b.family("xlb_cluster_member_up", "1 while a member is heard (self: always 1)", G);
  auto& flows = b.family("xlb_cluster_member_flows",
                         "Flows a member holds (self: held here; a peer: as it announced)", G);
  auto& downs = b.family("xlb_cluster_member_downs_total", "Times a peer went silent", C);
  for (const ClusterMemberView& m : c.members) {
    Builder::add(up, {{"member", m.name}}, m.state != "down" ? 1 : 0);
    Builder::add(flows, {{"member", m.name}}, d(m.flows));
    if (!m.self) Builder::add(downs, {{"member", m.name}}, d(m.downs));
  }
}

}  // namespace

std::string renderMetrics(const StatsView& in) {
  Builder b;
  addProcess(b, in);
  addPackets(b, in);
  addFigures(b, kPipelineFigures, in.engine.counters);
  addFigures(b, kWorkerFigures, in.engine);
  if (in.cluster) addCluster(b, *in.cluster);
  addConnections(b, in);
  addProtection(b, in);
  addAutoBlock(b, in);
  addBackends(b, in);
  addQueues(b, in);
  std::ostringstream out;
  prometheus::TextSerializer().Serialize(out, b.families());
  return out.str();
}

}  // namespace xlb
