// SPDX-License-Identifier: Apache-2.0
#include "tcp.h"

#include <algorithm>

#include "xlb/packet_builder.h"
#include "xlb/parse.h"

namespace xlb::sim {
namespace {

bool after(std::uint32_t a, std::uint32_t b) {
  return static_cast<std::int32_t>(a - b) > 0;
}
bool atOrAfter(std::uint32_t a, std::uint32_t b) {
  return static_cast<std::int32_t>(a - b) >= 0;
}

constexpr std::uint32_t kWindow = 65535;

}  // namespace

bool parseSegment(const std::uint8_t* frame, std::uint32_t len, Segment& out) {
  PacketInfo in;
  Reason why = Reason::kPassNotIp;
  if (!parsePacket(frame, len, in, why) || in.proto != kProtoTcp || in.frag != Frag::kNone)
    return false;
  out.family = in.family;
  out.src = in.src;
  out.dst = in.dst;
  out.sport = in.sport;
  out.dport = in.dport;
  out.seq = in.seq;
  out.ack = in.ack;
  out.flags = in.tcpFlags;
  out.payloadLen = in.payloadLen;
  out.hasTs = in.tcp.hasTimestamp;
  out.tsVal = in.tcp.tsVal;
  out.tsEcr = in.tcp.tsEcr;
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
  conn.rtoAt_ = now + conn.rto_;
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
  if (tw.tsOn_ && syn.hasTs) return static_cast<std::int32_t>(tw.tsRecent_ - syn.tsVal) < 0;
  return after(syn.seq, tw.rcvNxt_);
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

void TcpHost::input(const Frame& f, TimeNs now) {
  now_ = now;
  if (silent_) return;
  Segment s;
  if (!parseSegment(f.data(), static_cast<std::uint32_t>(f.size()), s)) return;
  if (s.family != addr_.family || s.dst != addr_.ip) return;
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
      conn.rtoAt_ = now + conn.rto_;
      return;
    }
  }
  if (s.flags & kTcpRst) return;
  // Nothing here for it: a reset, as any stack answers.
  Segment r;
  r.family = s.family;
  r.src = s.dst;
  r.dst = s.src;
  r.sport = s.dport;
  r.dport = s.sport;
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
  std::vector<TcpConn*> due;
  for (auto& [k, c] : conns_) {
    if ((c->rtoAt_ != 0 && now >= c->rtoAt_) ||
        (c->state_ == TcpConn::State::kTimeWait && now >= c->timeWaitEnd_)) {
      due.push_back(c.get());
    }
  }
  for (TcpConn* c : due) c->timer(now);
}

// ---- TcpConn ----

Segment TcpConn::header(std::uint8_t flags, std::uint32_t seq) const {
  Segment s;
  s.family = host_.addr_.family;
  s.src = host_.addr_.ip;
  s.dst = raddr_.ip;
  s.sport = lport_;
  s.dport = rport_;
  s.seq = seq;
  s.flags = flags;
  return s;
}

void TcpConn::emit(std::uint8_t flags, std::uint32_t seq, std::uint32_t len, TimeNs) {
  Segment s = header(flags, seq);
  if (flags & kTcpAck) s.ack = rcvNxt_;
  s.payloadLen = len;
  // Timestamps on a client's SYN always, and on everything else once both ends sent them.
  const bool clientSyn = (flags & (kTcpSyn | kTcpAck)) == kTcpSyn;
  if (clientSyn || tsOn_) {
    s.hasTs = true;
    s.tsVal = host_.tsClock(raddr_);
    s.tsEcr = clientSyn ? 0 : tsRecent_;
  }
  host_.sendRaw(s);
}

void TcpConn::ackNow(TimeNs now) {
  emit(kTcpAck, sndNxt_, 0, now);
}

void TcpConn::send(std::uint64_t bytes) {
  queued_ += bytes;
  if (state_ == State::kEstablished || state_ == State::kCloseWait) output(0);
}

void TcpConn::close() {
  if (finQueued_) return;
  finQueued_ = true;
  if (state_ == State::kEstablished || state_ == State::kCloseWait) output(0);
}

void TcpConn::abort() {
  if (state_ == State::kClosed) return;
  emit(kTcpRst | kTcpAck, sndNxt_, 0, 0);
  finish(Ending::kAborted);
}

