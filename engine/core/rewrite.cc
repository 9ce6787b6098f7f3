// SPDX-License-Identifier: Apache-2.0
#include "xlb/rewrite.h"

#include "xlb/checksum.h"

namespace xlb {

void natRewrite(std::uint8_t* frame, const PacketInfo& info, const IpAddr& src, const IpAddr& dst,
                std::uint16_t sport, std::uint16_t dport) noexcept {
  std::uint8_t* ip = frame + info.l3Offset;
  std::uint8_t* l4 = frame + info.l4Offset;
  const bool v4 = info.family == Family::kV4;
  const std::size_t alen = v4 ? 4 : 16;
  std::uint8_t* srcField = ip + (v4 ? 12 : 8);
  std::uint8_t* dstField = ip + (v4 ? 16 : 24);

  // The address change is shared by the IPv4 header and the L4 pseudo-header.
  std::uint64_t addrDelta = csumDeltaWords32(srcField, src.bytes.data(), alen, 0);
  addrDelta = csumDeltaWords32(dstField, dst.bytes.data(), alen, addrDelta);
  if (v4) store16(ip + 10, csumApply(load16(ip + 10), addrDelta));

  std::uint64_t l4Delta = csumDelta16(load16(l4), sport, addrDelta);
  l4Delta = csumDelta16(load16(l4 + 2), dport, l4Delta);
  if (info.proto == kProtoTcp) {
    store16(l4 + 16, csumApply(load16(l4 + 16), l4Delta));
  } else if (info.proto == kProtoUdp) {
    std::uint16_t c = load16(l4 + 6);
    if (!(v4 && c == 0)) {
      c = csumApply(c, l4Delta);
      store16(l4 + 6, c == 0 ? 0xffff : c);
    }
  }
  std::memcpy(srcField, src.bytes.data(), alen);
  std::memcpy(dstField, dst.bytes.data(), alen);
  store16(l4, sport);
  store16(l4 + 2, dport);
}

std::uint64_t store32Summed(const std::uint8_t* l4, std::uint8_t* field, std::uint32_t value,
                            std::uint64_t d) noexcept {
  if (((field - l4) & 1) == 0) {
    d = csumDelta32(load32(field), value, d);
    store32(field, value);
    return d;
  }
  std::uint8_t before[6], after[6];
  std::memcpy(before, field - 1, 6);
  store32(field, value);
  std::memcpy(after, field - 1, 6);
  for (unsigned i = 0; i < 6; i += 2) d = csumDelta16(load16(before + i), load16(after + i), d);
  return d;
}

void shiftTimestamp(std::uint8_t* frame, const PacketInfo& info, std::uint32_t delta,
                    bool tsval) noexcept {
  std::uint8_t* field = frame + info.tcp.tsOffset + (tsval ? 0u : 4u);
  const std::uint32_t v = load32(field);
  std::uint8_t* l4 = frame + info.l4Offset;
  const std::uint64_t d = store32Summed(l4, field, tsval ? v + delta : v - delta, 0);
  store16(l4 + 16, csumApply(load16(l4 + 16), d));
}

std::uint32_t writeIpHeader(std::uint8_t* ip, Family family, std::uint32_t payloadLen,
                            std::uint8_t proto, const IpAddr& src, const IpAddr& dst) noexcept {
  if (family == Family::kV4) {
    ip[0] = 0x45;
    ip[1] = 0;
    store16(ip + 2, static_cast<std::uint16_t>(20 + payloadLen));
    store16(ip + 4, 0);
    store16(ip + 6, 0x4000);
    ip[8] = 64;
    ip[9] = proto;
    store16(ip + 10, 0);
    std::memcpy(ip + 12, src.bytes.data(), 4);
    std::memcpy(ip + 16, dst.bytes.data(), 4);
    store16(ip + 10, ipv4HeaderChecksum(ip, 20));
    return 20;
  }
  store32(ip, 0x60000000u);
  store16(ip + 4, static_cast<std::uint16_t>(payloadLen));
  ip[6] = proto;
  ip[7] = 64;
  std::memcpy(ip + 8, src.bytes.data(), 16);
  std::memcpy(ip + 24, dst.bytes.data(), 16);
  return 40;
}

std::uint32_t writeTcpSegment(std::uint8_t* frame, std::uint32_t capacity, std::uint16_t l3Offset,
                              const TcpSegment& seg) noexcept {
  const bool v4 = seg.family == Family::kV4;
  const std::uint32_t ipLen = v4 ? 20 : 40;
  const std::uint32_t tcpLen = 20u + seg.optionsLen;
  const std::uint32_t total = l3Offset + ipLen + tcpLen;
  if (total > capacity || seg.optionsLen % 4 != 0 || seg.optionsLen > 40) return 0;
  std::uint8_t* ip = frame + l3Offset;
  writeIpHeader(ip, seg.family, tcpLen, kProtoTcp, seg.src, seg.dst);
  std::uint8_t* t = ip + ipLen;
  store16(t, seg.sport);
  store16(t + 2, seg.dport);
  store32(t + 4, seg.seq);
  store32(t + 8, seg.ack);
  t[12] = static_cast<std::uint8_t>((tcpLen / 4) << 4);
  t[13] = seg.flags;
  store16(t + 14, seg.window);
  store16(t + 16, 0);
  store16(t + 18, 0);
  if (seg.optionsLen != 0) std::memcpy(t + 20, seg.options, seg.optionsLen);
  store16(t + 16, l4Checksum(seg.family, kProtoTcp, seg.src, seg.dst, t, tcpLen, 16));
  return total;
}

void writeSynOptions(std::uint8_t* o, std::uint16_t mss, bool sack, std::uint8_t wscale) noexcept {
  o[0] = 2;
  o[1] = 4;
  store16(o + 2, mss);
  o[4] = 1;
  o[5] = 1;
  o[6] = sack ? 4 : 1;
  o[7] = sack ? 2 : 1;
  o[8] = 1;
  const bool ws = wscale != kNoWscale;
  o[9] = ws ? 3 : 1;
  o[10] = ws ? 3 : 1;
  o[11] = ws ? wscale : 1;
}

}  // namespace xlb
