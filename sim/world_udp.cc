// SPDX-License-Identifier: Apache-2.0
// UDP in the closed loop: client sessions of request/answer exchanges from one socket, and UDP
// services on the backends that answer every datagram. No kernel stack is modelled: a datagram
// to a host is either an answer a session waits for or a request to a service port.
#include "world.h"
#include "xlb/packet_builder.h"

namespace xlb::sim {

namespace {

constexpr TimeNs kAnswerTimeout = kNsPerSec;

Frame datagram(const Address& src, std::uint16_t sport, const Address& dst, std::uint16_t dport,
               std::uint64_t bytes) {
  frames::PacketSpec p;
  p.srcMac = frames::hostMac(src).toString();
  p.dstMac = frames::lbMac().toString();
  p.src = src.toString();
  p.dst = dst.toString();
  p.proto = kProtoUdp;
  p.sport = sport;
  p.dport = dport;
  p.payload.assign(bytes, 0x44);
  return frames::buildPacket(p);
}

}  // namespace

void World::udpSend(ClientGroup& g, const Address& src, std::uint16_t sport) {
  UdpSession& s = udpSessions_[{src.toString(), sport}];
  const std::uint64_t serial = ++udpSerial_;
  s.awaited = serial;
  toLb(datagram(src, sport, g.vip, g.port, g.request));
  schedule(now_ + kAnswerTimeout, [this, src, sport, serial] {
    auto it = udpSessions_.find({src.toString(), sport});
    if (it == udpSessions_.end() || it->second.awaited != serial) return;
    ++it->second.group->failed;
    udpSessions_.erase(it);
  });
}

void World::startUdpSession(ClientGroup& g, std::uint64_t i) {
  const Address src = nthInPrefix(g.sources, i % g.hosts);
  host(src);  // datagrams to it are routed (toHost) instead of counted unroutable
  const std::uint16_t sport = udpPort_;
  udpPort_ = udpPort_ >= 60999 ? 30000 : static_cast<std::uint16_t>(udpPort_ + 1);
  ++g.started;
  udpSessions_[{src.toString(), sport}] = UdpSession{&g, g.exchanges, 0};
  udpSend(g, src, sport);
}

void World::udpInput(const Frame& f) {
  PacketInfo in;
  Reason why = Reason::kPassNotIp;
  if (!parsePacket(f.data(), static_cast<std::uint32_t>(f.size()), in, why)) return;
  const Address dst{in.family, in.dst};
  auto it = udpSessions_.find({dst.toString(), in.dport});
  if (it != udpSessions_.end()) {  // an answer to a client
    UdpSession& s = it->second;
    ClientGroup& g = *s.group;
    s.awaited = 0;
    if (--s.left == 0) {
      ++g.completed;
      udpSessions_.erase(it);
      return;
    }
    const std::uint16_t sport = in.dport;
    schedule(now_ + g.think, [this, &g, dst, sport] { udpSend(g, dst, sport); });
    return;
  }
  for (const Service& svc : s_.services) {
    if (svc.protocol != kVipUdp || svc.port != in.dport) continue;
    if (hosts_.at(dst.toString())->silent()) return;
    const Address src{in.family, in.src};
    Frame answer = datagram(dst, in.dport, src, in.sport, svc.response);
    auto shared = std::make_shared<Frame>(std::move(answer));
    schedule(now_ + svc.delay, [this, shared] { toLb(std::move(*shared)); });
    return;
  }
  ++unroutable_;  // a closed port: the stack would answer ICMP, which is not modelled
}

}  // namespace xlb::sim
