// SPDX-License-Identifier: Apache-2.0
#include "xlb/xdp_directory.h"

#include <linux/bpf.h>

#include <cstring>

#include "xlb_common.h"

namespace xlb {

namespace {

xlb_flow_key keyOf(const FlowRecord& f) {
  xlb_flow_key k{};
  k.family = static_cast<std::uint8_t>(f.family);
  k.proto = f.proto;
  k.cport = static_cast<std::uint16_t>(f.clientPort >> 8 | f.clientPort << 8);
  k.vport = static_cast<std::uint16_t>(f.vipPort >> 8 | f.vipPort << 8);
  std::memcpy(k.client, f.client.bytes.data(), 16);
  std::memcpy(k.vip, f.vip.bytes.data(), 16);
  return k;
}

}  // namespace

bool XdpDirectory::put(const FlowRecord& flow, std::uint32_t peer) {
  const xlb_flow_key k = keyOf(flow);
  return rt_.update(XdpMap::kPeerFlows, &k, &peer, BPF_ANY) == 0;
}

void XdpDirectory::remove(const FlowRecord& flow) {
  const xlb_flow_key k = keyOf(flow);
  rt_.remove(XdpMap::kPeerFlows, &k);
}

void XdpDirectory::setPeers(std::span<const PeerSlot> peers) {
  xlb_peers v{};
  for (std::size_t i = 0; i < peers.size() && i < XLB_MAX_PEERS; ++i) {
    std::memcpy(v.peer[i].mac, peers[i].mac.bytes.data(), 6);
    v.peer[i].up = peers[i].up ? 1 : 0;
  }
  const std::uint32_t zero = 0;
  rt_.update(XdpMap::kPeers, &zero, &v, BPF_ANY);
}

}  // namespace xlb
