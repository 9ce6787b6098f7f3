// SPDX-License-Identifier: Apache-2.0
// libFuzzer target: the engine's pipeline fed a sequence of frames on an advancing clock. The
// input is a program of operations (one byte each, then its fields): raw frames, client TCP
// segments, cookie ACKs (the cookie made as XDP makes it), backend replies to the tuples the
// pipeline opened, UDP both ways, clock steps and operator kills. Each starts a fresh engine in
// one of three configurations (full-NAT, SYN proxy on every VIP, DSR), with a small table and
// SNAT range so that eviction and exhaustion are reachable.
//
// Held against every input: each frame the pipeline sends is one a receiver accepts
// (fuzz_support.h), and once the clock has run past every timeout nothing is left behind: no
// entry, no SNAT port. That check is also what lets one engine per configuration serve every
// input (a fresh one costs its 6 MB of per-backend counters and hold buffers each time): each
// input starts from an empty table, on a clock that only moves forward. A finding that depends
// on what earlier inputs left (the clock, the SNAT cursor) may not repeat alone:
// XLB_FUZZ_FRESH=1 gives every input a new engine, slowly, to triage one.
#include <array>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "fuzz_support.h"
#include "harness.h"
#include "xlb/syncookie.h"

namespace {

using namespace xlb;
using testing::Bytes;
using testing::PacketSpec;

constexpr CookieKey kKey{0x0123456789abcdefull, 0xfedcba9876543210ull};
constexpr const char* kHarness = "pipeline-fuzz";

struct Mode {
  Config config;
  std::shared_ptr<const Snapshot> snap;
};

Mode makeMode(int which) {
  Config c = testing::udpTestConfig(64);
  c.snat.portLo = 10000;
  c.snat.portHi = 10015;  // 16 ports per address: exhaustion in reach
  if (which == 1) {       // cookies: invalid ACKs are also counted per source (automatic blocking)
    c.autoBlock.mode = AutoBlockMode::kObserve;
    c.autoBlock.limits[static_cast<std::size_t>(SourceKind::kInvalidAck)] = 3;
  }
  for (VipConfig& v : c.vips) {
    if (v.protocol != kVipTcp) continue;
    if (which == 1) v.synFlood.mode = SynFloodMode::kAlways;
    if (which == 2) {
      v.forwarding = Forwarding::kDsr;
      v.encapsulation = v.address.family == Family::kV4 ? DsrEncap::kIpip : DsrEncap::kL2;
    }
  }
  auto snap = Snapshot::fromConfig(c, *MacAddr::parse(testing::kLbMac), testing::backendMac);
  return Mode{std::move(c), std::move(snap)};
}

const std::array<Mode, 3>& modes() {
  static const std::array<Mode, 3> m{makeMode(0), makeMode(1), makeMode(2)};
  return m;
}

// A TCP or UDP conversation seen on the wire: the last frame the pipeline sent on it.
struct Seen {
  bool used = false;
  bool v6 = false;
  std::uint8_t proto = kProtoTcp;
  std::string src, dst;  // as the pipeline sent it
  std::uint16_t sport = 0, dport = 0;
  std::uint32_t seq = 0, ack = 0, span = 0;  // span: payload + SYN/FIN
};

class Run {
 public:
  explicit Run(const Mode& m)
      : mode_(m),
        snat_(m.config.snat.addresses, m.config.snat.portLo, m.config.snat.portHi),
        table_(m.config.conntrack.capacity, m.config.conntrack.timeouts, snat_, 7),
        pipe_(table_, snat_) {
    table_.setUdpShare(50);
    pipe_.setSnapshot(m.snap.get());
    pipe_.setCookieKey(kKey);
  }

  // A new input: nothing remembered from the last one (its table was drained).
  void begin() {
    pending_.clear();
    toBackend_ = {};
    toClient_ = {};
  }

  void step(fuzz::Cursor& in) {
    const std::uint8_t op = in.u8();
    switch (op & 0x0f) {
      case 0:
        queue(raw(in));
        break;
      case 1:
        queue(clientTcp(in));
        break;
      case 2:
        queue(cookieAck(in));
        break;
      case 3:
        queue(reply(in, toBackend_, kProtoTcp));
        break;
      case 4:
        queue(reply(in, toClient_, kProtoTcp));
        break;
      case 5:
        queue(clientUdp(in));
        break;
      case 6:
        queue(reply(in, toBackend_, kProtoUdp));
        break;
      case 7: {
        const std::uint16_t ms = in.u16();
        advance((ms & 0x8000) ? TimeNs{(ms & 0x7fffu) % 600} * kNsPerSec : TimeNs{ms} * kNsPerMs);
        break;
      }
      case 8:
        kill(in.u8());
        break;
      default:
        break;
    }
    if (!(op & 0x80) || pending_.size() >= 8) flush();  // bit 7: batch with the next frame
  }

