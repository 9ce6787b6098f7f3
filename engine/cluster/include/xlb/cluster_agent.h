// SPDX-License-Identifier: Apache-2.0
// A cluster instance's I/O around ClusterState: the UDP socket on this member's address and
// cluster.port, the workers' flow journals, the XDP program's peer directory, the VIP routes
// (Announcer) and a thread that ties them together every few milliseconds. The Controller sees
// it as a ClusterPort (GET /api/v1/cluster, drain).
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "xlb/announcer.h"
#include "xlb/cluster_port.h"
#include "xlb/cluster_state.h"

namespace xlb {

struct ClusterAgentOptions {
  ClusterConfig config;
  std::size_t self = 0;  // member index (clusterSelf)
  std::vector<FlowJournal*> journals;
  std::vector<Address> vips;  // what the announcer routes (each VIP address once)
  std::function<TimeNs()> clock;
  std::uint64_t incarnation = 0;
};

// This instance's member index: cluster.self by name, else the member whose address is on this
// host. nullopt with `error` when neither (or more than one) fits.
std::optional<std::size_t> clusterSelf(const ClusterConfig& c,
                                       const std::function<bool(const Address&)>& isLocal,
                                       std::string& error);

class ClusterAgent final : public ClusterPort {
 public:
  // Binds the socket and opens the announcer (cluster.announce.table set); nothing runs yet.
  static std::unique_ptr<ClusterAgent> open(ClusterAgentOptions options, DirectorySink& sink,
                                            std::string& error);
  ~ClusterAgent() override;
  ClusterAgent(const ClusterAgent&) = delete;
  ClusterAgent& operator=(const ClusterAgent&) = delete;

  void start();
  void stop();
  // Whether xlbd serves (XDP attached, workers and API up): routes are announced only then,
  // and only while the cluster is ready and this instance is not draining.
  void setServing(bool on) { serving_.store(on); }
  // Looks up peers' MACs (the caller's neighbour table; its thread).
  void refreshMacs(const std::function<std::optional<MacAddr>(const Address&)>& resolve);

  ClusterView view() const override;
  void setDraining(bool on) override;

 private:
  ClusterAgent(ClusterAgentOptions options, DirectorySink& sink);
  void run();
  void step();
  void receiveAll(TimeNs now);
  void sendAll();
  void announce(TimeNs now);

  ClusterAgentOptions options_;
  mutable std::mutex mu_;  // state_ and announcer_
  ClusterState state_;
  std::unique_ptr<Announcer> announcer_;
  int fd_ = -1;
  std::vector<FlowRecord> batch_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> serving_{false};
  std::thread thread_;
  bool announceFailed_ = false;
};

}  // namespace xlb
