// SPDX-License-Identifier: Apache-2.0
#include "fixtures.h"

namespace xlb::testing {
namespace {

PacketSpec tcp(const char* src, const char* dst, std::uint16_t dport, std::uint8_t flags) {
  PacketSpec s;
  s.src = src;
  s.dst = dst;
  s.dport = dport;
  s.flags = flags;
  return s;
}

}  // namespace

std::vector<Fixture> filterFixtures() {
  std::vector<Fixture> f;
  const auto add = [&](std::string name, const PacketSpec& s, Reason xdp, Reason engine) {
    f.push_back({std::move(name), buildPacket(s), xdp, engine});
  };
  constexpr std::uint8_t kSyn = 0x02, kAck = 0x10, kFin = 0x01, kRst = 0x04;

  Bytes arp(42, 0);
  arp[12] = 0x08;
  arp[13] = 0x06;
  f.push_back({"arp passes", arp, Reason::kPassNotIp, Reason::kPassNotIp});

  add("host traffic passes", tcp("10.0.0.1", "10.0.0.50", 22, kSyn), Reason::kPassNotOurs,
      Reason::kPassNotOurs);
  add("host traffic v6 passes", tcp("2001:db8::1", "2001:db8::50", 22, kSyn), Reason::kPassNotOurs,
      Reason::kPassNotOurs);
  add("VIP port 22 dropped", tcp("10.0.0.1", "10.0.0.100", 22, kSyn), Reason::kPortFilter,
      Reason::kPortFilter);
  add("VIP port 8080 dropped", tcp("10.0.0.1", "10.0.0.100", 8080, kSyn), Reason::kPortFilter,
      Reason::kPortFilter);
  add("VIP v6 port 22 dropped", tcp("2001:db8::1", "2001:db8::100", 22, kSyn), Reason::kPortFilter,
      Reason::kPortFilter);
  PacketSpec icmp = tcp("10.0.0.1", "10.0.0.100", 0, 0);
  icmp.proto = 1;
  add("VIP ICMP dropped", icmp, Reason::kProtoFilter, Reason::kProtoFilter);
  PacketSpec icmp6 = tcp("2001:db8::1", "2001:db8::100", 0, 0);
  icmp6.proto = 58;
  icmp6.icmpType = 128;  // echo request
  add("VIP v6 ICMPv6 echo dropped", icmp6, Reason::kProtoFilter, Reason::kProtoFilter);
  icmp6.icmpType = 135;  // a unicast neighbour solicitation (NUD) for the VIP
  icmp6.payload = Bytes(16, 0);
  add("VIP v6 neighbour solicitation passes", icmp6, Reason::kPassNd, Reason::kPassNd);
  icmp6.icmpType = 136;
  add("VIP v6 neighbour advertisement passes", icmp6, Reason::kPassNd, Reason::kPassNd);
  PacketSpec frag = tcp("10.0.0.1", "10.0.0.100", 80, kSyn);
  frag.fragField = 0x2000;  // more fragments follow
  add("VIP first fragment dropped", frag, Reason::kFragment, Reason::kFragment);
  PacketSpec later = tcp("10.0.0.1", "10.0.0.100", 80, kAck);
  later.fragField = 0x0010;
  add("VIP later fragment dropped", later, Reason::kFragment, Reason::kFragment);
  PacketSpec frag6 = tcp("2001:db8::1", "2001:db8::100", 80, kAck);
  frag6.ipv6Ext = {{44, {0x00, 0x09, 0, 0, 0, 1}}};  // offset 1 (8 bytes), M=1
  add("VIP v6 fragment dropped", frag6, Reason::kFragment, Reason::kFragment);
  add("VIP SYN+FIN dropped", tcp("10.0.0.1", "10.0.0.100", 80, kSyn | kFin), Reason::kTcpBadFlags,
      Reason::kTcpBadFlags);
  add("VIP SYN+RST dropped", tcp("10.0.0.1", "10.0.0.100", 80, kSyn | kRst), Reason::kTcpBadFlags,
      Reason::kTcpBadFlags);
  add("VIP null flags dropped", tcp("10.0.0.1", "10.0.0.100", 80, 0), Reason::kTcpBadFlags,
      Reason::kTcpBadFlags);
  add("VIP SYN goes to the engine", tcp("10.0.0.1", "10.0.0.100", 80, kSyn), Reason::kRedirect,
      Reason::kTxToBackend);
  add("VIP stray ACK goes to the engine", tcp("10.0.0.1", "10.0.0.100", 443, kAck),
      Reason::kRedirect, Reason::kNoConntrack);
  add("VIP v6 SYN goes to the engine", tcp("2001:db8::1", "2001:db8::100", 443, kSyn),
      Reason::kRedirect, Reason::kTxToBackend);
  PacketSpec vlan = tcp("10.0.0.1", "10.0.0.100", 22, kSyn);
  vlan.vlanTpids = {0x8100};
  add("VLAN VIP port 22 dropped", vlan, Reason::kPortFilter, Reason::kPortFilter);
  PacketSpec qinq = tcp("10.0.0.1", "10.0.0.100", 80, kSyn);
  qinq.vlanTpids = {0x88a8, 0x8100};
  add("QinQ VIP SYN goes to the engine", qinq, Reason::kRedirect, Reason::kTxToBackend);
  PacketSpec deep = qinq;
  deep.vlanTpids = {0x88a8, 0x8100, 0x8100};
  add("three VLAN tags dropped", deep, Reason::kVlanTooDeep, Reason::kVlanTooDeep);
  PacketSpec reply = tcp("10.0.0.11", "10.0.0.2", 10005, kSyn | kAck);
  reply.sport = 80;
  add("reply to a SNAT port goes to the engine", reply, Reason::kRedirect, Reason::kNoConntrack);
  add("SNAT address, port outside the range passes", tcp("10.0.0.11", "10.0.0.2", 22, kAck),
      Reason::kPassNotOurs, Reason::kPassNotOurs);
  PacketSpec snatUdp = tcp("10.0.0.11", "10.0.0.2", 10005, 0);
  snatUdp.proto = 17;
  snatUdp.sport = 53;
  add("UDP reply to a SNAT port goes to the engine", snatUdp, Reason::kRedirect,
      Reason::kNoConntrack);
  snatUdp.dport = 5353;
  add("UDP to the SNAT address outside the range passes", snatUdp, Reason::kPassNotOurs,
      Reason::kPassNotOurs);
  // The UDP VIP on the IPv4 VIP's address (ports 53 and 443).
  PacketSpec dns = tcp("10.0.0.1", "10.0.0.100", 53, 0);
  dns.proto = 17;
  dns.payload.assign(30, 0x11);
  add("UDP VIP datagram goes to the engine", dns, Reason::kRedirect, Reason::kTxToBackend);
  dns.dport = 80;
  add("UDP to a port only TCP serves dropped", dns, Reason::kPortFilter, Reason::kPortFilter);
  add("TCP to a port only UDP serves dropped", tcp("10.0.0.1", "10.0.0.100", 53, kSyn),
      Reason::kPortFilter, Reason::kPortFilter);
  PacketSpec dns6 = tcp("2001:db8::1", "2001:db8::100", 53, 0);
  dns6.proto = 17;
  add("UDP to a TCP-only VIP dropped", dns6, Reason::kProtoFilter, Reason::kProtoFilter);

  // Malformed headers (raw edits of valid frames).
  Bytes badVer = buildPacket(tcp("10.0.0.1", "10.0.0.100", 80, kSyn));
  badVer[14] = 0x55;
  f.push_back({"IPv4 version 5 dropped", badVer, Reason::kIpv4BadVersion, Reason::kIpv4BadVersion});
  Bytes badIhl = buildPacket(tcp("10.0.0.1", "10.0.0.100", 80, kSyn));
  badIhl[14] = 0x44;
  f.push_back({"IPv4 IHL 4 dropped", badIhl, Reason::kIpv4BadIhl, Reason::kIpv4BadIhl});
  Bytes badLen = buildPacket(tcp("10.0.0.1", "10.0.0.100", 80, kSyn));
  badLen[16] = 0;
  badLen[17] = 10;
  f.push_back({"IPv4 total length below the header dropped", badLen, Reason::kIpv4BadLength,
               Reason::kIpv4BadLength});
  // A header longer than the frame is truncated, whatever the total length says (the program
  // checks the header's end only when the total is below it).
  Bytes ihlPast = buildPacket(tcp("10.0.0.1", "10.0.0.100", 80, kSyn));
  ihlPast.resize(14 + 40);
  ihlPast[14] = 0x4f;
  ihlPast[16] = 0;
  ihlPast[17] = 40;
  f.push_back({"IPv4 header past the frame, total below it, dropped as truncated", ihlPast,
               Reason::kIpv4Truncated, Reason::kIpv4Truncated});
  ihlPast[17] = 60;
  f.push_back({"IPv4 header past the frame, total past it, dropped as truncated", ihlPast,
               Reason::kIpv4Truncated, Reason::kIpv4Truncated});
  Bytes badDoff = buildPacket(tcp("10.0.0.1", "10.0.0.100", 80, kSyn));
  badDoff[14 + 20 + 12] = 0x40;
  f.push_back({"TCP data offset 4 dropped", badDoff, Reason::kTcpBadDoff, Reason::kTcpBadDoff});
  Bytes v6len = buildPacket(tcp("2001:db8::1", "2001:db8::100", 80, kSyn));
  v6len[18] = 0;
  v6len[19] = 0;
  f.push_back(
      {"IPv6 payload length 0 dropped", v6len, Reason::kIpv6BadLength, Reason::kIpv6BadLength});
  return f;
}

}  // namespace xlb::testing
