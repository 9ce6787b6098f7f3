// SPDX-License-Identifier: Apache-2.0
// The control plane: what the REST API, health checks and the daemon's housekeeping act on.
// It owns the service model and the blocklist, keeps the XDP maps and the workers' snapshot in
// step with them, persists every change to state_dir before answering, and folds per-worker and
// per-CPU figures into statistics and metrics when asked (never on the packet path). It answers
// with plain results (views, or a ControlError); the API's handlers parse requests before and
// render replies after, so nothing here knows JSON or HTTP.
// Thread-safe: one mutex serialises changes; reads of counters take it too (they are cheap).
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "xlb/auto_block.h"
#include "xlb/batch_io.h"
#include "xlb/blocklist.h"
#include "xlb/cluster_port.h"
#include "xlb/dataplane_ports.h"
#include "xlb/flow_store.h"
#include "xlb/service_model.h"
#include "xlb/state_store.h"
#include "xlb/stats_view.h"
#include "xlb/syn_pressure.h"
#include "xlb/worker.h"

namespace xlb {

namespace controller_detail {
struct Figures;
}

struct ControllerDeps {
  XdpMaps* prog = nullptr;  // the XDP program's maps (loaded; attached or not)
  std::vector<WorkerControl*> workers;
  std::vector<SocketInfo*> sockets;  // empty when the workers run on other I/O (tests)
  MacAddr localMac;
  // The next hop for a backend, nullopt while unknown (the daemon asks the neighbour table).
  std::function<std::optional<MacAddr>(const Address&)> resolve;
  // Re-reads the kernel's neighbour table; tick() calls it about once a second, under the
  // controller's lock like every use of `resolve`.
  std::function<void()> refreshNextHops;
  std::function<bool()> attached;  // XDP attached to the interface
  std::function<bool()> running;   // worker threads running
  CookieKey cookieKey{};
  // The configuration file read and validated again (reload); unset: nothing to reload from.
  std::function<std::variant<Config, std::string>()> loadConfig;
  // Entries of each VIP's Maglev table (prime). The API fuzz target takes a small one: a
  // snapshot is rebuilt on every change, and the default's 65,537 per VIP would be most of
  // its time.
  std::uint32_t maglevSize = kDefaultMaglevSize;
};

// One VIP's entry of PATCH /api/v1/config, parsed and checked by its handler: what to change.
struct VipPatch {
  VipKey address;
  std::optional<std::vector<std::uint16_t>> ports;  // replaces the served ports
  std::optional<BackendPorts> backendPorts;         // replaces the backend ports
  std::optional<SynFloodMode> mode;
  std::optional<std::uint32_t> thresholdPps;
};

// PATCH /api/v1/config, parsed and checked by its handler: VIP settings and automatic blocking.
struct ConfigPatch {
  std::vector<VipPatch> vips;
  std::optional<AutoBlockPatch> autoBlock;  // applied to the running settings under the lock
};

// Where a connection listing resumes: a worker and an index into its table. Shown to clients
// as "worker.index" (not secret, only opaque to them).
struct ConnCursor {
  std::uint32_t worker = 0;
  std::uint32_t index = 0;
};

// A page of connections across the workers; `next` unset when every worker is done.
struct ConnListing {
  std::vector<ConnView> items;
  std::optional<ConnCursor> next;
};

// One line of a blocklist import that parsed (its number from 1, its text, its prefix), and
// one that was refused with the reason.
struct ImportLine {
  std::size_t line = 0;
  std::string text;
  Prefix prefix;
};
struct ImportRejection {
  std::size_t line = 0;
  std::string text;
  std::string reason;
};
struct ImportOutcome {
  std::size_t accepted = 0;
  std::vector<ImportRejection> rejected;
};

// A backend as the API shows it: its settings, health and figures.
struct BackendView {
  Address address;
  std::uint32_t weight = 0;
  BackendState state = BackendState::kActive;
  Health health = Health::kUnknown;
  bool inRotation = false;
  bool fromConfig = false;
  BackendStats stats;
};

// A VIP as the API shows it: its running settings, SYN-flood mode now, and its backends.
struct VipView {
  VipConfig config;       // address, protocol, ports, SYN-flood settings (backends: `backends`)
  bool draining = false;  // removed, its connections finishing
  bool synFloodActive = false;
  std::vector<BackendView> backends;
};

// What a reload did: each change applied, and each changed setting left alone because it needs a
// restart.
struct ReloadOutcome {
  std::vector<std::string> changed;
  std::vector<std::string> restartRequired;
};

// A blocklist entry with its XDP hit count and last hit (wall clock seconds, 0: never).
struct BlockView {
  BlockEntry entry;
  std::uint64_t hits = 0;
  std::int64_t lastHit = 0;
};
struct BlockPage {
  std::vector<BlockView> items;
  std::size_t total = 0;  // entries in all
  bool more = false;      // entries after the last item
};

class Controller {
 public:
  // Wall clock in seconds since the epoch (expiry, timestamps shown); injectable for tests.
  using Clock = std::function<std::int64_t()>;

