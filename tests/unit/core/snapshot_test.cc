// SPDX-License-Identifier: Apache-2.0
// Snapshot destination classification: VIPs, SNAT addresses and everything else, with enough
// addresses to force probe chains, and IPv4/IPv6 addresses whose bytes overlap.
#include <gtest/gtest.h>

#include "harness.h"

namespace xlb {
namespace {

using testing::A;

TEST(Snapshot, ClassifiesEveryLocalAddressWithOneLookup) {
  Config c;
  for (std::uint32_t i = 0; i < 64; ++i)
    c.snat.addresses.push_back({Family::kV4, IpAddr::v4(0x0a010000u + i)});
  c.snat.addresses.push_back(A("2001:db8::2"));
  for (std::uint32_t i = 0; i < 40; ++i) {
    VipConfig v;
    v.address = {Family::kV4, IpAddr::v4(0xc6336400u + i)};
    v.ports = {static_cast<std::uint16_t>(1000 + i)};
    c.vips.push_back(v);
  }
  VipConfig v6;
  v6.address = A("2001:db8::100");
  c.vips.push_back(v6);
  auto s = Snapshot::fromConfig(c, MacAddr{}, testing::backendMac);

  for (std::uint32_t i = 0; i < 64; ++i) {
    Destination d = s->lookup(Family::kV4, IpAddr::v4(0x0a010000u + i));
    EXPECT_EQ(d.kind, Destination::Kind::kSnat) << i;
    EXPECT_EQ(d.index, i);
  }
  for (std::uint32_t i = 0; i < 40; ++i) {
    const VipEntry* v = s->findVip(Family::kV4, IpAddr::v4(0xc6336400u + i));
    ASSERT_NE(v, nullptr) << i;
    EXPECT_TRUE(v->servesPort(static_cast<std::uint16_t>(1000 + i)));
    EXPECT_FALSE(v->servesPort(80));
  }
  EXPECT_EQ(s->lookup(Family::kV6, A("2001:db8::2").ip).kind, Destination::Kind::kSnat);
  EXPECT_EQ(s->lookup(Family::kV6, A("2001:db8::100").ip).kind, Destination::Kind::kVip);
  for (std::uint32_t i = 0; i < 1000; ++i) {
    EXPECT_EQ(s->lookup(Family::kV4, IpAddr::v4(0x0b000000u + i)).kind, Destination::Kind::kNone);
  }
  // 10.1.0.0 as an IPv6 address (::-padded bytes equal to the IPv4 one) is not the SNAT address.
  EXPECT_EQ(s->lookup(Family::kV6, IpAddr::v4(0x0a010000u)).kind, Destination::Kind::kNone);
  EXPECT_EQ(s->findVip(Family::kV4, IpAddr::v4(0x0a010000u)), nullptr);
}

}  // namespace
}  // namespace xlb
