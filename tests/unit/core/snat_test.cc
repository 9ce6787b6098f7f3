// SPDX-License-Identifier: Apache-2.0
#include "xlb/snat.h"

#include <gtest/gtest.h>

#include <set>

namespace xlb {
namespace {

std::vector<Address> addrs(std::initializer_list<const char*> l) {
  std::vector<Address> v;
  for (const char* s : l) v.push_back(*Address::parse(s));
  return v;
}

TEST(SnatPool, HandsOutEveryPortOnceThenExhausts) {
  SnatPool pool(addrs({"10.0.0.2"}), 10000, 10099);
  std::set<std::uint16_t> seen;
  std::uint8_t idx;
  std::uint16_t port;
  for (int i = 0; i < 100; ++i) {
    ASSERT_TRUE(pool.allocate(Family::kV4, idx, port));
    EXPECT_EQ(idx, 0);
    EXPECT_TRUE(pool.inRange(port));
    EXPECT_TRUE(seen.insert(port).second) << "port " << port << " handed out twice";
  }
  EXPECT_EQ(pool.portsInUse(), 100u);
  EXPECT_FALSE(pool.allocate(Family::kV4, idx, port));
  EXPECT_TRUE(pool.release(0, 10042));
  ASSERT_TRUE(pool.allocate(Family::kV4, idx, port));
  EXPECT_EQ(port, 10042);
}

TEST(SnatPool, ReleaseIsFifoSoPortsAreReusedLate) {
  SnatPool pool(addrs({"10.0.0.2"}), 1000, 1003);
  std::uint8_t idx;
  std::uint16_t a, b;
  ASSERT_TRUE(pool.allocate(Family::kV4, idx, a));
  EXPECT_EQ(a, 1000);
  pool.release(idx, a);
  ASSERT_TRUE(pool.allocate(Family::kV4, idx, b));
  EXPECT_EQ(b, 1001);  // not the port just released
}

TEST(SnatPool, DoubleReleaseIsRefusedAndCounted) {
  SnatPool pool(addrs({"10.0.0.2"}), 1000, 1003);
  std::uint8_t idx;
  std::uint16_t p;
  ASSERT_TRUE(pool.allocate(Family::kV4, idx, p));
  EXPECT_TRUE(pool.release(idx, p));
  EXPECT_FALSE(pool.release(idx, p));
  EXPECT_FALSE(pool.release(idx, 999));
  EXPECT_FALSE(pool.release(7, 1000));
  EXPECT_EQ(pool.badReleases(), 3u);
  EXPECT_EQ(pool.portsInUse(), 0u);
  // The refused release did not put a duplicate in the ring: four distinct ports remain.
  std::set<std::uint16_t> seen;
  for (int i = 0; i < 4; ++i) {
    ASSERT_TRUE(pool.allocate(Family::kV4, idx, p));
    EXPECT_TRUE(seen.insert(p).second);
  }
  EXPECT_FALSE(pool.allocate(Family::kV4, idx, p));
}

TEST(SnatPool, PicksAddressOfTheRightFamilyRoundRobin) {
  SnatPool pool(addrs({"10.0.0.2", "2001:db8::2", "10.0.0.3"}), 5000, 5001);
  std::uint8_t idx;
  std::uint16_t p;
  std::multiset<std::uint8_t> used;
  for (int i = 0; i < 4; ++i) {
    ASSERT_TRUE(pool.allocate(Family::kV4, idx, p));
    EXPECT_NE(idx, 1);
    used.insert(idx);
  }
  EXPECT_EQ(used.count(0), 2u);
  EXPECT_EQ(used.count(2), 2u);
  EXPECT_FALSE(pool.allocate(Family::kV4, idx, p));
  ASSERT_TRUE(pool.allocate(Family::kV6, idx, p));
  EXPECT_EQ(idx, 1);
  EXPECT_EQ(pool.find(Family::kV6, Address::parse("2001:db8::2")->ip), 1);
  EXPECT_EQ(pool.find(Family::kV4, Address::parse("10.0.0.9")->ip), SnatPool::kNoAddress);
}

TEST(SnatPool, RemembersWhereEachRecentBackendSawAPortEnd) {
  SnatPool pool(addrs({"10.0.0.2"}), 10000, 10099);
  EXPECT_FALSE(pool.lastEnd(0, 10001, 7, 80));
  pool.noteEnd(0, 10001, 7, 80, 1000u);
  pool.noteEnd(0, 10001, 8, 80, 2000u);
  pool.noteEnd(0, 10001, 7, 8443, 3000u);  // another backend port is another tuple
  EXPECT_EQ(pool.lastEnd(0, 10001, 7, 80), 1000u);
  EXPECT_EQ(pool.lastEnd(0, 10001, 8, 80), 2000u);
  EXPECT_EQ(pool.lastEnd(0, 10001, 7, 8443), 3000u);
  EXPECT_FALSE(pool.lastEnd(0, 10002, 7, 80));  // per port
  pool.noteEnd(0, 10001, 7, 80, 1500u);         // the newer end replaces the older
  EXPECT_EQ(pool.lastEnd(0, 10001, 7, 80), 1500u);
  // An end not known to leave a TIME_WAIT (reset, expiry) forgets the record, and holds no
  // place that would push another backend's record out.
  pool.noteEnd(0, 10001, 8, 80, std::nullopt);
  EXPECT_FALSE(pool.lastEnd(0, 10001, 8, 80));
  pool.noteEnd(0, 10001, 9, 80, 4000u);
  pool.noteEnd(0, 10001, 10, 80, 5000u);
  EXPECT_EQ(pool.lastEnd(0, 10001, 7, 8443), 3000u);
  // Past kRecentBackends backends the one served longest ago is forgotten.
  pool.noteEnd(0, 10001, 11, 80, 6000u);
  EXPECT_FALSE(pool.lastEnd(0, 10001, 7, 8443));
  EXPECT_EQ(pool.lastEnd(0, 10001, 11, 80), 6000u);
  // Out of range or of addresses: nothing.
  pool.noteEnd(1, 10001, 7, 80, 1u);
  pool.noteEnd(0, 9999, 7, 80, 1u);
  EXPECT_FALSE(pool.lastEnd(1, 10001, 7, 80));
  EXPECT_FALSE(pool.lastEnd(0, 9999, 7, 80));
}

}  // namespace
}  // namespace xlb
