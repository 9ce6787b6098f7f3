// SPDX-License-Identifier: Apache-2.0
// xlbd as a cluster member: the agent on the assembled program and workers (cluster_agent.h).
#pragma once

#include <memory>
#include <string>

#include "xlb/assembly.h"
#include "xlb/cluster_agent.h"
#include "xlb/neighbors.h"
#include "xlb/xdp_directory.h"

namespace xlb {

struct ClusterRole {
  std::unique_ptr<XdpDirectory> directory;
  std::unique_ptr<ClusterAgent> agent;
};

// Opens and starts the agent (before the stored flows are adopted, so that they are announced
// too) and hands it to the Controller. nullptr members and no error without cluster:. False
// with `error` when the member cannot be found or its socket or device cannot be opened.
bool startClusterMember(const Config& config, Assembly& lb, ClusterRole& out, std::string& error);
// Peers' MACs from the neighbour table (the main loop's thread, as every use of it).
void refreshClusterMacs(ClusterRole& m, NeighborTable& neighbors, int ifindex);
// Routes withdrawn, the thread stopped, the Controller told.
void stopClusterMember(ClusterRole& m, Assembly* lb);

}  // namespace xlb
