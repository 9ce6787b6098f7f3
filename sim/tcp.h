// SPDX-License-Identifier: Apache-2.0
// Simulated TCP endpoints for closed-loop runs: enough of RFC 793 to exercise a load balancer
// the way real stacks do. Three-way handshake, data both ways in MSS-sized segments, cumulative
// ACKs, retransmission with exponential back-off, every close sequence (FIN either side first,
// both at once, half-close, RST), TIME_WAIT, and challenge/duplicate ACKs for out-of-window
// segments, and timestamps as Linux sends them (a 1 kHz clock with an offset per pair of
// addresses). TIME_WAIT lasts 60 s, and a SYN reusing a tuple in TIME_WAIT is accepted only as
// Linux accepts it (RFC 6191: no older timestamp, and a higher sequence number or a newer one);
// otherwise the SYN gets a challenge ACK. No window scaling, no SACK, in-order delivery only (an
// out-of-order segment is answered with a duplicate ACK and dropped, so the sender's
// retransmission fills the gap).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "xlb/addr.h"

namespace xlb::sim {

// Sequence-space comparisons (RFC 1982 serial arithmetic).
inline bool after(std::uint32_t a, std::uint32_t b) {
  return static_cast<std::int32_t>(a - b) > 0;
}
inline bool atOrAfter(std::uint32_t a, std::uint32_t b) {
  return static_cast<std::int32_t>(a - b) >= 0;
}

using Frame = std::vector<std::uint8_t>;

struct Segment {
  Family family = Family::kV4;
  IpAddr src, dst;
  std::uint16_t sport = 0, dport = 0;
  std::uint32_t seq = 0, ack = 0;
  std::uint8_t flags = 0;
  std::uint32_t payloadLen = 0;
  bool hasTs = false;
  std::uint32_t tsVal = 0, tsEcr = 0;
};

// Parses an Ethernet frame carrying TCP; false for anything else.
bool parseSegment(const std::uint8_t* frame, std::uint32_t len, Segment& out);

class TcpConn;

// How a connection ended.
enum class Ending : std::uint8_t { kClean, kReset, kAborted, kTimedOut };

// What an application sees of its connection.
struct TcpEvents {
  std::function<void(TcpConn&)> established;
  std::function<void(TcpConn&, std::uint64_t total)> data;  // bytes received so far
  std::function<void(TcpConn&)> peerFin;                    // the peer closed its side
  std::function<void(TcpConn&, Ending)> closed;
};

class TcpHost;

class TcpConn {
 public:
  enum class State : std::uint8_t {
    kSynSent,
    kSynRcvd,
    kEstablished,
    kFinWait1,
    kFinWait2,
    kCloseWait,
    kClosing,
    kLastAck,
    kTimeWait,
    kClosed
  };
  State state() const noexcept { return state_; }
  std::uint16_t localPort() const noexcept { return lport_; }
  const Address& remote() const noexcept { return raddr_; }
  std::uint16_t remotePort() const noexcept { return rport_; }
  std::uint64_t received() const noexcept { return received_; }
  // When the handshake completed (0: not yet), and when it began.
  TimeNs establishedAt() const noexcept { return establishedAt_; }
  TimeNs openedAt() const noexcept { return openedAt_; }
  TcpHost& host() noexcept { return host_; }

  void send(std::uint64_t bytes);  // queues application data
  void close();                    // FIN after the queued data
  void abort();                    // RST now
  TcpEvents events;
  std::uint64_t tag = 0;  // the application's own reference
  // Test misbehaviour: the ACK that would complete this end's close is "lost" once.
  bool loseFinalAck = false;

 private:
  friend class TcpHost;
  TcpConn(TcpHost& host, Address raddr, std::uint16_t lport, std::uint16_t rport, std::uint32_t iss)
      : host_(host),
        raddr_(raddr),
        lport_(lport),
        rport_(rport),
        iss_(iss),
        sndUna_(iss),
        sndNxt_(iss) {}
  IpAddr lip_;  // the local address: the host's, or the one a connection was accepted on
  void input(const Segment& s, TimeNs now);
  void inputRst(const Segment& s, TimeNs now);
  void inputSynSent(const Segment& s, TimeNs now);
  // The handshake's last ACK in kSynRcvd; false when it was refused with a reset.
  bool completeHandshake(const Segment& s, TimeNs now);
  void enterEstablished(TimeNs now);
  // Our data and FIN acknowledged; false when that ended the connection.
  bool inputAck(const Segment& s, TimeNs now);
  // In-order payload and FIN, then the ACK and what the application does next.
  void inputData(const Segment& s, TimeNs now);
  void output(TimeNs now);
  void emitData(TimeNs now);
  // A segment of this connection's tuple, without ACK, data or options.
  Segment header(std::uint8_t flags, std::uint32_t seq) const;
  void emit(std::uint8_t flags, std::uint32_t seq, std::uint32_t len, TimeNs now);
  void ackNow(TimeNs now);
  void timer(TimeNs now);
  void armRto(TimeNs at);  // sets the retransmission timer and tells the host when it is due
  void finish(Ending how);
  void enterTimeWait(TimeNs now);
  void notifyClosed(Ending how);
  std::uint32_t dataEnd() const noexcept { return iss_ + 1 + static_cast<std::uint32_t>(queued_); }

