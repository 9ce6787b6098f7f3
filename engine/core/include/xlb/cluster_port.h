// SPDX-License-Identifier: Apache-2.0
// What the Controller asks of a cluster (engine/cluster's ClusterAgent does it; the unit tests
// pass a fake): its state for the API and metrics, and drain on or off. Core types only, as in
// dataplane_ports.h.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "xlb/addr.h"
#include "xlb/figures.h"

namespace xlb {

// The cluster's scalar figures (figures.h's columns; group "cluster" in GET /api/v1/cluster).
#define XLB_CLUSTER_FIGURES(X)                                                                \
  X(localFlows, "cluster", "local_flows", "xlb_cluster_local_flows", kGauge,                  \
    "Flows this instance holds (a drain waits for them)")                                     \
  X(peerFlows, "cluster", "peer_flows", "xlb_cluster_peer_flows", kGauge,                     \
    "Flows other instances hold, in the XDP program's directory")                             \
  X(messagesSent, "cluster", "messages_sent", "xlb_cluster_messages_sent_total", kCounter,    \
    "Datagrams sent to the other instances (heartbeats, flow announcements, dumps)")          \
  X(messagesReceived, "cluster", "messages_received", "xlb_cluster_messages_received_total",  \
    kCounter, "Datagrams received from the other instances")                                  \
  X(badMessages, "cluster", "bad_messages", "xlb_cluster_bad_messages_total", kCounter,       \
    "Datagrams dropped: malformed, or not from the member address they name")                 \
  X(lostMessages, "cluster", "lost_messages", "xlb_cluster_lost_messages_total", kCounter,    \
    "Sequence gaps in a peer's datagrams (each asks that peer for a full dump)")              \
  X(journalOverflows, "cluster", "journal_overflows", "xlb_cluster_journal_overflows_total",  \
    kCounter, "Flow openings and closings a worker could not queue for the announcements")    \
  X(directoryFull, "cluster", "directory_full", "xlb_cluster_directory_full_total", kCounter, \
    "Peers' flows the XDP directory had no room for")

struct ClusterMemberView {
  std::string name;
  Address address;
  bool self = false;
  std::string state;  // "self", "up", "down" (never heard, or silent for dead_after)
  bool ready = false;
  bool draining = false;
  bool macKnown = false;
  std::uint64_t flows = 0;        // self: flows held here; a peer: flows it holds, learnt
  std::uint64_t ups = 0;          // times it came up (a restart counts)
  std::uint64_t downs = 0;        // times it went silent
  std::uint64_t lastHeardMs = 0;  // ms since its last datagram; 0 for self
  std::uint64_t incarnation = 0;
};

struct ClusterView {
  bool enabled = false;
  std::string self;
  bool ready = false;  // every live peer's flows are known (or dead_after passed)
  bool draining = false;
  bool announced = false;      // the VIP routes are in the announce table
  double drainSeconds = 0;     // since the drain began
  bool drainTimedOut = false;  // drain_timeout passed with flows left
  XLB_CLUSTER_FIGURES(XLB_FIGURE_MEMBER)
  std::vector<ClusterMemberView> members;
};

inline const auto kClusterFigures = XLB_FIGURE_TABLE(ClusterView, XLB_CLUSTER_FIGURES);

class ClusterPort {
 public:
  virtual ~ClusterPort() = default;
  virtual ClusterView view() const = 0;
  // Drain on: the VIP routes are withdrawn, and this instance serves the flows it holds until
  // they end. Off: back in service.
  virtual void setDraining(bool on) = 0;
};

}  // namespace xlb