  // The end of an input: every connection killed by the operator, then the clock past the
  // resets' grace. Nothing may remain: no entry, no SNAT port. (Hold slots are not counted: a
  // slot whose connection is gone is taken over by the next hold, by design.)
  void drain() {
    flush();
    pipe_.kill(ConnFilter{}, now_);
    checkWritten();
    advance(4 * mode_.config.conntrack.timeouts.rst + kNsPerSec);
    if (table_.active() != 0) {
      std::string states;
      for (std::size_t i = 1; i < kTcpStateCount; ++i) {
        const auto st = static_cast<TcpState>(i);
        if (table_.activeIn(st) != 0) {
          states += " " + std::string(enumName(st)) + "=" + std::to_string(table_.activeIn(st));
        }
      }
      fuzz::finding(kHarness, "entries outlived the kill and its grace:" + states);
    }
    if (snat_.portsInUse() != 0) fuzz::finding(kHarness, "SNAT ports outlived their entries");
  }

 private:
  static std::string client(std::uint8_t pick, bool v6) {
    static const char* v4[] = {"10.0.0.1", "10.0.0.5", "10.0.0.66", "192.0.2.9"};
    static const char* six[] = {"2001:db8::1", "2001:db8::5", "2001:db8:1::66", "fe80::1"};
    return (v6 ? six : v4)[pick & 3];
  }

  Bytes raw(fuzz::Cursor& in) {
    const fuzz::Frame f = in.take(in.u16() % 1600);
    return Bytes(f.begin(), f.end());
  }

  Bytes tcpOptions(std::uint8_t bits, fuzz::Cursor& in) {
    Bytes o;
    auto add = [&o](const Bytes& b) { o.insert(o.end(), b.begin(), b.end()); };
    if (bits & 1) add(testing::optMss(in.u16()));
    if (bits & 2) add(testing::optSackPermitted());
    if (bits & 4) add(testing::optWscale(in.u8()));
    if (bits & 8) add(testing::optTimestamp(in.u32(), in.u32()));
    if (bits & 16) add(testing::optSack({{in.u32(), in.u32()}}));
    return o;
  }

  PacketSpec toVip(fuzz::Cursor& in) {
    const std::uint8_t who = in.u8();
    const bool v6 = who & 4;
    PacketSpec s;
    s.src = client(who, v6);
    s.dst = v6 ? "2001:db8::100" : "10.0.0.100";
    s.sport = static_cast<std::uint16_t>(40000 + (who >> 3 & 3));
    static constexpr std::uint16_t kPorts[] = {80, 443, 53, 8080};
    s.dport = kPorts[who >> 5 & 3];
    return s;
  }

  Bytes clientTcp(fuzz::Cursor& in) {
    PacketSpec s = toVip(in);
    s.flags = in.u8();
    s.seq = in.u32();
    s.ack = in.u32();
    s.window = in.u16();
    s.tcpOptions = tcpOptions(in.u8(), in);
    s.payload.assign(in.u8() % 96, 'c');
    return testing::buildPacket(s);
  }

  // The ACK that completes a cookie handshake: the SYN as the client would send it, its cookie
  // as XDP would make it at this time, then the ACK (with data when asked).
  Bytes cookieAck(fuzz::Cursor& in) {
    PacketSpec s = toVip(in);
    s.flags = kTcpSyn;
    s.seq = in.u32();
    s.tcpOptions = tcpOptions(in.u8(), in);
    const Bytes syn = testing::buildPacket(s);
    CookieOptions o;
    const std::uint32_t cookie =
        makeCookie(kKey, syn.data(), testing::parseInfo(syn), now_, 1460, o);
    s.flags = static_cast<std::uint8_t>(kTcpAck | (in.u8() & (kTcpPsh | kTcpFin)));
    s.seq += 1;
    s.ack = cookie + 1;
    s.tcpOptions.clear();
    s.payload.assign(in.u8() % 64, 'a');
    return testing::buildPacket(s);
  }

  Bytes clientUdp(fuzz::Cursor& in) {
    PacketSpec s = toVip(in);
    s.proto = kProtoUdp;
    const fuzz::Frame p = in.take(in.u8());
    s.payload.assign(p.begin(), p.end());
    return testing::buildPacket(s);
  }

  // An answer on a conversation the pipeline sent (to a backend or a client), with sequence
  // numbers near what that side expects.
  Bytes reply(fuzz::Cursor& in, const std::array<Seen, 8>& seen, std::uint8_t proto) {
    const Seen& w = seen[in.u8() & 7];
    if (!w.used || w.proto != proto) return {};
    PacketSpec s;
    s.src = w.dst;
    s.dst = w.src;
    s.sport = w.dport;
    s.dport = w.sport;
    s.proto = proto;
    if (proto == kProtoUdp) {
      const fuzz::Frame p = in.take(in.u8());
      s.payload.assign(p.begin(), p.end());
      return testing::buildPacket(s);
    }
    s.flags = in.u8();
    s.seq = w.ack + static_cast<std::int8_t>(in.u8());
    s.ack = w.seq + w.span + static_cast<std::int8_t>(in.u8());
    s.window = in.u16();
    s.tcpOptions = tcpOptions(in.u8(), in);
    s.payload.assign(in.u8() % 96, 'r');
    return testing::buildPacket(s);
  }

