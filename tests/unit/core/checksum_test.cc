// SPDX-License-Identifier: Apache-2.0
// Incremental checksum updates (RFC 1624) against full recomputation on random packets.
#include "xlb/checksum.h"

#include <gtest/gtest.h>

#include <random>

#include "test_frames.h"
#include "xlb/parse.h"
#include "xlb/rewrite.h"

namespace xlb {
namespace {

using testing::Bytes;

std::string randomAddr(std::mt19937_64& rng, bool v4) {
  if (v4) {
    auto x = static_cast<std::uint32_t>(rng());
    return IpAddr::v4(x) == IpAddr{} ? "1.2.3.4" : Address{Family::kV4, IpAddr::v4(x)}.toString();
  }
  Address a{Family::kV6, {}};
  for (auto& b : a.ip.bytes) b = static_cast<std::uint8_t>(rng());
  return a.toString();
}

TEST(Checksum, FullComputationValidatesBuiltPackets) {
  testing::PacketSpec s;
  s.payload = {1, 2, 3};
  Bytes f = testing::buildPacket(s);
  const PacketInfo info = testing::parseInfo(f);
  EXPECT_EQ(ipv4HeaderChecksum(f.data() + 14, 20), load16(f.data() + 24));
  EXPECT_TRUE(l4ChecksumValid(Family::kV4, kProtoTcp, info.src, info.dst, f.data() + info.l4Offset,
                              info.l4Len));
  f[f.size() - 1] ^= 1;
  EXPECT_FALSE(l4ChecksumValid(Family::kV4, kProtoTcp, info.src, info.dst, f.data() + info.l4Offset,
                               info.l4Len));
}

// 100,000 random TCP/UDP packets over IPv4 and IPv6: after an incremental NAT rewrite the frame
// must equal, byte for byte, the same packet built with the new addresses and full checksums.
TEST(Checksum, IncrementalRewriteMatchesFullRecomputation) {
  std::mt19937_64 rng(20261124);
  constexpr int kPackets = 100'000;
  int udpZero = 0;
  for (int i = 0; i < kPackets; ++i) {
    const bool v4 = rng() & 1;
    testing::PacketSpec s;
    s.proto = (rng() & 1) ? kProtoTcp : kProtoUdp;
    s.src = randomAddr(rng, v4);
    s.dst = randomAddr(rng, v4);
    s.sport = static_cast<std::uint16_t>(rng());
    s.dport = static_cast<std::uint16_t>(rng());
    s.seq = static_cast<std::uint32_t>(rng());
    s.ack = static_cast<std::uint32_t>(rng());
    s.flags = static_cast<std::uint8_t>(rng() & 0x1f) | kTcpAck;
    s.ipId = static_cast<std::uint16_t>(rng());
    s.ttl = static_cast<std::uint8_t>(rng());
    s.payload.resize(rng() % 64);
    for (auto& b : s.payload) b = static_cast<std::uint8_t>(rng());
    if (s.proto == kProtoUdp && v4 && rng() % 8 == 0) {
      s.udpZeroChecksum = true;
      ++udpZero;
    }
    Bytes f = testing::buildPacket(s);
    const PacketInfo info = testing::parseInfo(f);

    testing::PacketSpec t = s;
    t.src = randomAddr(rng, v4);
    t.dst = randomAddr(rng, v4);
    t.sport = static_cast<std::uint16_t>(rng());
    t.dport = static_cast<std::uint16_t>(rng());
    natRewrite(f.data(), info, Address::parse(t.src)->ip, Address::parse(t.dst)->ip, t.sport,
               t.dport);
    Bytes want = testing::buildPacket(t);
    ASSERT_EQ(f, want) << "packet " << i << "\ngot:\n"
                       << testing::hexDump(f) << "\nwant:\n"
                       << testing::hexDump(want);
  }
  EXPECT_GT(udpZero, 0);
}

TEST(Checksum, UdpOverIpv4WithoutChecksumStaysWithout) {
  testing::PacketSpec s;
  s.proto = kProtoUdp;
  s.udpZeroChecksum = true;
  Bytes f = testing::buildPacket(s);
  const PacketInfo info = testing::parseInfo(f);
  natRewrite(f.data(), info, IpAddr::v4(0x01020304), IpAddr::v4(0x05060708), 1, 2);
  EXPECT_EQ(load16(f.data() + info.l4Offset + 6), 0);
}

}  // namespace
}  // namespace xlb