  TcpHost& host_;
  Address raddr_;
  std::uint16_t lport_, rport_;
  State state_ = State::kClosed;
  std::uint32_t iss_, sndUna_, sndNxt_, rcvNxt_ = 0, irs_ = 0;
  std::uint64_t queued_ = 0;  // application bytes handed to TCP, in all
  bool finQueued_ = false;
  std::uint64_t received_ = 0;
  TimeNs rtoAt_ = 0;
  TimeNs rto_ = 0;
  unsigned retries_ = 0;
  TimeNs timeWaitEnd_ = 0;
  bool closedNotified_ = false;
  bool tsOn_ = false;           // both ends sent timestamps in the handshake
  std::uint32_t tsRecent_ = 0;  // the peer's last TSval
  TimeNs openedAt_ = 0, establishedAt_ = 0;
};

// A host: an address, a MAC, listeners, connections, and a way to put frames on the wire.
class TcpHost {
 public:
  using Wire = std::function<void(Frame&&)>;
  static constexpr TimeNs kInitialRto = 200 * kNsPerMs;
  static constexpr unsigned kMaxRetries = 5;
  static constexpr TimeNs kTimeWait = 60 * kNsPerSec;  // Linux's TCP_TIMEWAIT_LEN
  static constexpr std::uint32_t kMss = 1400;
  static constexpr std::uint32_t kWindow = 65535;  // advertised, never scaled

  TcpHost(Address addr, MacAddr mac, MacAddr gatewayMac, Wire wire, std::uint64_t seed);

  const Address& address() const noexcept { return addr_; }
  const MacAddr& mac() const noexcept { return mac_; }
  // Another address this host accepts connections on and answers from (a DSR backend's VIP on
  // lo).
  void addAddress(const Address& a) { extra_.push_back(a.ip); }
  // Accepts connections on `port`; `setup` gives each new connection its events.
  void listen(std::uint16_t port, std::function<void(TcpConn&)> setup);
  // Opens a connection from an ephemeral port (or `localPort`).
  TcpConn& connect(const Address& to, std::uint16_t port, TimeNs now, std::uint16_t localPort = 0);
  void input(const Frame& f, TimeNs now);
  void tick(TimeNs now);  // retransmissions, TIME_WAIT
  // The live connection with this peer and local port, or nullptr (it may have ended).
  TcpConn* find(const Address& remote, std::uint16_t remotePort, std::uint16_t localPort);
  // Every connection's peer, local port and state, in no particular order.
  template <typename Fn>
  void forEachConn(Fn&& fn) const {
    for (const auto& [key, c] : conns_) fn(*c);
  }
  // Drops every arriving frame (a silent host) or none.
  void setSilent(bool silent) noexcept { silent_ = silent; }
  bool silent() const noexcept { return silent_; }
  // SYNs refused because their tuple was in TIME_WAIT here (answered with a challenge ACK).
  std::uint64_t timeWaitRefusals() const noexcept { return twRefusals_; }

 private:
  friend class TcpConn;
  void sendRaw(const Segment& s);
  // This host's timestamp clock towards `peer`: milliseconds plus an offset per address pair.
  std::uint32_t tsClock(const Address& peer) const noexcept;
  // A SYN on a tuple in TIME_WAIT: true when it may open a new connection (RFC 6191).
  static bool reuseAccepted(const TcpConn& tw, const Segment& syn) noexcept;

  bool isLocal(const IpAddr& ip) const noexcept;

  Address addr_;
  std::vector<IpAddr> extra_;
  MacAddr mac_, gw_;
  Wire wire_;
  std::uint64_t rng_;
  bool silent_ = false;
  std::uint64_t twRefusals_ = 0;
  TimeNs now_ = 0;
  std::uint16_t nextPort_ = 32768;
  std::map<std::uint16_t, std::function<void(TcpConn&)>> listeners_;
  std::map<std::pair<std::string, std::uint32_t>, std::unique_ptr<TcpConn>> conns_;
  std::vector<std::unique_ptr<TcpConn>> graveyard_;  // closed, freed on the next tick
  // No connection's timer is due before this (0: none armed). tick() walks the connections only
  // then: walking thousands of them every 10 virtual ms was most of a long scenario's time.
  TimeNs nextDue_ = 0;
  void noteTimer(TimeNs at) noexcept {
    if (at != 0 && (nextDue_ == 0 || at < nextDue_)) nextDue_ = at;
  }
};

}  // namespace xlb::sim
