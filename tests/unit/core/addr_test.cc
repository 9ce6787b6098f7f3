// SPDX-License-Identifier: Apache-2.0
#include "xlb/addr.h"

#include <gtest/gtest.h>

#include <set>

namespace xlb {
namespace {

TEST(Address, ParsesAndFormatsIpv4) {
  auto a = Address::parse("192.0.2.10");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->family, Family::kV4);
  EXPECT_EQ(a->toString(), "192.0.2.10");
  EXPECT_EQ(a->ip, IpAddr::v4(0xc000020a));
}

TEST(Address, ParsesAndFormatsIpv6Rfc5952) {
  for (auto [in, out] :
       std::vector<std::pair<std::string, std::string>>{{"2001:db8::1", "2001:db8::1"},
                                                        {"2001:DB8:0:0:0:0:0:1", "2001:db8::1"},
                                                        {"::", "::"},
                                                        {"::1", "::1"},
                                                        {"fe80::", "fe80::"},
                                                        {"1:0:0:2:0:0:0:3", "1:0:0:2::3"},
                                                        {"::ffff:192.0.2.1", "::ffff:c000:201"},
                                                        {"1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8"}}) {
    auto a = Address::parse(in);
    ASSERT_TRUE(a) << in;
    EXPECT_EQ(a->family, Family::kV6);
    EXPECT_EQ(a->toString(), out) << in;
  }
}

TEST(Address, RejectsMalformed) {
  for (const char* bad : {"", "300.1.1.1", "1.2.3", "1.2.3.4.5", "01.2.3.4", "1.2.3.-4", "a.b.c.d",
                          "1.2.3.4 ", ":::", "1::2::3", "1:2:3:4:5:6:7:8:9", "12345::", "g::1",
                          ":1:2", "1:", "1:2:3:4:5:6:7::8:9", "::1.2.3", "1.2.3.4:5"}) {
    EXPECT_FALSE(Address::parse(bad)) << bad;
  }
}

TEST(Prefix, ParsesNormalisesAndMatches) {
  auto p = Prefix::parse("192.0.2.77/24");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->toString(), "192.0.2.0/24");
  EXPECT_TRUE(p->contains(*Address::parse("192.0.2.200")));
  EXPECT_FALSE(p->contains(*Address::parse("192.0.3.1")));
  EXPECT_FALSE(p->contains(*Address::parse("::1")));
  auto h = Prefix::parse("10.1.2.3");
  ASSERT_TRUE(h);
  EXPECT_EQ(h->length, 32);
  auto v6 = Prefix::parse("2001:db8::/32");
  ASSERT_TRUE(v6);
  EXPECT_TRUE(v6->contains(*Address::parse("2001:db8:ffff::1")));
  EXPECT_FALSE(v6->contains(*Address::parse("2001:db9::1")));
  auto odd = Prefix::parse("2001:db8:ff00::/41");
  ASSERT_TRUE(odd);
  EXPECT_EQ(odd->toString(), "2001:db8:ff00::/41");
  EXPECT_TRUE(Prefix::parse("0.0.0.0/0"));
}

TEST(Prefix, OfAnAddressClearsTheHostBitsAndCapsTheLength) {
  EXPECT_EQ(Prefix::of(*Address::parse("203.0.113.77"), 24).toString(), "203.0.113.0/24");
  EXPECT_EQ(Prefix::of(*Address::parse("203.0.113.77"), 64).toString(), "203.0.113.77/32");
  EXPECT_EQ(Prefix::of(*Address::parse("2001:db8:1:2:3::9"), 64).toString(), "2001:db8:1:2::/64");
  EXPECT_EQ(Prefix::of(*Address::parse("2001:db8::1"), 0).toString(), "::/0");
}

// Ordered containers key by Prefix (automatic blocking's memory): every field tells two apart.
TEST(Prefix, OrdersByFamilyThenAddressThenLength) {
  const auto p = [](const char* t) { return *Prefix::parse(t); };
  std::set<Prefix> s{p("10.0.0.0/24"), p("10.0.0.0/25"), p("10.0.1.0/24"), p("::/24"),
                     p("10.0.0.0/24")};
  EXPECT_EQ(s.size(), 4u);
  EXPECT_LT(p("10.0.0.0/24"), p("10.0.0.0/25"));
  EXPECT_LT(p("10.0.0.0/25"), p("10.0.1.0/24"));
  EXPECT_LT(p("9.255.255.255/32"), p("10.0.0.0/8"));
  EXPECT_NE(p("10.0.0.0/24") <=> p("a00::/24"), std::strong_ordering::equal);  // same bytes
}

TEST(Prefix, RejectsMalformed) {
  for (const char* bad : {"10.0.0.0/33", "2001:db8::/129", "300.1.1.1/8", "", "/8", "10.0.0.0/",
                          "10.0.0.0/-1", "10.0.0.0/8x", "10.0.0.0/08"}) {
    EXPECT_FALSE(Prefix::parse(bad)) << bad;
  }
}

TEST(MacAddr, ParsesAndFormats) {
  auto m = MacAddr::parse("02:AB:cd:00:11:ff");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->toString(), "02:ab:cd:00:11:ff");
  EXPECT_FALSE(MacAddr::parse("02:ab:cd:00:11"));
  EXPECT_FALSE(MacAddr::parse("02-ab-cd-00-11-ff"));
}

}  // namespace
}  // namespace xlb
