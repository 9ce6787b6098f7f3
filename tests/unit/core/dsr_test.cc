// SPDX-License-Identifier: Apache-2.0
// Direct server return in the pipeline: the client's packet to the backend's MAC (l2) or inside an
// outer IP header (ipip), no entries, the same backend for a flow in every worker and process,
// the frame-size limit, and the configurations a DSR VIP refuses.
#include <gtest/gtest.h>

#include "harness.h"
#include "xlb/checksum.h"

namespace xlb {
namespace {

using testing::A;
using testing::Bytes;
using testing::Harness;
using testing::PacketSpec;
using testing::sec;

Config dsrConfig(DsrEncap encap) {
  Config c = testing::testConfig();
  for (VipConfig& v : c.vips) {
    v.forwarding = Forwarding::kDsr;
    v.encapsulation = encap;
    v.backends = {{A(v.address.family == Family::kV4 ? "10.0.0.11" : "2001:db8::11"), 1},
                  {A(v.address.family == Family::kV4 ? "10.0.0.12" : "2001:db8::12"), 1},
                  {A(v.address.family == Family::kV4 ? "10.0.0.13" : "2001:db8::13"), 1}};
  }
  return c;
}

TEST(Dsr, L2SendsTheClientsPacketToTheBackendsMacAndKeepsNoState) {
  Harness h(dsrConfig(DsrEncap::kL2));
  Harness other(dsrConfig(DsrEncap::kL2), 999);  // another worker or process: another table seed
  std::map<std::string, int> spread;
  for (std::uint16_t port = 40000; port < 40300; ++port) {
    PacketSpec s;
    s.sport = port;
    s.flags = kTcpSyn;
    s.srcMac = testing::kClientMac;
    s.dstMac = testing::kLbMac;
    Bytes f = testing::buildPacket(s), g = f;
    ASSERT_EQ(h.run(f, sec(1)), Reason::kTxToBackend);
    ASSERT_EQ(other.run(g, sec(1)), Reason::kTxToBackend);
    EXPECT_EQ(f, g) << "the same flow must reach the same backend everywhere";
    // Only the MACs changed.
    Bytes in = testing::buildPacket(s);
    EXPECT_TRUE(std::equal(f.begin() + 12, f.end(), in.begin() + 12));
    EXPECT_EQ(MacAddr::parse(testing::kLbMac)->bytes,
              (std::array<std::uint8_t, 6>{f[6], f[7], f[8], f[9], f[10], f[11]}));
    std::string dst;
    for (int i = 0; i < 6; ++i) dst += std::to_string(f[static_cast<std::size_t>(i)]) + ":";
    ++spread[dst];
  }
  EXPECT_EQ(spread.size(), 3u);
  for (const auto& [mac, n] : spread) EXPECT_GT(n, 60) << mac;
  EXPECT_EQ(h.table->active(), 0u);
  EXPECT_EQ(h.table->created(), 0u);
  // A packet of an established flow goes through without any entry.
  PacketSpec ack;
  ack.flags = kTcpAck;
  Bytes a = testing::buildPacket(ack);
  EXPECT_EQ(h.run(a, sec(2)), Reason::kTxToBackend);
}

TEST(Dsr, IpipWrapsThePacketInAnOuterHeaderFromTheSnatAddress) {
  Harness h(dsrConfig(DsrEncap::kIpip));
  PacketSpec s;
  s.flags = kTcpSyn;
  s.payload.assign(64, 'p');
  const Bytes in = testing::buildPacket(s);
  Bytes f = in;
  ASSERT_EQ(h.run(f, sec(1)), Reason::kTxToBackend);
  ASSERT_EQ(f.size(), in.size() + 20);
  const std::uint8_t* ip = f.data() + 14;
  EXPECT_EQ(ip[0], 0x45);
  EXPECT_EQ(ip[9], 4);  // IPIP
  EXPECT_EQ(load16(ip + 2), in.size() - 14 + 20);
  std::array<std::uint8_t, 20> hdr{};
  std::copy(ip, ip + 20, hdr.begin());
  hdr[10] = hdr[11] = 0;
  EXPECT_EQ(ipv4HeaderChecksum(hdr.data(), 20), load16(ip + 10));
  EXPECT_EQ((Address{Family::kV4, IpAddr::v4(load32(ip + 12))}.toString()), "10.0.0.2");
  const std::string backend = Address{Family::kV4, IpAddr::v4(load32(ip + 16))}.toString();
  EXPECT_EQ(backend.rfind("10.0.0.1", 0), 0u) << backend;
  EXPECT_TRUE(std::equal(f.begin() + 34, f.end(), in.begin() + 14));  // the inner packet as sent
}

TEST(Dsr, AFrameWithoutRoomForTheOuterHeaderIsACountedDrop) {
  Harness h(dsrConfig(DsrEncap::kIpip));
  PacketSpec s;
  s.flags = kTcpAck;
  s.payload.assign(Harness::kFrameCapacity - 14 - 40 - 10, 'p');  // 10 bytes of room left
  Bytes f = testing::buildPacket(s);
  EXPECT_EQ(h.run(f, sec(1)), Reason::kDsrTooBig);
  EXPECT_EQ(h.pipe->counters().of(Reason::kDsrTooBig), 1u);
}

TEST(Dsr, ADsrVipRefusesWhatNeedsTheRepliesOrPortTranslation) {
  Config c = dsrConfig(DsrEncap::kL2);
  EXPECT_EQ(checkConfig(c), "");
  c.vips[0].synFlood.mode = SynFloodMode::kAuto;
  EXPECT_NE(checkConfig(c).find("syn_flood"), std::string::npos);
  c.vips[0].synFlood.mode = SynFloodMode::kOff;
  c.vips[0].backendPorts = {{80, 8080}};
  EXPECT_NE(checkConfig(c).find("backend_ports"), std::string::npos);
  c.vips[0].backendPorts.clear();
  c.vips[0].protocol = kVipUdp;
  c.vips[0].quic = true;
  EXPECT_NE(checkConfig(c).find("quic"), std::string::npos);
}

}  // namespace
}  // namespace xlb

namespace xlb {
namespace {

// 12,000 flows from 300 clients over weights 1:2:1: each backend's share within 5 % of its weight.
TEST(Dsr, TheSpreadFollowsTheWeights) {
  Config c = dsrConfig(DsrEncap::kL2);
  c.vips[0].backends[1].weight = 2;
  Harness h(c);
  std::map<std::string, int> spread;
  for (int host = 0; host < 300; ++host) {
    for (int i = 0; i < 40; ++i) {
      PacketSpec s;
      s.src = "10.1." + std::to_string(host / 250) + "." + std::to_string(host % 250 + 1);
      s.sport = static_cast<std::uint16_t>(32768 + i);
      s.flags = kTcpSyn;
      Bytes f = testing::buildPacket(s);
      ASSERT_EQ(h.run(f, sec(1)), Reason::kTxToBackend);
      ++spread[testing::hexDump(Bytes(f.begin(), f.begin() + 6))];
    }
  }
  ASSERT_EQ(spread.size(), 3u);
  std::vector<int> n;
  for (const auto& [mac, k] : spread) n.push_back(k);
  std::sort(n.begin(), n.end());
  EXPECT_NEAR(n[0], 3000, 150);
  EXPECT_NEAR(n[1], 3000, 150);
  EXPECT_NEAR(n[2], 6000, 300);
}

}  // namespace
}  // namespace xlb
