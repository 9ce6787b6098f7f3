// SPDX-License-Identifier: Apache-2.0
// libFuzzer target: a cluster member's datagrams (engine/cluster). Byte 0 is the sender's member
// index and byte 1 the milliseconds since the previous datagram; the rest is the datagram. A
// datagram is decoded or refused with a reason; what decodes is handed to the membership rules
// (ClusterState) on an advancing clock, as the agent does, and everything they want to send
// decodes again on the receiving side.
//
// With XLB_FUZZ_SEEDS=<dir> the target first writes there what a peer sends: heartbeats,
// announcements of opened and closed flows, a dump.
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "fuzz_support.h"
#include "xlb/cluster_state.h"
#include "xlb/cluster_wire.h"

namespace {

using namespace xlb;
constexpr std::size_t kMembers = 3;

struct NullDirectory final : DirectorySink {
  bool put(const FlowRecord&, std::uint32_t) override { return ++puts % 97 != 0; }
  void remove(const FlowRecord&) override {}
  void setPeers(std::span<const PeerSlot>) override {}
  std::uint64_t puts = 0;
};

struct World {
  NullDirectory directory;
  ClusterConfig config = [] {
    ClusterConfig c;
    for (const char* a : {"10.1.0.1", "10.1.0.2", "10.1.0.3"}) {
      c.members.push_back(ClusterMember{a, *Address::parse(a)});
    }
    return c;
  }();
  ClusterState state{config, 0, 0x1234, 1000 * kNsPerSec, directory};
  TimeNs now = 1000 * kNsPerSec;
};

// A peer (member 1) that opens and closes flows, answered by member 0: its datagrams to member 0.
void writeSeeds(const std::string& dir) {
  std::filesystem::create_directories(dir);
  World here, peer;
  ClusterState one(peer.config, 1, 0x99, here.now, peer.directory);
  std::vector<FlowRecord> flows;
  for (std::uint16_t i = 0; i < 40; ++i) {
    FlowRecord r;
    r.family = i % 2 ? Family::kV6 : Family::kV4;
    r.client = Address::parse(i % 2 ? "2001:db8::1" : "10.0.0.1")->ip;
    r.vip = Address::parse(i % 2 ? "2001:db8::100" : "10.0.0.100")->ip;
    r.clientPort = static_cast<std::uint16_t>(40000 + i);
    r.vipPort = 80;
    r.proto = i % 3 ? 6 : 17;
    r.open = i < 30;
    flows.push_back(r);
  }
  int n = 0;
  for (int round = 0; round < 6; ++round) {
    here.now += 100 * kNsPerMs;
    if (round == 2) one.local(flows);
    one.tick(here.now);
    here.state.tick(here.now);
    for (const Outgoing& o : here.state.takeOutgoing()) {
      std::string why;
      if (auto m = decodeWire(o.bytes, kMembers, why); m && o.to == 1) one.receive(0, *m, here.now);
    }
    for (const Outgoing& o : one.takeOutgoing()) {
      if (o.to != 0) continue;
      std::ofstream f(dir + "/datagram-" + std::to_string(n++), std::ios::binary);
      f.put(0);
      f.put(100);
      f.write(reinterpret_cast<const char*>(o.bytes.data()),
              static_cast<std::streamsize>(o.bytes.size()));
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  if (const char* dir = std::getenv("XLB_FUZZ_SEEDS")) writeSeeds(dir);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  static World* w = new World;  // state across inputs, as a long-lived agent has
  const std::size_t from = 1 + data[0] % (kMembers - 1);
  w->now += static_cast<TimeNs>(data[1]) * kNsPerMs;
  std::string why;
  const auto m = decodeWire(std::span<const std::uint8_t>(data + 2, size - 2), kMembers, why);
  if (!m) {
    if (why.empty()) fuzz::finding("cluster-fuzz", "a datagram refused without a reason");
    w->state.countBad();
  } else {
    w->state.receive(from, *m, w->now);
  }
  w->state.tick(w->now);
  for (const auto& out : w->state.takeOutgoing()) {
    std::string again;
    if (!decodeWire(out.bytes, kMembers, again)) {
      fuzz::finding("cluster-fuzz", "sent a datagram a peer refuses: " + again);
    }
  }
  return 0;
}
