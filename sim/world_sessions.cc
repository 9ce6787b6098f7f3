// SPDX-License-Identifier: Apache-2.0
// Clients and services: sessions started, served and closed as each group and service says;
// raw (malformed) frames.
#include <cmath>

#include "replay.h"
#include "world.h"
#include "xlb/packet_builder.h"

namespace xlb::sim {

using nlohmann::json;

void World::serverSetup(TcpConn& c) {
  const Service* svc = &s_.services.front();
  for (const Service& v : s_.services) {
    if (v.port == c.localPort()) svc = &v;
  }
  // Request size: the group's, known by the client; the server answers once the client stops
  // sending (PSH on the last segment is not modelled), i.e. on every data callback that brings
  // a full request of the smallest configured size or more.
  const Service v = *svc;
  TcpHost* h = &c.host();
  auto respond = [this, v, h](TcpConn& conn) {
    if (v.close == ServerClose::kRst) {
      conn.abort();
      return;
    }
    // Later actions find the connection again by its tuple: it may have ended meanwhile.
    const Address peer = conn.remote();
    const std::uint16_t rport = conn.remotePort(), lport = conn.localPort();
    auto send = [this, v, h, peer, rport, lport] {
      TcpConn* cp = h->find(peer, rport, lport);
      if (cp == nullptr) return;
      cp->send(v.response);
      if (v.close == ServerClose::kFirst || v.close == ServerClose::kHalfClose) cp->close();
      if (v.close == ServerClose::kAt) {
        schedule(now_ + v.closeAfter, [h, peer, rport, lport] {
          if (TcpConn* c2 = h->find(peer, rport, lport)) c2->close();
        });
      }
    };
    if (v.delay > 0)
      schedule(now_ + v.delay, send);
    else
      send();
  };
  c.events.data = [respond, v](TcpConn& conn, std::uint64_t total) {
    if (v.close == ServerClose::kHalfClose) return;  // waits for the client's FIN
    if (conn.tag == 0 && total >= 1) {
      conn.tag = 1;
      respond(conn);
    }
  };
  c.events.peerFin = [respond, v](TcpConn& conn) {
    if (v.close == ServerClose::kHalfClose && conn.tag == 0) {
      conn.tag = 1;
      respond(conn);
      return;
    }
    if (v.close == ServerClose::kAfterClient) conn.close();
  };
}

void World::startSession(ClientGroup& g, std::uint64_t i) {
  const Address src = nthInPrefix(g.sources, i % g.hosts);
  TcpHost& h = host(src);
  ++g.started;
  TcpConn& c = h.connect(g.vip, g.port, now_);
  ClientGroup* gp = &g;
  auto done = std::make_shared<bool>(false);
  auto finishWith = [gp, done](int outcome) {
    if (*done) return;
    *done = true;
    if (outcome == 0)
      ++gp->completed;
    else if (outcome == 1)
      ++gp->reset;
    else
      ++gp->failed;
  };
  if (g.close == ClientClose::kLostFinalAck) c.loseFinalAck = true;
  c.events.established = [gp](TcpConn& conn) {
    const TimeNs took = conn.establishedAt() - conn.openedAt();
    gp->connectMax = std::max(gp->connectMax, took);
    if (took >= TcpHost::kInitialRto) ++gp->slowConnects;
    conn.send(gp->request);
    if (gp->close == ClientClose::kHalfClose) conn.close();
  };
  c.events.data = [this, gp, finishWith, &h](TcpConn& conn, std::uint64_t total) {
    if (total < gp->response || conn.tag != 0) return;
    conn.tag = 1;
    switch (gp->close) {
      case ClientClose::kFirst:
      case ClientClose::kLostFinalAck:
        conn.close();
        break;
      case ClientClose::kRst:
        finishWith(0);
        conn.abort();
        break;
      case ClientClose::kIdle:
        finishWith(0);
        break;
      case ClientClose::kAt: {
        const Address peer = conn.remote();
        const std::uint16_t rport = conn.remotePort(), lport = conn.localPort();
        TcpHost* hp = &h;
        schedule(now_ + gp->closeAfter, [hp, peer, rport, lport] {
          if (TcpConn* cp = hp->find(peer, rport, lport)) cp->close();
        });
        break;
      }
      default:
        break;
    }
  };
  c.events.peerFin = [gp](TcpConn& conn) {
    if (gp->close == ClientClose::kAfterServer) conn.close();
  };
  c.events.closed = [gp, finishWith](TcpConn& conn, Ending how) {
    if (how == Ending::kReset)
      finishWith(1);
    else if (how == Ending::kClean && conn.received() >= gp->response)
      finishWith(0);
    else
      finishWith(2);  // timed out, or closed before the whole response
  };
}

Frame World::rawFrame(const Raw& r, std::uint32_t i) {
  frames::PacketSpec p;
  p.srcMac = frames::hostMac(*Address::parse(r.src)).toString();
  p.dstMac = frames::lbMac().toString();
  p.src = r.src;
  p.dst = r.vip.toString();
  p.dport = r.port;
  p.sport = static_cast<std::uint16_t>(40000 + i);
  p.seq = 1000 + i;
  if (r.kind == "syn") return frames::buildPacket(p);
  if (r.kind == "udp") {
    p.proto = 17;
    return frames::buildPacket(p);
  }
  if (r.kind == "icmp") {
    p.proto = 1;
    return frames::buildPacket(p);
  }
  if (r.kind == "syn_fin") {
    p.flags = 0x03;
    return frames::buildPacket(p);
  }
  if (r.kind == "null_flags") {
    p.flags = 0;
    return frames::buildPacket(p);
  }
  if (r.kind == "odd_options") {
    p.tcpOptions = {0x01, 0x01, 0x05, 0x01};  // NOP NOP and a SACK option of length 1
    return frames::buildPacket(p);
  }
  Frame f = frames::buildPacket(p);
  const std::size_t l3 = 14;
  if (r.kind == "truncated_ipv4")
    f.resize(l3 + 12);
  else if (r.kind == "bad_version")
    f[l3] = 0x55;
  else if (r.kind == "bad_ihl")
    f[l3] = 0x44;
  else if (r.kind == "bad_length")
    f[l3 + 2] = 0x40;
  else if (r.kind == "bad_doff")
    f[l3 + 20 + 12] = 0x20;
  else if (r.kind == "truncated_tcp") {
    f.resize(l3 + 20 + 10);  // IPv4 consistent (total length 30), TCP header cut short
    f[l3 + 2] = 0;
    f[l3 + 3] = 30;
  } else
    bad("raw.kind \"" + r.kind +
        "\" is not syn, udp, icmp, syn_fin, null_flags, odd_options, "
        "truncated_ipv4, bad_version, bad_ihl, bad_length, bad_doff, truncated_tcp");
  return f;
}

}  // namespace xlb::sim
