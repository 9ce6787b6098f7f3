// SPDX-License-Identifier: Apache-2.0
// The cluster's rules on a virtual clock: instances exchange datagrams through a test network
// that can lose them, and each one's XDP directory is a fake that records what it was told.
#include "xlb/cluster_state.h"

#include <gtest/gtest.h>

#include <map>
#include <memory>

namespace xlb {
namespace {

constexpr TimeNs kMs = kNsPerMs;

struct FakeDirectory final : DirectorySink {
  std::map<std::pair<std::uint32_t, std::uint16_t>, std::uint32_t> flows;  // (client, port)
  std::vector<PeerSlot> peers;
  static std::pair<std::uint32_t, std::uint16_t> key(const FlowRecord& f) {
    return {static_cast<std::uint32_t>(f.client.bytes[3]), f.clientPort};
  }
  bool put(const FlowRecord& f, std::uint32_t peer) override {
    flows[key(f)] = peer;
    return true;
  }
  void remove(const FlowRecord& f) override { flows.erase(key(f)); }
  void setPeers(std::span<const PeerSlot> p) override { peers.assign(p.begin(), p.end()); }
};

FlowRecord flow(std::uint8_t client, std::uint16_t port, bool open) {
  FlowRecord r;
  r.client = IpAddr::v4(0x0a650000u | client);
  r.vip = IpAddr::v4(0x0a640064);
  r.clientPort = port;
  r.vipPort = 80;
  r.proto = 6;
  r.family = Family::kV4;
  r.open = open;
  return r;
}

ClusterConfig threeMembers() {
  ClusterConfig c;
  for (int i = 0; i < 3; ++i) {
    c.members.push_back(
        {"lb" + std::to_string(i + 1), *Address::parse("10.100.0." + std::to_string(i + 2))});
  }
  return c;
}

// Instances on one virtual clock; run() delivers what each sent, losing what `lose` says.
struct Net {
  ClusterConfig config = threeMembers();
  TimeNs now = 1000 * kMs;
  std::vector<std::unique_ptr<FakeDirectory>> dirs;
  std::vector<std::unique_ptr<ClusterState>> lbs;  // nullptr: not running
  std::function<bool(std::size_t from, std::size_t to, const WireMessage&)> lose;

