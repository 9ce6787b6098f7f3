// SPDX-License-Identifier: Apache-2.0
// The shared SYN cookie from the engine's side: what a SYN's cookie encodes comes back from the
// ACK, and any change to the cookie, the tuple or the time window fails the check.
#include "xlb/syncookie.h"

#include <gtest/gtest.h>

#include "harness.h"
#include "xlb_cookie.h"

namespace xlb {
namespace {

using testing::Bytes;
using testing::PacketSpec;

constexpr CookieKey kKey{1, 2};
constexpr TimeNs kTick = TimeNs{1} << XLB_COOKIE_TICK_SHIFT;

struct Handshake {
  PacketSpec syn;
  std::uint32_t cookie = 0;
  CookieOptions made;

  explicit Handshake(const char* src, const char* dst, TimeNs now, Bytes opts) {
    syn.src = src;
    syn.dst = dst;
    syn.seq = 777;
    syn.tcpOptions = std::move(opts);
    const Bytes f = testing::buildPacket(syn);
    cookie = makeCookie(kKey, f.data(), testing::parseInfo(f), now, 0, made);
  }
  Bytes ack(std::uint32_t ackNo) const {
    PacketSpec a = syn;
    a.flags = 0x10;
    a.seq = syn.seq + 1;
    a.ack = ackNo;
    a.tcpOptions = {};
    return testing::buildPacket(a);
  }
  bool check(const Bytes& f, TimeNs now, CookieOptions& o) const {
    return checkCookie(kKey, f.data(), testing::parseInfo(f), now, o);
  }
};

TEST(SynCookie, RoundTripDecodesTheClientOptions) {
  const TimeNs now = 100 * kTick + 5;
  Handshake h(
      "10.0.0.1", "10.0.0.100", now,
      testing::concat({testing::optMss(1400), testing::optSackPermitted(), testing::optWscale(8)}));
  EXPECT_EQ(h.made.mss, 1220);  // largest table value not above 1400
  EXPECT_EQ(h.made.wscale, 8);
  EXPECT_TRUE(h.made.sackPermitted);
  CookieOptions o;
  ASSERT_TRUE(h.check(h.ack(h.cookie + 1), now, o));
  EXPECT_EQ(o.mss, 1220);
  EXPECT_EQ(o.wscale, 8);
  EXPECT_TRUE(o.sackPermitted);
  // Valid through the next tick, not the one after.
  EXPECT_TRUE(h.check(h.ack(h.cookie + 1), now + kTick, o));
  EXPECT_FALSE(h.check(h.ack(h.cookie + 1), now + 2 * kTick, o));
}

TEST(SynCookie, V6WithoutOptions) {
  const TimeNs now = 7 * kTick;
  Handshake h("2001:db8::1", "2001:db8::100", now, {});
  EXPECT_EQ(h.made.mss, 536);
  EXPECT_EQ(h.made.wscale, kNoWscale);
  EXPECT_FALSE(h.made.sackPermitted);
  CookieOptions o;
  EXPECT_TRUE(h.check(h.ack(h.cookie + 1), now, o));
  EXPECT_EQ(o.wscale, kNoWscale);
}

TEST(SynCookie, AnyChangeFails) {
  const TimeNs now = 3 * kTick;
  Handshake h("10.0.0.1", "10.0.0.100", now, testing::optMss(1460));
  CookieOptions o;
  for (int bit = 8; bit < 32; ++bit) {  // every hash bit
    EXPECT_FALSE(h.check(h.ack((h.cookie ^ (1u << bit)) + 1), now, o)) << bit;
  }
  for (int bit = 1; bit < 8; ++bit) {  // the meta bits are covered by the hash too
    EXPECT_FALSE(h.check(h.ack((h.cookie ^ (1u << bit)) + 1), now, o)) << bit;
  }
  Bytes other = h.ack(h.cookie + 1);
  PacketSpec s = h.syn;
  s.flags = 0x10;
  s.seq = h.syn.seq + 1;
  s.ack = h.cookie + 1;
  s.tcpOptions = {};
  s.sport = 40001;  // another client port
  other = testing::buildPacket(s);
  EXPECT_FALSE(h.check(other, now, o));
  s.sport = h.syn.sport;
  s.seq = h.syn.seq + 2;  // another client ISN
  other = testing::buildPacket(s);
  EXPECT_FALSE(h.check(other, now, o));
  CookieOptions made;
  const Bytes f = testing::buildPacket(h.syn);
  const CookieKey otherKey{1, 3};
  EXPECT_NE(makeCookie(otherKey, f.data(), testing::parseInfo(f), now, 0, made), h.cookie);
}

// The SYN proxy's own ISN: on one tuple it follows a 64 ns clock, so a later connection on a
// reused SNAT port is numbered after the earlier one (what a backend's TIME_WAIT asks); the
// tuple and the key move it by a hidden offset.
TEST(TupleIsn, GrowsWithTheClockOnATupleAndDiffersBetweenTuples) {
  const IpAddr snat = testing::A("10.0.0.2").ip;
  const IpAddr backend = testing::A("10.0.0.11").ip;
  const TimeNs t = 1000 * kNsPerSec;
  const std::uint32_t first = tupleIsn(kKey, snat, backend, 20000, 80, t);
  EXPECT_EQ(tupleIsn(kKey, snat, backend, 20000, 80, t + kNsPerSec) - first, 15'625'000u);
  // A minute later (a backend's TIME_WAIT) the new ISN is still "after" the old one even if the
  // old connection sent half a gigabyte.
  const std::uint32_t later = tupleIsn(kKey, snat, backend, 20000, 80, t + 60 * kNsPerSec);
  EXPECT_GT(static_cast<std::int32_t>(later - (first + 500'000'000u)), 0);
  EXPECT_NE(tupleIsn(kKey, snat, backend, 20001, 80, t), first);
  EXPECT_NE(tupleIsn(kKey, snat, testing::A("10.0.0.12").ip, 20000, 80, t), first);
  EXPECT_NE(tupleIsn(CookieKey{1, 3}, snat, backend, 20000, 80, t), first);
}

}  // namespace
}  // namespace xlb
