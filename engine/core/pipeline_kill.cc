// SPDX-License-Identifier: Apache-2.0
// Operator kill. The table keeps no sequence numbers (they would widen every entry), and a TCP
// stack accepts a reset only at exactly the sequence number it expects next (RFC 5961). So a
// kill asks each end for its numbers: an ACK with an out-of-window sequence number makes a stack
// answer with an ACK carrying SND.NXT and RCV.NXT (RFC 793 3.9). Any segment from a killed
// connection's end, that answer included, becomes a reset back to it at its RCV.NXT and a reset
// to the other end at its SND.NXT (translated for a SYN-proxied connection).
#include <cstring>

#include "segments.h"
#include "xlb/checksum.h"
#include "xlb/pipeline.h"

namespace xlb {
namespace {

constexpr std::uint16_t kEthHeaderLen = 14;

std::uint32_t writeFrame(std::uint8_t* frame, const TcpSegment& seg, const MacAddr& src,
                         const std::array<std::uint8_t, 6>& dst) noexcept {
  setMacs(frame, src.bytes, dst);
  store16(frame + 12, seg.family == Family::kV4 ? kEthIpv4 : kEthIpv6);
  return writeTcpSegment(frame, static_cast<std::uint32_t>(Pipeline::kHoldBytes), kEthHeaderLen,
                         seg);
}

}  // namespace

void Pipeline::resetEmitted() noexcept {
  if (emittedCount_ == 0) return;  // the worker has sent what was emitted last time
  for (HeldFrame& h : held_) {
    if (h.state == HeldFrame::State::kEmitted) h.state = HeldFrame::State::kFree;
  }
  emittedCount_ = 0;
}

std::uint8_t* Pipeline::emitBuffer() noexcept {
  for (std::size_t i = 0; i < held_.size(); ++i) {
    if (held_[i].state != HeldFrame::State::kFree) continue;
    held_[i].state = HeldFrame::State::kEmitted;
    held_[i].idx = ConnTable::kNil;
    return holdBuf_.data() + i * kHoldBytes;
  }
  return nullptr;
}

void Pipeline::emit(const std::uint8_t* frame, std::uint32_t len) noexcept {
  if (len != 0) emitted_[emittedCount_++] = Emitted{frame, len};
}

std::size_t Pipeline::kill(const ConnFilter& filter, TimeNs now) noexcept {
  resetEmitted();
  if (snap_ == nullptr) return 0;
  std::size_t killed = 0;
  for (std::uint32_t idx = 0; idx < table_.capacity(); ++idx) {
    const ConnEntry& e = table_.entry(idx);
    if (!filter.matches(e)) continue;
    if (e.proto == kProtoUdp) {  // no handshake to end: the next datagram starts a new flow
      table_.remove(idx, CloseReason::kKilled);
      ++killed;
      continue;
    }
    if (!table_.kill(idx, now)) continue;
    ++killed;
    // Out of window for any real window: half the sequence space away from a number that is
    // different for every kill.
    const auto probeSeq = static_cast<std::uint32_t>(now / 1000) ^ 0x80000000u;
    TcpSegment toClient = toClientSegment(e);
    toClient.seq = probeSeq;
    toClient.ack = probeSeq;
    toClient.flags = kTcpAck;
    TcpSegment toServer = toBackendSegment(e, snat_);
    toServer.seq = probeSeq;
    toServer.ack = probeSeq;
    toServer.flags = kTcpAck;
    // No buffer free: the entry stays killed and the next segment from either end still gets
    // the resets.
    if (std::uint8_t* f = emitBuffer())
      emit(f, writeFrame(f, toClient, snap_->localMac(), e.clientMac));
    if (std::uint8_t* f = emitBuffer()) {
      emit(f, writeFrame(f, toServer, snap_->localMac(), snap_->backendMac(e.backendId).bytes));
    }
  }
  return killed;
}

Reason Pipeline::killReply(PacketRef& pkt, const PacketInfo& in, std::uint32_t idx,
                           bool fromClient) noexcept {
  const ConnEntry& e = table_.entry(idx);
  if (in.tcpFlags & kTcpRst) return Reason::kNoConntrack;  // that end is gone already
  // Sequence numbers as each end sees them: the proxy's deltas lie between each end's
  // numbering and the other's view of it.
  const bool proxied = (e.flags & kFlagSynProxy) != 0;
  const std::uint32_t delta = proxied ? e.seqDelta : 0;
  const std::uint32_t clientDelta = proxied ? table_.clientSeqDelta(idx) : 0;
  TcpSegment back = fromClient ? toClientSegment(e) : toBackendSegment(e, snat_);
  back.seq = in.ack;  // the sender's RCV.NXT, in its own view
  back.flags = kTcpRst;
  TcpSegment onward = fromClient ? toBackendSegment(e, snat_) : toClientSegment(e);
  // The sender's SND.NXT, in the other's view.
  onward.seq = fromClient ? in.seq + clientDelta : in.seq - delta;
  onward.flags = kTcpRst;
  const std::array<std::uint8_t, 6>& senderMac =
      fromClient ? e.clientMac : snap_->backendMac(e.backendId).bytes;
  const std::array<std::uint8_t, 6>& otherMac =
      fromClient ? snap_->backendMac(e.backendId).bytes : e.clientMac;
  if (in.tcpFlags & kTcpAck) {
    if (std::uint8_t* f = emitBuffer()) emit(f, writeFrame(f, back, snap_->localMac(), senderMac));
  }
  if (!rewriteAs(pkt, in, onward, otherMac)) return Reason::kNoConntrack;
  return Reason::kTxKillRst;
}

}  // namespace xlb
