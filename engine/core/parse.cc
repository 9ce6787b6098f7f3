// SPDX-License-Identifier: Apache-2.0
// Packet parser. Every read is preceded by a bounds check against the frame end; the comment on
// each check names what it protects.
#include "xlb/parse.h"

#include "xlb/checksum.h"

namespace xlb {
namespace {

// TCP option kinds.
constexpr std::uint8_t kOptEol = 0, kOptNop = 1, kOptMss = 2, kOptWscale = 3, kOptSackPerm = 4,
                       kOptSack = 5, kOptTimestamp = 8;

bool parseTcpOptions(const std::uint8_t* frame, std::uint32_t off, std::uint32_t end,
                     TcpOptions& o) noexcept {
  while (off < end) {
    std::uint8_t kind = frame[off];
    if (kind == kOptEol) return true;
    if (kind == kOptNop) {
      ++off;
      continue;
    }
    if (off + 1 >= end) return false;  // the length byte lies past the header
    std::uint32_t len = frame[off + 1];
    if (len < 2 || off + len > end) return false;  // would loop forever or overrun the header
    switch (kind) {
      case kOptMss:
        if (len != 4) return false;
        o.mss = load16(frame + off + 2);
        break;
      case kOptWscale:
        if (len != 3) return false;
        o.wscale = frame[off + 2];
        break;
      case kOptSackPerm:
        if (len != 2) return false;
        o.sackPermitted = true;
        break;
      case kOptSack:
        if (len < 10 || len > 34 || (len - 2) % 8 != 0) return false;
        o.sackBlocks = static_cast<std::uint8_t>((len - 2) / 8);
        o.sackOffset = static_cast<std::uint16_t>(off + 2);
        break;
      case kOptTimestamp:
        if (len != 10) return false;
        o.hasTimestamp = true;
        o.tsOffset = static_cast<std::uint16_t>(off + 2);
        o.tsVal = load32(frame + off + 2);
        o.tsEcr = load32(frame + off + 6);
        break;
      default:
        break;  // unknown options are skipped by length
    }
    off += len;
  }
  return true;
}

bool parseIpv4Options(const std::uint8_t* p, std::uint32_t len) noexcept {
  std::uint32_t off = 0;
  while (off < len) {
    std::uint8_t type = p[off];
    if (type == 0) return true;  // end of options list
    if (type == 1) {
      ++off;
      continue;
    }
    if (off + 1 >= len) return false;  // no room for the length byte
    std::uint32_t olen = p[off + 1];
    if (olen < 2 || off + olen > len) return false;
    off += olen;
  }
  return true;
}

// Bounds and protocol come in as arguments, not read back from `info`: the caller has just
// stored them as 16-bit fields, and reloading them wider stalls on store forwarding.
bool parseL4(const std::uint8_t* frame, std::uint32_t off, std::uint32_t avail, std::uint8_t proto,
             PacketInfo& info, Reason& why) noexcept {
  const std::uint8_t* l4 = frame + off;
  switch (proto) {
    case kProtoTcp: {
      if (avail < 20) {
        why = Reason::kTcpTruncated;
        return false;
      }
      std::uint32_t doff = static_cast<std::uint32_t>(l4[12] >> 4) * 4;
      if (doff < 20 || doff > avail) {  // header longer than the IP payload it sits in
        why = Reason::kTcpBadDoff;
        return false;
      }
      info.sport = load16(l4);
      info.dport = load16(l4 + 2);
      info.seq = load32(l4 + 4);
      info.ack = load32(l4 + 8);
      info.tcpFlags = l4[13];
      info.window = load16(l4 + 14);
      if (!parseTcpOptions(frame, off + 20, off + doff, info.tcp)) {
        why = Reason::kTcpBadOption;
        return false;
      }
      info.payloadOffset = static_cast<std::uint16_t>(off + doff);
      info.payloadLen = static_cast<std::uint16_t>(avail - doff);
      return true;
    }
    case kProtoUdp: {
      if (avail < 8) {
        why = Reason::kUdpTruncated;
        return false;
      }
      if (load16(l4 + 4) != avail) {  // UDP length must match the IP payload exactly
        why = Reason::kUdpBadLength;
        return false;
      }
      info.sport = load16(l4);
      info.dport = load16(l4 + 2);
      info.payloadOffset = static_cast<std::uint16_t>(off + 8);
      info.payloadLen = static_cast<std::uint16_t>(avail - 8);
      return true;
    }
    case kProtoIcmp:
    case kProtoIcmp6: {
      if (avail < 8) {
        why = Reason::kIcmpTruncated;
        return false;
      }
      info.icmpType = l4[0];
      info.icmpCode = l4[1];
      info.payloadOffset = static_cast<std::uint16_t>(off + 8);
      info.payloadLen = static_cast<std::uint16_t>(avail - 8);
      return true;
    }
    default:
      info.payloadOffset = static_cast<std::uint16_t>(off);
      info.payloadLen = static_cast<std::uint16_t>(avail);
      return true;
  }
}

bool parseIpv4(const std::uint8_t* frame, std::uint32_t len, PacketInfo& info,
               Reason& why) noexcept {
  const std::uint32_t off = info.l3Offset;
  if (len - off < 20) {
    why = Reason::kIpv4Truncated;
    return false;
  }
  const std::uint8_t* ip = frame + off;
  if ((ip[0] >> 4) != 4) {
    why = Reason::kIpv4BadVersion;
    return false;
  }
  std::uint32_t ihl = static_cast<std::uint32_t>(ip[0] & 0x0f) * 4;
  if (ihl < 20) {
    why = Reason::kIpv4BadIhl;
    return false;
  }
  if (ihl > len - off) {  // options run past the frame
    why = Reason::kIpv4Truncated;
    return false;
  }
  std::uint32_t total = load16(ip + 2);
  if (total < ihl) {
    why = Reason::kIpv4BadLength;
    return false;
  }
  if (total > len - off) {  // the frame is shorter than the packet claims (trailing pad is fine)
    why = Reason::kIpv4Truncated;
    return false;
  }
  if (ihl > 20) {
    info.ipv4Options = true;
    if (!parseIpv4Options(ip + 20, ihl - 20)) {
      why = Reason::kIpv4BadOption;
      return false;
    }
  }
  info.family = Family::kV4;
  info.proto = ip[9];
  info.src = IpAddr::fromV4Bytes(ip + 12);
  info.dst = IpAddr::fromV4Bytes(ip + 16);
  std::uint16_t fragField = load16(ip + 6);
  if ((fragField & 0x1fff) != 0) {
    info.frag = Frag::kLater;
  } else if (fragField & 0x2000) {
    info.frag = Frag::kFirst;
  }
  info.l4Offset = static_cast<std::uint16_t>(off + ihl);
  info.l4Len = static_cast<std::uint16_t>(total - ihl);
  if (info.frag != Frag::kNone) return true;
  return parseL4(frame, off + ihl, total - ihl, ip[9], info, why);
}

bool parseIpv6(const std::uint8_t* frame, std::uint32_t len, PacketInfo& info,
               Reason& why) noexcept {
  const std::uint32_t off = info.l3Offset;
  if (len - off < 40) {
    why = Reason::kIpv6Truncated;
    return false;
  }
  const std::uint8_t* ip = frame + off;
  if ((ip[0] >> 4) != 6) {
    why = Reason::kIpv6BadVersion;
    return false;
  }
  std::uint32_t payload = load16(ip + 4);
  if (payload == 0) {  // jumbograms (hop-by-hop jumbo option) are not carried
    why = Reason::kIpv6BadLength;
    return false;
  }
  if (payload > len - off - 40) {
    why = Reason::kIpv6Truncated;
    return false;
  }
  info.family = Family::kV6;
  info.src = IpAddr::fromV6Bytes(ip + 8);
  info.dst = IpAddr::fromV6Bytes(ip + 24);
  std::uint8_t next = ip[6];
  std::uint32_t cur = off + 40;
  const std::uint32_t end = off + 40 + payload;
  for (unsigned n = 0;; ++n) {
    bool ext = next == 0 || next == 43 || next == 60 || next == 44;
    if (!ext) break;
    if (n >= kMaxIpv6ExtHeaders || (next == 0 && n != 0)) {  // hop-by-hop must come first
      why = Reason::kIpv6ExtBad;
      return false;
    }
    if (end - cur < 8) {  // every extension header is at least 8 bytes
      why = Reason::kIpv6ExtTruncated;
      return false;
    }
    const std::uint8_t* h = frame + cur;
    std::uint32_t hlen = next == 44 ? 8 : (static_cast<std::uint32_t>(h[1]) + 1) * 8;
    if (hlen > end - cur) {
      why = Reason::kIpv6ExtTruncated;
      return false;
    }
    if (next == 44) {
      std::uint16_t fo = load16(h + 2);
      info.frag = (fo & 0xfff8) != 0 ? Frag::kLater : ((fo & 1) ? Frag::kFirst : Frag::kNone);
      // An atomic fragment (offset 0, M=0) is a whole packet and is parsed as one.
    }
    next = h[0];
    cur += hlen;
  }
  info.proto = next;
  info.l4Offset = static_cast<std::uint16_t>(cur);
  info.l4Len = static_cast<std::uint16_t>(end - cur);
  if (info.frag != Frag::kNone) return true;
  return parseL4(frame, cur, end - cur, next, info, why);
}

}  // namespace

bool parsePacket(const std::uint8_t* frame, std::uint32_t len, PacketInfo& info,
                 Reason& why) noexcept {
  info = PacketInfo{};
  if (len < 14) {
    why = Reason::kEthTruncated;
    return false;
  }
  if (len > 0xffff) len = 0xffff;  // offsets are 16-bit; no Ethernet frame we carry is larger
  std::uint32_t off = 12;
  std::uint16_t type = load16(frame + off);
  while (type == kEthVlan || type == kEthQinQ || type == kEthVlan9100) {
    if (info.vlanDepth == kMaxVlanDepth) {
      why = Reason::kVlanTooDeep;
      return false;
    }
    if (len - off < 6) {  // TCI + inner ethertype
      why = Reason::kVlanTruncated;
      return false;
    }
    off += 4;
    type = load16(frame + off);
    ++info.vlanDepth;
  }
  info.ethertype = type;
  info.l3Offset = static_cast<std::uint16_t>(off + 2);
  if (type == kEthIpv4) return parseIpv4(frame, len, info, why);
  if (type == kEthIpv6) return parseIpv6(frame, len, info, why);
  return true;  // ARP and everything else: well formed, not ours
}

}  // namespace xlb
