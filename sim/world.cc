// SPDX-License-Identifier: Apache-2.0
// The scheduler, the LB and its kernel, health probes, API events, and the run.
#include "world.h"

#include <linux/bpf.h>
#include <sched.h>

#include <algorithm>
#include <cstdlib>
#include <sstream>
#include <thread>

#include "closed_loop.h"
#include "replay.h"
#include "xlb/http_client.h"
#include "xlb/packet_builder.h"

namespace xlb::sim {

using nlohmann::json;

TcpHost& World::host(const Address& a) {
  auto& h = hosts_[a.toString()];
  if (!h) {
    h = std::make_unique<TcpHost>(
        a, frames::hostMac(a), frames::lbMac(), [this](Frame&& f) { hostSend(std::move(f)); },
        s_.seed);
  }
  return *h;
}

// A host's frame: to the LB, or, from a DSR backend answering for its VIP, straight to the client
// (the backend's own route; xlb never sees it).
void World::hostSend(Frame f) {
  PacketInfo in;
  Reason why = Reason::kPassNotIp;
  if (parsePacket(f.data(), static_cast<std::uint32_t>(f.size()), in, why) &&
      dsrVips_.count(Address{in.family, in.src}.toString()) != 0) {
    ++dsrDirect_;
    auto shared = std::make_shared<Frame>(std::move(f));
    schedule(now_ + s_.latency, [this, shared] { toHost(std::move(*shared)); });
    return;
  }
  toLb(std::move(f));
}

void World::toHost(Frame f) {
  PacketInfo in;
  Reason why = Reason::kPassNotIp;
  if (!parsePacket(f.data(), static_cast<std::uint32_t>(f.size()), in, why) ||
      in.family == Family::kNone) {
    ++unroutable_;
    return;
  }
  // DSR over IPIP: the backend's xlb_decap program removes the outer header.
  if (in.proto == 4 || in.proto == 41) {
    f.erase(f.begin() + in.l3Offset, f.begin() + static_cast<std::ptrdiff_t>(in.l4Offset));
    f[12] = in.proto == 4 ? 0x08 : 0x86;
    f[13] = in.proto == 4 ? 0x00 : 0xdd;
    ++decapsulated_;
    return toHost(std::move(f));
  }
  auto it = hosts_.find(Address{in.family, in.dst}.toString());
  if (it == hosts_.end()) {
    // DSR over L2: addressed to the VIP, delivered to the backend whose MAC it carries.
    it = std::find_if(hosts_.begin(), hosts_.end(), [&](const auto& h) {
      return std::equal(f.begin(), f.begin() + 6, h.second->mac().bytes.begin());
    });
  }
  if (it == hosts_.end()) {
    ++unroutable_;  // a spoofed source, or an address nobody simulates
    return;
  }
  TcpHost* h = it->second.get();
  auto shared = std::make_shared<Frame>(std::move(f));
  if (in.proto == kProtoUdp) {
    schedule(now_ + s_.latency, [this, shared] { udpInput(*shared); });
    return;
  }
  schedule(now_ + s_.latency, [this, h, shared] { h->input(*shared, now_); });
}

void World::lbReceive(std::size_t m, Frame& f) {
  Member& mb = members_[m];
  if (!mb.running) {
    ++routeDrops_;
    return;
  }
  XdpProgram& prog = mb.lb->program();
  if (now_ - mb.xdpClock >= kNsPerMs || mb.xdpClock == 0) {
    prog.setFixedNow(now_);
    mb.xdpClock = now_;
  }
  Frame copy = f;
  const int action = prog.run(copy).action;
  if (action == XDP_TX) {
    // A flow another member holds goes to it over the shared segment (its MAC); anything else
    // transmitted (a SYN-ACK with a cookie) to the host it is addressed to.
    for (std::size_t p = 0; p < members_.size(); ++p) {
      if (p != m && std::equal(copy.begin(), copy.begin() + 6, members_[p].mac.bytes.begin())) {
        auto shared = std::make_shared<Frame>(std::move(copy));
        schedule(now_ + s_.latency, [this, p, shared] { lbReceive(p, *shared); });
        return;
      }
    }
    toHost(std::move(copy));
  } else if (action == XDP_REDIRECT) {
    mb.io->push(f.data(), static_cast<std::uint32_t>(f.size()));
    if (mb.io->pending() >= kMaxBatch) engineRun();
  } else if (action == XDP_PASS && m == 0) {
    kernelReceive(f);  // the first member's kernel answers the health probes
  }
}

bool World::enginePending() const {
  for (const Member& mb : members_) {
    if (mb.running && mb.io->pending() > 0) return true;
  }
  return false;
}

void World::engineRun() {
  for (Member& mb : members_) {
    if (!mb.running) continue;
    do {
      mb.lb->worker(0).step(now_);
    } while (mb.io->pending() > 0);
  }
  std::vector<Frame> out;
  out.swap(engineOut_);
  for (Frame& f : out) toHost(std::move(f));
}

void World::kernelReceive(const Frame& f) {
  ++kernelFrames_;
  Segment seg;
  if (!parseSegment(f.data(), static_cast<std::uint32_t>(f.size()), seg)) return;
  auto it = probes_.find(seg.dport);
  if (it == probes_.end()) return;
  if ((seg.flags & (kTcpSyn | kTcpAck)) == (kTcpSyn | kTcpAck)) {
    it->second.ok = true;
    // Close the probe as a stack would after connect(): a reset.
    frames::PacketSpec r;
    r.srcMac = frames::lbMac().toString();
    r.dstMac = frames::hostMac(it->second.backend).toString();
    r.src = Address{seg.family, seg.dst}.toString();
    r.dst = it->second.backend.toString();
    r.sport = seg.dport;
    r.dport = seg.sport;
    r.seq = seg.ack;
    r.flags = kTcpRst;
    toHost(frames::buildPacket(r));
  }
}

void World::healthRound() {
  const HealthCheckConfig& hc = s_.config.healthCheck;
  for (const Controller::HealthTarget& t : controller_->healthTargets()) {
    const std::uint16_t port = probePort_;
    probePort_ = probePort_ >= 64999 ? 61000 : static_cast<std::uint16_t>(probePort_ + 1);
    probes_[port] = Probe{t.vip, t.backend, false};
    Address from;
    for (const Address& a : s_.config.snat.addresses) {
      if (a.family == t.backend.family) {
        from = a;
        break;
      }
    }
    frames::PacketSpec p;
    p.srcMac = frames::lbMac().toString();
    p.dstMac = frames::hostMac(t.backend).toString();
    p.src = from.toString();
    p.dst = t.backend.toString();
    p.sport = port;
    p.dport = t.port;
    p.seq = static_cast<std::uint32_t>(rng_());
    p.tcpOptions = frames::optMss(1460);
    toHost(frames::buildPacket(p));
    schedule(now_ + hc.timeout, [this, port] {
      auto it = probes_.find(port);
      if (it == probes_.end()) return;
      const Probe pr = it->second;
      probes_.erase(it);
      if (auto changed = tracker_->record(pr.vip.toString() + "|" + pr.backend.toString(), pr.ok)) {
        controller_->reportHealth(pr.vip, pr.backend, *changed);
        log_ << "  [" << now_ / kNsPerMs << " ms] health: " << pr.backend.toString() << " "
             << (*changed ? "up" : "down") << "\n";
      }
    });
  }
  schedule(now_ + hc.interval, [this] { healthRound(); });
}

void World::periodic() {
  engineRun();
  for (auto& [k, h] : hosts_) h->tick(now_);
  clusterStep();
  if ((now_ / (10 * kNsPerMs)) % 10 == 0) {
    for (Member& mb : members_) {
      if (mb.running) mb.lb->controller().tick();
    }
  }
  schedule(now_ + 10 * kNsPerMs, [this] { periodic(); });
}

HttpReply World::http(const std::string& method, const std::string& path, const std::string& body,
                      std::size_t member) {
  Member& mb = members_[member];
  if (!mb.running) return HttpReply{0, "member " + mb.name + " is not running"};
  Worker* worker = &mb.lb->worker(0);
  worker->publishNow();
  // The API thread asks the worker for connection listings and kills; the worker's thread is
  // this one, so a pump answers them while the request is in flight.
  std::atomic<bool> inFlight{true};
  std::thread pump([&] {
    while (inFlight.load()) {
      worker->serveCalls(now_);
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
  });
  HttpRequest req;
  req.method = method;
  req.url = "http://127.0.0.1:" + std::to_string(mb.api->port()) + path;
  req.body = body;
  req.token = token_;
  const HttpResponse resp = httpRequest(req);
  HttpReply r{resp.status, resp.body};
  inFlight = false;
  pump.join();
  // A change made over the API (a new snapshot) is taken by the worker at its next step.
  engineRun();
  return r;
}

void World::event(const Event& e) {
  if (!e.cluster.empty()) return clusterEvent(e);
  if (!e.path.empty()) {
    const HttpReply r = http(e.method, e.path, e.body);
    log_ << "  [" << now_ / kNsPerMs << " ms] " << e.method << " " << e.path << " -> " << r.status
         << "\n";
    if (e.status != 0 && r.status != e.status) {
      log_ << "FAIL: " << e.method << " " << e.path << ": expected status " << e.status << ", got "
           << r.status << ": " << r.body << "\n";
      ++failures_;
    }
    return;
  }
  TcpHost& h = host(addressOf(e.backend, "events.backend"));
  h.setSilent(e.set == "silent");
  log_ << "  [" << now_ / kNsPerMs << " ms] backend " << e.backend << " " << e.set << "\n";
}

// The LB: the XDP object, one worker on SimIo, the Controller and its API on loopback; in a
// cluster, one per member (those cluster_start names run from the start). 0 when up; otherwise
// the exit code to return.
int World::startLb() {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(0, &set);
  sched_setaffinity(0, sizeof set, &set);
  token_ = "sim-token-" + std::to_string(s_.seed) + "-0123456789";
  const ClusterConfig& c = s_.config.cluster;
  members_.resize(c.enabled() ? c.members.size() : 1);
  for (std::size_t i = 0; i < members_.size(); ++i) {
    Member& mb = members_[i];
    mb.mac = frames::lbMac();
    mb.mac.bytes[5] = static_cast<std::uint8_t>(mb.mac.bytes[5] + i);
    if (c.enabled()) {
      mb.name = c.members[i].name;
      mb.address = c.members[i].address;
    }
  }
  for (std::size_t i = 0; i < members_.size(); ++i) {
    const bool start = !c.enabled() || std::find(s_.clusterStart.begin(), s_.clusterStart.end(),
                                                 members_[i].name) != s_.clusterStart.end();
    if (!start) continue;
    if (const int rc = startMember(i); rc != 0) return rc;
  }
  Assembly& first = *members_[0].lb;
  prog_ = &first.program();
  io_ = members_[0].io;
  worker_ = &first.worker(0);
  controller_ = &first.controller();
  api_ = members_[0].api.get();
  // A single LB is routed from the start; cluster members once they are ready (clusterStep).
  if (!c.enabled()) members_[0].routed = true;
  log_ << "scenario " << s_.name << ": API on http://127.0.0.1:" << api_->port() << ", "
       << s_.length / kNsPerMs << " ms of virtual time"
       << (c.enabled() ? ", " + std::to_string(members_.size()) + " cluster members" : "") << "\n";
  return 0;
}

// One spoofed SYN of a flood: a random source inside its prefix.
Frame World::floodSyn(const Flood& f, std::uint32_t bits) {
  frames::PacketSpec p;
  const std::uint64_t r = rng_();
  // A whole address (/32, /128) is one source; a prefix's hosts exclude its first and last.
  const Address src =
      bits == 0 ? f.sources.addr
                : nthInPrefix(f.sources,
                              bits >= 63 ? r : r % std::max<std::uint64_t>((1ull << bits) - 2, 1));
  p.srcMac = "02:dd:00:00:00:01";
  p.dstMac = frames::lbMac().toString();
  p.src = src.toString();
  p.dst = f.vip.toString();
  p.sport = static_cast<std::uint16_t>(1024 + (r >> 40) % 60000);
  p.dport = f.port;
  p.seq = static_cast<std::uint32_t>(r >> 8);
  if (f.protocol == kVipUdp) {
    p.proto = kProtoUdp;
    p.payload.assign(32, 0x5a);
  } else if (f.flags == kTcpSyn) {
    p.tcpOptions = frames::optMss(1460);
  } else {
    p.flags = f.flags;
    p.ack = static_cast<std::uint32_t>(rng_());
  }
  return frames::buildPacket(p);
}

std::optional<Frame> World::floodLive(const Flood& f) {
  // The established tuples, looked up again every 50 virtual ms (a tuple that closed since is a
  // frame for no connection, as an attacker's stale guess would be).
  LiveTuples& live = liveTuples_[&f];
  if (live.at == 0 || now_ - live.at >= 50 * kNsPerMs) {
    live.at = now_;
    live.tuples.clear();
    for (const auto& entry : hosts_) {
      TcpHost* h = entry.second.get();  // not a structured binding: clang 14 cannot capture one
      h->forEachConn([&](const TcpConn& c) {
        if (c.state() == TcpConn::State::kEstablished && c.remote() == f.vip &&
            c.remotePort() == f.port) {
          live.tuples.emplace_back(h, c.localPort());
        }
      });
    }
  }
  if (live.tuples.empty()) return std::nullopt;
  const auto& [h, port] = live.tuples[rng_() % live.tuples.size()];
  frames::PacketSpec p;
  p.srcMac = h->mac().toString();
  p.dstMac = frames::lbMac().toString();
  p.src = h->address().toString();
  p.dst = f.vip.toString();
  p.sport = port;
  p.dport = f.port;
  p.flags = f.flags;
  p.seq = static_cast<std::uint32_t>(rng_());
  p.ack = static_cast<std::uint32_t>(rng_());
  return frames::buildPacket(p);
}

// Everything the scenario lists goes on the queue: services, sessions, floods, raw frames,
// events, timed expectations, health rounds and the periodic housekeeping.
void World::scheduleScenario() {
  // Backends: every configured backend address serves every service port; a DSR VIP's backends
  // hold the VIP as well (on lo, as the README sets them up).
  for (const VipConfig& v : s_.config.vips) {
    if (v.forwarding == Forwarding::kDsr) dsrVips_.insert(v.address.toString());
    for (const BackendConfig& b : v.backends) {
      TcpHost& h = host(b.address);
      if (v.forwarding == Forwarding::kDsr) h.addAddress(v.address);
      for (const Service& svc : s_.services)
        h.listen(svc.port, [this](TcpConn& c) { serverSetup(c); });
    }
  }
  for (ClientGroup& g : s_.groups) {
    for (std::uint64_t i = 0; i < g.sessions; ++i) {
      const auto at = g.start + static_cast<TimeNs>(static_cast<double>(i) * 1e9 / g.rate);
      if (g.protocol == kVipUdp)
        schedule(at, [this, &g, i] { startUdpSession(g, i); });
      else
        schedule(at, [this, &g, i] { startSession(g, i); });
    }
  }
  for (const Flood& f : s_.floods) {
    const auto total = static_cast<std::uint64_t>(f.rate * static_cast<double>(f.length) / 1e9);
    const std::uint32_t bits = f.sources.addr.bitLength() - f.sources.length;
    for (std::uint64_t i = 0; i < total; ++i) {
      const auto at = f.start + static_cast<TimeNs>(static_cast<double>(i) * 1e9 / f.rate);
      if (f.live) {
        schedule(at, [this, &f] {
          if (auto frame = floodLive(f)) toLb(std::move(*frame));
        });
      } else {
        schedule(at, [this, &f, bits] { toLb(floodSyn(f, bits)); });
      }
    }
  }
  for (const Raw& r : s_.raws) {
    for (std::uint32_t i = 0; i < r.count; ++i) {
      schedule(r.at + TimeNs{i} * 1000, [this, &r, i] { toLb(rawFrame(r, i)); });
    }
  }
  for (const Event& e : s_.events) schedule(e.at, [this, &e] { event(e); });
  for (const Expectation& x : s_.expects) {
    if (!x.atEnd) schedule(x.at, [this, &x] { failures_ += check(x) ? 0 : 1; });
  }
  if (s_.config.healthCheck.enabled) {
    tracker_ =
        std::make_unique<HealthTracker>(s_.config.healthCheck.rise, s_.config.healthCheck.fall);
    schedule(0, [this] { healthRound(); });
  }
  schedule(0, [this] { periodic(); });
}

int World::run() {
  rng_.seed(s_.seed);
  if (const int rc = startLb(); rc != 0) return rc;
  scheduleScenario();
  while (!queue_.empty() && queue_.top().at <= s_.length) {
    Item it = queue_.top();
    queue_.pop();
    if (it.at != now_) {
      // Time moves: the engine first processes what arrived at the previous instant.
      if (enginePending()) engineRun();
      now_ = it.at;
    }
    it.fn();
  }
  now_ = s_.length;
  engineRun();
  for (const Expectation& x : s_.expects) {
    if (x.atEnd) failures_ += check(x) ? 0 : 1;
  }
  for (const ClientGroup& g : s_.groups) {
    log_ << "  clients " << g.name << ": started " << g.started << ", completed " << g.completed
         << ", reset " << g.reset << ", failed " << g.failed << "\n";
  }
  log_ << "  frames to unsimulated addresses " << unroutable_ << ", to the LB's kernel "
       << kernelFrames_ << ", QUIC tuple changes seen by backends " << quicTupleChanges_
       << ", DSR replies straight to clients " << dsrDirect_ << " (decapsulated " << decapsulated_
       << ")\n";
  for (Member& mb : members_) {
    if (mb.api) mb.api->stop();
  }
  if (s_.config.cluster.enabled()) {
    log_ << "  router: frames to a member that was not running " << routeDrops_ << "\n";
  }
  log_ << "scenario " << s_.name << ": " << (failures_ == 0 ? "PASS" : "FAIL") << " (" << failures_
       << " failed expectation(s))\n";
  return failures_ == 0 ? 0 : 1;
}

}  // namespace xlb::sim
