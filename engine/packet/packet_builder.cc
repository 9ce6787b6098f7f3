// SPDX-License-Identifier: Apache-2.0
#include "xlb/packet_builder.h"

#include <cstdio>
#include <stdexcept>

#include "xlb/checksum.h"

namespace xlb::frames {
namespace {

void put16(Bytes& b, std::uint16_t v) {
  b.push_back(static_cast<std::uint8_t>(v >> 8));
  b.push_back(static_cast<std::uint8_t>(v));
}
void put32(Bytes& b, std::uint32_t v) {
  put16(b, static_cast<std::uint16_t>(v >> 16));
  put16(b, static_cast<std::uint16_t>(v));
}

Address addr(const std::string& s) {
  auto a = Address::parse(s);
  if (!a) throw std::invalid_argument("bad test address " + s);
  return *a;
}

}  // namespace

Bytes optMss(std::uint16_t mss) {
  return {2, 4, static_cast<std::uint8_t>(mss >> 8), static_cast<std::uint8_t>(mss)};
}
Bytes optWscale(std::uint8_t shift) {
  return {3, 3, shift};
}
Bytes optSackPermitted() {
  return {4, 2};
}
Bytes optTimestamp(std::uint32_t val, std::uint32_t ecr) {
  Bytes b{8, 10};
  put32(b, val);
  put32(b, ecr);
  return b;
}
Bytes optSack(const std::vector<std::pair<std::uint32_t, std::uint32_t>>& blocks) {
  Bytes b{5, static_cast<std::uint8_t>(2 + 8 * blocks.size())};
  for (auto [l, r] : blocks) {
    put32(b, l);
    put32(b, r);
  }
  return b;
}
Bytes concat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

namespace {

// The L4 header and payload, checksummed over the pseudo-header of src and dst.
Bytes buildL4(const PacketSpec& s, const Address& src, const Address& dst) {
  Bytes l4;
  std::size_t csumOff = 0;
  if (s.proto == 6) {
    Bytes opts = s.tcpOptions;
    while (opts.size() % 4) opts.push_back(1);
    put16(l4, s.sport);
    put16(l4, s.dport);
    put32(l4, s.seq);
    put32(l4, s.ack);
    l4.push_back(static_cast<std::uint8_t>((20 + opts.size()) / 4 << 4));
    l4.push_back(s.flags);
    put16(l4, s.window);
    put16(l4, 0);
    put16(l4, 0);
    l4.insert(l4.end(), opts.begin(), opts.end());
    csumOff = 16;
  } else if (s.proto == 17) {
    put16(l4, s.sport);
    put16(l4, s.dport);
    put16(l4, static_cast<std::uint16_t>(8 + s.payload.size()));
    put16(l4, 0);
    csumOff = 6;
  } else if (s.proto == 1 || s.proto == 58) {
    l4 = {s.icmpType, 0, 0, 0, 0x12, 0x34, 0x00, 0x01};
    csumOff = 2;
  }
  l4.insert(l4.end(), s.payload.begin(), s.payload.end());
  if (!l4.empty() && !(s.proto == 17 && s.udpZeroChecksum)) {
    std::uint16_t c =
        l4Checksum(src.family, s.proto, src.ip, dst.ip, l4.data(), l4.size(), csumOff);
    store16(l4.data() + csumOff, c);
  }
  return l4;
}

Bytes buildIpv4(const PacketSpec& s, const Address& src, const Address& dst, std::size_t l4Len) {
  Bytes l3;
  Bytes opts = s.ipv4Options;
  while (opts.size() % 4) opts.push_back(0);
  const std::size_t ihl = 20 + opts.size();
  l3.push_back(static_cast<std::uint8_t>(0x40 | ihl / 4));
  l3.push_back(0);
  put16(l3, static_cast<std::uint16_t>(ihl + l4Len));
  put16(l3, s.ipId);
  put16(l3, s.fragField);
  l3.push_back(s.ttl);
  l3.push_back(s.proto);
  put16(l3, 0);
  l3.insert(l3.end(), src.ip.bytes.begin(), src.ip.bytes.begin() + 4);
  l3.insert(l3.end(), dst.ip.bytes.begin(), dst.ip.bytes.begin() + 4);
  l3.insert(l3.end(), opts.begin(), opts.end());
  store16(l3.data() + 10, ipv4HeaderChecksum(l3.data(), ihl));
  return l3;
}

// The IPv6 header and its extension headers, innermost built first.
Bytes buildIpv6(const PacketSpec& s, const Address& src, const Address& dst, std::size_t l4Len) {
  Bytes ext;
  std::uint8_t first = s.proto;
  for (std::size_t i = s.ipv6Ext.size(); i-- > 0;) {
    const Ipv6Ext& e = s.ipv6Ext[i];
    Bytes h{first, 0};
    h.insert(h.end(), e.body.begin(), e.body.end());
    while (h.size() % 8 || h.size() < 8) h.push_back(0);
    if (e.type != 44) h[1] = static_cast<std::uint8_t>(h.size() / 8 - 1);
    h.insert(h.end(), ext.begin(), ext.end());
    ext = h;
    first = e.type;
  }
  Bytes l3 = {0x60, 0, 0, 0};
  put16(l3, static_cast<std::uint16_t>(ext.size() + l4Len));
  l3.push_back(first);
  l3.push_back(s.ttl);
  l3.insert(l3.end(), src.ip.bytes.begin(), src.ip.bytes.end());
  l3.insert(l3.end(), dst.ip.bytes.begin(), dst.ip.bytes.end());
  l3.insert(l3.end(), ext.begin(), ext.end());
  return l3;
}

}  // namespace

MacAddr hostMac(const Address& a) {
  MacAddr m{{0x02, 0xbb, 0, 0, 0, 0}};
  const std::size_t n = a.family == Family::kV4 ? 4 : 16;
  for (std::size_t i = 0; i < 4; ++i) m.bytes[2 + i] = a.ip.bytes[n - 4 + i];
  return m;
}

MacAddr lbMac() {
  return MacAddr{{0x02, 0x00, 0x00, 0x00, 0x00, 0xaa}};
}

Bytes buildPacket(const PacketSpec& s) {
  const Address src = addr(s.src), dst = addr(s.dst);
  if (src.family != dst.family) throw std::invalid_argument("mixed families");
  const bool v4 = src.family == Family::kV4;
  const Bytes l4 = buildL4(s, src, dst);
  const Bytes l3 = v4 ? buildIpv4(s, src, dst, l4.size()) : buildIpv6(s, src, dst, l4.size());
  Bytes f;
  auto dmac = MacAddr::parse(s.dstMac), smac = MacAddr::parse(s.srcMac);
  if (!dmac || !smac) throw std::invalid_argument("bad test MAC");
  f.insert(f.end(), dmac->bytes.begin(), dmac->bytes.end());
  f.insert(f.end(), smac->bytes.begin(), smac->bytes.end());
  for (std::size_t i = 0; i < s.vlanTpids.size(); ++i) {
    put16(f, s.vlanTpids[i]);
    put16(f, static_cast<std::uint16_t>(100 + i));
  }
  put16(f, v4 ? 0x0800 : 0x86dd);
  f.insert(f.end(), l3.begin(), l3.end());
  f.insert(f.end(), l4.begin(), l4.end());
  return f;
}

PacketInfo parseInfo(const std::uint8_t* frame, std::size_t len) {
  PacketInfo info;
  Reason why = Reason::kPassNotIp;
  if (!parsePacket(frame, static_cast<std::uint32_t>(len), info, why)) {
    throw std::invalid_argument("test frame does not parse: " + std::string(reasonName(why)));
  }
  return info;
}

std::string hexDump(const Bytes& b) {
  std::string out;
  char buf[4];
  for (std::size_t i = 0; i < b.size(); ++i) {
    std::snprintf(buf, sizeof buf, "%02x", b[i]);
    out += buf;
    out += (i % 16 == 15) ? '\n' : ' ';
  }
  return out;
}

}  // namespace xlb::frames
