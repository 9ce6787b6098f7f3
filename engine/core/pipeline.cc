// SPDX-License-Identifier: Apache-2.0
// Batch processing in passes, as VPP and DPDK do: (1) parse, classify and hash every packet and
// prefetch its bucket; (2) prefetch the entry each bucket points to; (3) for a table larger than
// the cache, where that entry is not the flow, prefetch the next one in the chain; (4) look up,
// run the state machine and rewrite.
// Random lookups in a large table then overlap instead of stalling one after another.
#include "xlb/pipeline.h"

#include "segments.h"
#include "xlb/checksum.h"
#include "xlb/rewrite.h"

namespace xlb {
namespace {

bool badTcpFlags(std::uint8_t f) noexcept {
  if ((f & (kTcpSyn | kTcpFin)) == (kTcpSyn | kTcpFin)) return true;
  if ((f & (kTcpSyn | kTcpRst)) == (kTcpSyn | kTcpRst)) return true;
  return (f & 0x3f) == 0;  // no control bit at all ("null scan")
}

bool isPlainSyn(std::uint8_t f) noexcept {
  return (f & (kTcpSyn | kTcpAck)) == kTcpSyn;
}

}  // namespace

Pipeline::Pipeline(ConnTable& table, SnatPool& snat)
    : table_(table),
      snat_(snat),
      held_(kHoldSlots),
      holdBuf_(kHoldSlots * kHoldBytes),
      emitted_(kHoldSlots),
      backendCounters_(std::size_t{1} << 16) {}  // every 16-bit id: an index never checked

Reason Pipeline::classify(const PacketRef& pkt, Slot& s) noexcept {
  s.kind = Kind::kDone;
  Reason why = Reason::kPassNotIp;
  PacketInfo& in = s.info;
  if (!parsePacket(pkt.data, pkt.len, in, why)) return why;
  if (in.family == Family::kNone) return Reason::kPassNotIp;
  if (snap_ == nullptr) return Reason::kPassNotOurs;

  const Destination dest = snap_->lookup(in.family, in.dst);
  const bool tcp = in.proto == kProtoTcp;
  if (dest.kind == Destination::Kind::kVip) {
    if (in.frag != Frag::kNone) return Reason::kFragment;
    const std::uint16_t at = dest.vipFor(in.proto);
    if (at == Destination::kNoVip) {
      // IPv6 neighbour discovery for the VIP is the host's, as XDP decides.
      const bool nd = in.proto == kProtoIcmp6 && in.icmpType >= 133 && in.icmpType <= 137;
      return nd ? Reason::kPassNd : Reason::kProtoFilter;
    }
    const VipEntry* vip = &snap_->vips()[at];
    if (!vip->servesPort(in.dport)) return Reason::kPortFilter;
    if (tcp && badTcpFlags(in.tcpFlags)) return Reason::kTcpBadFlags;
    s.vip = vip;
    if (vip->forwarding == Forwarding::kDsr) {  // stateless: no table lookup to prefetch
      s.kind = Kind::kDsr;
      return Reason::kTxToBackend;
    }
    s.key = FlowKey{in.src, in.dst, in.sport, in.dport, in.proto, in.family};
    s.hash = table_.hash(s.key);
    table_.prefetchFwd(s.hash);
    s.kind = Kind::kForward;
    return Reason::kTxToBackend;
  }
  // Replies from backends come to a SNAT address and a port in the SNAT range. The host's own
  // connections on the same address use ports outside it and go to the kernel.
  if ((!tcp && in.proto != kProtoUdp) || in.frag != Frag::kNone) return Reason::kPassNotOurs;
  if (dest.kind != Destination::Kind::kSnat || !snat_.inRange(in.dport)) {
    return Reason::kPassNotOurs;
  }
  if (tcp && badTcpFlags(in.tcpFlags)) return Reason::kTcpBadFlags;
  s.key = FlowKey{in.src, in.dst, in.sport, in.dport, in.proto, in.family};
  s.hash = table_.hash(s.key);
  table_.prefetchRev(s.hash);
  s.kind = Kind::kReverse;
  return Reason::kTxToClient;
}

void Pipeline::toBackend(std::uint8_t* frame, const PacketInfo& info, const ConnEntry& e) noexcept {
  setMacs(frame, snap_->localMac().bytes, snap_->backendMac(e.backendId).bytes);
  natRewrite(frame, info, snat_.address(e.snatIdx), e.backend, e.snatPort, e.backendPort);
  // Without the SYN proxy, seqDelta is the TSval shift chosen at the SYN (0: none).
  if (e.seqDelta != 0 && info.tcp.hasTimestamp && !(e.flags & kFlagSynProxy)) {
    shiftTimestamp(frame, info, e.seqDelta, true);
  }
}

// A backend keeps a closed connection in TIME_WAIT for 60 s and accepts a SYN that reuses its
// tuple (SNAT address and port) only if the SYN's timestamp is newer than the old connection's
// (RFC 6191; Linux tcp_timewait_state_process). Clients' timestamps start at random offsets, so
// a SNAT port reused for another client would be refused about half the time. The SYN's TSval is
// therefore set from the LB's own clock, rising faster than any client's, and the connection
// keeps the shift both ways (TSval to the backend, TSecr back to the client).
Reason Pipeline::newConnection(PacketRef& pkt, Slot& s, TimeNs now) noexcept {
  // A SYN's checksum is checked before it costs an entry: a backend would drop a bad one
  // silently. Partial checksums are what a veth sender with TX offload on produces.
  const PacketInfo& in = s.info;
  const std::uint8_t* l4 = pkt.data + in.l4Offset;
  if (!l4ChecksumValid(in.family, in.proto, in.src, in.dst, l4, in.l4Len)) {
    return l4ChecksumPartial(in.family, in.proto, in.src, in.dst, l4, in.l4Len)
               ? Reason::kPartialChecksum
               : Reason::kBadChecksum;
  }
  std::uint32_t idx = ConnTable::kNil;
  const Reason r = createEntry(pkt, s, now, idx);
  if (r == Reason::kTxToBackend) {
    ConnEntry& e = table_.entry(idx);
    if (s.info.tcp.hasTimestamp) {
      const auto clock = static_cast<std::uint32_t>((now + tsBase_) / kTsTick);
      e.seqDelta = clock - s.info.tcp.tsVal;
      ++counters_.synTimestamped;
    } else {
      ++counters_.synNoTimestamp;
    }
    toBackend(pkt.data, s.info, e);
    if (synRetransmitOn_) synRetx_.arm(idx, synTag(e), pkt.data, pkt.len, now);
    backendCounters_[e.backendId].bytesToBackend += pkt.len;
  }
  return r;
}

Reason Pipeline::resetTimeWait(PacketRef& pkt, const PacketInfo& in, std::uint32_t idx) noexcept {
  const ConnEntry& e = table_.entry(idx);
  ++counters_.twCollisions;
  TcpSegment seg = toBackendSegment(e, snat_);
  seg.seq = in.ack;
  seg.flags = kTcpRst;
  if (!rewriteAs(pkt, in, seg, snap_->backendMac(e.backendId).bytes)) return Reason::kNoConntrack;
  SynRetransmit::Frame kept{};
  if (synRetx_.find(idx, synTag(e), kept) && emittedCount_ < emitted_.size()) {
    emit(kept.data, kept.len);  // after the reset: the worker sends emitted frames last
  }
  return Reason::kTxTimewaitReset;
}

void Pipeline::retransmitSyns(TimeNs now) noexcept {
  const auto waiting = [this](std::uint32_t idx, std::uint32_t tag) {
    const ConnEntry& e = table_.entry(idx);
    if (e.state == TcpState::kFree || synTag(e) != tag) return false;
    return (e.flags & kFlagSynProxy) ? (e.flags & kFlagAwaitSynAck) != 0
                                     : e.state == TcpState::kSynSent;
  };
  const auto send = [this](SynRetransmit::Frame f) {
    if (emittedCount_ >= emitted_.size() || txVerdicts_ + emittedCount_ >= txRoom_) return false;
    emit(f.data, f.len);
    return true;
  };
  synRetx_.run(now, waiting, send);
  counters_.synRetransmits = synRetx_.sent();
}

// Picks the backend, takes an entry and a SNAT port, fills and inserts the entry (kSynSent, or
// kUdpSingle for a UDP flow).
Reason Pipeline::createEntry(const PacketRef& pkt, Slot& s, TimeNs now,
                             std::uint32_t& idxOut) noexcept {
  const VipEntry& vip = *s.vip;
  const PacketInfo& in = s.info;
  if (vip.backends.empty()) return Reason::kNoBackend;
  const std::uint16_t pick = vip.maglev[s.hash % vip.maglev.size()];
  if (pick == kMaglevEmpty) return Reason::kNoBackend;
  // The entry first: reclaiming one may free a SNAT port.
  const bool udp = in.proto == kProtoUdp;
  const std::uint32_t idx = udp ? table_.allocateUdp(now) : table_.allocate(now);
  if (idx == ConnTable::kNil) {
    return udp && table_.udpActive() >= table_.udpLimit() ? Reason::kUdpBudget : Reason::kTableFull;
  }
  std::uint8_t snatIdx = 0;
  std::uint16_t snatPort = 0;
  if (!snat_.allocate(in.family, snatIdx, snatPort)) {
    table_.abandon(idx);
    return Reason::kSnatExhausted;
  }
  const BackendSlot& b = vip.backends[pick];
  ConnEntry& e = table_.entry(idx);
  e.client = in.src;
  e.vip = in.dst;
  e.backend = b.address.ip;
  e.clientPort = in.sport;
  e.vipPort = in.dport;
  e.backendPort = vip.backendPort(in.dport);
  e.snatPort = snatPort;
  e.snatIdx = snatIdx;
  e.vipId = vip.id;
  e.backendId = b.id;
  e.proto = in.proto;
  e.family = in.family;
  e.seqDelta = 0;
  e.winShifts = 0;
  std::memcpy(e.clientMac.data(), pkt.data + 6, 6);
  table_.insert(idx, now);
  if (udp && vip.quic) e.flags |= kFlagQuic;
  ++backendCounters_[b.id].created;
  idxOut = idx;
  return Reason::kTxToBackend;
}

Reason Pipeline::forward(PacketRef& pkt, Slot& s, TimeNs now) noexcept {
  const PacketInfo& in = s.info;
  if (in.proto == kProtoUdp) return forwardUdp(pkt, s, now);
  std::uint32_t idx = table_.findForward(s.key, s.hash);
  if (idx != ConnTable::kNil) {
    // Client port reuse on the tuple of a finished connection: retire the old entry so the new
    // connection gets a fresh SNAT port and state. Without SYN cookies the new SYN shows it; in
    // cookie mode XDP answered the SYN, and the first sign is an ACK carrying a valid cookie.
    const TcpState st = table_.entry(idx).state;
    const bool finished = st == TcpState::kTimeWait || st == TcpState::kClosed;
    const bool closing = finished || st == TcpState::kFinWait || st == TcpState::kClosing;
    CookieOptions unused;
    if ((finished && isPlainSyn(in.tcpFlags)) ||
        (closing && s.vip->synMode != SynFloodMode::kOff &&
         (in.tcpFlags & (kTcpSyn | kTcpRst | kTcpFin | kTcpAck)) == kTcpAck &&
         checkCookie(cookieKey_, pkt.data, in, now, unused))) {
      table_.remove(idx, st == TcpState::kClosed ? CloseReason::kRst : CloseReason::kFin);
      idx = ConnTable::kNil;
    }
  }
  if (idx == ConnTable::kNil) {
    if (isPlainSyn(in.tcpFlags)) return newConnection(pkt, s, now);
    // Not in the table: the ACK completing a cookie handshake, if the VIP may have sent one.
    // Either way an ACK matching nothing counts against its source (an ACK flood). Resets do
    // not: a host whose address a SYN flood spoofs resets our SYN-ACKs, and must not be blocked
    // for it.
    const bool ack = (in.tcpFlags & (kTcpSyn | kTcpRst | kTcpAck)) == kTcpAck;
    if (s.vip->synMode != SynFloodMode::kOff && ack) {
      const Reason r = cookieAck(pkt, s, now);
      if (r == Reason::kSyncookieInvalid) countInvalidAck(in, now);
      return r;
    }
    if (ack) countInvalidAck(in, now);
    return Reason::kNoConntrack;
  }
  const ConnEntry& e = table_.entry(idx);
  if (e.state == TcpState::kKilled) return killReply(pkt, in, idx, true);
  Reason r = Reason::kTxToBackend;
  if (e.flags & kFlagSynProxy) {
    r = proxyForward(pkt, s, idx, now);
  } else {
    const ResetCheck rc = screenReset(idx, true, in.tcpFlags, in.seq);
    if (rc == ResetCheck::kRefuse) return Reason::kRstOutOfWindow;
    if (rc == ResetCheck::kTrack)
      table_.track(idx, true, in.tcpFlags, in.seq, in.ack, in.payloadLen, now);
    toBackend(pkt.data, in, e);
  }
  if (r == Reason::kTxToBackend) backendCounters_[e.backendId].bytesToBackend += pkt.len;
  return r;
}

Pipeline::ResetCheck Pipeline::screenReset(std::uint32_t idx, bool fromClient, std::uint8_t flags,
                                           std::uint32_t seq) noexcept {
  if (!(flags & kTcpRst)) return ResetCheck::kTrack;
  switch (table_.rstFit(idx, fromClient, seq)) {
    case ConnTable::RstFit::kOutside:
      return ResetCheck::kRefuse;
    case ConnTable::RstFit::kInWindow:
      ++counters_.rstKept;
      return ResetCheck::kPassOnly;
    case ConnTable::RstFit::kExact:
    case ConnTable::RstFit::kUnknown:
      break;
  }
  return ResetCheck::kTrack;
}

Reason Pipeline::reverse(PacketRef& pkt, Slot& s, TimeNs now) noexcept {
  const PacketInfo& in = s.info;
  const std::uint32_t idx = table_.findReverse(s.key, s.hash);
  if (idx == ConnTable::kNil) return Reason::kNoConntrack;
  const ConnEntry& e = table_.entry(idx);
  if (e.proto == kProtoUdp) return reverseUdp(pkt, in, idx, now);
  if (e.state == TcpState::kKilled) return killReply(pkt, in, idx, false);
  Reason r = Reason::kTxToClient;
  if (e.flags & kFlagSynProxy) {
    r = proxyReverse(pkt, s, idx, now);
  } else {
    // A plain ACK to our SYN: the backend's TIME_WAIT refused the reuse.
    if (e.state == TcpState::kSynSent && (in.tcpFlags & (kTcpSyn | kTcpRst | kTcpFin)) == 0) {
      return resetTimeWait(pkt, in, idx);
    }
    const ResetCheck rc = screenReset(idx, false, in.tcpFlags, in.seq);
    if (rc == ResetCheck::kRefuse) return Reason::kRstOutOfWindow;
    if (rc == ResetCheck::kTrack)
      table_.track(idx, false, in.tcpFlags, in.seq, in.ack, in.payloadLen, now);
    setMacs(pkt.data, snap_->localMac().bytes, e.clientMac);
    natRewrite(pkt.data, in, e.vip, e.client, e.vipPort, e.clientPort);
    if (e.seqDelta != 0 && in.tcp.hasTimestamp) shiftTimestamp(pkt.data, in, e.seqDelta, false);
  }
  if (r == Reason::kTxToClient) backendCounters_[e.backendId].bytesToClient += pkt.len;
  return r;
}

void Pipeline::process(PacketBatch& batch, std::span<Verdict> verdicts, TimeNs now) noexcept {
  const std::size_t n = batch.count;
  resetEmitted();
  for (std::size_t i = 0; i < n; ++i) {
    slots_[i].reason = classify(batch.pkts[i], slots_[i]);
  }
  for (std::size_t i = 0; i < n; ++i) {
    if (slots_[i].kind == Kind::kForward) table_.prefetchEntryFwd(slots_[i].hash);
    if (slots_[i].kind == Kind::kReverse) table_.prefetchEntryRev(slots_[i].hash);
  }
  if (table_.active() >= chainPrefetchMinActive_) {
    for (std::size_t i = 0; i < n; ++i) {
      if (slots_[i].kind == Kind::kForward) table_.prefetchNextFwd(slots_[i].key, slots_[i].hash);
      if (slots_[i].kind == Kind::kReverse) table_.prefetchNextRev(slots_[i].key, slots_[i].hash);
    }
  }
  std::uint64_t bytes = 0;
  txVerdicts_ = 0;
  for (std::size_t i = 0; i < n; ++i) {
    Slot& s = slots_[i];
    Reason r = s.reason;
    if (s.kind == Kind::kForward) r = forward(batch.pkts[i], s, now);
    if (s.kind == Kind::kReverse) r = reverse(batch.pkts[i], s, now);
    if (s.kind == Kind::kDsr) r = dsrForward(batch.pkts[i], s);
    verdicts[i] = Verdict{r};
    txVerdicts_ += actionOf(r) == Action::kTx ? 1u : 0u;
    ++counters_.reasons[static_cast<std::size_t>(r)];
    bytes += batch.pkts[i].len;
  }
  counters_.bytes += bytes;
  counters_.packets += n;
  ++counters_.batches;
  retransmitSyns(now);
  table_.expire(now, expireBudget_);
}

}  // namespace xlb
