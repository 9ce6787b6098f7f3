// SPDX-License-Identifier: Apache-2.0
// UDP in the closed loop: client sessions of request/answer exchanges from one socket, and UDP
// services on the backends that answer every datagram. No kernel stack is modelled: a datagram
// to a host is either an answer a session waits for or a request to a service port. With quic,
// both ends use QUIC's header layout (RFC 8999): the client's first datagram is a long header,
// the server answers with its own connection ID, and the client then sends short headers to it;
// a client may move to a new port mid-session (NAT rebinding).
#include "world.h"
#include "xlb/packet_builder.h"

namespace xlb::sim {

namespace {

constexpr TimeNs kAnswerTimeout = kNsPerSec;
constexpr std::size_t kCidLen = 8;

Frame datagram(const Address& src, std::uint16_t sport, const Address& dst, std::uint16_t dport,
               const std::string& payload) {
  frames::PacketSpec p;
  p.srcMac = frames::hostMac(src).toString();
  p.dstMac = frames::lbMac().toString();
  p.src = src.toString();
  p.dst = dst.toString();
  p.proto = kProtoUdp;
  p.sport = sport;
  p.dport = dport;
  p.payload.assign(payload.begin(), payload.end());
  return frames::buildPacket(p);
}

// flags, version 1, DCID, SCID, then filler up to `size`.
std::string longHeader(const std::string& dcid, const std::string& scid, std::size_t size) {
  std::string h("\xc0\x00\x00\x00\x01", 5);
  h += static_cast<char>(dcid.size());
  h += dcid;
  h += static_cast<char>(scid.size());
  h += scid;
  return h + std::string(size > h.size() ? size - h.size() : 0, '\x44');
}

std::string shortHeader(const std::string& dcid, std::size_t size) {
  std::string h = "\x40" + dcid;
  return h + std::string(size > h.size() ? size - h.size() : 0, '\x44');
}

std::string cidOf(std::uint64_t v) {
  std::string c(kCidLen, '\0');
  for (std::size_t i = 0; i < kCidLen; ++i) c[i] = static_cast<char>(v >> (8 * i));
  return c;
}

}  // namespace

std::uint16_t World::nextUdpPort() {
  const std::uint16_t p = udpPort_;
  udpPort_ = udpPort_ >= 60999 ? 30000 : static_cast<std::uint16_t>(udpPort_ + 1);
  return p;
}

void World::udpSend(ClientGroup& g, const Address& src, std::uint16_t sport) {
  UdpSession& s = udpSessions_[{src.toString(), sport}];
  const std::uint64_t serial = ++udpSerial_;
  s.awaited = serial;
  std::string payload(g.request, '\x44');
  if (g.quic) {
    payload = s.serverCid.empty() ? longHeader(cidOf(serial), cidOf(~serial), g.request)
                                  : shortHeader(s.serverCid, g.request);
  }
  toLb(datagram(src, sport, g.vip, g.port, payload));
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
  const std::uint16_t sport = nextUdpPort();
  ++g.started;
  udpSessions_[{src.toString(), sport}] = UdpSession{&g, g.exchanges, 0, 0, {}};
  udpSend(g, src, sport);
}

// A QUIC server's answer, or an empty frame when it would not answer.
Frame World::quicAnswer(const Service& svc, const PacketInfo& in, const std::uint8_t* payload,
                        std::size_t len) {
  const Address server{in.family, in.dst}, client{in.family, in.src};
  const std::string tuple = client.toString() + ":" + std::to_string(in.sport);
  const std::string bytes(reinterpret_cast<const char*>(payload), len);
  if (len >= 7 && (payload[0] & 0x80)) {
    const std::size_t dl = payload[5];
    if (len < 7 + dl || len < 7 + dl + payload[6 + dl]) return {};
    const std::string clientCid = bytes.substr(7 + dl, payload[6 + dl]);
    const std::string cid = cidOf(rng_());
    quicConns_[server.toString() + "|" + cid] = tuple;
    return datagram(server, in.dport, client, in.sport,
                    longHeader(clientCid, cid, static_cast<std::size_t>(svc.response)));
  }
  if (len < 1 + kCidLen) return {};
  auto it = quicConns_.find(server.toString() + "|" + bytes.substr(1, kCidLen));
  if (it == quicConns_.end()) return {};  // not a connection of this server
  if (it->second != tuple) {
    ++quicTupleChanges_;  // the backend saw the client's tuple change
    return {};
  }
  return datagram(server, in.dport, client, in.sport,
                  shortHeader("client", static_cast<std::size_t>(svc.response)));
}

void World::udpInput(const Frame& f) {
  PacketInfo in;
  Reason why = Reason::kPassNotIp;
  if (!parsePacket(f.data(), static_cast<std::uint32_t>(f.size()), in, why)) return;
  const Address dst{in.family, in.dst};
  const std::uint8_t* payload = f.data() + in.l4Offset + 8;
  const std::size_t len = in.l4Len - 8u;
  auto it = udpSessions_.find({dst.toString(), in.dport});
  if (it != udpSessions_.end()) {  // an answer to a client
    UdpSession& s = it->second;
    ClientGroup& g = *s.group;
    s.awaited = 0;
    ++s.done;
    if (g.quic && s.serverCid.empty() && len >= 7 && (payload[0] & 0x80)) {
      const std::size_t dl = payload[5];
      if (len >= 7 + dl + kCidLen && payload[6 + dl] == kCidLen) {
        s.serverCid.assign(reinterpret_cast<const char*>(payload) + 7 + dl, kCidLen);
      }
    }
    if (--s.left == 0) {
      ++g.completed;
      udpSessions_.erase(it);
      return;
    }
    std::uint16_t sport = in.dport;
    if (g.quic && g.rebindAfter != 0 && s.done == g.rebindAfter) {  // NAT rebinding
      UdpSession moved = s;
      udpSessions_.erase(it);
      sport = nextUdpPort();
      udpSessions_[{dst.toString(), sport}] = moved;
    }
    schedule(now_ + g.think, [this, &g, dst, sport] { udpSend(g, dst, sport); });
    return;
  }
  for (const Service& svc : s_.services) {
    if (svc.protocol != kVipUdp || svc.port != in.dport) continue;
    if (hosts_.at(dst.toString())->silent()) return;
    Frame answer = svc.quic ? quicAnswer(svc, in, payload, len)
                            : datagram(dst, in.dport, Address{in.family, in.src}, in.sport,
                                       std::string(svc.response, '\x44'));
    if (answer.empty()) return;
    auto shared = std::make_shared<Frame>(std::move(answer));
    schedule(now_ + svc.delay, [this, shared] { toLb(std::move(*shared)); });
    return;
  }
  ++unroutable_;  // a closed port: the stack would answer ICMP, which is not modelled
}

}  // namespace xlb::sim