  Net() {
    for (std::size_t i = 0; i < 3; ++i) {
      dirs.push_back(std::make_unique<FakeDirectory>());
      lbs.push_back(nullptr);
    }
  }
  void start(std::size_t i, std::uint64_t incarnation) {
    dirs[i] = std::make_unique<FakeDirectory>();
    lbs[i] = std::make_unique<ClusterState>(config, i, incarnation, now, *dirs[i]);
  }
  void run(TimeNs duration) {
    for (TimeNs t = 0; t < duration; t += 5 * kMs) {
      now += 5 * kMs;
      for (std::size_t i = 0; i < lbs.size(); ++i) {
        if (!lbs[i]) continue;
        lbs[i]->tick(now);
        for (const Outgoing& o : lbs[i]->takeOutgoing()) {
          std::string why;
          auto m = decodeWire(o.bytes, config.members.size(), why);
          ASSERT_TRUE(m) << why;
          if (!lbs[o.to] || (lose && lose(i, o.to, *m))) continue;
          lbs[o.to]->receive(i, *m, now);
        }
      }
    }
  }
};

TEST(ClusterState, FlowsOpenedAndClosedReachEveryPeersDirectory) {
  Net net;
  net.start(0, 11);
  net.start(1, 12);
  net.start(2, 13);
  net.run(1200 * kMs);
  ASSERT_TRUE(net.lbs[0]->ready(net.now));
  const std::vector<FlowRecord> opened = {flow(1, 1000, true), flow(2, 2000, true)};
  net.lbs[0]->local(opened);
  net.run(20 * kMs);
  for (std::size_t peer : {1u, 2u}) {
    ASSERT_EQ(net.dirs[peer]->flows.size(), 2u);
    EXPECT_EQ(net.dirs[peer]->flows.begin()->second, 0u);  // held by member 0
  }
  EXPECT_TRUE(net.dirs[0]->flows.empty());  // never its own flows
  EXPECT_EQ(net.lbs[0]->localFlows(), 2u);
  const std::vector<FlowRecord> closed = {flow(1, 1000, false)};
  net.lbs[0]->local(closed);
  net.run(20 * kMs);
  EXPECT_EQ(net.dirs[1]->flows.size(), 1u);
  EXPECT_EQ(net.dirs[2]->flows.size(), 1u);
  EXPECT_EQ(net.lbs[1]->peerFlows(), 1u);
  // The XDP program may send to a peer only once its MAC is known.
  EXPECT_FALSE(net.dirs[1]->peers[0].up);
  net.lbs[1]->setMac(0, MacAddr{{2, 0, 0, 0, 0, 2}});
  EXPECT_TRUE(net.dirs[1]->peers[0].up);
}

TEST(ClusterState, ALateMemberGetsAFullDumpAndIsReadyOnlyAfterIt) {
  Net net;
  net.start(0, 11);
  net.start(1, 12);
  net.run(1200 * kMs);
  std::vector<FlowRecord> many;
  for (std::uint16_t p = 0; p < 5000; ++p)
    many.push_back(flow(static_cast<std::uint8_t>(p % 200), p, true));
  net.lbs[0]->local(many);
  net.run(20 * kMs);
  net.start(2, 13);
  net.run(50 * kMs);
  EXPECT_FALSE(net.lbs[2]->ready(net.now));  // dead_after has not passed, the dump not ended
  net.run(1200 * kMs);
  EXPECT_TRUE(net.lbs[2]->ready(net.now));
  EXPECT_EQ(net.dirs[2]->flows.size(), 5000u);
  // Serving instances stay ready while the newcomer's dump to them is on its way.
  EXPECT_TRUE(net.lbs[0]->ready(net.now));
  EXPECT_EQ(net.lbs[2]->view(net.now, false).members[0].flows, 5000u);
}

TEST(ClusterState, ASilentPeerIsDownAndItsFlowsLeaveTheDirectory) {
  Net net;
  net.start(0, 11);
  net.start(1, 12);
  net.run(1200 * kMs);
  net.lbs[0]->local(std::vector<FlowRecord>{flow(1, 1, true)});
  net.run(20 * kMs);
  ASSERT_EQ(net.dirs[1]->flows.size(), 1u);
  net.lbs[0].reset();  // kill -9
  net.run(900 * kMs);
  EXPECT_EQ(net.dirs[1]->flows.size(), 1u);  // dead_after (1 s) not yet
  net.run(200 * kMs);
  EXPECT_TRUE(net.dirs[1]->flows.empty());
  const ClusterView v = net.lbs[1]->view(net.now, false);
  EXPECT_EQ(v.members[0].state, "down");
  EXPECT_EQ(v.members[0].downs, 1u);
}

TEST(ClusterState, ARestartedPeerIsANewInstance) {
  Net net;
  net.start(0, 11);
  net.start(1, 12);
  net.run(1200 * kMs);
  net.lbs[0]->local(std::vector<FlowRecord>{flow(1, 1, true), flow(1, 2, true)});
  net.run(20 * kMs);
  ASSERT_EQ(net.dirs[1]->flows.size(), 2u);
  // Back within dead_after, with other flows: the old ones are forgotten at once.
  net.start(0, 99);
  net.lbs[0]->local(std::vector<FlowRecord>{flow(1, 3, true)});
  net.run(300 * kMs);
  ASSERT_EQ(net.dirs[1]->flows.size(), 1u);
  EXPECT_EQ(net.dirs[1]->flows.begin()->first.second, 3);
  EXPECT_EQ(net.lbs[1]->view(net.now, false).members[0].ups, 2u);
}

TEST(ClusterState, ALostCloseIsSweptByTheDumpItsGapAsksFor) {
  Net net;
  net.start(0, 11);
  net.start(1, 12);
  net.run(1200 * kMs);
  net.lbs[0]->local(std::vector<FlowRecord>{flow(1, 1, true), flow(1, 2, true)});
  net.run(20 * kMs);
  bool dropOne = true;
  net.lose = [&](std::size_t, std::size_t, const WireMessage& m) {
    if (dropOne && m.header.type == WireType::kFlows) {
      dropOne = false;
      return true;
    }
    return false;
  };
  net.lbs[0]->local(std::vector<FlowRecord>{flow(1, 1, false)});
  net.run(20 * kMs);
  EXPECT_EQ(net.dirs[1]->flows.size(), 2u);  // the close was lost ...
  net.run(300 * kMs);                        // ... the next heartbeat shows the gap
  EXPECT_EQ(net.dirs[1]->flows.size(), 1u);
  EXPECT_EQ(net.lbs[1]->view(net.now, false).lostMessages, 1u);
}

TEST(ClusterState, AFlowOpenedHereLeavesTheDirectory) {
  Net net;
  net.start(0, 11);
  net.start(1, 12);
  net.run(1200 * kMs);
  net.lbs[0]->local(std::vector<FlowRecord>{flow(1, 1, true)});
  net.run(20 * kMs);
  ASSERT_EQ(net.dirs[1]->flows.size(), 1u);
  net.lbs[1]->local(std::vector<FlowRecord>{flow(1, 1, true)});  // the tuple reused here
  EXPECT_TRUE(net.dirs[1]->flows.empty());
}

TEST(ClusterState, DrainingIsShownToPeersAndCountsWhatIsLeft) {
  Net net;
  net.start(0, 11);
  net.start(1, 12);
  net.run(1200 * kMs);
  net.lbs[0]->local(std::vector<FlowRecord>{flow(1, 1, true)});
  net.lbs[0]->setDraining(true, net.now);
  net.run(300 * kMs);
  ClusterView v = net.lbs[0]->view(net.now, false);
  EXPECT_TRUE(v.draining);
  EXPECT_EQ(v.localFlows, 1u);
  EXPECT_FALSE(v.drainTimedOut);
  EXPECT_TRUE(net.lbs[1]->view(net.now, false).members[0].draining);
  net.run(300 * kNsPerSec);
  EXPECT_TRUE(net.lbs[0]->view(net.now, false).drainTimedOut);
  net.lbs[0]->local(std::vector<FlowRecord>{flow(1, 1, false)});
  v = net.lbs[0]->view(net.now, false);
  EXPECT_EQ(v.localFlows, 0u);
  EXPECT_FALSE(v.drainTimedOut);
}

}  // namespace
}  // namespace xlb
