// SPDX-License-Identifier: Apache-2.0
// The LB's members and the router in front of them. Without cluster: there is one member, always
// routed. With it, each member is a whole LB of its own (its SNAT address, MAC, cookie key and
// table seed), their ClusterStates exchange datagrams on the virtual clock as the agents do on a
// segment, and the router spreads VIP traffic over the members that announce it: an L4 hash
// split into contiguous ranges as Linux's hash-threshold ECMP does, following an announcement or
// a withdrawal after route_delay. What is not modelled: a killed member's XDP program, which on a
// real host keeps forwarding what it knew (here its frames are simply lost).
#include <algorithm>
#include <cstdlib>

#include "closed_loop.h"
#include "replay.h"
#include "world.h"
#include "xlb/packet_builder.h"

namespace xlb::sim {

// A member's ClusterState as the Controller sees a cluster (GET /api/v1/cluster, drain).
class World::MemberPort final : public ClusterPort {
 public:
  MemberPort(World& w, std::size_t i) : w_(w), i_(i) {}
  ClusterView view() const override {
    const Member& m = w_.members_[i_];
    return m.state->view(w_.now_, m.routed);
  }
  void setDraining(bool on) override { w_.members_[i_].state->setDraining(on, w_.now_); }

 private:
  World& w_;
  std::size_t i_;
};

std::size_t World::memberIndex(const std::string& name) const {
  for (std::size_t i = 0; i < members_.size(); ++i) {
    if (members_[i].name == name) return i;
  }
  bad("no cluster member " + name);
}

int World::startMember(std::size_t i) {
  Member& mb = members_[i];
  Config config = s_.config;
  if (config.cluster.enabled()) {
    config.snat.addresses = {mb.address};
    config.cluster.self = mb.name;
  }
  AssemblyHooks h;
  // Each member has a key and a seed of its own, as separate hosts do.
  const SimSeeds seeds = seedsFrom(s_.seed + 7919 * i);
  h.cookieKey = seeds.key;
  h.tableSeed = seeds.tableSeed;
  h.localMac = mb.mac;
  h.resolve = [](const Address& a) -> std::optional<MacAddr> { return frames::hostMac(a); };
  h.clock = [this] { return wallClock(); };
  h.simRedirect = true;
  OpenQueue open = [this, &mb](std::uint32_t, XdpProgram&, std::string&) {
    auto io = std::make_unique<SimIo>(
        [this](const std::uint8_t* d, std::uint32_t len) { engineOut_.emplace_back(d, d + len); });
    mb.io = io.get();
    return io;
  };
  std::string err;
  mb.lb = Assembly::build(config, open, std::move(h), err);
  if (!mb.lb) {
    log_ << "xlb-sim: the XDP stage cannot run (" << err << "); run needs root and BPF\n";
    const char* ci = std::getenv("CI");
    return ci != nullptr && std::string(ci) == "true" ? 1 : kExitNoBpf;
  }
  if (!mb.lb->start(err)) {
    log_ << "xlb-sim: " << err << "\n";
    return 2;
  }
  ApiServerOptions ao;
  ao.port = 0;
  ao.token = token_;
  mb.api = std::make_unique<ApiServer>(mb.lb->controller(), ao);
  if (!mb.api->start(err)) {
    log_ << "xlb-sim: " << err << "\n";
    return 1;
  }
  mb.running = true;
  mb.xdpClock = 0;
  ++mb.starts;
  if (config.cluster.enabled()) {
    mb.directory = std::make_unique<XdpDirectory>(mb.lb->program().runtime());
    mb.state = std::make_unique<ClusterState>(config.cluster, i, s_.seed * 1000 + i * 10 + mb.starts,
                                              now_, *mb.directory);
    mb.port = std::make_unique<MemberPort>(*this, i);
    mb.lb->controller().setCluster(mb.port.get());
    for (std::size_t p = 0; p < members_.size(); ++p) {
      if (p != i) mb.state->setMac(p, members_[p].mac);
    }
  }
  return 0;
}

void World::stopMember(std::size_t i) {
  Member& mb = members_[i];
  if (!mb.running) return;
  mb.heldAtKill = mb.state ? mb.state->localFlows() : 0;
  heldByKilled_ += mb.heldAtKill;
  log_ << "  [" << now_ / kNsPerMs << " ms] cluster: " << mb.name << " killed, holding "
       << mb.heldAtKill << " flow(s)\n";
  mb.running = false;
  mb.api->stop();
  mb.api.reset();
  mb.lb->controller().setCluster(nullptr);
  mb.port.reset();
  mb.state.reset();
  mb.directory.reset();
  mb.io = nullptr;
  mb.lb.reset();
}

void World::clusterEvent(const Event& e) {
  const std::size_t i = memberIndex(e.member);
  Member& mb = members_[i];
  log_ << "  [" << now_ / kNsPerMs << " ms] cluster: " << e.cluster << " " << e.member << "\n";
  if (e.cluster == "add" || e.cluster == "restart") {
    if (e.cluster == "restart") stopMember(i);
    if (!mb.running && startMember(i) != 0) ++failures_;
  } else if (e.cluster == "kill") {
    stopMember(i);
  } else if (mb.state) {
    mb.state->setDraining(e.cluster == "drain", now_);
  }
}

// Every member's rules one step on: the flows its worker opened and closed, datagrams to the
// others (delivered after the latency to those running), and the router following each member's
// announcement after route_delay.
void World::clusterStep() {
  if (!s_.config.cluster.enabled()) return;
  std::vector<FlowRecord> batch(4096);
  for (std::size_t i = 0; i < members_.size(); ++i) {
    Member& mb = members_[i];
    if (mb.running) {
      for (FlowJournal* j : mb.lb->journals()) {
        for (std::size_t n; (n = j->drain(batch)) > 0;) {
          mb.state->local(std::span<const FlowRecord>(batch.data(), n));
        }
      }
      mb.state->tick(now_);
      for (Outgoing& o : mb.state->takeOutgoing()) {
        auto shared = std::make_shared<std::vector<std::uint8_t>>(std::move(o.bytes));
        const std::size_t to = o.to;
        schedule(now_ + s_.latency, [this, i, to, shared] {
          Member& dst = members_[to];
          if (!dst.running) return;
          std::string why;
          auto m = decodeWire(*shared, members_.size(), why);
          if (m) dst.state->receive(i, *m, now_);
        });
      }
    }
    const bool want = mb.running && mb.state->ready(now_) && !mb.state->draining();
    if (want != mb.routed && !mb.routeChanging) {
      mb.routeChanging = true;
      schedule(now_ + s_.routeDelay, [this, i] {
        Member& m = members_[i];
        m.routeChanging = false;
        m.routed = m.running && m.state && m.state->ready(now_) && !m.state->draining();
        log_ << "  [" << now_ / kNsPerMs << " ms] router: " << m.name
             << (m.routed ? " announced" : " withdrawn") << "\n";
      });
    }
  }
}

// The member the router sends a VIP's packet to: a hash of the 5-tuple, split over the routed
// members in contiguous ranges (hash-threshold); members_.size() when none is routed.
std::size_t World::ecmp(const PacketInfo& in) const {
  std::vector<std::size_t> up;
  for (std::size_t i = 0; i < members_.size(); ++i) {
    if (members_[i].routed) up.push_back(i);
  }
  if (up.empty()) return members_.size();
  // The flow's hash as the cluster keys it (any L4 hash would do; this one is already here).
  const std::uint64_t h =
      FlowIdHash{}(FlowId{in.src, in.dst, in.sport, in.dport, in.proto, in.family});
  return up[static_cast<std::size_t>(((h >> 32) * up.size()) >> 32)];
}

void World::toLb(Frame f) {
  std::size_t m = 0;
  PacketInfo in;
  Reason why = Reason::kPassNotIp;
  if (members_.size() > 1 &&
      parsePacket(f.data(), static_cast<std::uint32_t>(f.size()), in, why) &&
      in.family != Family::kNone) {
    const Address dst{in.family, in.dst};
    bool snat = false;
    for (std::size_t i = 0; i < members_.size(); ++i) {
      if (members_[i].address == dst) {
        m = i;
        snat = true;
      }
    }
    if (!snat) {
      for (const VipConfig& v : s_.config.vips) {
        if (v.address == dst) m = ecmp(in);
      }
    }
  }
  if (m >= members_.size()) {
    ++routeDrops_;  // no member announces the VIP
    return;
  }
  std::copy(members_[m].mac.bytes.begin(), members_[m].mac.bytes.end(), f.begin());
  auto shared = std::make_shared<Frame>(std::move(f));
  schedule(now_ + s_.latency, [this, m, shared] { lbReceive(m, *shared); });
}

// Sessions broken by kills: a group's failed and reset sessions, at most the flows the killed
// members held when they died.
bool World::checkKills(const Expectation& x) {
  std::uint64_t broken = 0;
  for (const ClientGroup& g : s_.groups) broken += g.failed + g.reset;
  const bool ok = broken <= heldByKilled_;
  return report(x, ok,
                "broken sessions " + std::to_string(broken) + ", flows the killed members held " +
                    std::to_string(heldByKilled_));
}

}  // namespace xlb::sim
