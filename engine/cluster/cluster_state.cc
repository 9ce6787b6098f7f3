// SPDX-License-Identifier: Apache-2.0
#include "xlb/cluster_state.h"

#include <cstring>

#include "xlb/splitmix.h"

namespace xlb {

std::size_t FlowIdHash::operator()(const FlowId& f) const noexcept {
  std::uint64_t a[2], b[2];
  std::memcpy(a, f.client.bytes.data(), 16);
  std::memcpy(b, f.vip.bytes.data(), 16);
  // Each word is absorbed by its own round, so that no two fields cancel out.
  std::uint64_t h = 0;
  for (const std::uint64_t w : {a[0], a[1], b[0], b[1],
                                std::uint64_t{f.clientPort} << 24 | std::uint64_t{f.vipPort} << 8 |
                                    f.proto | static_cast<std::uint64_t>(f.family) << 40}) {
    std::uint64_t state = h ^ w;
    h = splitmix64(state);
  }
  return h;
}

ClusterState::ClusterState(const ClusterConfig& config, std::size_t self, std::uint64_t incarnation,
                           TimeNs now, DirectorySink& sink)
    : config_(config),
      self_(self),
      incarnation_(incarnation),
      start_(now),
      sink_(sink),
      peers_(config.members.size()),
      slots_(config.members.size()) {
  sink_.setPeers(slots_);
}

WireHeader ClusterState::header(WireType t, std::size_t to) {
  WireHeader h;
  h.type = t;
  h.member = static_cast<std::uint8_t>(self_);
  h.flags = static_cast<std::uint8_t>((draining_ ? kWireDraining : 0) |
                                      (ready(lastHeartbeat_) ? kWireReady : 0));
  h.incarnation = incarnation_;
  h.seq = peers_[to].sendSeq++;
  return h;
}

void ClusterState::send(std::size_t to, WireType t, std::span<const FlowRecord> records) {
  Outgoing o;
  o.to = to;
  encodeWire(header(t, to), records, o.bytes);
  out_.push_back(std::move(o));
  ++sent_;
}

void ClusterState::local(std::span<const FlowRecord> records) {
  for (const FlowRecord& r : records) {
    const FlowId id = FlowId::of(r);
    if (r.open) {
      local_.insert(id);
      // Held here now: a peer's earlier claim (a tuple reused) must not pull it away.
      if (auto it = directory_.find(id); it != directory_.end()) {
        --peers_[it->second.peer].flows;
        directory_.erase(it);
        sink_.remove(r);
      }
    } else {
      local_.erase(id);
    }
  }
  for (std::size_t p = 0; p < peers_.size(); ++p) {
    if (p == self_ || !peers_[p].up) continue;
    for (std::size_t i = 0; i < records.size(); i += kWireMaxRecords) {
      const std::size_t n = std::min(kWireMaxRecords, records.size() - i);
      send(p, WireType::kFlows, records.subspan(i, n));
    }
  }
}

void ClusterState::peerFlow(std::size_t from, const FlowRecord& r) {
  Peer& p = peers_[from];
  const FlowId id = FlowId::of(r);
  auto it = directory_.find(id);
  if (!r.open) {
    if (it != directory_.end() && it->second.peer == from) {
      directory_.erase(it);
      --p.flows;
      sink_.remove(r);
    }
    return;
  }
  if (local_.count(id) != 0) return;  // held here: served here
  if (it != directory_.end()) {
    if (it->second.peer != from) {
      --peers_[it->second.peer].flows;
      ++p.flows;
      it->second.peer = static_cast<std::uint8_t>(from);
    }
    it->second.gen = p.gen;
    // Written again even when unchanged: the XDP program drops an entry itself when a SYN opens
    // the tuple here (bpf/lib/cluster.h), and the peer's renewal must restore it.
    if (!sink_.put(r, static_cast<std::uint32_t>(from))) ++full_;
    return;
  }
  if (!sink_.put(r, static_cast<std::uint32_t>(from))) {
    ++full_;
    return;
  }
  directory_.emplace(id, Held{static_cast<std::uint8_t>(from), p.gen});
  ++p.flows;
}

void ClusterState::forgetPeer(std::size_t member, bool all) {
  Peer& p = peers_[member];
  for (auto it = directory_.begin(); it != directory_.end();) {
    if (it->second.peer == member && (all || it->second.gen < p.gen)) {
      sink_.remove(it->first.record(false));
      --p.flows;
      it = directory_.erase(it);
    } else {
      ++it;
    }
  }
}

void ClusterState::startDump(std::size_t to) {
  Peer& p = peers_[to];
  p.dump.assign(local_.begin(), local_.end());
  p.dumpPos = 0;
  p.dumping = true;
}

void ClusterState::sendDumpPart(std::size_t to) {
  Peer& p = peers_[to];
  std::vector<FlowRecord> batch;
  batch.reserve(kWireMaxRecords);
  std::size_t datagrams = 0;
  while (p.dumpPos < p.dump.size() && datagrams < kDumpDatagramsPerTick) {
    const FlowId& id = p.dump[p.dumpPos++];
    // Closed since the dump began: its close was announced already.
    if (local_.count(id) != 0) batch.push_back(id.record(true));
    if (batch.size() == kWireMaxRecords || p.dumpPos == p.dump.size()) {
      if (!batch.empty()) send(to, WireType::kFlows, batch);
      batch.clear();
      ++datagrams;
    }
  }
  if (p.dumpPos >= p.dump.size()) {
    send(to, WireType::kDumpDone);
    p.dump = {};
    p.dumping = false;
  }
}

void ClusterState::receive(std::size_t from, const WireMessage& m, TimeNs now) {
  if (from == self_ || from >= peers_.size()) {
    ++bad_;
    return;
  }
  ++received_;
  Peer& p = peers_[from];
  const bool restarted = p.everHeard && p.incarnation != m.header.incarnation;
  if (!p.up || restarted) {
    // Up for the first time, back after silence, or a new process: whatever it announced
    // before is void, and it needs our flows.
    forgetPeer(from, true);
    Peer fresh;
    fresh.everHeard = true;
    fresh.sendSeq = p.sendSeq;
    fresh.gen = p.gen + 1;
    fresh.ups = p.ups + 1;
    fresh.downs = p.downs;
    fresh.mac = p.mac;
    p = std::move(fresh);
    p.up = true;
    p.incarnation = m.header.incarnation;
    p.lastSeq = m.header.seq - 1;
    startDump(from);
    pushPeers();
  }
  if (m.header.seq != p.lastSeq + 1) {
    ++lost_;
    ++p.gen;
    p.dumpDone = false;
    send(from, WireType::kDumpRequest);
  }
  p.lastSeq = m.header.seq;
  p.lastHeard = now;
  p.flags = m.header.flags;
  switch (m.header.type) {
    case WireType::kHeartbeat:
      break;
    case WireType::kFlows:
      for (const FlowRecord& r : m.records) peerFlow(from, r);
      break;
    case WireType::kDumpDone:
      forgetPeer(from, false);  // what the dump did not renew is stale
      p.dumpDone = true;
      break;
    case WireType::kDumpRequest:
      startDump(from);
      break;
  }
}

void ClusterState::tick(TimeNs now) {
  for (std::size_t i = 0; i < peers_.size(); ++i) {
    Peer& p = peers_[i];
    if (i == self_ || !p.up || now - p.lastHeard < config_.deadAfter) continue;
    p.up = false;
    ++p.downs;
    p.dumping = false;
    p.dump = {};
    forgetPeer(i, true);
    pushPeers();
  }
  if (now - lastHeartbeat_ >= config_.heartbeat || lastHeartbeat_ == 0) {
    lastHeartbeat_ = now;
    // Every member, silent ones too: that is how a returning peer learns we are here.
    for (std::size_t i = 0; i < peers_.size(); ++i) {
      if (i != self_) send(i, WireType::kHeartbeat);
    }
  }
  for (std::size_t i = 0; i < peers_.size(); ++i) {
    if (i != self_ && peers_[i].up && peers_[i].dumping) sendDumpPart(i);
  }
}

void ClusterState::setMac(std::size_t member, const std::optional<MacAddr>& mac) {
  if (member >= peers_.size() || member == self_ || peers_[member].mac == mac) return;
  peers_[member].mac = mac;
  pushPeers();
}

void ClusterState::pushPeers() {
  std::vector<PeerSlot> slots(peers_.size());
  for (std::size_t i = 0; i < peers_.size(); ++i) {
    if (i == self_ || !peers_[i].up || !peers_[i].mac) continue;
    slots[i].mac = *peers_[i].mac;
    slots[i].up = true;
  }
  if (slots != slots_) {
    slots_ = std::move(slots);
    sink_.setPeers(slots_);
  }
}

void ClusterState::setDraining(bool on, TimeNs now) {
  if (on && !draining_) drainStart_ = now;
  draining_ = on;
}

bool ClusterState::ready(TimeNs now) const {
  if (ready_) return true;
  if (now - start_ < config_.deadAfter) return false;
  for (std::size_t i = 0; i < peers_.size(); ++i) {
    if (i != self_ && peers_[i].up && !peers_[i].dumpDone) return false;
  }
  // Once: a peer that starts later does not make a serving instance withdraw. The router sends
  // nothing of that peer's here until the peer announces, which it does only after our dump.
  ready_ = true;
  return true;
}

ClusterView ClusterState::view(TimeNs now, bool announced) const {
  ClusterView v;
  v.enabled = true;
  v.self = config_.members[self_].name;
  v.ready = ready(now);
  v.draining = draining_;
  v.announced = announced;
  if (draining_) {
    v.drainSeconds = static_cast<double>(now - drainStart_) / kNsPerSec;
    v.drainTimedOut = !local_.empty() && now - drainStart_ >= config_.drainTimeout;
  }
  v.localFlows = local_.size();
  v.peerFlows = directory_.size();
  v.messagesSent = sent_;
  v.messagesReceived = received_;
  v.badMessages = bad_;
  v.lostMessages = lost_;
  v.journalOverflows = overflows_;
  v.directoryFull = full_;
  for (std::size_t i = 0; i < peers_.size(); ++i) {
    ClusterMemberView m;
    m.name = config_.members[i].name;
    m.address = config_.members[i].address;
    if (i == self_) {
      m.self = true;
      m.state = "self";
      m.ready = v.ready;
      m.draining = draining_;
      m.flows = local_.size();
      m.incarnation = incarnation_;
    } else {
      const Peer& p = peers_[i];
      m.state = p.up ? "up" : "down";
      m.ready = p.up && (p.flags & kWireReady);
      m.draining = p.up && (p.flags & kWireDraining);
      m.macKnown = p.mac.has_value();
      m.flows = p.flows;
      m.ups = p.ups;
      m.downs = p.downs;
      m.lastHeardMs = p.everHeard ? (now - p.lastHeard) / kNsPerMs : 0;
      m.incarnation = p.incarnation;
    }
    v.members.push_back(m);
  }
  return v;
}

}  // namespace xlb
