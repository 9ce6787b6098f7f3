// SPDX-License-Identifier: Apache-2.0
// UDP flows through the pipeline, and QUIC by connection ID on VIPs that ask for it (quic: true).
// A QUIC server names its connection in the source connection ID of its long-header packets; the
// client then sends short-header packets to that ID. Learning it from the backend's packets lets a
// datagram from a new client address or port (NAT rebinding) find its flow: the flow moves to the
// new tuple and keeps its backend and SNAT tuple, so the backend sees nothing change. IDs the
// server hands out later (NEW_CONNECTION_ID) are encrypted and cannot be learnt; a client that
// migrates on purpose uses one of those (RFC 9000 9.5) and starts a new flow (docs/ARCHITECTURE.md,
// "QUIC").
#include "xlb/checksum.h"
#include "xlb/pipeline.h"
#include "xlb/rewrite.h"

namespace xlb {

std::uint32_t Pipeline::quicRebind(const PacketRef& pkt, const Slot& s) noexcept {
  const PacketInfo& in = s.info;
  const std::uint8_t* payload = pkt.data + in.l4Offset + 8;
  const std::size_t len = in.l4Len - 8u;
  if (len < 2 || quicIsLongHeader(payload, len)) return ConnTable::kNil;
  const auto live = [this, &s, &in](std::uint32_t idx, std::uint32_t tag) {
    const ConnEntry& e = table_.entry(idx);
    return (e.state == TcpState::kUdpSingle || e.state == TcpState::kUdp) &&
           (e.flags & kFlagQuic) && quicTag(e) == tag && e.vipId == s.vip->id &&
           e.family == in.family;
  };
  const std::uint32_t idx = cids_.find(payload + 1, len - 1, live);
  if (idx == CidTable::kNone) return ConnTable::kNil;
  table_.moveClient(idx, in.src, in.sport, pkt.data + 6);
  ++counters_.quicRebinds;
  return idx;
}

// A UDP datagram from a client: the first of a flow creates it (its checksum checked first, as a
// SYN's is), every one is NATed to the flow's backend.
Reason Pipeline::forwardUdp(PacketRef& pkt, Slot& s, TimeNs now) noexcept {
  const PacketInfo& in = s.info;
  std::uint32_t idx = table_.findForward(s.key, s.hash);
  if (idx == ConnTable::kNil && s.vip->quic) idx = quicRebind(pkt, s);
  if (idx == ConnTable::kNil) {
    const std::uint8_t* l4 = pkt.data + in.l4Offset;
    if (!l4ChecksumValid(in.family, in.proto, in.src, in.dst, l4, in.l4Len)) {
      return l4ChecksumPartial(in.family, in.proto, in.src, in.dst, l4, in.l4Len)
                 ? Reason::kPartialChecksum
                 : Reason::kBadChecksum;
    }
    if (const Reason r = createEntry(pkt, s, now, idx); r != Reason::kTxToBackend) return r;
  } else {
    table_.trackUdp(idx, true, now);
  }
  const ConnEntry& e = table_.entry(idx);
  toBackend(pkt.data, in, e);
  backendCounters_[e.backendId].bytesToBackend += pkt.len;
  return Reason::kTxToBackend;
}

// A UDP datagram from a backend to its flow's SNAT port; a QUIC server's long header teaches the
// connection ID it chose.
Reason Pipeline::reverseUdp(PacketRef& pkt, const PacketInfo& in, std::uint32_t idx,
                            TimeNs now) noexcept {
  const ConnEntry& e = table_.entry(idx);
  if ((e.flags & kFlagQuic) && in.l4Len > 8) {
    QuicLongHeader h;
    if (parseQuicLongHeader(pkt.data + in.l4Offset + 8, in.l4Len - 8u, h) && h.scidLen != 0) {
      cids_.learn(h.scid, h.scidLen, idx, quicTag(e), ++cidSeq_);
      ++counters_.quicCids;
    }
  }
  table_.trackUdp(idx, false, now);
  setMacs(pkt.data, snap_->localMac().bytes, e.clientMac);
  natRewrite(pkt.data, in, e.vip, e.client, e.vipPort, e.clientPort);
  backendCounters_[e.backendId].bytesToClient += pkt.len;
  return Reason::kTxToClient;
}

}  // namespace xlb
