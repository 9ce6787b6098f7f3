// SPDX-License-Identifier: Apache-2.0
// The simulated host: frames in and out, listeners, port reuse against TIME_WAIT, timers.
#include "tcp.h"

#include <algorithm>

#include "xlb/packet_builder.h"
#include "xlb/parse.h"

namespace xlb::sim {
bool parseSegment(const std::uint8_t* frame, std::uint32_t len, Segment& out) {
  PacketInfo in;
  Reason why = Reason::kPassNotIp;
  if (!parsePacket(frame, len, in, why) || in.proto != kProtoTcp || in.frag != Frag::kNone)
    return false;
  out = Segment{.family = in.family,
                .src = in.src,
                .dst = in.dst,
                .sport = in.sport,
                .dport = in.dport,
                .seq = in.seq,
                .ack = in.ack,
                .flags = in.tcpFlags,
                .payloadLen = in.payloadLen,
                .hasTs = in.tcp.hasTimestamp,
                .tsVal = in.tcp.tsVal,
                .tsEcr = in.tcp.tsEcr};
  return true;
}

// ---- TcpHost ----

TcpHost::TcpHost(Address addr, MacAddr mac, MacAddr gatewayMac, Wire wire, std::uint64_t seed)
    : addr_(addr), mac_(mac), gw_(gatewayMac), wire_(std::move(wire)), rng_(seed ^ addr.ip.mix()) {}

void TcpHost::listen(std::uint16_t port, std::function<void(TcpConn&)> setup) {
  listeners_[port] = std::move(setup);
}

TcpConn& TcpHost::connect(const Address& to, std::uint16_t port, TimeNs now,
                          std::uint16_t localPort) {
  now_ = now;
  std::uint16_t lport = localPort;
  if (lport == 0) {
    // The next free ephemeral port (a real stack also avoids ports in TIME_WAIT).
    for (int i = 0; i < 28000; ++i) {
      lport = nextPort_;
      nextPort_ = nextPort_ >= 60999 ? 32768 : static_cast<std::uint16_t>(nextPort_ + 1);
      if (conns_.count({to.toString(), static_cast<std::uint32_t>(port) << 16 | lport}) == 0) break;
    }
  }
  rng_ = rng_ * 6364136223846793005ull + 1442695040888963407ull;
  auto c = std::unique_ptr<TcpConn>(
      new TcpConn(*this, to, lport, port, static_cast<std::uint32_t>(rng_ >> 32)));
  TcpConn& conn = *c;
  conns_[{to.toString(), static_cast<std::uint32_t>(port) << 16 | lport}] = std::move(c);
  conn.state_ = TcpConn::State::kSynSent;
  conn.rto_ = kInitialRto;
  conn.openedAt_ = now;
  conn.emit(kTcpSyn, conn.iss_, 0, now);
  conn.sndNxt_ = conn.iss_ + 1;
  conn.armRto(now + conn.rto_);
  return conn;
}

std::uint32_t TcpHost::tsClock(const Address& peer) const noexcept {
  // Linux: a clock in milliseconds plus an offset keyed by (source, destination).
  std::uint64_t h =
      (addr_.ip.mix() ^ (peer.ip.mix() * 0x9e3779b97f4a7c15ull)) * 0xbf58476d1ce4e5b9ull;
  h ^= h >> 31;
  return static_cast<std::uint32_t>(now_ / kNsPerMs) + static_cast<std::uint32_t>(h);
}

bool TcpHost::reuseAccepted(const TcpConn& tw, const Segment& syn) noexcept {
  // As Linux's tcp_timewait_state_process: an older timestamp is refused outright (PAWS,
  // tcp_paws_reject); otherwise a sequence number after the old connection's, or a timestamp
  // newer than the last one seen, which is 0 when the old connection had none.
  const std::uint32_t recent = tw.tsOn_ ? tw.tsRecent_ : 0;
  if (tw.tsOn_ && syn.hasTs && static_cast<std::int32_t>(recent - syn.tsVal) > 0) return false;
  return after(syn.seq, tw.rcvNxt_) ||
         (syn.hasTs && static_cast<std::int32_t>(recent - syn.tsVal) < 0);
}

void TcpHost::sendRaw(const Segment& s) {
  frames::PacketSpec p;
  p.srcMac = mac_.toString();
  p.dstMac = gw_.toString();
  p.src = Address{s.family, s.src}.toString();
  p.dst = Address{s.family, s.dst}.toString();
  p.sport = s.sport;
  p.dport = s.dport;
  p.seq = s.seq;
  p.ack = s.ack;
  p.flags = s.flags;
  p.window = static_cast<std::uint16_t>(kWindow);
  if (s.flags & kTcpSyn) p.tcpOptions = frames::optMss(static_cast<std::uint16_t>(kMss));
  if (s.hasTs) {
    const frames::Bytes ts = frames::optTimestamp(s.tsVal, s.tsEcr);
    p.tcpOptions.insert(p.tcpOptions.end(), ts.begin(), ts.end());
  }
  p.payload.assign(s.payloadLen, 'x');
  wire_(frames::buildPacket(p));
}

bool TcpHost::isLocal(const IpAddr& ip) const noexcept {
  return ip == addr_.ip || std::find(extra_.begin(), extra_.end(), ip) != extra_.end();
}

void TcpHost::input(const Frame& f, TimeNs now) {
  now_ = now;
  if (silent_) return;
  Segment s;
  if (!parseSegment(f.data(), static_cast<std::uint32_t>(f.size()), s)) return;
  if (s.family != addr_.family || !isLocal(s.dst)) return;
  const Address from{s.family, s.src};
  auto it = conns_.find({from.toString(), static_cast<std::uint32_t>(s.sport) << 16 | s.dport});
  if (it != conns_.end() && it->second->state_ == TcpConn::State::kTimeWait &&
      (s.flags & (kTcpSyn | kTcpAck)) == kTcpSyn) {
    // A new connection on a tuple in TIME_WAIT: only with a newer timestamp or a higher
    // sequence number (RFC 6191, Linux tcp_timewait_state_process); else a challenge ACK.
    if (!reuseAccepted(*it->second, s)) {
      ++twRefusals_;
      it->second->ackNow(now);
      return;
    }
    graveyard_.push_back(std::move(it->second));
    conns_.erase(it);
    it = conns_.end();
  }
  if (it != conns_.end()) {
    it->second->input(s, now);
    return;
  }
  if ((s.flags & (kTcpSyn | kTcpAck)) == kTcpSyn) {
    auto l = listeners_.find(s.dport);
    if (l != listeners_.end()) {
      rng_ = rng_ * 6364136223846793005ull + 1442695040888963407ull;
      auto c = std::unique_ptr<TcpConn>(
          new TcpConn(*this, from, s.dport, s.sport, static_cast<std::uint32_t>(rng_ >> 32)));
      TcpConn& conn = *c;
      conn.lip_ = s.dst;
      conns_[{from.toString(), static_cast<std::uint32_t>(s.sport) << 16 | s.dport}] = std::move(c);
      conn.irs_ = s.seq;
      conn.rcvNxt_ = s.seq + 1;
      conn.tsOn_ = s.hasTs;
      conn.tsRecent_ = s.tsVal;
      conn.state_ = TcpConn::State::kSynRcvd;
      conn.openedAt_ = now;
      conn.rto_ = kInitialRto;
      l->second(conn);
      conn.emit(kTcpSyn | kTcpAck, conn.iss_, 0, now);
      conn.sndNxt_ = conn.iss_ + 1;
      conn.armRto(now + conn.rto_);
      return;
    }
  }
  if (s.flags & kTcpRst) return;
  // Nothing here for it: a reset, as any stack answers.
  // The reverse direction of the segment it answers.
  Segment r{.family = s.family, .src = s.dst, .dst = s.src, .sport = s.dport, .dport = s.sport};
  if (s.flags & kTcpAck) {
    r.seq = s.ack;
    r.flags = kTcpRst;
  } else {
    r.ack = s.seq + s.payloadLen + ((s.flags & kTcpSyn) ? 1 : 0) + ((s.flags & kTcpFin) ? 1 : 0);
    r.flags = kTcpRst | kTcpAck;
  }
  sendRaw(r);
}

TcpConn* TcpHost::find(const Address& remote, std::uint16_t remotePort, std::uint16_t localPort) {
  auto it =
      conns_.find({remote.toString(), static_cast<std::uint32_t>(remotePort) << 16 | localPort});
  return it == conns_.end() ? nullptr : it->second.get();
}

void TcpHost::tick(TimeNs now) {
  now_ = now;
  graveyard_.clear();
  if (nextDue_ == 0 || now < nextDue_) return;
  nextDue_ = 0;
  std::vector<TcpConn*> due;
  for (auto& [k, c] : conns_) {
    const bool timeWait = c->state_ == TcpConn::State::kTimeWait;
    if ((c->rtoAt_ != 0 && now >= c->rtoAt_) || (timeWait && now >= c->timeWaitEnd_)) {
      due.push_back(c.get());
      continue;
    }
    noteTimer(c->rtoAt_);
    if (timeWait) noteTimer(c->timeWaitEnd_);
  }
  for (TcpConn* c : due) {
    c->timer(now);
    noteTimer(c->rtoAt_);  // a timer the firing left armed (re-arming notes itself)
    if (c->state_ == TcpConn::State::kTimeWait) noteTimer(c->timeWaitEnd_);
  }
}

// ---- TcpConn ----

}  // namespace xlb::sim
