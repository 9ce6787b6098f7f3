// SPDX-License-Identifier: Apache-2.0
// The rules of a cluster, without a socket or a clock of their own (ClusterAgent supplies both):
// who is alive, which flows this instance holds, which flows each peer holds (mirrored into the
// XDP program's directory through a DirectorySink), and which datagrams to send.
//
//  - Every flow a worker opens or closes (FlowJournal) is announced to every live peer.
//  - A peer that comes up, or restarts (a new incarnation), is sent a full dump of the flows held
//    here, paced over ticks, then kDumpDone; its own earlier announcements are forgotten.
//  - A peer silent for dead_after is down: its flows leave the directory (its SNAT address is
//    gone with it, so they cannot be served anywhere).
//  - A sequence gap from a peer asks it for a dump; entries the dump does not renew are swept
//    when its kDumpDone arrives, so a lost close cannot leave a stale entry behind for good.
//  - Ready once dead_after has passed since the start and every live peer's dump is complete;
//    from then on for good (a peer that joins later does not make this instance withdraw).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "xlb/cluster_port.h"
#include "xlb/cluster_wire.h"
#include "xlb/config.h"
#include "xlb/flow_journal.h"

namespace xlb {

struct FlowId {
  IpAddr client;
  IpAddr vip;
  std::uint16_t clientPort = 0;
  std::uint16_t vipPort = 0;
  std::uint8_t proto = 0;
  Family family = Family::kV4;
  bool operator==(const FlowId&) const = default;
  static FlowId of(const FlowRecord& r) {
    return FlowId{r.client, r.vip, r.clientPort, r.vipPort, r.proto, r.family};
  }
  FlowRecord record(bool open) const {
    return FlowRecord{client, vip, clientPort, vipPort, proto, family, open};
  }
};

struct FlowIdHash {
  std::size_t operator()(const FlowId& f) const noexcept;
};

struct PeerSlot {
  MacAddr mac{};
  bool up = false;  // alive and its MAC known: the XDP program may send to it
  bool operator==(const PeerSlot&) const = default;
};

// The XDP program's directory of peers' flows (XdpProgram through an adapter; fakes in tests).
class DirectorySink {
 public:
  virtual ~DirectorySink() = default;
  virtual bool put(const FlowRecord& flow, std::uint32_t peer) = 0;  // false: the map is full
  virtual void remove(const FlowRecord& flow) = 0;
  virtual void setPeers(std::span<const PeerSlot> peers) = 0;  // index: member index
};

struct Outgoing {
  std::size_t to = 0;  // member index
  std::vector<std::uint8_t> bytes;
};

class ClusterState {
 public:
  // Datagrams of a dump sent to one peer per tick (about 34 flows each).
  static constexpr std::size_t kDumpDatagramsPerTick = 64;

  ClusterState(const ClusterConfig& config, std::size_t self, std::uint64_t incarnation, TimeNs now,
               DirectorySink& sink);

  // Flows the workers opened and closed, in order.
  void local(std::span<const FlowRecord> records);
  // A decoded datagram from member `from` (the agent matched its source address).
  void receive(std::size_t from, const WireMessage& m, TimeNs now);
  // Heartbeats when due, peers gone silent, the next part of each dump.
  void tick(TimeNs now);
  void setMac(std::size_t member, const std::optional<MacAddr>& mac);
  void setDraining(bool on, TimeNs now);
  void countBad() noexcept { ++bad_; }
  void countOverflows(std::uint64_t total) noexcept { overflows_ = total; }

  bool ready(TimeNs now) const;
  bool draining() const noexcept { return draining_; }
  std::size_t localFlows() const noexcept { return local_.size(); }
  std::size_t peerFlows() const noexcept { return directory_.size(); }
  bool peerUp(std::size_t member) const { return peers_[member].up; }
  std::vector<Outgoing> takeOutgoing() { return std::exchange(out_, {}); }
  ClusterView view(TimeNs now, bool announced) const;

 private:
  struct Peer {
    bool up = false;
    bool everHeard = false;
    std::uint64_t incarnation = 0;
    TimeNs lastHeard = 0;
    std::uint8_t flags = 0;
    bool dumpDone = false;      // its full dump to us arrived since it came up
    std::uint32_t lastSeq = 0;  // the last sequence number heard
    std::uint32_t sendSeq = 0;  // the next sequence number towards it
    std::uint32_t gen = 0;      // directory entries older than this await the sweep
    std::uint64_t flows = 0;    // directory entries it holds
    std::uint64_t ups = 0, downs = 0;
    std::optional<MacAddr> mac;
    std::vector<FlowId> dump;  // what is left to send it
    std::size_t dumpPos = 0;
    bool dumping = false;
  };
  struct Held {
    std::uint8_t peer;
    std::uint32_t gen;
  };

  WireHeader header(WireType t, std::size_t to);
  void send(std::size_t to, WireType t, std::span<const FlowRecord> records = {});
  void startDump(std::size_t to);
  void sendDumpPart(std::size_t to);
  void peerFlow(std::size_t from, const FlowRecord& r);
  void forgetPeer(std::size_t member, bool all);
  void pushPeers();

  ClusterConfig config_;
  std::size_t self_;
  std::uint64_t incarnation_;
  TimeNs start_;
  DirectorySink& sink_;
  std::vector<Peer> peers_;  // by member index; self's entry unused
  std::unordered_set<FlowId, FlowIdHash> local_;
  std::unordered_map<FlowId, Held, FlowIdHash> directory_;
  std::vector<PeerSlot> slots_;
  std::vector<Outgoing> out_;
  TimeNs lastHeartbeat_ = 0;
  mutable bool ready_ = false;  // latched (ready())
  bool draining_ = false;
  TimeNs drainStart_ = 0;
  std::uint64_t sent_ = 0, received_ = 0, bad_ = 0, lost_ = 0, overflows_ = 0, full_ = 0;
};

}  // namespace xlb