  Controller(const Config& config, ControllerDeps deps, std::unique_ptr<StateStore> store,
             Clock clock = nullptr);

  // Restores state_dir, fills the blocklist maps, publishes the first snapshot. False with
  // `error` on a failure the daemon must not start with (map full, unwritable state_dir).
  bool start(std::string& error);
  // Housekeeping, called about every 100 ms: blocklist expiry, next hops once a second.
  // Exceptions are caught, logged and counted at the main-loop boundary.
  void tick() noexcept;
  // Re-reads the next hops now (xlbd at start, while the kernel resolves them); republishes
  // when one changed.
  void refreshNextHops();
  // Backend ids whose next hop is still unknown.
  std::size_t unresolvedNextHops() const;
  // Every (VIP, backend) pair with this process's ids: what a restart's adoption maps the
  // stored connections onto (FlowRemap).
  std::vector<FlowTarget> flowTargets() const;
  // What the start took over from a previous process (stats "restart", metrics).
  void setRestartInfo(const RestartInfo& r);
  // A cluster member (xlbd with cluster: configured); nullptr: a single instance. The port
  // outlives the Controller's use of it (the daemon clears it before destroying it).
  void setCluster(ClusterPort* cluster);
  // The cluster's state (GET /api/v1/cluster, metrics); nullopt for a single instance.
  std::optional<ClusterView> clusterView() const;
  // Drain on or off (POST/DELETE /api/v1/cluster/drain); nullopt for a single instance.
  std::optional<ClusterView> setClusterDraining(bool on);

  // Health checks report here; a change rebuilds the snapshot and is logged.
  void reportHealth(const VipKey& vip, const Address& backend, bool up);
  // A UDP VIP's backends are probed over TCP as well (DNS servers answer on TCP 53 too).
  struct HealthTarget {
    VipKey vip;
    Address backend;
    std::uint16_t port;
    // The probe's source: the first SNAT address of the backend's family (bound explicitly).
    std::optional<Address> source;
  };
  std::vector<HealthTarget> healthTargets() const;

  bool ready(std::string& why) const;

  // Endpoints. Arguments are already parsed and validated by the API's handlers.
  // Every figure of the statistics and the metrics, read once (the handlers render them).
  StatsView statsView() const;
  BlockPage listBlocklist(const std::string& after, std::size_t limit) const;
  std::variant<BlockEntry, ControlError> addBlock(const Prefix& p, std::int64_t ttlSeconds,
                                                  const std::string& comment);
  std::optional<ControlError> removeBlock(const Prefix& p);
  // Adds every line that is not on the blocklist yet and fits the map; all or nothing towards
  // state_dir (a failed save undoes the lot: 500).
  std::variant<ImportOutcome, ControlError> importBlocklist(const std::vector<ImportLine>& lines,
                                                            std::int64_t ttlSeconds,
                                                            const std::string& comment);
  std::vector<VipView> listVips() const;
  std::variant<VipView, ControlError> vip(const VipKey& vip) const;
  // A VIP added at runtime (checked whole, like a configuration file's), persisted, in the XDP
  // maps and the snapshot before the answer.
  std::variant<VipView, ControlError> addVip(const VipConfig& vip);
  // Stops a VIP taking connections; it goes once its last connection has ended (force: they are
  // reset now). Persisted before the answer.
  std::optional<ControlError> removeVip(const VipKey& vip, bool force);
  // Re-reads the configuration file and applies what changed in VIPs, backends and the
  // blocklist; settings that need a restart are named and left alone. A file that does not
  // validate changes nothing (kBadRequest with the loader's message).
  std::variant<ReloadOutcome, ControlError> reload();
  std::variant<BackendView, ControlError> addBackend(const VipKey& vip, const Address& backend,
                                                     std::uint32_t weight);
  std::variant<BackendView, ControlError> setBackend(const VipKey& vip, const Address& backend,
                                                     std::optional<std::uint32_t> weight,
                                                     std::optional<BackendState> state);
  std::optional<ControlError> removeBackend(const VipKey& vip, const Address& backend, bool force);
  std::size_t workerCount() const noexcept { return deps_.workers.size(); }
  // Up to `limit` matching connections from `from` on (from.worker < workerCount()); 503 when
  // a worker does not answer in time.
  std::variant<ConnListing, ControlError> listConnections(const ConnFilter& filter, ConnCursor from,
                                                          std::uint32_t limit) const;
  // How many connections were killed (404 when none matched).
  std::variant<std::size_t, ControlError> killConnections(const Address& client,
                                                          std::uint16_t port);
  // The configuration as it runs: the file's, with the VIP settings changed since.
  Config runningConfig() const;
  std::variant<Config, ControlError> patchConfig(const ConfigPatch& patch);
  // What automatic blocking did (its settings as they run are runningConfig().autoBlock).
  AutoBlockFigures autoBlockFigures() const;

