// SPDX-License-Identifier: Apache-2.0
#include "xlb/cluster_wire.h"

#include <gtest/gtest.h>

namespace xlb {
namespace {

FlowRecord flow(std::uint32_t client, std::uint16_t port, bool open) {
  FlowRecord r;
  r.family = Family::kV4;
  r.proto = 6;
  r.client = IpAddr::v4(client);
  r.vip = IpAddr::v4(0x0a640064);
  r.clientPort = port;
  r.vipPort = 80;
  r.open = open;
  return r;
}

TEST(ClusterWire, FlowsRoundTrip) {
  WireHeader h{WireType::kFlows, 2, kWireReady, 0x0102030405060708ull, 77};
  std::vector<FlowRecord> rs = {flow(0x0a650015, 40000, true), flow(0x0a650016, 40001, false)};
  FlowRecord v6 = flow(0, 5, true);
  v6.family = Family::kV6;
  v6.proto = 17;
  v6.client.bytes = {0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x21};
  rs.push_back(v6);
  std::vector<std::uint8_t> bytes;
  encodeWire(h, rs, bytes);
  ASSERT_EQ(bytes.size(), kWireHeaderBytes + 3 * kWireRecordBytes);
  std::string why;
  const auto m = decodeWire(bytes, 3, why);
  ASSERT_TRUE(m) << why;
  EXPECT_EQ(m->header.type, WireType::kFlows);
  EXPECT_EQ(m->header.member, 2);
  EXPECT_EQ(m->header.flags, kWireReady);
  EXPECT_EQ(m->header.incarnation, 0x0102030405060708ull);
  EXPECT_EQ(m->header.seq, 77u);
  EXPECT_EQ(m->records, rs);
}

TEST(ClusterWire, MalformedDatagramsAreRefusedWithAReason) {
  std::vector<std::uint8_t> ok;
  encodeWire(WireHeader{WireType::kFlows, 1, 0, 9, 1}, std::vector<FlowRecord>{flow(1, 2, true)},
             ok);
  std::string why;
  ASSERT_TRUE(decodeWire(ok, 2, why));
  // Short, wrong magic, wrong version, unknown type, member out of range, a torn record, a body
  // on a heartbeat, a bad family, a bad protocol, a bad open flag.
  auto bad = [&](auto mutate) {
    std::vector<std::uint8_t> b = ok;
    mutate(b);
    std::string w;
    const bool refused = !decodeWire(b, 2, w);
    EXPECT_TRUE(refused);
    EXPECT_FALSE(w.empty());
  };
  bad([](auto& b) { b.resize(10); });
  bad([](auto& b) { b[0] = 'Y'; });
  bad([](auto& b) { b[4] = 2; });
  bad([](auto& b) { b[5] = 9; });
  bad([](auto& b) { b[6] = 2; });
  bad([](auto& b) { b.pop_back(); });
  bad([](auto& b) { b[5] = static_cast<std::uint8_t>(WireType::kHeartbeat); });
  bad([](auto& b) { b[kWireHeaderBytes] = 5; });
  bad([](auto& b) { b[kWireHeaderBytes + 1] = 1; });
  bad([](auto& b) { b[kWireHeaderBytes + 2] = 2; });
}

TEST(ClusterWire, AFullDatagramFitsTheLimit) {
  std::vector<FlowRecord> rs(kWireMaxRecords, flow(1, 1, true));
  std::vector<std::uint8_t> b;
  encodeWire(WireHeader{WireType::kFlows, 0, 0, 1, 1}, rs, b);
  EXPECT_LE(b.size(), kWireMaxBytes);
}

}  // namespace
}  // namespace xlb
