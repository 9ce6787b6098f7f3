// SPDX-License-Identifier: Apache-2.0
#include "xlbd_cluster.h"

#include <spdlog/spdlog.h>
#include <sys/random.h>

#include <algorithm>

#include "xlb/host_addr.h"
#include "xlb/worker.h"

namespace xlb {

bool startClusterMember(const Config& config, Assembly& lb, ClusterRole& out, std::string& error) {
  const ClusterConfig& c = config.cluster;
  if (!c.enabled()) return true;
  const auto self = clusterSelf(c, isHostAddress, error);
  if (!self) return false;
  ClusterAgentOptions o;
  o.config = c;
  o.self = *self;
  o.journals = lb.journals();
  for (const VipConfig& v : config.vips) {
    if (std::find(o.vips.begin(), o.vips.end(), v.address) == o.vips.end()) {
      o.vips.push_back(v.address);
    }
  }
  o.clock = [] { return monotonicNow(); };
  // Peers tell a restarted member by its incarnation: it must not repeat.
  if (getrandom(&o.incarnation, sizeof o.incarnation, 0) != sizeof o.incarnation) {
    error = "getrandom: no random incarnation for the cluster";
    return false;
  }
  out.directory = std::make_unique<XdpDirectory>(lb.program().runtime());
  out.agent = ClusterAgent::open(std::move(o), *out.directory, error);
  if (!out.agent) return false;
  out.agent->start();
  lb.controller().setCluster(out.agent.get());
  spdlog::info("cluster: member {} of {} ({}), UDP port {}{}", c.members[*self].name,
               c.members.size(), c.members[*self].address.toString(), c.port,
               c.announceTable != 0 ? ", VIP routes in table " + std::to_string(c.announceTable) +
                                          " through " + c.announceDevice + " once ready"
                                    : ", no routes announced (cluster.announce unset)");
  return true;
}

void refreshClusterMacs(ClusterRole& m, NeighborTable& neighbors, int ifindex) {
  if (!m.agent) return;
  m.agent->refreshMacs([&](const Address& a) { return neighbors.lookup(a, ifindex); });
}

void stopClusterMember(ClusterRole& m, Assembly* lb) {
  if (!m.agent) return;
  if (lb != nullptr) lb->controller().setCluster(nullptr);
  m.agent->stop();
  m.agent.reset();
  m.directory.reset();
}

}  // namespace xlb
