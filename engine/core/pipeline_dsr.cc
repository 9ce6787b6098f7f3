// SPDX-License-Identifier: Apache-2.0
// Direct server return. The backend holds the VIP itself and answers the client directly, so xlb
// sees one direction and keeps no state: each packet's backend is Maglev's choice over a hash of
// its 5-tuple with a fixed key, the same in every worker, after every restart and on every
// instance of a cluster. A backend set change moves the flows Maglev moves (about 1/N per change);
// a draining backend's flows move at once (docs/ARCHITECTURE.md, "Direct server return").
#include <cstring>

#include "xlb/pipeline.h"
#include "xlb/rewrite.h"
#include "xlb/splitmix.h"

namespace xlb {
namespace {

std::uint64_t dsrHash(const PacketInfo& in) noexcept {
  std::uint64_t w[4];
  std::memcpy(w, in.src.bytes.data(), 16);
  std::memcpy(w + 2, in.dst.bytes.data(), 16);
  // Each field is absorbed after a full mixing round: XORing fields into one word first would
  // let different (address, port) pairs cancel into the same value (it did: a 15 % skew).
  std::uint64_t h = 0x6a09e667f3bcc908ull ^ (static_cast<std::uint64_t>(in.sport) << 24 |
                                             static_cast<std::uint64_t>(in.dport) << 8 | in.proto);
  h = splitmix64(h);
  for (std::uint64_t x : w) {
    h ^= x;
    h = splitmix64(h);
  }
  return h;
}

}  // namespace

// IPv4 in IPv4 (protocol 4) or IPv6 in IPv6 (next header 41), from the first SNAT address of the
// family to the backend: the inner packet is untouched.
bool Pipeline::encapsulate(PacketRef& pkt, const PacketInfo& in, const Address& backend) noexcept {
  const bool v4 = in.family == Family::kV4;
  const std::uint32_t outer = v4 ? 20 : 40;
  const std::uint32_t innerLen = pkt.len - in.l3Offset;
  if (pkt.len + outer > pkt.capacity || innerLen + outer > 0xffff) return false;
  std::size_t src = 0;
  while (src < snat_.addressCount() && snat_.familyOf(static_cast<std::uint8_t>(src)) != in.family)
    ++src;
  const IpAddr& from = snat_.address(static_cast<std::uint8_t>(src));
  std::uint8_t* ip = pkt.data + in.l3Offset;
  std::memmove(ip + outer, ip, innerLen);
  writeIpHeader(ip, in.family, innerLen, v4 ? 4 : 41, from, backend.ip);  // IPIP, IPv6-in-IPv6
  pkt.len += outer;
  return true;
}

Reason Pipeline::dsrForward(PacketRef& pkt, const Slot& s) noexcept {
  const VipEntry& vip = *s.vip;
  const PacketInfo& in = s.info;
  if (vip.backends.empty()) return Reason::kNoBackend;
  const std::uint16_t pick = vip.maglev[dsrHash(in) % vip.maglev.size()];
  if (pick == kMaglevEmpty) return Reason::kNoBackend;
  const BackendSlot& b = vip.backends[pick];
  if (vip.encap == DsrEncap::kIpip && !encapsulate(pkt, in, b.address)) return Reason::kDsrTooBig;
  setMacs(pkt.data, snap_->localMac().bytes, snap_->backendMac(b.id).bytes);
  // No entries: a SYN is what "connections" counts for a DSR backend.
  if (in.proto == kProtoTcp && (in.tcpFlags & (kTcpSyn | kTcpAck)) == kTcpSyn) {
    ++backendCounters_[b.id].created;
  }
  backendCounters_[b.id].bytesToBackend += pkt.len;
  return Reason::kTxToBackend;
}

}  // namespace xlb
