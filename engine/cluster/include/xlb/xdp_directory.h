// SPDX-License-Identifier: Apache-2.0
// ClusterState's DirectorySink on the XDP program's maps: xlb_peer_flows (flow -> peer) and
// xlb_peers (each peer's MAC), both declared in bpf/xlb_common.h.
#pragma once

#include "xlb/cluster_state.h"
#include "xlb/xdp_runtime.h"

namespace xlb {

class XdpDirectory final : public DirectorySink {
 public:
  explicit XdpDirectory(XdpRuntime& rt) : rt_(rt) {}
  bool put(const FlowRecord& flow, std::uint32_t peer) override;
  void remove(const FlowRecord& flow) override;
  void setPeers(std::span<const PeerSlot> peers) override;

 private:
  XdpRuntime& rt_;
};

}  // namespace xlb
