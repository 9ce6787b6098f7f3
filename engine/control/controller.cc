// SPDX-License-Identifier: Apache-2.0
#include "xlb/controller.h"

#include <spdlog/spdlog.h>
#include <time.h>

#include <algorithm>
#include <charconv>
#include <sstream>

#include "xlb/boundary.h"
#include "xlb/host_addr.h"
#include "xlb/metrics.h"

namespace xlb {

using nlohmann::json;

namespace {

constexpr auto kWorkerTimeout = std::chrono::milliseconds(2000);
constexpr std::uint32_t kMaxScanPerPage = 65536;
constexpr const char* kBackendsFile = "services.json";  // VIP settings and backends
constexpr const char* kBlocklistFile = "blocklist.json";

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

}  // namespace

ApiResult ApiResult::error(int status, std::string code, std::string message) {
  return ApiResult{status,
                   json{{"error", {{"code", std::move(code)}, {"message", std::move(message)}}}}};
}

ApiResult ApiResult::of(const ModelError& e) {
  int status = 400;
  if (e.code == "not_found") status = 404;
  if (e.code == "conflict") status = 409;
  return error(status, e.code, e.message);
}

Controller::Controller(const Config& config, ControllerDeps deps, std::unique_ptr<StateStore> store,
                       Clock clock)
    : config_(config),
      deps_(std::move(deps)),
      store_(std::move(store)),
      clock_(clock ? std::move(clock) : Clock(wallNow)),
      model_(config),
      blocklist_(config.blocklist, clock_()),
      started_(std::chrono::steady_clock::now()) {}

bool Controller::start(std::string& error) {
  std::lock_guard lock(mutex_);
  if (store_) {
    if (!store_->open(error)) return false;
    std::string readErr;
    if (auto text = store_->load(kBackendsFile, readErr)) {
      if (auto e = model_.applyOverlay(*text)) {
        spdlog::error("{}/{}: {}; moved aside, starting from the configuration", store_->dir(),
                      kBackendsFile, e->message);
        store_->quarantine(kBackendsFile);
      } else {
        spdlog::info("restored runtime backend changes from {}/{}", store_->dir(), kBackendsFile);
      }
    } else if (!readErr.empty()) {
      error = readErr;
      return false;
    }
    if (auto text = store_->load(kBlocklistFile, readErr)) {
      if (auto e = blocklist_.applyOverlay(*text, clock_())) {
        spdlog::error("{}/{}: {}; moved aside, starting from the configuration", store_->dir(),
                      kBlocklistFile, e->message);
        store_->quarantine(kBlocklistFile);
      } else {
        spdlog::info("restored {} blocklist entries ({}/{})", blocklist_.size(), store_->dir(),
                     kBlocklistFile);
      }
    } else if (!readErr.empty()) {
      error = readErr;
      return false;
    }
  }
  for (const BlockEntry& e : blocklist_.all()) {
    bool exists = false;
    if (!deps_.prog->blockAdd(e.prefix, error, &exists) && !exists) {
      error = "blocklist " + e.prefix.toString() + ": " + error;
      return false;
    }
  }
  error.clear();
  if (!applyXdpLocked(error)) return false;
  publishLocked();
  return true;
}

bool Controller::applyXdpLocked(std::string& error) {
  return deps_.prog->applyConfig(model_.effectiveConfig(), deps_.cookieKey, error);
}

std::vector<std::optional<MacAddr>> Controller::resolveAll(std::size_t from) const {
  std::vector<std::optional<MacAddr>> macs;
  const std::vector<Address>& ids = model_.idAddresses();
  for (std::size_t i = from; i < ids.size(); ++i) {
    macs.push_back(deps_.resolve ? deps_.resolve(ids[i]) : std::nullopt);
  }
  return macs;
}

void Controller::publishLocked() {
  // Next hops are read once per backend id; refreshNextHopsLocked() renews them.
  std::vector<std::optional<MacAddr>> added = resolveAll(macs_.size());
  macs_.insert(macs_.end(), added.begin(), added.end());
  std::size_t i = 0;
  // Unknown next hops: broadcast, so the first packets are not lost to a wrong address; the
  // next refresh narrows it to the neighbour's MAC.
  const SnapshotSpec spec = model_.spec(deps_.localMac, [&](const Address&) {
    const std::optional<MacAddr>& m = macs_[i++];
    return m ? *m : MacAddr{{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}};
  });
  std::shared_ptr<const Snapshot> snap = Snapshot::build(spec);
  for (WorkerControl* w : deps_.workers) w->publish(snap);
  published_ = true;
}

void Controller::refreshNextHops() {
  std::lock_guard lock(mutex_);
  refreshNextHopsLocked();
}

void Controller::refreshNextHopsLocked() {
  if (deps_.refreshNextHops) deps_.refreshNextHops();
  lastRefresh_ = std::chrono::steady_clock::now();
  std::vector<std::optional<MacAddr>> macs = resolveAll(0);
  if (macs == macs_) return;
  spdlog::info("next hops changed; publishing a new snapshot");
  macs_ = std::move(macs);
  publishLocked();
}

void Controller::tick() noexcept {
  // The main loop's only work: nothing thrown here may end the daemon.
  guardBoundary(Boundary::kMainLoop, [&] {
    std::lock_guard lock(mutex_);
    faultPoint(Boundary::kMainLoop);
    tickLocked();
  });
}

void Controller::tickLocked() {
  const std::int64_t now = clock_();
  const std::vector<Prefix> due = blocklist_.expired(now);
  for (const Prefix& p : due) {
    deps_.prog->blockRemove(p);
    blocklist_.remove(p);
    spdlog::info("blocklist: {} expired", p.toString());
  }
  if (!due.empty()) {
    std::string err;
    if (!saveBlocklist(err)) spdlog::error("{}", err);
  }
  synPressureLocked();
  // Once a second: next hops (republish when the kernel's answer for any backend changed), and
  // the checksum hint.
  if (std::chrono::steady_clock::now() - lastRefresh_ >= std::chrono::seconds(1)) {
    refreshNextHopsLocked();
    hintChecksumsLocked();
  }
}

void Controller::synPressureLocked() {
  const std::vector<WorkerStats> ws = workerStats();
  if (!synPressure_.update(ws)) return;
  deps_.prog->setSynPressure(synPressure_.on());
  if (synPressure_.on()) {
    spdlog::warn(
        "{} half-open connections hold SNAT ports or entries (limit {}): a SYN flood below the "
        "rate thresholds? SYN cookies on for every auto-mode VIP until they fall below {}",
        synPressure_.halfOpen(), synPressure_.limit(), synPressure_.limit() / 2);
  } else {
    spdlog::info(
        "half-open connections down to {}: auto-mode VIPs back to their SYN-rate "
        "thresholds",
        synPressure_.halfOpen());
  }
}

void Controller::hintChecksumsLocked() {
  // Frames with checksums a sender left to an offload (veth, containers) reach XDP unfinished;
  // backends drop them silently, so xlb drops the SYNs, counts them and says why, once a minute.
  std::uint64_t partial = 0, bad = 0;
  for (const WorkerStats& w : workerStats()) {
    partial += w.counters.of(Reason::kPartialChecksum);
    bad += w.counters.of(Reason::kBadChecksum);
  }
  bad += deps_.prog->stats()[static_cast<std::size_t>(Reason::kBadChecksum)].packets;
  const std::uint64_t seen = partial + bad;
  const std::uint64_t fresh = seen - checksumDropsSeen_;
  const std::uint64_t freshPartial = partial - partialDropsSeen_;
  checksumDropsSeen_ = seen;
  partialDropsSeen_ = partial;
  const auto now = std::chrono::steady_clock::now();
  if (fresh == 0 || (lastChecksumHint_ != std::chrono::steady_clock::time_point{} &&
                     now - lastChecksumHint_ < std::chrono::minutes(1))) {
    return;
  }
  lastChecksumHint_ = now;
  spdlog::warn(
      "{} SYN(s) dropped for bad TCP checksums in the last second ({} with only the pseudo-header "
      "sum: the sender left the checksum to an offload that never ran). On veth and in "
      "containers, turn TX checksum offload off on the senders (ethtool -K DEV tx off); see the "
      "README, \"Running on veth and in containers\"",
      fresh, freshPartial);
}

std::optional<ApiResult> Controller::commitLocked(const ServiceModel& before, bool vipSettings) {
  std::string err;
  if (!saveBackends(err) || (vipSettings && !applyXdpLocked(err))) {
    model_ = before;
    std::string ignored;
    if (vipSettings) applyXdpLocked(ignored);
    spdlog::error("{}", err);
    return ApiResult::error(500, "internal", "the change could not be applied; nothing changed");
  }
  publishLocked();
  return std::nullopt;
}

std::size_t Controller::unresolvedNextHops() const {
  std::lock_guard lock(mutex_);
  return static_cast<std::size_t>(
      std::count_if(macs_.begin(), macs_.end(), [](const auto& m) { return !m.has_value(); }));
}

namespace {
// Renders and writes one state file. A rendering that fails (text the edge should have refused)
// is a failed save like a failed write, so the caller rolls the whole change back.
template <typename Render>
bool saveState(StateStore* store, const char* file, Render render, std::string& error) {
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
}  // namespace

bool Controller::saveBackends(std::string& error) {
  return saveState(
      store_.get(), kBackendsFile, [&] { return model_.overlayJson(); }, error);
}
bool Controller::saveBlocklist(std::string& error) {
  return saveState(
      store_.get(), kBlocklistFile, [&] { return blocklist_.overlayJson(); }, error);
}

void Controller::reportHealth(const Address& vip, const Address& backend, bool up) {
  std::lock_guard lock(mutex_);
  if (!model_.setHealth(vip, backend, up ? Health::kUp : Health::kDown)) return;
  if (up) {
    spdlog::info("health: backend {} of VIP {} is up", backend.toString(), vip.toString());
  } else {
    spdlog::warn("health: backend {} of VIP {} is down{}", backend.toString(), vip.toString(),
                 config_.healthCheck.resetOnDown ? "; resetting its connections"
                                                 : "; its connections are left to finish");
  }
  publishLocked();
  if (!up && config_.healthCheck.resetOnDown) killBackendLocked(vip, backend);
}

std::vector<Controller::HealthTarget> Controller::healthTargets() const {
  std::lock_guard lock(mutex_);
  std::vector<HealthTarget> out;
  for (const VipRecord& v : model_.vips()) {
    const std::uint16_t port =
        config_.healthCheck.port != 0 ? config_.healthCheck.port : v.config.ports.front();
    const std::optional<Address> source =
        firstOfFamily(config_.snat.addresses, v.config.address.family);
    for (const BackendRecord& b : v.backends) {
      out.push_back({v.config.address, b.address, port, source});
    }
  }
  return out;
}

bool Controller::ready(std::string& why) const {
  std::lock_guard lock(mutex_);
  if (!published_)
    why = "no snapshot published yet";
  else if (deps_.attached && !deps_.attached())
    why = "XDP program not attached";
  else if (deps_.running && !deps_.running())
    why = "workers not running";
  return why.empty();
}

std::vector<WorkerStats> Controller::workerStats() const {
  std::vector<WorkerStats> out;
  for (const WorkerControl* w : deps_.workers) out.push_back(w->stats());
  return out;
}

// ---- Statistics and metrics ----

namespace {

// Per-worker figures folded into one.
struct Folded {
  std::array<std::uint64_t, kReasonCount> reasons{};
  std::array<std::uint64_t, kTcpStateCount> byState{};
  std::array<std::uint64_t, kCloseReasonCount> closed{};
  std::uint64_t active = 0, created = 0, snatInUse = 0, snatCapacity = 0, capacity = 0;
  std::uint64_t validated = 0, heldReleased = 0, handedOff = 0, handoffDrops = 0, sendDrops = 0;
  std::uint64_t synTimestamped = 0, synNoTimestamp = 0, twCollisions = 0, synRetransmits = 0;
  std::uint64_t packets = 0, bytes = 0;
};

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

// Cookies answer this VIP's SYNs: always, or in auto mode while above the threshold or while
// half-open connections press on the SNAT ports (SynPressure).
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

// Everything statistics and metrics report, read once: per-worker figures folded, the XDP
// program's per-CPU counters, per-VIP SYN state, per-queue AF_XDP figures.
struct Figures {
  std::vector<WorkerStats> ws;
  Folded f;
  std::array<ReasonStat, kReasonCount> xdp{};
  std::vector<SynState> syn;  // by VIP position
  std::vector<MetricsInput::Queue> queues;
};

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

}  // namespace

namespace {
json internalErrorsJson() {
  json j = json::object();
  for (std::size_t i = 0; i < kBoundaryCount; ++i) {
    j[std::string(kBoundaryNames[i])] = boundaryErrors(static_cast<Boundary>(i));
  }
  return j;
}
}  // namespace

json Controller::backendJson(const BackendRecord& b, const std::vector<WorkerStats>& ws) const {
  const BackendStats t = backendTotal(ws, b.id);
  return json{{"address", b.address.toString()},
              {"weight", b.weight},
              {"state", backendStateName(b.state)},
              {"health", healthName(b.health)},
              {"in_rotation", b.inRotation()},
              {"active_connections", t.active},
              {"connections_total", t.counters.created},
              {"bytes_to_backend", t.counters.bytesToBackend},
              {"bytes_to_client", t.counters.bytesToClient},
              {"source", b.fromConfig ? "config" : "api"}};
}

ApiResult Controller::stats() const {
  std::lock_guard lock(mutex_);
  const Figures g = collectFigures(deps_, model_.vips().size());
  const Folded& f = g.f;
  const auto& x = g.xdp;
  json xdp = json::object(), engine = json::object();
  for (std::size_t i = 0; i < kReasonCount; ++i) {
    if (x[i].packets != 0) xdp[std::string(kReasonNames[i])] = x[i].packets;
    if (f.reasons[i] != 0) engine[std::string(kReasonNames[i])] = f.reasons[i];
  }
  json states = json::object();
  for (std::size_t i = 1; i < kTcpStateCount; ++i) {
    states[std::string(tcpStateName(static_cast<TcpState>(i)))] = f.byState[i];
  }
  json closes = json::object();
  for (std::size_t i = 0; i < kCloseReasonCount; ++i) {
    closes[std::string(closeReasonName(static_cast<CloseReason>(i)))] = f.closed[i];
  }
  std::uint64_t xdpPackets = 0;
  for (const ReasonStat& r : x) xdpPackets += r.packets;
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
  json afxdp = json::array();
  for (const MetricsInput::Queue& q : g.queues) {
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
  json j = {{"uptime_seconds", std::chrono::duration_cast<std::chrono::seconds>(
                                   std::chrono::steady_clock::now() - started_)
                                   .count()},
            {"packets", {{"xdp", xdpPackets}, {"engine", f.packets}}},
            {"xdp", xdp},
            {"engine", engine},
            {"conntrack",
             {{"active", f.active},
              {"capacity", f.capacity},
              {"created", f.created},
              {"by_state", states},
              {"closed", closes},
              {"syn_retransmits", f.synRetransmits}}},
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
            {"vips", vips},
            {"workers",
             {{"count", g.ws.size()},
              {"handed_off", f.handedOff},
              {"handoff_drops", f.handoffDrops},
              {"send_drops", f.sendDrops}}},
            {"afxdp", afxdp},
            {"internal_errors", internalErrorsJson()}};
  // "xdp" and "engine" hold every verdict reason seen by name (drops, passes and transmits), so
  // one lookup answers "how many for reason R" at either stage.
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

ApiResult Controller::listBlocklist(const std::string& after, std::size_t limit) const {
  std::lock_guard lock(mutex_);
  bool more = false;
  const std::vector<BlockEntry> page = blocklist_.page(after, limit, more);
  const std::int64_t wall = clock_();
  const TimeNs mono = monotonicNow();
  json items = json::array();
  for (const BlockEntry& e : page) {
    const std::optional<BlockHits> h = deps_.prog->blockHits(e.prefix);
    std::string lastHit;
    if (h && h->lastHitNs != 0 && h->lastHitNs <= mono) {
      lastHit = iso8601(wall - static_cast<std::int64_t>((mono - h->lastHitNs) / kNsPerSec));
    }
    items.push_back({{"cidr", e.prefix.toString()},
                     {"hits", h ? h->hits : 0},
                     {"last_hit", nullOr(lastHit)},
                     {"added_at", iso8601(e.addedAt)},
                     {"expires_at", nullOr(iso8601(e.expiresAt))},
                     {"comment", e.comment},
                     {"source", e.fromConfig ? "config" : "api"}});
  }
  json j = {{"items", items}, {"total", blocklist_.size()}};
  j["next"] = more && !page.empty() ? json(page.back().prefix.toString()) : json(nullptr);
  return ApiResult{200, j};
}

ApiResult Controller::addBlock(const Prefix& p, std::int64_t ttlSeconds,
                               const std::string& comment) {
  std::lock_guard lock(mutex_);
  if (blocklist_.find(p) != nullptr) {
    return ApiResult::error(409, "conflict", p.toString() + " is already on the blocklist");
  }
  std::string err;
  bool exists = false;
  if (!deps_.prog->blockAdd(p, err, &exists) && !exists) {
    return ApiResult::error(507, "blocklist_full", err);
  }
  BlockEntry e;
  e.prefix = p;
  e.comment = comment;
  e.addedAt = clock_();
  e.expiresAt = ttlSeconds > 0 ? e.addedAt + ttlSeconds : 0;
  blocklist_.add(e);
  if (!saveBlocklist(err)) {
    blocklist_.remove(p);
    deps_.prog->blockRemove(p);
    spdlog::error("{}", err);
    return ApiResult::error(500, "internal", "the change could not be persisted; nothing changed");
  }
  spdlog::info("blocklist: {} added{}", p.toString(),
               ttlSeconds > 0 ? " for " + std::to_string(ttlSeconds) + " s" : "");
  return ApiResult{201,
                   {{"cidr", p.toString()},
                    {"added_at", iso8601(e.addedAt)},
                    {"expires_at", nullOr(iso8601(e.expiresAt))},
                    {"comment", comment}}};
}

ApiResult Controller::removeBlock(const Prefix& p) {
  std::lock_guard lock(mutex_);
  const BlockEntry* found = blocklist_.find(p);
  if (found == nullptr) {
    return ApiResult::error(404, "not_found", p.toString() + " is not on the blocklist");
  }
  const BlockEntry saved = *found;
  blocklist_.remove(p);
  std::string err;
  if (!saveBlocklist(err)) {
    blocklist_.add(saved);
    spdlog::error("{}", err);
    return ApiResult::error(500, "internal", "the change could not be persisted; nothing changed");
  }
  deps_.prog->blockRemove(p);
  spdlog::info("blocklist: {} removed", p.toString());
  return ApiResult{204, nullptr};
}

ApiResult Controller::importBlocklist(const std::string& text, std::int64_t ttlSeconds,
                                      const std::string& comment) {
  std::lock_guard lock(mutex_);
  std::size_t accepted = 0, rejected = 0, lineNo = 0;
  json errors = json::array();
  std::vector<Prefix> added;
  const std::int64_t now = clock_();
  auto reject = [&](std::size_t line, const std::string& t, const std::string& why) {
    ++rejected;
    if (errors.size() < 100) errors.push_back({{"line", line}, {"text", t}, {"reason", why}});
  };
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    ++lineNo;
    if (auto hash = line.find('#'); hash != std::string::npos) line.erase(hash);
    const auto b = line.find_first_not_of(" \t\r");
    if (b == std::string::npos) continue;
    const auto e = line.find_last_not_of(" \t\r");
    const std::string t = line.substr(b, e - b + 1);
    auto p = Prefix::parse(t);
    if (!p) {
      reject(lineNo, t, "not an address or CIDR prefix");
      continue;
    }
    if (blocklist_.find(*p) != nullptr) {
      reject(lineNo, t, "already on the blocklist");
      continue;
    }
    std::string err;
    bool exists = false;
    if (!deps_.prog->blockAdd(*p, err, &exists) && !exists) {
      reject(lineNo, t, err);
      continue;
    }
    BlockEntry be;
    be.prefix = *p;
    be.comment = comment;
    be.addedAt = now;
    be.expiresAt = ttlSeconds > 0 ? now + ttlSeconds : 0;
    blocklist_.add(be);
    added.push_back(*p);
    ++accepted;
  }
  std::string err;
  if (!added.empty() && !saveBlocklist(err)) {
    for (const Prefix& p : added) {
      blocklist_.remove(p);
      deps_.prog->blockRemove(p);
    }
    spdlog::error("{}", err);
    return ApiResult::error(500, "internal", "the change could not be persisted; nothing changed");
  }
  spdlog::info("blocklist: import accepted {}, rejected {}", accepted, rejected);
  return ApiResult{200, {{"accepted", accepted}, {"rejected", rejected}, {"errors", errors}}};
}

// ---- VIPs and backends ----

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
          {{"mode", synFloodModeName(v.config.synFlood.mode)},
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

ApiResult Controller::addBackend(const Address& vip, const Address& backend, std::uint32_t weight) {
  std::lock_guard lock(mutex_);
  const ServiceModel before = model_;
  if (auto e = model_.addBackend(vip, backend, weight)) return ApiResult::of(*e);
  if (auto failed = commitLocked(before)) return *failed;
  spdlog::info("backends: {} added to VIP {} (weight {})", backend.toString(), vip.toString(),
               weight);
  const VipRecord* v = model_.findVip(vip);
  return ApiResult{201, backendJson(v->backends.back(), workerStats())};
}

ApiResult Controller::setBackend(const Address& vip, const Address& backend,
                                 std::optional<std::uint32_t> weight,
                                 std::optional<BackendState> state) {
  std::lock_guard lock(mutex_);
  const ServiceModel before = model_;
  if (auto e = model_.setBackend(vip, backend, weight, state)) return ApiResult::of(*e);
  if (auto failed = commitLocked(before)) return *failed;
  const VipRecord* v = model_.findVip(vip);
  for (const BackendRecord& b : v->backends) {
    if (b.address != backend) continue;
    spdlog::info("backends: {} of VIP {} now weight {}, {}", backend.toString(), vip.toString(),
                 b.weight, backendStateName(b.state));
    return ApiResult{200, backendJson(b, workerStats())};
  }
  return ApiResult::error(500, "internal", "internal error");
}

std::size_t Controller::killBackendLocked(const Address& vip, const Address& backend) {
  ConnFilter f;
  f.vip = vip;
  f.backend = backend;
  std::size_t n = 0;
  for (WorkerControl* w : deps_.workers) n += w->kill(f, kWorkerTimeout).value_or(0);
  return n;
}

ApiResult Controller::removeBackend(const Address& vip, const Address& backend, bool force) {
  std::lock_guard lock(mutex_);
  const ServiceModel before = model_;
  if (auto e = model_.removeBackend(vip, backend)) return ApiResult::of(*e);
  if (auto failed = commitLocked(before)) return *failed;
  const std::size_t reset = force ? killBackendLocked(vip, backend) : 0;
  spdlog::info("backends: {} removed from VIP {}{}", backend.toString(), vip.toString(),
               force ? " (" + std::to_string(reset) + " connections reset)" : "");
  return ApiResult{204, nullptr};
}

// ---- Connections ----

ApiResult Controller::listConnections(const ConnFilter& filter, const std::string& cursor,
                                      std::uint32_t limit) const {
  // The cursor is "worker.index"; it is not secret, only opaque to clients.
  std::uint32_t worker = 0, index = 0;
  if (!cursor.empty()) {
    const auto dot = cursor.find('.');
    const char* b = cursor.data();
    const char* e = b + cursor.size();
    auto r1 = std::from_chars(b, dot == std::string::npos ? e : b + dot, worker);
    if (dot == std::string::npos || r1.ec != std::errc() || r1.ptr != b + dot) {
      return ApiResult::error(400, "bad_request", "malformed cursor");
    }
    auto r2 = std::from_chars(b + dot + 1, e, index);
    if (r2.ec != std::errc() || r2.ptr != e || worker >= deps_.workers.size()) {
      return ApiResult::error(400, "bad_request", "malformed cursor");
    }
  }
  json items = json::array();
  std::string next;
  std::uint32_t budget = kMaxScanPerPage;
  while (worker < deps_.workers.size() && items.size() < limit && budget > 0) {
    const auto room = static_cast<std::uint32_t>(limit - items.size());
    std::optional<ConnPage> page =
        deps_.workers[worker]->listConnections(filter, index, room, budget, kWorkerTimeout);
    if (!page) return ApiResult::error(503, "unavailable", "a worker did not answer in time");
    for (const ConnView& c : page->items) {
      items.push_back({{"client", c.client.toString()},
                       {"client_port", c.clientPort},
                       {"vip", c.vip.toString()},
                       {"vip_port", c.vipPort},
                       {"backend", c.backend.toString()},
                       {"backend_port", c.backendPort},
                       {"snat", c.snat.toString()},
                       {"snat_port", c.snatPort},
                       {"state", tcpStateName(c.state)},
                       {"syn_proxy", c.synProxy},
                       {"worker", c.worker},
                       {"expires_in_ms", c.expiresInMs}});
    }
    budget = page->scanned >= budget ? 0 : budget - page->scanned;
    if (page->next == ConnPage::kNone) {
      ++worker;
      index = 0;
    } else {
      index = page->next;
    }
  }
  if (worker < deps_.workers.size()) next = std::to_string(worker) + "." + std::to_string(index);
  json j = {{"items", items}};
  j["next"] = next.empty() ? json(nullptr) : json(next);
  return ApiResult{200, j};
}

ApiResult Controller::killConnections(const Address& client, std::uint16_t port) {
  ConnFilter f;
  f.client = client;
  f.clientPort = port;
  std::size_t n = 0;
  for (WorkerControl* w : deps_.workers) {
    std::optional<std::size_t> k = w->kill(f, kWorkerTimeout);
    if (!k) return ApiResult::error(503, "unavailable", "a worker did not answer in time");
    n += *k;
  }
  if (n == 0) {
    return ApiResult::error(404, "not_found",
                            "no connection from " + client.toString() + ":" + std::to_string(port));
  }
  spdlog::info("connections: {} from {}:{} killed", n, client.toString(), port);
  return ApiResult{200, {{"killed", n}}};
}

// ---- Configuration ----

ApiResult Controller::getConfig() const {
  std::lock_guard lock(mutex_);
  return configLocked();
}

ApiResult Controller::configLocked() const {
  const Config& c = config_;
  json vips = json::array();
  for (const VipRecord& v : model_.vips()) {
    vips.push_back({{"address", v.config.address.toString()},
                    {"ports", v.config.ports},
                    {"syn_flood",
                     {{"mode", synFloodModeName(v.config.synFlood.mode)},
                      {"threshold_pps", v.config.synFlood.thresholdPps}}}});
  }
  json snat = json::array();
  for (const Address& a : c.snat.addresses) snat.push_back(a.toString());
  return ApiResult{
      200,
      {{"interface", c.interface},
       {"xdp_mode", xdpModeName(c.xdpMode)},
       {"workers", c.workers},
       {"fail_open", c.failOpen},
       {"snat", {{"addresses", snat}, {"port_lo", c.snat.portLo}, {"port_hi", c.snat.portHi}}},
       {"conntrack", {{"capacity", c.conntrack.capacity}}},
       {"blocklist_capacity", c.blocklistCapacity},
       {"health_check",
        {{"enabled", c.healthCheck.enabled},
         {"port", c.healthCheck.port},
         {"interval_ms", c.healthCheck.interval / kNsPerMs},
         {"timeout_ms", c.healthCheck.timeout / kNsPerMs},
         {"rise", c.healthCheck.rise},
         {"fall", c.healthCheck.fall},
         {"reset_on_down", c.healthCheck.resetOnDown}}},
       {"state_dir", c.stateDir},
       {"vips", vips}}};
}

ApiResult Controller::patchConfig(const json& patch) {
  // {"vips": [{"address": A, "ports": [...], "syn_flood": {"mode": M, "threshold_pps": N}}]}
  // Every entry is checked before anything changes.
  if (!patch.is_object() || patch.size() != 1 || !patch.contains("vips") ||
      !patch["vips"].is_array()) {
    return ApiResult::error(400, "bad_request",
                            "expected {\"vips\": [{\"address\": ..., \"ports\": [...], "
                            "\"syn_flood\": {\"mode\": ..., \"threshold_pps\": ...}}]}");
  }
  std::lock_guard lock(mutex_);
  ServiceModel next = model_;
  for (const json& jv : patch["vips"]) {
    if (!jv.is_object() || !jv.contains("address") || !jv["address"].is_string()) {
      return ApiResult::error(400, "bad_request", "each VIP needs an \"address\" string");
    }
    for (const auto& [k, _] : jv.items()) {
      if (k != "address" && k != "ports" && k != "syn_flood") {
        return ApiResult::error(400, "bad_request", "unknown or read-only field \"" + k + "\"");
      }
    }
    auto va = Address::parse(jv["address"].get<std::string>());
    if (!va) return ApiResult::error(400, "bad_request", "bad VIP address");
    if (jv.contains("ports")) {
      const json& jp = jv["ports"];
      std::vector<std::uint16_t> ports;
      if (!jp.is_array()) return ApiResult::error(400, "bad_request", "ports must be an array");
      for (const json& p : jp) {
        if (!p.is_number_unsigned() || p.get<std::uint64_t>() < 1 ||
            p.get<std::uint64_t>() > 65535) {
          return ApiResult::error(400, "bad_request", "ports must be integers 1..65535");
        }
        ports.push_back(static_cast<std::uint16_t>(p.get<std::uint64_t>()));
      }
      if (auto e = next.setVipPorts(*va, ports)) return ApiResult::of(*e);
    }
    if (jv.contains("syn_flood")) {
      const json& sf = jv["syn_flood"];
      if (!sf.is_object())
        return ApiResult::error(400, "bad_request", "syn_flood must be an object");
      std::optional<SynFloodMode> mode;
      std::optional<std::uint32_t> threshold;
      for (const auto& [k, val] : sf.items()) {
        if (k == "mode") {
          if (!val.is_string())
            return ApiResult::error(400, "bad_request", "mode must be a string");
          mode = parseSynFloodMode(val.get<std::string>());
          if (!mode)
            return ApiResult::error(400, "bad_request", "mode must be off, always or auto");
        } else if (k == "threshold_pps") {
          if (!val.is_number_unsigned() || val.get<std::uint64_t>() > 0xffffffffu) {
            return ApiResult::error(400, "bad_request", "threshold_pps must be a positive integer");
          }
          threshold = static_cast<std::uint32_t>(val.get<std::uint64_t>());
        } else {
          return ApiResult::error(400, "bad_request", "unknown field syn_flood." + k);
        }
      }
      if (auto e = next.setSynFlood(*va, mode, threshold)) return ApiResult::of(*e);
    }
  }
  const ServiceModel before = model_;
  model_ = std::move(next);
  if (auto failed = commitLocked(before, true)) return *failed;
  spdlog::info("config: VIP settings changed");
  return configLocked();
}

}  // namespace xlb
