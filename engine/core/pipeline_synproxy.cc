// SPDX-License-Identifier: Apache-2.0
// The SYN proxy half of the pipeline. The XDP program answers a SYN with a cookie and keeps no
// state; the engine sees the client's ACK, finds no entry and checks the cookie itself (it holds
// the same key). A valid cookie creates the entry and the frame becomes our SYN to the backend,
// with the client's MSS, window scale and SACK-permitted. Client segments that arrive before the
// backend answers are copied to a small hold pool. The backend's SYN-ACK becomes our ACK to it,
// the held segments follow, and from then on each direction's numbers differ by a constant: the
// backend's are the cookie's plus seqDelta, and ours towards the backend are the client's plus
// ConnTable::clientSeqDelta. Our SYN's ISN comes from our clock (tupleIsn), not from the
// client: the client's ISN is random relative to the previous connection on the same SNAT port,
// and a backend holding that one in TIME_WAIT refuses a SYN numbered below it. No timestamps
// are negotiated on either side (our SYN-ACK carries none), so there are none to translate;
// windows are rescaled only when the backend's window scale differs from the one our SYN-ACK
// advertised.
#include <algorithm>
#include <cstring>

#include "segments.h"
#include "xlb/checksum.h"
#include "xlb/pipeline.h"
#include "xlb/rewrite.h"
#include "xlb_common.h"

