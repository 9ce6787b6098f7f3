// SPDX-License-Identifier: Apache-2.0
// One simulated TCP connection: handshake, data, every close sequence, retransmission, TIME_WAIT.
#include <algorithm>

#include "tcp.h"
#include "xlb/parse.h"

namespace xlb::sim {
Segment TcpConn::header(std::uint8_t flags, std::uint32_t seq) const {
  Segment s;
  s.family = host_.addr_.family;
  s.src = lip_ == IpAddr{} ? host_.addr_.ip : lip_;
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
  if (sndNxt_ != sndUna_ && rtoAt_ == 0) armRto(host_.now_ + rto_);
}

void TcpConn::emitData(TimeNs now) {
  // From sndNxt_ on, in MSS-sized segments, at most a window in flight.
  while (after(dataEnd(), sndNxt_) && sndNxt_ - sndUna_ < TcpHost::kWindow) {
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
  armRto(now + rto_);
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

void TcpConn::armRto(TimeNs at) {
  rtoAt_ = at;
  host_.noteTimer(at);
}

void TcpConn::enterTimeWait(TimeNs now) {
  state_ = State::kTimeWait;
  timeWaitEnd_ = now + TcpHost::kTimeWait;
  host_.noteTimer(timeWaitEnd_);
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
  if (sndUna_ == sndNxt_) {
    rtoAt_ = 0;
  } else {
    armRto(now + rto_);
  }
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
