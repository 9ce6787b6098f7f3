// SPDX-License-Identifier: Apache-2.0
// The closed loop's world: a scheduler on a virtual clock, the simulated hosts (tcp.h), the LB
// (the real XDP object through BPF_PROG_TEST_RUN, one worker with the real pipeline, the real
// Controller and REST API on loopback) and the LB kernel's part (health probes, frames XDP
// passes). With cluster: in the configuration, one such LB per member, their cluster rules
// (ClusterState) exchanging datagrams on the virtual clock and a router's ECMP in front of them.
// world.cc runs it, world_sessions.cc plays clients and services and makes raw frames,
// world_check.cc checks expectations, world_cluster.cc runs the members and the router.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <ostream>
#include <queue>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "scenario.h"
#include "sim_io.h"
#include "tcp.h"
#include "xlb/api_server.h"
#include "xlb/assembly.h"
#include "xlb/cluster_state.h"
#include "xlb/controller.h"
#include "xlb/health.h"
#include "xlb/worker.h"
#include "xlb/xdp_directory.h"
#include "xlb/xdp_program.h"

namespace xlb::sim {

struct HttpReply {
  long status = 0;
  std::string body;
};

class World {
 public:
  World(Scenario& s, std::ostream& log) : s_(s), log_(log) {}
  int run();

 private:
  int startLb();
  void scheduleScenario();
  Frame floodSyn(const Flood& f, std::uint32_t bits);
  // A frame of a flood at live tuples: a client's established connection to the flood's VIP,
  // picked at random (nullopt when there is none).
  std::optional<Frame> floodLive(const Flood& f);
  void schedule(TimeNs at, std::function<void()> fn) {
    queue_.push(Item{at, seq_++, std::move(fn)});
  }
  // A frame for the LB: to the member whose SNAT address it names, a VIP's through the router's
  // ECMP, anything else to the first member (world_cluster.cc).
  void toLb(Frame f);
  void toHost(Frame f);
  void hostSend(Frame f);
  void lbReceive(std::size_t member, Frame& f);
  void kernelReceive(const Frame& f);
  void engineRun();
  bool enginePending() const;
  void periodic();
  void healthRound();
  void startSession(ClientGroup& g, std::uint64_t i);
  // UDP (world_udp.cc): a client's session, a datagram arriving at a host, one exchange.
  void startUdpSession(ClientGroup& g, std::uint64_t i);
  void udpInput(const Frame& f);
  void udpSend(ClientGroup& g, const Address& src, std::uint16_t sport);
  void serverSetup(TcpConn& c);
  TcpHost& host(const Address& a);
  Frame rawFrame(const Raw& r, std::uint32_t i);
  HttpReply http(const std::string& method, const std::string& path, const std::string& body = "",
                 std::size_t member = 0);
  // The cluster (world_cluster.cc).
  struct Member;
  class MemberPort;
  int startMember(std::size_t i);
  void stopMember(std::size_t i);
  void clusterStep();
  void clusterEvent(const Event& e);
  std::size_t memberIndex(const std::string& name) const;
  std::size_t ecmp(const PacketInfo& in) const;
  bool checkKills(const Expectation& x);
  bool check(const Expectation& x);
  bool checkSessions(const Expectation& x);
  bool checkWeights(const Expectation& x);
  nlohmann::json observed(const YAML::Node& n);
  bool report(const Expectation& x, bool ok, const std::string& got);
  void event(const Event& e);
  std::int64_t wallClock() const {
    return 1'700'000'000 + static_cast<std::int64_t>(now_ / kNsPerSec);
  }

  struct Item {
    TimeNs at;
    std::uint64_t seq;
    std::function<void()> fn;
    bool operator>(const Item& o) const { return at != o.at ? at > o.at : seq > o.seq; }
  };

  struct LiveTuples {
    TimeNs at = 0;
    std::vector<std::pair<const TcpHost*, std::uint16_t>> tuples;  // client host, its port
  };
  std::map<const Flood*, LiveTuples> liveTuples_;

  Scenario& s_;
  std::ostream& log_;
  TimeNs now_ = 0;
  std::uint64_t seq_ = 0;
  std::priority_queue<Item, std::vector<Item>, std::greater<>> queue_;
  std::mt19937_64 rng_{1};

  // One LB per cluster member (one without cluster:): the shared assembly (program, one worker on
  // SimIo, controller), its API on loopback and, in a cluster, its rules and XDP directory.
  struct Member {
    std::string name;
    Address address;  // its SNAT address (and cluster address)
    MacAddr mac;
    std::unique_ptr<Assembly> lb;
    SimIo* io = nullptr;
    std::unique_ptr<ApiServer> api;
    std::unique_ptr<XdpDirectory> directory;
    std::unique_ptr<ClusterState> state;
    std::unique_ptr<ClusterPort> port;  // state, as its Controller sees it
    TimeNs xdpClock = 0;
    std::uint32_t starts = 0;
    bool running = false;
    bool routed = false;         // in the router's ECMP set
    bool routeChanging = false;  // the router follows after route_delay
    std::uint64_t heldAtKill = 0;
  };
  std::vector<Member> members_;
  // The first member's, which carries the scenario's API and health checks.
  XdpProgram* prog_ = nullptr;
  SimIo* io_ = nullptr;
  Worker* worker_ = nullptr;
  Controller* controller_ = nullptr;
  ApiServer* api_ = nullptr;
  std::string token_;
  std::uint64_t routeDrops_ = 0;  // frames the router sent to a member that was not running
  std::uint64_t heldByKilled_ = 0;
  std::map<std::string, std::unique_ptr<TcpHost>> hosts_;
  std::vector<Frame> engineOut_;

  // The LB kernel's side of health checks.
  struct Probe {
    VipKey vip;
    Address backend;
    bool ok = false;
  };
  std::map<std::uint32_t, Probe> probes_;  // by local port
  std::uint16_t probePort_ = 61000;
  std::unique_ptr<HealthTracker> tracker_;

  // UDP sessions by client address and port: the exchanges left and the one awaited.
  struct UdpSession {
    ClientGroup* group = nullptr;
    std::uint32_t left = 0;
    std::uint64_t awaited = 0;  // serial of the exchange whose answer is due
    std::uint32_t done = 0;     // exchanges answered
    std::string serverCid;      // QUIC: the server's connection ID, once its long header came
  };
  // QUIC servers: the tuple each issued connection ID started from, by "server|cid".
  std::map<std::string, std::string> quicConns_;
  std::uint64_t quicTupleChanges_ = 0;  // short headers a server saw from another tuple
  std::uint16_t nextUdpPort();
  Frame quicAnswer(const Service& svc, const PacketInfo& in, const std::uint8_t* payload,
                   std::size_t len);
  std::map<std::pair<std::string, std::uint16_t>, UdpSession> udpSessions_;
  std::uint64_t udpSerial_ = 0;
  std::uint16_t udpPort_ = 30000;

  std::set<std::string> dsrVips_;  // DSR VIP addresses: their backends answer clients directly
  std::uint64_t dsrDirect_ = 0, decapsulated_ = 0;
  std::uint64_t unroutable_ = 0, kernelFrames_ = 0;
  int failures_ = 0;
};

}  // namespace xlb::sim