namespace xlb {
namespace {

constexpr std::uint8_t kNoShift = 0xf;
// How far past the previous connection's end a reused port's proxied SYN starts (any distance
// below 2^31 is "after" it); the low 16 bits of tupleIsn are added so it stays unpredictable.
constexpr std::uint32_t kIsnGapAfterEnd = 1u << 20;

std::uint8_t clientShift(const ConnEntry& e) noexcept {
  return static_cast<std::uint8_t>(e.winShifts >> 4);
}
std::uint8_t backendShift(const ConnEntry& e) noexcept {
  return static_cast<std::uint8_t>(e.winShifts & 0xf);
}

// Moves both edges of every SACK block by `delta`, folding the checksum change into `d` (the
// option may sit at an odd offset: store32Summed).
std::uint64_t shiftSack(std::uint8_t* frame, const PacketInfo& in, std::uint32_t delta,
                        std::uint64_t d) noexcept {
  for (unsigned b = 0; b < in.tcp.sackBlocks; ++b) {
    std::uint8_t* edge = frame + in.tcp.sackOffset + std::size_t{8} * b;
    for (std::size_t i = 0; i < 2; ++i) {
      std::uint8_t* field = edge + 4 * i;
      d = store32Summed(frame + in.l4Offset, field, load32(field) + delta, d);
    }
  }
  return d;
}

std::uint16_t rescale(std::uint16_t window, unsigned fromShift, unsigned toShift) noexcept {
  const std::uint64_t bytes = static_cast<std::uint64_t>(window) << fromShift;
  return static_cast<std::uint16_t>(std::min<std::uint64_t>(0xffff, bytes >> toShift));
}

}  // namespace

Reason Pipeline::cookieAck(PacketRef& pkt, Slot& s, TimeNs now) noexcept {
  const PacketInfo& in = s.info;
  CookieOptions opts;
  if (!checkCookie(cookieKey_, pkt.data, in, now, opts)) return Reason::kSyncookieInvalid;
  ++counters_.cookiesValidated;
  std::uint32_t idx = ConnTable::kNil;
  const Reason r = createEntry(pkt, s, now, idx);
  if (r != Reason::kTxToBackend) return r;
  ConnEntry& e = table_.entry(idx);
  e.flags |= kFlagSynProxy | kFlagAwaitSynAck;
  e.seqDelta = in.window;  // until the backend answers: the client's window for our ACK
  e.winShifts = static_cast<std::uint8_t>(
      (opts.wscale == kNoWscale ? kNoShift : std::min<std::uint8_t>(opts.wscale, 14)) << 4);
  const TcpSegment toServer = toBackendSegment(e, snat_);
  std::uint32_t isn =
      tupleIsn(cookieKey_, toServer.src, toServer.dst, toServer.sport, toServer.dport, now);
  // After the last connection this backend saw on the port, wherever its numbers came from
  // (a plain connection's are the client's): its TIME_WAIT accepts a SYN numbered after it.
  if (const auto end = snat_.lastEnd(e.snatIdx, e.snatPort, e.backendId, e.backendPort)) {
    isn = *end + kIsnGapAfterEnd + (isn & 0xffff);
  }
  table_.clientSeqDelta(idx) = isn - (in.seq - 1);
  FinSeqs& side = table_.sideSeqs(idx);
  side.client = isn;         // our ISN towards the backend
  side.server = in.ack - 1;  // our cookie
  // Data (or a FIN) on the handshake's ACK is kept before the frame is turned into the SYN.
  if (in.payloadLen > 0 || (in.tcpFlags & kTcpFin)) hold(pkt, in, idx, now);
  const Reason sent = sendBackendSyn(pkt, in, e, side.client, opts);
  if (sent == Reason::kTxSynproxy && synRetransmitOn_) {
    synRetx_.arm(idx, synTag(e), pkt.data, pkt.len, now);
  }
  return sent;
}

bool Pipeline::rewriteAs(PacketRef& pkt, const PacketInfo& in, const TcpSegment& seg,
                         const std::array<std::uint8_t, 6>& dstMac) noexcept {
  const std::uint32_t len = writeTcpSegment(pkt.data, pkt.capacity, in.l3Offset, seg);
  if (len == 0) return false;
  setMacs(pkt.data, snap_->localMac().bytes, dstMac);
  pkt.len = len;
  return true;
}

Reason Pipeline::sendBackendSyn(PacketRef& pkt, const PacketInfo& in, const ConnEntry& e,
                                std::uint32_t isn, const CookieOptions& o) noexcept {
  std::uint8_t options[kSynOptionsLen];
  writeSynOptions(options, o.mss, o.sackPermitted, o.wscale);
  TcpSegment seg = toBackendSegment(e, snat_);
  seg.seq = isn;
  seg.flags = kTcpSyn;
  seg.window = XLB_SYNACK_WINDOW;
  seg.options = options;
  seg.optionsLen = kSynOptionsLen;
  return sendToBackend(pkt, in, e, seg);
}

Reason Pipeline::sendToBackend(PacketRef& pkt, const PacketInfo& in, const ConnEntry& e,
                               const TcpSegment& seg) noexcept {
  // A frame too small for the segment (never an AF_XDP frame) is dropped like a full hold pool.
  if (!rewriteAs(pkt, in, seg, snap_->backendMac(e.backendId).bytes)) {
    return Reason::kSynproxyHoldFull;
  }
  return Reason::kTxSynproxy;
}

Reason Pipeline::sendBackendAck(PacketRef& pkt, const PacketInfo& in, const ConnEntry& e,
                                std::uint32_t seq, std::uint32_t ack,
                                std::uint16_t window) noexcept {
  TcpSegment seg = toBackendSegment(e, snat_);
  seg.seq = seq;
  seg.ack = ack;
  seg.flags = kTcpAck;
  seg.window = window;
  return sendToBackend(pkt, in, e, seg);
}

void Pipeline::translateToBackend(std::uint8_t* frame, const PacketInfo& in, const ConnEntry& e,
                                  std::uint32_t clientDelta) noexcept {
  std::uint8_t* t = frame + in.l4Offset;
  const std::uint32_t seq = in.seq + clientDelta;
  std::uint64_t d = csumDelta32(in.seq, seq, 0);
  store32(t + 4, seq);
  if (in.tcpFlags & kTcpAck) {
    const std::uint32_t ack = in.ack + e.seqDelta;
    d = csumDelta32(in.ack, ack, d);
    store32(t + 8, ack);
  }
  d = shiftSack(frame, in, e.seqDelta, d);
  if (e.flags & kFlagRescaleToBackend) {
    const std::uint16_t w = rescale(in.window, clientShift(e), 0);
    d = csumDelta16(in.window, w, d);
    store16(t + 14, w);
  }
  store16(t + 16, csumApply(load16(t + 16), d));
}

void Pipeline::translateToClient(std::uint8_t* frame, const PacketInfo& in, const ConnEntry& e,
                                 std::uint32_t clientDelta) noexcept {
  std::uint8_t* t = frame + in.l4Offset;
  const std::uint32_t seq = in.seq - e.seqDelta;
  std::uint64_t d = csumDelta32(in.seq, seq, 0);
  store32(t + 4, seq);
  if (in.tcpFlags & kTcpAck) {
    const std::uint32_t ack = in.ack - clientDelta;
    d = csumDelta32(in.ack, ack, d);
    store32(t + 8, ack);
  }
  d = shiftSack(frame, in, 0u - clientDelta, d);
  if (e.flags & kFlagRescaleToClient) {
    const std::uint16_t w = rescale(in.window, backendShift(e), XLB_SYNACK_WSCALE);
    d = csumDelta16(in.window, w, d);
    store16(t + 14, w);
  }
  store16(t + 16, csumApply(load16(t + 16), d));
}

Reason Pipeline::proxyForward(PacketRef& pkt, Slot& s, std::uint32_t idx, TimeNs now) noexcept {
  const PacketInfo& in = s.info;
  ConnEntry& e = table_.entry(idx);
  if (e.flags & kFlagAwaitSynAck) {
    const FinSeqs side = table_.sideSeqs(idx);
    if (in.tcpFlags & kTcpRst) {
      // The client gives up: take the backend's half-open connection down with it.
      TcpSegment seg = toBackendSegment(e, snat_);
      seg.seq = side.client + 1;
      seg.flags = kTcpRst;
      const bool sent = rewriteAs(pkt, in, seg, snap_->backendMac(e.backendId).bytes);
      table_.remove(idx, CloseReason::kRst);
      return sent ? Reason::kTxToBackend : Reason::kNoConntrack;
    }
    if ((in.payloadLen > 0 || (in.tcpFlags & kTcpFin)) && !isHeld(idx, e, in.seq)) {
      return hold(pkt, in, idx, now) ? Reason::kSynproxyHeld : Reason::kSynproxyHoldFull;
    }
    // A retransmission or a bare ACK: the client is waiting, so the SYN may have been lost.
    return sendBackendSyn(pkt, in, e, side.client, cookieOptions(side.server));
  }
  // The state machine sees the backend's sequence spaces in both directions.
  const std::uint32_t clientDelta = table_.clientSeqDelta(idx);
  const ResetCheck rc = screenReset(idx, true, in.tcpFlags, in.seq + clientDelta);
  if (rc == ResetCheck::kRefuse) return Reason::kRstOutOfWindow;
  if (rc == ResetCheck::kTrack) {
    table_.track(idx, true, in.tcpFlags, in.seq + clientDelta, in.ack + e.seqDelta, in.payloadLen,
                 now);
  }
  translateToBackend(pkt.data, in, e, clientDelta);
  toBackend(pkt.data, in, e);
  return Reason::kTxToBackend;
}

Reason Pipeline::proxyReverse(PacketRef& pkt, Slot& s, std::uint32_t idx, TimeNs now) noexcept {
  const PacketInfo& in = s.info;
  ConnEntry& e = table_.entry(idx);
  const std::uint8_t synAck = kTcpSyn | kTcpAck;
  if (e.flags & kFlagAwaitSynAck) {
    const FinSeqs side = table_.sideSeqs(idx);
    if ((in.tcpFlags & synAck) == synAck) {
      if (in.ack != side.client + 1) return Reason::kSynproxyBadSynack;
      return completeProxy(pkt, in, idx, now);
    }
    if ((in.tcpFlags & kTcpRst) && (in.tcpFlags & kTcpAck) && in.ack == side.client + 1) {
      // Refused by the backend: the client gets a reset from the VIP at our next sequence.
      TcpSegment seg = toClientSegment(e);
      seg.seq = side.server + 1;
      seg.flags = kTcpRst;
      const bool sent = rewriteAs(pkt, in, seg, e.clientMac);
      table_.remove(idx, CloseReason::kRst);
      return sent ? Reason::kTxToClient : Reason::kNoConntrack;
    }
    if ((in.tcpFlags & (kTcpSyn | kTcpRst | kTcpAck)) == kTcpAck) {
      // The backend still holds this SNAT port's previous connection in TIME_WAIT and answered
      // our SYN with an ACK for the old one: reset it as a client's stack would, and send the
      // SYN again at once.
      return resetTimeWait(pkt, in, idx);
    }
    return Reason::kNoConntrack;
  }
  if ((in.tcpFlags & synAck) == synAck) {
    // The backend repeats its SYN-ACK: our ACK was lost. Send it again.
    const std::uint8_t cws = clientShift(e);
    return sendBackendAck(pkt, in, e, in.ack, in.seq + 1,
                          static_cast<std::uint16_t>(0xffff >> (cws == kNoShift ? 0 : cws)));
  }
  const ResetCheck rc = screenReset(idx, false, in.tcpFlags, in.seq);
  if (rc == ResetCheck::kRefuse) return Reason::kRstOutOfWindow;
  if (rc == ResetCheck::kTrack)
    table_.track(idx, false, in.tcpFlags, in.seq, in.ack, in.payloadLen, now);
  translateToClient(pkt.data, in, e, table_.clientSeqDelta(idx));
  setMacs(pkt.data, snap_->localMac().bytes, e.clientMac);
  natRewrite(pkt.data, in, e.vip, e.client, e.vipPort, e.clientPort);
  return Reason::kTxToClient;
}

Reason Pipeline::completeProxy(PacketRef& pkt, const PacketInfo& in, std::uint32_t idx,
                               TimeNs now) noexcept {
  ConnEntry& e = table_.entry(idx);
  FinSeqs& side = table_.sideSeqs(idx);
  const std::uint32_t clientIsn = side.client;
  const std::uint32_t cookie = side.server;
  const auto clientWindow = static_cast<std::uint16_t>(e.seqDelta);
  e.seqDelta = in.seq - cookie;
  const std::uint8_t cws = clientShift(e);
  if (cws != kNoShift) {
    // The client scales by cws and expects our windows scaled by XLB_SYNACK_WSCALE.
    if (in.tcp.wscale == kNoWscale) {
      e.flags |= kFlagRescaleToClient | kFlagRescaleToBackend;
      e.winShifts = static_cast<std::uint8_t>(cws << 4);
    } else if (in.tcp.wscale != XLB_SYNACK_WSCALE) {
      e.flags |= kFlagRescaleToClient;
      e.winShifts = static_cast<std::uint8_t>(cws << 4 | std::min<std::uint8_t>(in.tcp.wscale, 14));
    }
  }
  e.flags &= static_cast<std::uint8_t>(~kFlagAwaitSynAck);
  side = FinSeqs{};
  table_.track(idx, false, kTcpSyn | kTcpAck, in.seq, in.ack, 0, now);
  table_.track(idx, true, kTcpAck, clientIsn + 1, in.seq + 1, 0, now);
  const Reason r = sendBackendAck(pkt, in, e, clientIsn + 1, in.seq + 1, clientWindow);
  releaseHeld(idx, now);
  return r;
}

bool Pipeline::heldMatches(const HeldFrame& h, std::uint32_t idx,
                           const ConnEntry& e) const noexcept {
  return h.state == HeldFrame::State::kHeld && h.idx == idx && h.clientPort == e.clientPort &&
         h.client == e.client && e.state != TcpState::kFree;
}

bool Pipeline::isHeld(std::uint32_t idx, const ConnEntry& e, std::uint32_t seq) const noexcept {
  return std::any_of(held_.begin(), held_.end(),
                     [&](const HeldFrame& h) { return heldMatches(h, idx, e) && h.seq == seq; });
}

bool Pipeline::hold(const PacketRef& pkt, const PacketInfo& in, std::uint32_t idx,
                    TimeNs now) noexcept {
  if (pkt.len > kHoldBytes) return false;
  const TimeNs maxAge = table_.timeouts().syn;
  for (std::size_t i = 0; i < held_.size(); ++i) {
    HeldFrame& h = held_[i];
    if (h.state == HeldFrame::State::kHeld) {
      // A slot whose connection went away (or never completed) is reclaimed here.
      const ConnEntry& owner = table_.entry(h.idx);
      const bool live = heldMatches(h, h.idx, owner) && (owner.flags & kFlagAwaitSynAck) &&
                        now - h.heldAt <= maxAge;
      if (live) continue;
      h.state = HeldFrame::State::kFree;
    }
    if (h.state != HeldFrame::State::kFree) continue;
    const ConnEntry& e = table_.entry(idx);
    h.state = HeldFrame::State::kHeld;
    h.idx = idx;
    h.client = e.client;
    h.clientPort = e.clientPort;
    h.seq = in.seq;
    h.len = pkt.len;
    h.order = holdOrder_++;
    h.heldAt = now;
    std::memcpy(holdBuf_.data() + i * kHoldBytes, pkt.data, pkt.len);
    return true;
  }
  return false;
}

void Pipeline::releaseHeld(std::uint32_t idx, TimeNs now) noexcept {
  const ConnEntry& e = table_.entry(idx);
  for (;;) {
    // Oldest first: segments go out in the order the client sent them.
    std::size_t pick = held_.size();
    for (std::size_t i = 0; i < held_.size(); ++i) {
      if (heldMatches(held_[i], idx, e) &&
          (pick == held_.size() || held_[i].order < held_[pick].order)) {
        pick = i;
      }
    }
    if (pick == held_.size()) return;
    HeldFrame& h = held_[pick];
    h.state = HeldFrame::State::kEmitted;
    std::uint8_t* frame = holdBuf_.data() + pick * kHoldBytes;
    PacketInfo in;
    Reason why = Reason::kPassNotIp;
    if (!parsePacket(frame, h.len, in, why)) continue;
    const std::uint32_t clientDelta = table_.clientSeqDelta(idx);
    table_.track(idx, true, in.tcpFlags, in.seq + clientDelta, in.ack + e.seqDelta, in.payloadLen,
                 now);
    translateToBackend(frame, in, e, clientDelta);
    toBackend(frame, in, e);
    emitted_[emittedCount_++] = Emitted{frame, h.len};
    ++counters_.heldReleased;
  }
}

std::size_t Pipeline::heldCount() const noexcept {
  return static_cast<std::size_t>(
      std::count_if(held_.begin(), held_.end(),
                    [&](const HeldFrame& h) { return h.state == HeldFrame::State::kHeld; }));
}

}  // namespace xlb
