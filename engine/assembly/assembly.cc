// SPDX-License-Identifier: Apache-2.0
#include "xlb/assembly.h"

namespace xlb {

namespace {
// Per worker: the flows opened and closed between two of the agent's steps (5 ms), with room
// for a burst of 13 million per second.
constexpr std::uint32_t kJournalRecords = 65536;
}  // namespace

XdpOptions xdpOptionsFor(const Config& config, bool simRedirect) {
  XdpOptions o;
  o.failOpen = config.failOpen;
  o.blocklistCapacity = config.blocklistCapacity;
  o.simRedirect = simRedirect;
  return o;
}

std::unique_ptr<Assembly> Assembly::build(const Config& config, const OpenQueue& open,
                                          AssemblyHooks hooks, std::string& error) {
  std::unique_ptr<Assembly> a(new Assembly());
  a->snatAddresses_ = config.snat.addresses;
  XdpOptions xo = xdpOptionsFor(config, hooks.simRedirect);
  xo.adoptMapsFrom = hooks.adoptMapsFrom;
  if (hooks.checkDstMac) xo.localMac = hooks.localMac;
  a->prog_ = XdpProgram::load(xo, error);
  if (!a->prog_) return nullptr;
  ControllerDeps deps;
  deps.prog = a->prog_.get();
  for (std::uint32_t q = 0; q < config.workers; ++q) {
    std::unique_ptr<BatchIo> io = open(q, *a->prog_, error);
    if (!io) return nullptr;
    if (auto* s = dynamic_cast<SocketInfo*>(io.get())) deps.sockets.push_back(s);
    a->ios_.push_back(std::move(io));
  }
  if (hooks.openFlows) {
    a->flows_ = hooks.openFlows(error);
    if (!a->flows_) return nullptr;
  }
  if (config.workers > 1) a->handoff_ = std::make_unique<Handoff>(config.workers);
  for (std::uint32_t q = 0; q < config.workers; ++q) {
    const ConnStorage storage = a->flows_ ? a->flows_->storage(q) : ConnStorage{};
    a->workers_.push_back(
        std::make_unique<Worker>(q, config.workers, config, *a->ios_[q], a->handoff_.get(),
                                 hooks.cookieKey, hooks.tableSeed, a->flows_ ? &storage : nullptr));
    deps.workers.push_back(a->workers_.back().get());
    // A cluster member announces every flow its workers open and close (cluster_agent.h).
    if (config.cluster.enabled()) {
      a->journals_.push_back(std::make_unique<FlowJournal>(kJournalRecords));
      a->workers_.back()->table().setJournal(a->journals_.back().get());
    }
  }
  deps.localMac = hooks.localMac;
  deps.resolve = std::move(hooks.resolve);
  deps.refreshNextHops = std::move(hooks.refreshNextHops);
  deps.attached = std::move(hooks.attached);
  deps.running = std::move(hooks.running);
  deps.cookieKey = hooks.cookieKey;
  deps.loadConfig = std::move(hooks.loadConfig);
  a->controller_ = std::make_unique<Controller>(config, std::move(deps), std::move(hooks.store),
                                                std::move(hooks.clock));
  return a;
}

namespace {
struct RefuseAll final : EntryCheck {
  bool keep(ConnEntry&) const noexcept override { return false; }
};
}  // namespace

AdoptCounts Assembly::adoptFlows(TimeNs now, bool keep) {
  AdoptCounts total;
  if (!flows_) return total;
  const std::vector<FlowTarget> targets = controller_->flowTargets();
  for (auto& w : workers_) {
    const FlowRemap remap(targets, flows_->storedSnat(), w->snat());
    const RefuseAll none;
    const AdoptCounts c = keep ? w->adopt(remap, now) : w->adopt(none, now);
    total.adopted += c.adopted;
    total.invalid += c.invalid;
    total.duplicates += c.duplicates;
  }
  flows_->claim(snatAddresses_);
  return total;
}

Assembly::~Assembly() {
  stopWorkers();
}

void Assembly::runWorkers() {
  if (!threads_.empty()) return;
  stop_ = false;
  for (auto& w : workers_) {
    Worker* wp = w.get();
    threads_.emplace_back([wp, this] { wp->run(stop_); });
  }
  running_ = true;
}

void Assembly::stopWorkers() {
  stop_ = true;
  for (auto& t : threads_) t.join();
  threads_.clear();
  running_ = false;
}

}  // namespace xlb
