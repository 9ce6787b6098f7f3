// SPDX-License-Identifier: Apache-2.0
// Parser fixtures: every header the parser knows, and every malformation mapped to its reason.
#include "xlb/parse.h"

#include <gtest/gtest.h>

#include <functional>
#include <memory>

#include "test_frames.h"
#include "xlb/checksum.h"

namespace xlb {
namespace {

using testing::Bytes;
using testing::PacketSpec;

struct Parsed {
  bool ok;
  Reason why;
  PacketInfo info;
};

// Copies into a heap buffer of exactly `len` bytes so ASan flags any read past the frame.
Parsed parse(const Bytes& b, std::size_t len) {
  auto buf = std::make_unique<std::uint8_t[]>(len ? len : 1);
  std::copy(b.begin(), b.begin() + static_cast<std::ptrdiff_t>(len), buf.get());
  Parsed p{};
  p.why = Reason::kPassNotIp;
  p.ok = parsePacket(buf.get(), static_cast<std::uint32_t>(len), p.info, p.why);
  return p;
}
Parsed parse(const Bytes& b) {
  return parse(b, b.size());
}

TEST(Parse, Ipv4TcpWithAllOptions) {
  PacketSpec s;
  s.tcpOptions = testing::concat({testing::optMss(1460),
                                  testing::optSackPermitted(),
                                  testing::optTimestamp(111, 222),
                                  {1},
                                  testing::optWscale(7)});
  s.payload = {1, 2, 3};
  auto p = parse(testing::buildPacket(s));
  ASSERT_TRUE(p.ok) << reasonName(p.why);
  EXPECT_EQ(p.info.family, Family::kV4);
  EXPECT_EQ(p.info.proto, kProtoTcp);
  EXPECT_EQ(p.info.sport, 40000);
  EXPECT_EQ(p.info.dport, 80);
  EXPECT_EQ(p.info.seq, 1000u);
  EXPECT_EQ(p.info.tcpFlags, kTcpSyn);
  EXPECT_EQ(p.info.tcp.mss, 1460);
  EXPECT_EQ(p.info.tcp.wscale, 7);
  EXPECT_TRUE(p.info.tcp.sackPermitted);
  EXPECT_TRUE(p.info.tcp.hasTimestamp);
  EXPECT_EQ(p.info.tcp.tsVal, 111u);
  EXPECT_EQ(p.info.tcp.tsEcr, 222u);
  EXPECT_EQ(p.info.payloadLen, 3);
  EXPECT_EQ(p.info.src, Address::parse("10.0.0.1")->ip);
}

TEST(Parse, SackBlocksAreLocated) {
  PacketSpec s;
  s.flags = kTcpAck;
  s.tcpOptions = testing::concat({{1, 1}, testing::optSack({{100, 200}, {300, 400}})});
  Bytes f = testing::buildPacket(s);
  auto p = parse(f);
  ASSERT_TRUE(p.ok);
  EXPECT_EQ(p.info.tcp.sackBlocks, 2);
  EXPECT_EQ(load32(f.data() + p.info.tcp.sackOffset), 100u);
  EXPECT_EQ(load32(f.data() + p.info.tcp.sackOffset + 12), 400u);
}

TEST(Parse, VlanAndQinQ) {
  PacketSpec s;
  s.vlanTpids = {0x8100};
  auto p = parse(testing::buildPacket(s));
  ASSERT_TRUE(p.ok);
  EXPECT_EQ(p.info.vlanDepth, 1);
  EXPECT_EQ(p.info.l3Offset, 18);
  s.vlanTpids = {0x88a8, 0x8100};
  p = parse(testing::buildPacket(s));
  ASSERT_TRUE(p.ok);
  EXPECT_EQ(p.info.vlanDepth, 2);
  EXPECT_EQ(p.info.l3Offset, 22);
  EXPECT_EQ(p.info.dport, 80);
  s.vlanTpids = {0x88a8, 0x8100, 0x8100};
  p = parse(testing::buildPacket(s));
  EXPECT_FALSE(p.ok);
  EXPECT_EQ(p.why, Reason::kVlanTooDeep);
}

TEST(Parse, Ipv6ExtensionHeaders) {
  PacketSpec s;
  s.src = "2001:db8::1";
  s.dst = "2001:db8::100";
  s.ipv6Ext = {{0, {1, 4, 0, 0, 0, 0}}, {60, {}}, {43, {0, 0}}, {44, {0, 0, 0, 0, 0, 1}}};
  auto p = parse(testing::buildPacket(s));
  ASSERT_TRUE(p.ok) << reasonName(p.why);
  EXPECT_EQ(p.info.family, Family::kV6);
  EXPECT_EQ(p.info.proto, kProtoTcp);
  EXPECT_EQ(p.info.frag, Frag::kNone);  // atomic fragment: a whole packet
  EXPECT_EQ(p.info.l4Offset, 14 + 40 + 8 + 8 + 8 + 8);
  EXPECT_EQ(p.info.dport, 80);
}

TEST(Parse, Ipv6FragmentsAreFlagged) {
  PacketSpec s;
  s.src = "2001:db8::1";
  s.dst = "2001:db8::100";
  s.ipv6Ext = {{44, {0, 1, 0, 0, 0, 7}}};  // offset 0, M=1
  auto p = parse(testing::buildPacket(s));
  ASSERT_TRUE(p.ok);
  EXPECT_EQ(p.info.frag, Frag::kFirst);
  s.ipv6Ext = {{44, {0, 0x10, 0, 0, 0, 7}}};  // offset 2 (x8), M=0
  p = parse(testing::buildPacket(s));
  ASSERT_TRUE(p.ok);
  EXPECT_EQ(p.info.frag, Frag::kLater);
}

TEST(Parse, Ipv6HopByHopMustBeFirst) {
  PacketSpec s;
  s.src = "2001:db8::1";
  s.dst = "2001:db8::100";
  s.ipv6Ext = {{60, {}}, {0, {}}};
  auto p = parse(testing::buildPacket(s));
  EXPECT_FALSE(p.ok);
  EXPECT_EQ(p.why, Reason::kIpv6ExtBad);
}

TEST(Parse, Ipv6TooManyExtensionHeaders) {
  PacketSpec s;
  s.src = "2001:db8::1";
  s.dst = "2001:db8::100";
  for (int i = 0; i < 9; ++i) s.ipv6Ext.push_back({60, {}});
  auto p = parse(testing::buildPacket(s));
  EXPECT_FALSE(p.ok);
  EXPECT_EQ(p.why, Reason::kIpv6ExtBad);
}

TEST(Parse, Ipv4FragmentsAndOptions) {
  PacketSpec s;
  s.fragField = 0x2000;  // MF, offset 0
  auto p = parse(testing::buildPacket(s));
  ASSERT_TRUE(p.ok);
  EXPECT_EQ(p.info.frag, Frag::kFirst);
  s.fragField = 0x0010;
  p = parse(testing::buildPacket(s));
  ASSERT_TRUE(p.ok);
  EXPECT_EQ(p.info.frag, Frag::kLater);
  s.fragField = 0x4000;
  s.ipv4Options = {1, 7, 7, 0, 0, 0, 0, 0, 0};  // NOP, record-route(len 7)
  p = parse(testing::buildPacket(s));
  ASSERT_TRUE(p.ok) << reasonName(p.why);
  EXPECT_TRUE(p.info.ipv4Options);
  EXPECT_EQ(p.info.l4Offset, 14 + 32);
}

TEST(Parse, UdpAndIcmp) {
  PacketSpec s;
  s.proto = kProtoUdp;
  s.dport = 53;
  s.payload = {1, 2, 3, 4, 5};
  auto p = parse(testing::buildPacket(s));
  ASSERT_TRUE(p.ok);
  EXPECT_EQ(p.info.dport, 53);
  EXPECT_EQ(p.info.payloadLen, 5);
  s.proto = kProtoIcmp;
  p = parse(testing::buildPacket(s));
  ASSERT_TRUE(p.ok);
  EXPECT_EQ(p.info.icmpType, 8);
  s.src = "2001:db8::1";
  s.dst = "2001:db8::100";
  s.proto = kProtoIcmp6;
  s.icmpType = 128;
  p = parse(testing::buildPacket(s));
  ASSERT_TRUE(p.ok);
  EXPECT_EQ(p.info.icmpType, 128);
}

TEST(Parse, NonIpIsWellFormedAndNotIp) {
  Bytes arp(42, 0);
  arp[12] = 0x08;
  arp[13] = 0x06;
  auto p = parse(arp);
  ASSERT_TRUE(p.ok);
  EXPECT_EQ(p.info.family, Family::kNone);
  EXPECT_EQ(p.info.ethertype, kEthArp);
}

TEST(Parse, EthernetPaddingAfterIpIsAccepted) {
  PacketSpec s;
  s.flags = kTcpAck;
  Bytes f = testing::buildPacket(s);
  f.resize(f.size() + 6, 0);
  auto p = parse(f);
  ASSERT_TRUE(p.ok);
  EXPECT_EQ(p.info.payloadLen, 0);
}

// Each malformation -> its named reason.
struct Malformed {
  const char* name;
  Reason expect;
  std::function<Bytes()> make;
};

Bytes v4tcp() {
  return testing::buildPacket(PacketSpec{});
}
Bytes v6tcp() {
  PacketSpec s;
  s.src = "2001:db8::1";
  s.dst = "2001:db8::100";
  return testing::buildPacket(s);
}

TEST(Parse, EveryMalformationHasItsReason) {
  const std::vector<Malformed> cases = {
      {"short ethernet", Reason::kEthTruncated, [] { return Bytes(13, 0); }},
      {"vlan tag cut", Reason::kVlanTruncated,
       [] {
         Bytes b(16, 0);
         b[12] = 0x81;
         return b;
       }},
      {"ipv4 header cut", Reason::kIpv4Truncated,
       [] {
         Bytes b = v4tcp();
         b.resize(14 + 19);
         return b;
       }},
      {"ipv4 version 5", Reason::kIpv4BadVersion,
       [] {
         Bytes b = v4tcp();
         b[14] = 0x55;
         return b;
       }},
      {"ipv4 ihl 4", Reason::kIpv4BadIhl,
       [] {
         Bytes b = v4tcp();
         b[14] = 0x44;
         return b;
       }},
      {"ipv4 ihl past frame", Reason::kIpv4Truncated,
       [] {
         Bytes b = v4tcp();
         b.resize(14 + 24);
         b[14] = 0x4f;
         return b;
       }},
      {"ipv4 total < ihl", Reason::kIpv4BadLength,
       [] {
         Bytes b = v4tcp();
         b[16] = 0;
         b[17] = 19;
         return b;
       }},
      {"ipv4 total > frame", Reason::kIpv4Truncated,
       [] {
         Bytes b = v4tcp();
         b[16] = 0x05;
         return b;
       }},
      {"ipv4 option overruns", Reason::kIpv4BadOption,
       [] {
         PacketSpec s;
         s.ipv4Options = {7, 12, 0, 0};
         return testing::buildPacket(s);
       }},
      {"ipv4 option len 1", Reason::kIpv4BadOption,
       [] {
         PacketSpec s;
         s.ipv4Options = {7, 1, 0, 0};
         return testing::buildPacket(s);
       }},
      {"ipv6 header cut", Reason::kIpv6Truncated,
       [] {
         Bytes b = v6tcp();
         b.resize(14 + 39);
         return b;
       }},
      {"ipv6 version 4", Reason::kIpv6BadVersion,
       [] {
         Bytes b = v6tcp();
         b[14] = 0x40;
         return b;
       }},
      {"ipv6 jumbo", Reason::kIpv6BadLength,
       [] {
         Bytes b = v6tcp();
         b[18] = 0;
         b[19] = 0;
         return b;
       }},
      {"ipv6 payload > frame", Reason::kIpv6Truncated,
       [] {
         Bytes b = v6tcp();
         b[18] = 0x10;
         return b;
       }},
      {"ipv6 ext cut", Reason::kIpv6ExtTruncated,
       [] {
         PacketSpec s;
         s.src = "2001:db8::1";
         s.dst = "2001:db8::2";
         s.proto = 59;
         s.ipv6Ext = {{60, {}}};
         Bytes b = testing::buildPacket(s);
         b[14 + 40 + 1] = 3;  // claims 32 bytes, only 8 present
         return b;
       }},
      {"ipv6 ext header < 8", Reason::kIpv6ExtTruncated,
       [] {
         Bytes b = v6tcp();
         b[20] = 60;
         b.resize(14 + 40 + 4);
         b[18] = 0;
         b[19] = 4;
         return b;
       }},
      {"tcp header cut", Reason::kTcpTruncated,
       [] {
         Bytes b = v4tcp();
         b.resize(14 + 20 + 19);
         b[16] = 0;
         b[17] = 39;
         return b;
       }},
      {"tcp doff 4", Reason::kTcpBadDoff,
       [] {
         Bytes b = v4tcp();
         b[14 + 20 + 12] = 0x40;
         return b;
       }},
      {"tcp doff past payload", Reason::kTcpBadDoff,
       [] {
         Bytes b = v4tcp();
         b[14 + 20 + 12] = 0xf0;
         return b;
       }},
      {"tcp option len 0", Reason::kTcpBadOption,
       [] {
         PacketSpec s;
         s.tcpOptions = {3, 0, 0, 0};
         return testing::buildPacket(s);
       }},
      {"tcp option overrun", Reason::kTcpBadOption,
       [] {
         PacketSpec s;
         s.tcpOptions = {1, 1, 2, 8};
         return testing::buildPacket(s);
       }},
      {"tcp mss len 3", Reason::kTcpBadOption,
       [] {
         PacketSpec s;
         s.tcpOptions = {2, 3, 5, 1};
         return testing::buildPacket(s);
       }},
      {"tcp sack len 11", Reason::kTcpBadOption,
       [] {
         PacketSpec s;
         s.tcpOptions = {5, 11, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
         return testing::buildPacket(s);
       }},
      {"tcp ts len 8", Reason::kTcpBadOption,
       [] {
         PacketSpec s;
         s.tcpOptions = {8, 8, 0, 0, 0, 0, 0, 0};
         return testing::buildPacket(s);
       }},
      {"tcp option kind at end", Reason::kTcpBadOption,
       [] {
         PacketSpec s;
         s.tcpOptions = {1, 1, 1, 30};
         return testing::buildPacket(s);
       }},
      {"udp header cut", Reason::kUdpTruncated,
       [] {
         PacketSpec s;
         s.proto = kProtoUdp;
         Bytes b = testing::buildPacket(s);
         b.resize(14 + 20 + 7);
         b[17] = 27;
         return b;
       }},
      {"udp length mismatch", Reason::kUdpBadLength,
       [] {
         PacketSpec s;
         s.proto = kProtoUdp;
         s.payload = {1, 2};
         Bytes b = testing::buildPacket(s);
         b[14 + 20 + 5] = 9;
         return b;
       }},
      {"icmp cut", Reason::kIcmpTruncated,
       [] {
         PacketSpec s;
         s.proto = kProtoIcmp;
         Bytes b = testing::buildPacket(s);
         b.resize(14 + 20 + 4);
         b[17] = 24;
         return b;
       }},
  };
  for (const auto& c : cases) {
    auto p = parse(c.make());
    EXPECT_FALSE(p.ok) << c.name;
    EXPECT_EQ(reasonName(p.why), reasonName(c.expect)) << c.name;
  }
}

// Every proper prefix of a valid frame is refused with a drop reason (never passed to the kernel
// as if well formed), and nothing reads past the cut (ASan runs this suite).
TEST(Parse, EveryPrefixOfValidFramesIsSafe) {
  std::vector<Bytes> frames;
  {
    PacketSpec s;
    s.vlanTpids = {0x8100};
    s.tcpOptions = testing::concat({testing::optMss(1460), testing::optTimestamp(1, 2)});
    s.payload = {9, 9, 9, 9};
    frames.push_back(testing::buildPacket(s));
  }
  {
    PacketSpec s;
    s.src = "2001:db8::1";
    s.dst = "2001:db8::100";
    s.ipv6Ext = {{0, {}}, {43, {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}}};
    s.tcpOptions = testing::optSack({{1, 2}});
    frames.push_back(testing::buildPacket(s));
  }
  {
    PacketSpec s;
    s.proto = kProtoUdp;
    s.payload = {1, 2, 3};
    frames.push_back(testing::buildPacket(s));
  }
  for (const Bytes& f : frames) {
    ASSERT_TRUE(parse(f).ok);
    for (std::size_t len = 0; len < f.size(); ++len) {
      auto p = parse(f, len);
      EXPECT_FALSE(p.ok) << "prefix of " << len << " bytes accepted";
      EXPECT_EQ(actionOf(p.why), Action::kDrop) << len << ": " << reasonName(p.why);
    }
  }
}

}  // namespace
}  // namespace xlb
