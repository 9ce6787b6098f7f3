// SPDX-License-Identifier: Apache-2.0
#include "xlb/cluster_wire.h"

#include <cstring>

namespace xlb {

namespace {

constexpr std::uint8_t kMagic[4] = {'X', 'L', 'B', 'C'};
constexpr std::uint8_t kVersion = 1;
constexpr std::uint8_t kProtoTcp = 6;
constexpr std::uint8_t kProtoUdp = 17;

void put16(std::uint8_t* p, std::uint16_t v) {
  p[0] = static_cast<std::uint8_t>(v >> 8);
  p[1] = static_cast<std::uint8_t>(v);
}

std::uint16_t get16(const std::uint8_t* p) {
  return static_cast<std::uint16_t>(p[0] << 8 | p[1]);
}

}  // namespace

void encodeWire(const WireHeader& h, std::span<const FlowRecord> records,
                std::vector<std::uint8_t>& out) {
  out.assign(kWireHeaderBytes + records.size() * kWireRecordBytes, 0);
  std::uint8_t* p = out.data();
  std::memcpy(p, kMagic, 4);
  p[4] = kVersion;
  p[5] = static_cast<std::uint8_t>(h.type);
  p[6] = h.member;
  p[7] = h.flags;
  for (int i = 0; i < 8; ++i) p[8 + i] = static_cast<std::uint8_t>(h.incarnation >> (56 - 8 * i));
  for (int i = 0; i < 4; ++i) p[16 + i] = static_cast<std::uint8_t>(h.seq >> (24 - 8 * i));
  p += kWireHeaderBytes;
  for (const FlowRecord& r : records) {
    p[0] = static_cast<std::uint8_t>(r.family);
    p[1] = r.proto;
    p[2] = r.open ? 1 : 0;
    put16(p + 4, r.clientPort);
    put16(p + 6, r.vipPort);
    std::memcpy(p + 8, r.client.bytes.data(), 16);
    std::memcpy(p + 24, r.vip.bytes.data(), 16);
    p += kWireRecordBytes;
  }
}

std::optional<WireMessage> decodeWire(std::span<const std::uint8_t> d, std::size_t members,
                                      std::string& why) {
  if (d.size() < kWireHeaderBytes) {
    why = "shorter than a header";
    return std::nullopt;
  }
  if (std::memcmp(d.data(), kMagic, 4) != 0 || d[4] != kVersion) {
    why = "not an xlb cluster datagram of version 1";
    return std::nullopt;
  }
  WireMessage m;
  const std::uint8_t type = d[5];
  if (type < 1 || type > 4) {
    why = "unknown type " + std::to_string(type);
    return std::nullopt;
  }
  m.header.type = static_cast<WireType>(type);
  m.header.member = d[6];
  m.header.flags = d[7];
  if (m.header.member >= members) {
    why = "member index " + std::to_string(m.header.member) + " out of range";
    return std::nullopt;
  }
  for (std::size_t i = 0; i < 8; ++i) m.header.incarnation = m.header.incarnation << 8 | d[8 + i];
  for (std::size_t i = 0; i < 4; ++i) m.header.seq = m.header.seq << 8 | d[16 + i];
  const std::size_t body = d.size() - kWireHeaderBytes;
  if (body % kWireRecordBytes != 0 || (body != 0 && m.header.type != WireType::kFlows)) {
    why = "a body of " + std::to_string(body) + " bytes";
    return std::nullopt;
  }
  m.records.reserve(body / kWireRecordBytes);
  for (std::size_t off = kWireHeaderBytes; off < d.size(); off += kWireRecordBytes) {
    const std::uint8_t* p = d.data() + off;
    FlowRecord r;
    if ((p[0] != 4 && p[0] != 6) || (p[1] != kProtoTcp && p[1] != kProtoUdp) || p[2] > 1 ||
        p[3] != 0) {
      why = "a malformed record";
      return std::nullopt;
    }
    r.family = static_cast<Family>(p[0]);
    r.proto = p[1];
    r.open = p[2] == 1;
    r.clientPort = get16(p + 4);
    r.vipPort = get16(p + 6);
    std::memcpy(r.client.bytes.data(), p + 8, 16);
    std::memcpy(r.vip.bytes.data(), p + 24, 16);
    m.records.push_back(r);
  }
  return m;
}

}  // namespace xlb