 private:
  Config runningConfigLocked() const;
  // A blocklist entry into the map, memory and state_dir, or none of them; the automatic entries
  // it `folded` leave all three with it, in one save.
  std::optional<ControlError> insertBlockLocked(const BlockEntry& e,
                                                std::span<const Prefix> folded = {});
  // An entry out of the map and memory (the caller saves).
  void dropBlockLocked(const Prefix& p);
  // Automatic blocking: the program's crossings since the last tick, judged and applied.
  void autoBlockLocked(std::int64_t now);
  void applyAutoBlockLocked(const AutoBlockDecision& d, const SourceEvent& ev, std::int64_t now);
  std::optional<ControlError> setAutoBlockLocked(const AutoBlockConfig& c);
  bool saveAutoBlock(std::string& error);
  // auto_block.json from state_dir, if any: the settings PATCH made (start).
  void restoreAutoBlockLocked();
  VipView vipViewLocked(std::size_t i, const WorkerStats& total) const;
  void tickLocked();
  // Drops each draining VIP whose last connection has ended (`total`: the workers' figures).
  void finishDrainsLocked(const WorkerStats& total);
  // Adds the configured blocklist entries a reload brought and removes those it dropped.
  void rebaseBlocklistLocked(const std::vector<Prefix>& configured, ReloadOutcome& out);
  // Logs, at most once a minute, that SYNs arrive with bad or partial TCP checksums.
  void hintChecksumsLocked(const WorkerStats& total);
  // Says once, loudly, when the XDP program leaves the interface, and when it is back.
  void watchAttachmentLocked();
  void synPressureLocked(const std::vector<WorkerStats>& ws);
  // Persists the model change just made (and, for VIP settings, applies it to the XDP maps),
  // then publishes a snapshot. On failure restores `before` and returns the 500 to answer.
  std::optional<ControlError> commitLocked(const ServiceModel& before, bool vipSettings = false);
  bool saveBackends(std::string& error);
  bool saveBlocklist(std::string& error);
  void publishLocked();
  void refreshNextHopsLocked();
  // Next hops of backend ids from `from` on.
  std::vector<std::optional<MacAddr>> resolveAll(std::size_t from) const;
  bool applyXdpLocked(std::string& error);
  std::vector<WorkerStats> workerStats() const;
  // Resets the connections of one backend of one VIP (removal with force, reset_on_down).
  std::size_t killBackendLocked(const VipKey& vip, const Address& backend);
  // Resets every connection matching `f` on every worker (a worker that does not answer: 0).
  std::size_t killLocked(const ConnFilter& f);

  Config config_;
  RestartInfo restart_;
  ControllerDeps deps_;
  ClusterPort* cluster_ = nullptr;
  std::unique_ptr<StateStore> store_;
  Clock clock_;
  mutable std::mutex mutex_;
  ServiceModel model_;
  Blocklist blocklist_;
  std::vector<std::optional<MacAddr>> macs_;  // next hop by backend id, as last read
  bool published_ = false;
  std::chrono::steady_clock::time_point started_;
  std::chrono::steady_clock::time_point lastRefresh_;
  std::uint64_t checksumDropsSeen_ = 0, partialDropsSeen_ = 0;
  std::chrono::steady_clock::time_point lastChecksumHint_{};
  std::optional<bool> wasAttached_;  // the last reading of deps_.attached
  SynPressure synPressure_;
  AutoBlocker autoBlock_;
  std::vector<SourceEvent> events_;  // reused by each tick
};

}  // namespace xlb