void TcpConn::output(TimeNs now) {
  const bool canSend = state_ == State::kEstablished || state_ == State::kCloseWait ||
                       state_ == State::kFinWait1 || state_ == State::kClosing ||
                       state_ == State::kLastAck;
  if (!canSend) return;
  emitData(now);
  // FIN once every byte is out.
  if (finQueued_ && sndNxt_ == dataEnd()) {
    emit(kTcpFin | kTcpAck, sndNxt_, 0, now);
    sndNxt_ += 1;
    if (state_ == State::kEstablished) state_ = State::kFinWait1;
    if (state_ == State::kCloseWait) state_ = State::kLastAck;
  }
  if (sndNxt_ != sndUna_ && rtoAt_ == 0) rtoAt_ = host_.now_ + rto_;
}

void TcpConn::emitData(TimeNs now) {
  // From sndNxt_ on, in MSS-sized segments, at most a window in flight.
  while (after(dataEnd(), sndNxt_) && sndNxt_ - sndUna_ < kWindow) {
    const std::uint32_t len = std::min<std::uint32_t>(TcpHost::kMss, dataEnd() - sndNxt_);
    emit(kTcpAck | kTcpPsh, sndNxt_, len, now);
    sndNxt_ += len;
  }
}

void TcpConn::timer(TimeNs now) {
  if (state_ == State::kTimeWait) {
    if (now >= timeWaitEnd_) finish(Ending::kClean);
    return;
  }
  if (rtoAt_ == 0 || now < rtoAt_) return;
  if (retries_ >= TcpHost::kMaxRetries) {
    finish(Ending::kTimedOut);  // the peer is gone: give up as a stack does
    return;
  }
  ++retries_;
  rto_ *= 2;
  rtoAt_ = now + rto_;
  if (state_ == State::kSynSent) {
    emit(kTcpSyn, iss_, 0, now);
    return;
  }
  if (state_ == State::kSynRcvd) {
    emit(kTcpSyn | kTcpAck, iss_, 0, now);
    return;
  }
  // Go back to the first unacknowledged byte and send again.
  const bool finWasSent = finQueued_ && after(sndNxt_, dataEnd());
  sndNxt_ = sndUna_;
  emitData(now);
  if (finWasSent && sndNxt_ == dataEnd()) {
    emit(kTcpFin | kTcpAck, sndNxt_, 0, now);
    sndNxt_ += 1;
  }
}

void TcpConn::enterTimeWait(TimeNs now) {
  state_ = State::kTimeWait;
  timeWaitEnd_ = now + TcpHost::kTimeWait;
  // The application is done here (close() has returned on a real stack); TIME_WAIT is the
  // stack's own business for the next 60 s.
  notifyClosed(Ending::kClean);
}

void TcpConn::notifyClosed(Ending how) {
  if (closedNotified_) return;
  closedNotified_ = true;
  if (events.closed) events.closed(*this, how);
}

void TcpConn::finish(Ending how) {
  if (state_ == State::kClosed) return;
  state_ = State::kClosed;
  rtoAt_ = 0;
  notifyClosed(how);
  auto it =
      host_.conns_.find({raddr_.toString(), static_cast<std::uint32_t>(rport_) << 16 | lport_});
  if (it != host_.conns_.end() && it->second.get() == this) {
    host_.graveyard_.push_back(std::move(it->second));
    host_.conns_.erase(it);
  }
}

void TcpConn::inputRst(const Segment& s, TimeNs now) {
  const bool acceptable =
      state_ == State::kSynSent ? ((s.flags & kTcpAck) && s.ack == sndNxt_) : s.seq == rcvNxt_;
  if (!acceptable) {
    if (state_ != State::kSynSent) ackNow(now);  // RFC 5961: a challenge ACK
    return;
  }
  // A reset ends TIME_WAIT early (Linux without tcp_rfc1337); the application was done.
  finish(state_ == State::kTimeWait ? Ending::kClean : Ending::kReset);
}

