// SPDX-License-Identifier: Apache-2.0
// Configuration -> XDP program, workers on their queues' I/O, Controller: the one wiring that
// xlbd, the simulator and the tests share, so each runs what production runs. What differs
// between them (AF_XDP sockets or memory I/O, the neighbour table or fixed MACs, state_dir or
// none, the wall clock or a virtual one) comes in as AssemblyHooks and the queue opener.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "xlb/batch_io.h"
#include "xlb/config.h"
#include "xlb/controller.h"
#include "xlb/flow_journal.h"
#include "xlb/flow_store.h"
#include "xlb/worker.h"
#include "xlb/xdp_program.h"

namespace xlb {

// The XDP program's options for a configuration (simRedirect: the simulator's test runs).
XdpOptions xdpOptionsFor(const Config& config, bool simRedirect = false);

struct AssemblyHooks {
  CookieKey cookieKey{};
  std::uint64_t tableSeed = 0;  // connection-table hashing
  MacAddr localMac;
  std::function<std::optional<MacAddr>(const Address&)> resolve;  // a backend's next hop
  std::function<void()> refreshNextHops;                          // optional
  std::function<bool()> attached;                                 // optional
  std::function<bool()> running;                                  // optional
  std::unique_ptr<StateStore> store;  // nullptr: nothing persisted (the simulator)
  // Opens the connection tables' file (xlbd), once the queues are open (a hand-over frees the
  // file then); nullptr with the error fails the build. Unset: the tables live in the process
  // (the simulator).
  std::function<std::unique_ptr<FlowStore>(std::string& error)> openFlows;
  std::uint32_t adoptMapsFrom = 0;  // XdpOptions::adoptMapsFrom
  Controller::Clock clock;          // nullptr: the wall clock
  // The configuration file read again for a reload (ControllerDeps::loadConfig); optional.
  std::function<std::variant<Config, std::string>()> loadConfig;
  bool simRedirect = false;
  // Frames to another unicast MAC than localMac pass untouched (XdpOptions::localMac): xlbd,
  // whose localMac is the interface's. The simulator's frames carry made-up MACs.
  bool checkDstMac = false;
};

// Opens queue `q`'s I/O once the program is loaded (xlbd: an AF_XDP socket registered in the
// program's socket map). nullptr with `error` on failure. An I/O that is also a SocketInfo is
// reported per queue in the statistics.
using OpenQueue =
    std::function<std::unique_ptr<BatchIo>(std::uint32_t q, XdpProgram& prog, std::string& error)>;

class Assembly {
 public:
  // Loads the program, opens config.workers queues, makes a worker on each and the Controller.
  // Nothing runs yet. nullptr with `error` on failure.
  static std::unique_ptr<Assembly> build(const Config& config, const OpenQueue& open,
                                         AssemblyHooks hooks, std::string& error);
  ~Assembly();
  Assembly(const Assembly&) = delete;
  Assembly& operator=(const Assembly&) = delete;

  // Restores state_dir, fills the maps, publishes the first snapshot (Controller::start).
  bool start(std::string& error) { return controller_->start(error); }
  // With a FlowStore: each worker takes the connections it holds (mapped onto this process's
  // VIP, backend and SNAT numbering), and the file is claimed for this process. After start(),
  // before runWorkers(). Without one: nothing to adopt. keep = false frees every stored entry
  // instead (counted invalid): a cluster member restarted without a hand-over (xlbd.cc says why).
  AdoptCounts adoptFlows(TimeNs now, bool keep = true);
  FlowStore* flows() noexcept { return flows_.get(); }
  // One thread per worker, until stopWorkers() (xlbd and the API tests; the simulator steps the
  // workers itself on its clock).
  void runWorkers();
  void stopWorkers();
  bool workersRunning() const noexcept { return running_.load(); }  // any thread may ask

  XdpProgram& program() noexcept { return *prog_; }
  // A cluster member's workers' flow journals (empty without cluster: in the configuration).
  std::vector<FlowJournal*> journals() const {
    std::vector<FlowJournal*> out;
    for (const auto& j : journals_) out.push_back(j.get());
    return out;
  }
  Controller& controller() noexcept { return *controller_; }
  Worker& worker(std::uint32_t q) noexcept { return *workers_[q]; }
  std::uint32_t queues() const noexcept { return static_cast<std::uint32_t>(workers_.size()); }
  BatchIo& io(std::uint32_t q) noexcept { return *ios_[q]; }

 private:
  Assembly() = default;
  std::unique_ptr<FlowStore> flows_;  // outlives the workers' tables, which live in it
  std::vector<Address> snatAddresses_;
  std::unique_ptr<XdpProgram> prog_;
  std::vector<std::unique_ptr<BatchIo>> ios_;
  std::unique_ptr<Handoff> handoff_;
  std::vector<std::unique_ptr<FlowJournal>> journals_;  // outlive the workers' tables' use
  std::vector<std::unique_ptr<Worker>> workers_;
  std::unique_ptr<Controller> controller_;
  std::vector<std::thread> threads_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> running_{false};
};

}  // namespace xlb
