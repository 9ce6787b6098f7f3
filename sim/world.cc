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

void World::lbReceive(Frame& f) {
  if (now_ - xdpClock_ >= kNsPerMs || xdpClock_ == 0) {
    prog_->setFixedNow(now_);
    xdpClock_ = now_;
  }
  Frame copy = f;
  const int action = prog_->run(copy).action;
  if (action == XDP_TX) {
    toHost(std::move(copy));
  } else if (action == XDP_REDIRECT) {
    io_->push(f.data(), static_cast<std::uint32_t>(f.size()));
    if (io_->pending() >= kMaxBatch) engineRun();
  } else if (action == XDP_PASS) {
    kernelReceive(f);
  }
}

void World::engineRun() {
  do {
    worker_->step(now_);
  } while (io_->pending() > 0);
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
  if ((now_ / (10 * kNsPerMs)) % 10 == 0) controller_->tick();
  schedule(now_ + 10 * kNsPerMs, [this] { periodic(); });
}

HttpReply World::http(const std::string& method, const std::string& path, const std::string& body) {
  worker_->publishNow();
  // The API thread asks the worker for connection listings and kills; the worker's thread is
  // this one, so a pump answers them while the request is in flight.
  std::atomic<bool> inFlight{true};
  std::thread pump([&] {
    while (inFlight.load()) {
      worker_->serveCalls(now_);
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
  });
  HttpRequest req;
  req.method = method;
  req.url = "http://127.0.0.1:" + std::to_string(api_->port()) + path;
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

// The LB: the XDP object, one worker on SimIo, the Controller and its API on loopback. 0 when
// up; otherwise the exit code to return.
int World::startLb() {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(0, &set);
  sched_setaffinity(0, sizeof set, &set);
  std::string err;
  const std::uint64_t seed = s_.seed;
  AssemblyHooks h;
  const SimSeeds seeds = seedsFrom(seed);
  h.cookieKey = seeds.key;
  h.tableSeed = seeds.tableSeed;
  h.localMac = frames::lbMac();
  h.resolve = [](const Address& a) -> std::optional<MacAddr> { return frames::hostMac(a); };
  h.clock = [this] { return wallClock(); };
  h.simRedirect = true;
  OpenQueue open = [this](std::uint32_t, XdpProgram&, std::string&) {
    auto io = std::make_unique<SimIo>(
        [this](const std::uint8_t* d, std::uint32_t len) { engineOut_.emplace_back(d, d + len); });
    io_ = io.get();
    return io;
  };
  lb_ = Assembly::build(s_.config, open, std::move(h), err);
  if (!lb_) {
    log_ << "xlb-sim: the XDP stage cannot run (" << err << "); run needs root and BPF\n";
    const char* ci = std::getenv("CI");
    return ci != nullptr && std::string(ci) == "true" ? 1 : kExitNoBpf;
  }
  prog_ = &lb_->program();
  worker_ = &lb_->worker(0);
  controller_ = &lb_->controller();
  if (!lb_->start(err)) {
    log_ << "xlb-sim: " << err << "\n";
    return 2;
  }
  token_ = "sim-token-" + std::to_string(seed) + "-0123456789";
  ApiServerOptions ao;
  ao.port = 0;
  ao.token = token_;
  api_ = std::make_unique<ApiServer>(*controller_, ao);
  if (!api_->start(err)) {
    log_ << "xlb-sim: " << err << "\n";
    return 1;
  }
  log_ << "scenario " << s_.name << ": API on http://127.0.0.1:" << api_->port() << ", "
       << s_.length / kNsPerMs << " ms of virtual time\n";
  return 0;
}

// One spoofed SYN of a flood: a random source inside its prefix.
Frame World::floodSyn(const Flood& f, std::uint32_t bits) {
  frames::PacketSpec p;
  const std::uint64_t r = rng_();
  const Address src = nthInPrefix(f.sources, bits >= 63 ? r : r % ((1ull << bits) - 2));
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
  } else {
    p.tcpOptions = frames::optMss(1460);
  }
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
      schedule(at, [this, &f, bits] { toLb(floodSyn(f, bits)); });
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
      if (io_->pending() > 0) engineRun();
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
  api_->stop();
  log_ << "scenario " << s_.name << ": " << (failures_ == 0 ? "PASS" : "FAIL") << " (" << failures_
       << " failed expectation(s))\n";
  return failures_ == 0 ? 0 : 1;
}

}  // namespace xlb::sim