void TcpConn::inputSynSent(const Segment& s, TimeNs now) {
  if ((s.flags & kTcpAck) && s.ack != iss_ + 1) {
    // An unacceptable ACK (a peer's TIME_WAIT answering our SYN): a reset at its number, and our
    // SYN goes again on its timer.
    host_.sendRaw(header(kTcpRst, s.ack));
    return;
  }
  if ((s.flags & (kTcpSyn | kTcpAck)) != (kTcpSyn | kTcpAck)) return;
  irs_ = s.seq;
  rcvNxt_ = s.seq + 1;
  sndUna_ = s.ack;
  tsOn_ = s.hasTs;
  tsRecent_ = s.tsVal;
  enterEstablished(now);
  ackNow(now);
  if (events.established) events.established(*this);
  output(now);
}

bool TcpConn::completeHandshake(const Segment& s, TimeNs now) {
  if (s.ack != iss_ + 1) {
    emit(kTcpRst, s.ack, 0, now);
    return false;
  }
  sndUna_ = s.ack;
  enterEstablished(now);
  if (events.established) events.established(*this);
  return true;
}

void TcpConn::enterEstablished(TimeNs now) {
  establishedAt_ = now;
  state_ = State::kEstablished;
  rtoAt_ = 0;
  retries_ = 0;
  rto_ = TcpHost::kInitialRto;
}

bool TcpConn::inputAck(const Segment& s, TimeNs now) {
  if (!after(s.ack, sndUna_) || !atOrAfter(sndNxt_, s.ack)) return true;
  sndUna_ = s.ack;
  retries_ = 0;
  rto_ = TcpHost::kInitialRto;
  rtoAt_ = sndUna_ == sndNxt_ ? 0 : now + rto_;
  if (!finQueued_ || sndUna_ != dataEnd() + 1) return true;  // our FIN not acknowledged yet
  if (state_ == State::kFinWait1) {
    state_ = State::kFinWait2;
  } else if (state_ == State::kClosing) {
    enterTimeWait(now);
  } else if (state_ == State::kLastAck) {
    finish(Ending::kClean);
    return false;
  }
  return true;
}

void TcpConn::inputData(const Segment& s, TimeNs now) {
  if (s.payloadLen > 0) {
    rcvNxt_ += s.payloadLen;
    received_ += s.payloadLen;
  }
  const bool fin = (s.flags & kTcpFin) != 0;
  if (fin) {
    rcvNxt_ += 1;
    if (state_ == State::kEstablished)
      state_ = State::kCloseWait;
    else if (state_ == State::kFinWait1)
      state_ = State::kClosing;
    else if (state_ == State::kFinWait2)
      enterTimeWait(now);
  }
  if (state_ == State::kTimeWait && loseFinalAck) {
    loseFinalAck = false;  // this ACK never arrives; the peer's FIN retransmission gets another
  } else {
    ackNow(now);
  }
  if (s.payloadLen > 0 && events.data) events.data(*this, received_);
  if (fin && events.peerFin) events.peerFin(*this);
  if (state_ != State::kClosed) output(now);
}

void TcpConn::input(const Segment& s, TimeNs now) {
  if (s.flags & kTcpRst) return inputRst(s, now);
  if (state_ == State::kSynSent) return inputSynSent(s, now);
  if (s.flags & kTcpSyn) {
    // A repeated SYN (our SYN-ACK was lost) or SYN-ACK (our ACK was lost): answer again.
    if (state_ == State::kSynRcvd)
      emit(kTcpSyn | kTcpAck, iss_, 0, now);
    else
      ackNow(now);
    return;
  }
  if (!(s.flags & kTcpAck)) return;
  if (s.seq != rcvNxt_) {
    // Out of order, a duplicate, or out of window (a load balancer's kill probe): tell the
    // sender where we are.
    ackNow(now);
    return;
  }
  if (s.hasTs && tsOn_) tsRecent_ = s.tsVal;
  if (state_ == State::kSynRcvd && !completeHandshake(s, now)) return;
  if (!inputAck(s, now)) return;
  if (state_ == State::kTimeWait) {
    if (s.flags & kTcpFin) ackNow(now);  // the peer did not get our last ACK
    return;
  }
  if (s.payloadLen > 0 || (s.flags & kTcpFin)) {
    inputData(s, now);
  } else {
    output(now);
  }
}

}  // namespace xlb::sim