  void kill(std::uint8_t how) {
    ConnFilter f;
    if (how & 1) f.vip = *Address::parse(how & 2 ? "2001:db8::100" : "10.0.0.100");
    if (how & 4) f.protocol = kProtoTcp;
    pipe_.kill(f, now_);
  }

  void queue(Bytes frame) {
    if (!frame.empty()) pending_.push_back(std::move(frame));
  }

  void flush() {
    if (!pending_.empty()) process();
  }

  void process() {
    std::vector<Bytes> in = pending_;
    PacketBatch b;
    for (Bytes& f : pending_) {
      const auto len = static_cast<std::uint32_t>(f.size());
      f.resize(2048);
      b.push(PacketRef{f.data(), len, 2048, 0});
    }
    std::array<Verdict, kMaxBatch> v{};
    pipe_.process(b, std::span<Verdict>(v.data(), b.count), now_);
    for (std::size_t i = 0; i < b.count; ++i) {
      const Action a = v[i].action();
      if (a != Action::kTx && a != Action::kRedirect) continue;
      const fuzz::Frame out(b.pkts[i].data, b.pkts[i].len);
      if (const std::string p = fuzz::frameProblem(in[i], out, false); !p.empty()) {
        fuzz::finding(kHarness, p + " (forwarded, " + std::string(reasonName(v[i].reason)) +
                                    "): " + fuzz::hex(in[i]) + " -> " + fuzz::hex(out));
      }
      remember(out);
    }
    checkWritten();
    pending_.clear();
  }

  // The frames the pipeline wrote itself (SYN-proxy handshakes, held segments, kill probes).
  void checkWritten() {
    for (const Emitted& e : pipe_.emitted()) {
      const fuzz::Frame out(e.data, e.len);
      if (const std::string p = fuzz::frameProblem({}, out, true); !p.empty()) {
        fuzz::finding(kHarness, p + " (written): " + fuzz::hex(out));
      }
      remember(out);
    }
  }

  // Time passes as it does for a worker: its timers run at least every two seconds.
  void advance(TimeNs by) {
    flush();
    for (TimeNs left = by; left > 0;) {
      const TimeNs step = std::min<TimeNs>(left, 2 * kNsPerSec);
      now_ += step;
      left -= step;
      process();
    }
  }

  void remember(fuzz::Frame f) {
    const fuzz::FrameFacts x = fuzz::facts(f);
    const PacketInfo& p = x.info;
    if (!x.parsed || p.family == Family::kNone || p.frag != Frag::kNone) return;
    if (p.proto != kProtoTcp && p.proto != kProtoUdp) return;
    const bool toClient = p.sport == 80 || p.sport == 443 || p.sport == 53;
    std::array<Seen, 8>& ring = toClient ? toClient_ : toBackend_;
    Seen& w = ring[(toClient ? clientNext_++ : backendNext_++) & 7];
    w.used = true;
    w.v6 = p.family == Family::kV6;
    w.proto = p.proto;
    w.src = Address{p.family, p.src}.toString();
    w.dst = Address{p.family, p.dst}.toString();
    w.sport = p.sport;
    w.dport = p.dport;
    w.seq = p.seq;
    w.ack = p.ack;
    w.span = p.payloadLen + ((p.tcpFlags & (kTcpSyn | kTcpFin)) ? 1 : 0);
  }

  const Mode& mode_;
  SnatPool snat_;
  ConnTable table_;
  Pipeline pipe_;
  TimeNs now_ = 1000 * kNsPerSec;
  std::vector<Bytes> pending_;
  std::array<Seen, 8> toBackend_{}, toClient_{};
  unsigned clientNext_ = 0, backendNext_ = 0;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  static std::array<Run*, 3> runs{new Run(modes()[0]), new Run(modes()[1]), new Run(modes()[2])};
  static const bool fresh = std::getenv("XLB_FUZZ_FRESH") != nullptr;
  xlb::fuzz::Cursor in(xlb::fuzz::Frame(data, size));
  const std::uint8_t mode = in.u8() % 3;
  std::unique_ptr<Run> own(fresh ? new Run(modes()[mode]) : nullptr);
  Run& run = own ? *own : *runs[mode];
  run.begin();
  for (int ops = 0; ops < 64 && !in.empty(); ++ops) run.step(in);
  run.drain();
  return 0;
}
