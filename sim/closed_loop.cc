// SPDX-License-Identifier: Apache-2.0
#include "closed_loop.h"

#include <linux/bpf.h>
#include <sched.h>
#include <yaml-cpp/yaml.h>

#include <atomic>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <functional>
#include <map>
#include <queue>
#include <random>
#include <sstream>
#include <thread>

#include "packet_builder.h"
#include "replay.h"
#include "sim_io.h"
#include "tcp.h"
#include "xlb/api_server.h"
#include "xlb/config_yaml.h"
#include "xlb/controller.h"
#include "xlb/health.h"
#include "xlb/http_client.h"
#include "xlb/worker.h"
#include "xlb/xdp_program.h"

namespace xlb::sim {
namespace {

using nlohmann::json;

struct ScenarioError {
  std::string message;
};

[[noreturn]] void bad(const std::string& m) {
  throw ScenarioError{m};
}

TimeNs duration(const YAML::Node& n, const std::string& what) {
  if (!n || !n.IsScalar()) bad(what + ": a duration is required (e.g. 250ms, 2s)");
  const std::string s = n.as<std::string>();
  double v = 0;
  std::size_t used = 0;
  try {
    v = std::stod(s, &used);
  } catch (...) {
    bad(what + ": \"" + s + "\" is not a duration");
  }
  const std::string unit = s.substr(used);
  double scale = 0;
  if (unit == "us")
    scale = 1e3;
  else if (unit == "ms")
    scale = 1e6;
  else if (unit == "s")
    scale = 1e9;
  else if (unit == "m")
    scale = 60e9;
  else
    bad(what + ": \"" + s + "\" needs a unit (us, ms, s, m)");
  // NaN fails both comparisons; a scenario longer than a year of virtual time is a typo.
  if (!(v >= 0) || !(v * scale <= 365.0 * 86400e9)) bad(what + ": \"" + s + "\" is out of range");
  return static_cast<TimeNs>(std::llround(v * scale));
}

template <typename T>
T num(const YAML::Node& n, const std::string& what, T dflt) {
  if (!n) return dflt;
  try {
    return n.as<T>();
  } catch (...) {
    bad(what + ": \"" + n.as<std::string>("?") + "\" is not a number");
  }
}

std::string str(const YAML::Node& n, const std::string& what, const std::string& dflt = "") {
  if (!n) {
    if (dflt.empty()) bad(what + " is required");
    return dflt;
  }
  return n.as<std::string>();
}

Address addressOf(const std::string& s, const std::string& what) {
  auto a = Address::parse(s);
  if (!a) bad(what + ": \"" + s + "\" is not an address");
  return *a;
}

// The i-th host address inside a prefix (skipping the network address).
Address nthInPrefix(const Prefix& p, std::uint64_t i) {
  Address a = p.addr;
  std::uint64_t v = i + 1;
  for (int b = static_cast<int>(a.bitLength() / 8) - 1; b >= 0 && v > 0; --b) {
    const std::uint64_t sum = a.ip.bytes[static_cast<std::size_t>(b)] + (v & 0xff);
    a.ip.bytes[static_cast<std::size_t>(b)] = static_cast<std::uint8_t>(sum);
    v = (v >> 8) + (sum >> 8);
  }
  return a;
}

// ---- The scenario ----

enum class ClientClose { kFirst, kAfterServer, kAt, kRst, kHalfClose, kIdle, kLostFinalAck };
enum class ServerClose { kAfterClient, kFirst, kAt, kRst, kHalfClose };

struct Service {
  std::uint16_t port = 80;
  std::uint64_t response = 1000;
  ServerClose close = ServerClose::kAfterClient;
  TimeNs closeAfter = 0;
  TimeNs delay = 0;  // slowness: the response waits this long
};

struct ClientGroup {
  std::string name;
  Prefix sources;
  std::uint32_t hosts = 50;
  Address vip;
  std::uint16_t port = 80;
  std::uint64_t sessions = 1;
  TimeNs start = 0;
  double rate = 100;  // sessions per second
  std::uint64_t request = 100;
  std::uint64_t response = 1000;
  ClientClose close = ClientClose::kFirst;
  TimeNs closeAfter = 0;
  // Outcomes.
  std::uint64_t started = 0, completed = 0, reset = 0, failed = 0;
  // Handshakes: the longest (first SYN to established), and those that needed their SYN sent
  // again (took at least the initial retransmission timeout).
  TimeNs connectMax = 0;
  std::uint64_t slowConnects = 0;
};

struct Flood {
  Address vip;
  std::uint16_t port = 80;
  TimeNs start = 0, length = 0;
  double rate = 1000;
  Prefix sources;
};

struct Raw {
  TimeNs at = 0;
  std::string kind;
  std::uint32_t count = 1;
  Address vip;
  std::uint16_t port = 80;
  std::string src = "10.200.0.1";
};

struct Event {
  TimeNs at = 0;
  std::string method, path, body;
  long status = 0;
  std::string backend, set;  // host changes
};

struct Expectation {
  TimeNs at = 0;
  bool atEnd = false;
  YAML::Node node;
  std::string text;
};

struct Scenario {
  std::string name;
  std::uint64_t seed = 1;
  TimeNs length = 10 * kNsPerSec;
  TimeNs latency = 100'000;
  Config config;
  std::vector<Service> services;
  std::vector<ClientGroup> groups;
  std::vector<Flood> floods;
  std::vector<Raw> raws;
  std::vector<Event> events;
  std::vector<Expectation> expects;
};

ClientClose clientClose(const std::string& s) {
  if (s == "first") return ClientClose::kFirst;
  if (s == "after_server") return ClientClose::kAfterServer;
  if (s == "at") return ClientClose::kAt;
  if (s == "rst") return ClientClose::kRst;
  if (s == "half_close") return ClientClose::kHalfClose;
  if (s == "idle") return ClientClose::kIdle;
  if (s == "lost_final_ack") return ClientClose::kLostFinalAck;
  bad("clients: close \"" + s +
      "\" is not first, after_server, at, rst, half_close, idle, lost_final_ack");
}

ServerClose serverClose(const std::string& s) {
  if (s == "after_client") return ServerClose::kAfterClient;
  if (s == "first") return ServerClose::kFirst;
  if (s == "at") return ServerClose::kAt;
  if (s == "rst") return ServerClose::kRst;
  if (s == "half_close") return ServerClose::kHalfClose;
  bad("services: close \"" + s + "\" is not after_client, first, at, rst, half_close");
}

Scenario load(const std::string& path) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::Exception& e) {
    bad(path + ": " + e.what());
  }
  Scenario s;
  s.name = str(root["name"], "name");
  s.seed = num<std::uint64_t>(root["seed"], "seed", 1);
  s.length = duration(root["duration"], "duration");
  if (root["latency"]) s.latency = duration(root["latency"], "latency");
  ConfigResult cr = loadConfigString(str(root["config"], "config"));
  if (auto* e = std::get_if<ConfigError>(&cr)) bad("config: " + e->message);
  s.config = std::get<Config>(cr);
  s.config.workers = 1;
  for (const YAML::Node& n : root["services"]) {
    Service v;
    v.port = num<std::uint16_t>(n["port"], "services.port", 80);
    v.response = num<std::uint64_t>(n["response"], "services.response", 1000);
    v.close = serverClose(str(n["close"], "services.close", "after_client"));
    if (n["close_after"]) v.closeAfter = duration(n["close_after"], "services.close_after");
    if (n["delay"]) v.delay = duration(n["delay"], "services.delay");
    s.services.push_back(v);
  }
  if (s.services.empty()) s.services = {Service{80}, Service{443}};
  for (const YAML::Node& n : root["clients"]) {
    ClientGroup g;
    g.name = str(n["name"], "clients.name");
    auto p = Prefix::parse(str(n["sources"], "clients.sources"));
    if (!p) bad("clients." + g.name + ".sources is not a prefix");
    g.sources = *p;
    g.hosts = num<std::uint32_t>(n["hosts"], "clients.hosts", 50);
    g.vip = addressOf(str(n["vip"], "clients.vip"), "clients.vip");
    g.port = num<std::uint16_t>(n["port"], "clients.port", 80);
    g.sessions = num<std::uint64_t>(n["sessions"], "clients.sessions", 1);
    if (n["start"]) g.start = duration(n["start"], "clients.start");
    g.rate = num<double>(n["rate"], "clients.rate", 100);
    g.request = num<std::uint64_t>(n["request"], "clients.request", 100);
    g.response = num<std::uint64_t>(n["response"], "clients.response", 1000);
    g.close = clientClose(str(n["close"], "clients.close", "first"));
    if (n["close_after"]) g.closeAfter = duration(n["close_after"], "clients.close_after");
    if (g.hosts == 0 || g.rate <= 0) bad("clients." + g.name + ": hosts and rate must be positive");
    s.groups.push_back(g);
  }
  for (const YAML::Node& n : root["flood"]) {
    Flood f;
    f.vip = addressOf(str(n["vip"], "flood.vip"), "flood.vip");
    f.port = num<std::uint16_t>(n["port"], "flood.port", 80);
    f.start = duration(n["start"], "flood.start");
    f.length = duration(n["duration"], "flood.duration");
    f.rate = num<double>(n["rate"], "flood.rate", 1000);
    auto p = Prefix::parse(str(n["sources"], "flood.sources"));
    if (!p) bad("flood.sources is not a prefix");
    f.sources = *p;
    s.floods.push_back(f);
  }
  for (const YAML::Node& n : root["raw"]) {
    Raw r;
    r.at = duration(n["at"], "raw.at");
    r.kind = str(n["kind"], "raw.kind");
    r.count = num<std::uint32_t>(n["count"], "raw.count", 1);
    r.vip = addressOf(str(n["vip"], "raw.vip"), "raw.vip");
    r.port = num<std::uint16_t>(n["port"], "raw.port", 80);
    r.src = str(n["src"], "raw.src", "10.200.0.1");
    s.raws.push_back(r);
  }
  for (const YAML::Node& n : root["events"]) {
    Event e;
    e.at = duration(n["at"], "events.at");
    if (n["api"]) {
      std::istringstream in(n["api"].as<std::string>());
      in >> e.method >> e.path;
      if (e.path.empty()) bad("events.api: \"METHOD /path\"");
      e.body = str(n["body"], "events.body", " ");
      if (e.body == " ") e.body.clear();
      e.status = num<long>(n["status"], "events.status", 0);
    } else {
      e.backend = str(n["backend"], "events.backend");
      e.set = str(n["set"], "events.set");
      if (e.set != "silent" && e.set != "normal") bad("events.set: silent or normal");
    }
    s.events.push_back(e);
  }
  for (const YAML::Node& n : root["expect"]) {
    Expectation x;
    const std::string at = str(n["at"], "expect.at", "end");
    x.atEnd = at == "end";
    if (!x.atEnd) x.at = duration(n["at"], "expect.at");
    x.node = n;
    YAML::Emitter e;
    e << YAML::Flow << n;
    x.text = e.c_str();
    s.expects.push_back(x);
  }
  return s;
}

// ---- HTTP to the API ----

struct HttpReply {
  long status = 0;
  std::string body;
};

// ---- JSON paths: a.b[0].c[key=value] ----

const json* lookup(const json& root, const std::string& path) {
  const json* cur = &root;
  std::size_t i = 0;
  while (i < path.size() && cur != nullptr) {
    if (path[i] == '.') {
      ++i;
      continue;
    }
    if (path[i] == '[') {
      const auto close = path.find(']', i);
      if (close == std::string::npos) return nullptr;
      const std::string sel = path.substr(i + 1, close - i - 1);
      i = close + 1;
      if (!cur->is_array()) return nullptr;
      const auto eq = sel.find('=');
      if (eq == std::string::npos) {
        std::size_t idx = 0;
        auto [p, ec] = std::from_chars(sel.data(), sel.data() + sel.size(), idx);
        if (ec != std::errc() || idx >= cur->size()) return nullptr;
        cur = &(*cur)[idx];
      } else {
        const std::string k = sel.substr(0, eq), v = sel.substr(eq + 1);
        const json* found = nullptr;
        for (const json& item : *cur) {
          if (item.contains(k) && ((item[k].is_string() && item[k] == v) ||
                                   (!item[k].is_string() && item[k].dump() == v))) {
            found = &item;
            break;
          }
        }
        cur = found;
      }
      continue;
    }
    const auto end = path.find_first_of(".[", i);
    const std::string key = path.substr(i, end == std::string::npos ? std::string::npos : end - i);
    i = end == std::string::npos ? path.size() : end;
    if (!cur->is_object() || !cur->contains(key)) return nullptr;
    cur = &(*cur)[key];
  }
  return cur;
}

// ---- The world ----

class World {
 public:
  World(Scenario& s, std::ostream& log) : s_(s), log_(log) {}
  int run();

 private:
  void schedule(TimeNs at, std::function<void()> fn) {
    queue_.push(Item{at, seq_++, std::move(fn)});
  }
  void toLb(Frame f) {
    auto shared = std::make_shared<Frame>(std::move(f));
    schedule(now_ + s_.latency, [this, shared] { lbReceive(*shared); });
  }
  void toHost(Frame f);
  void lbReceive(Frame& f);
  void kernelReceive(const Frame& f);
  void engineRun();
  void periodic();
  void healthRound();
  void startSession(ClientGroup& g, std::uint64_t i);
  void serverSetup(TcpConn& c);
  TcpHost& host(const Address& a);
  Frame rawFrame(const Raw& r, std::uint32_t i);
  HttpReply http(const std::string& method, const std::string& path, const std::string& body = "");
  bool check(const Expectation& x);
  void event(const Event& e);
  std::int64_t wallClock() const {
    return 1'700'000'000 + static_cast<std::int64_t>(now_ / kNsPerSec);
  }

  struct Item {
    TimeNs at;
    std::uint64_t seq;
    std::function<void()> fn;
    bool operator>(const Item& o) const { return at != o.at ? at > o.at : seq > o.seq; }
  };

  Scenario& s_;
  std::ostream& log_;
  TimeNs now_ = 0;
  std::uint64_t seq_ = 0;
  std::priority_queue<Item, std::vector<Item>, std::greater<>> queue_;
  std::mt19937_64 rng_{1};

  std::unique_ptr<XdpProgram> prog_;
  std::unique_ptr<SimIo> io_;
  std::unique_ptr<Worker> worker_;
  std::unique_ptr<Controller> controller_;
  std::unique_ptr<ApiServer> api_;
  std::string token_;
  TimeNs xdpClock_ = 0;
  std::map<std::string, std::unique_ptr<TcpHost>> hosts_;
  std::vector<Frame> engineOut_;

  // The LB kernel's side of health checks.
  struct Probe {
    Address vip, backend;
    bool ok = false;
  };
  std::map<std::uint32_t, Probe> probes_;  // by local port
  std::uint16_t probePort_ = 61000;
  std::unique_ptr<HealthTracker> tracker_;

  std::uint64_t unroutable_ = 0, kernelFrames_ = 0;
  int failures_ = 0;
};

TcpHost& World::host(const Address& a) {
  auto& h = hosts_[a.toString()];
  if (!h) {
    h = std::make_unique<TcpHost>(
        a, simHostMac(a), simLocalMac(), [this](Frame&& f) { toLb(std::move(f)); }, s_.seed);
  }
  return *h;
}

void World::toHost(Frame f) {
  PacketInfo in;
  Reason why = Reason::kPassNotIp;
  if (!parsePacket(f.data(), static_cast<std::uint32_t>(f.size()), in, why) ||
      in.family == Family::kNone) {
    ++unroutable_;
    return;
  }
  auto it = hosts_.find(Address{in.family, in.dst}.toString());
  if (it == hosts_.end()) {
    ++unroutable_;  // a spoofed source, or an address nobody simulates
    return;
  }
  TcpHost* h = it->second.get();
  auto shared = std::make_shared<Frame>(std::move(f));
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
    testing::PacketSpec r;
    r.srcMac = simLocalMac().toString();
    r.dstMac = simHostMac(it->second.backend).toString();
    r.src = Address{seg.family, seg.dst}.toString();
    r.dst = it->second.backend.toString();
    r.sport = seg.dport;
    r.dport = seg.sport;
    r.seq = seg.ack;
    r.flags = kTcpRst;
    toHost(testing::buildPacket(r));
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
    testing::PacketSpec p;
    p.srcMac = simLocalMac().toString();
    p.dstMac = simHostMac(t.backend).toString();
    p.src = from.toString();
    p.dst = t.backend.toString();
    p.sport = port;
    p.dport = t.port;
    p.seq = static_cast<std::uint32_t>(rng_());
    p.tcpOptions = testing::optMss(1460);
    toHost(testing::buildPacket(p));
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
  testing::PacketSpec p;
  p.srcMac = simHostMac(*Address::parse(r.src)).toString();
  p.dstMac = simLocalMac().toString();
  p.src = r.src;
  p.dst = r.vip.toString();
  p.dport = r.port;
  p.sport = static_cast<std::uint16_t>(40000 + i);
  p.seq = 1000 + i;
  if (r.kind == "syn") return testing::buildPacket(p);
  if (r.kind == "udp") {
    p.proto = 17;
    return testing::buildPacket(p);
  }
  if (r.kind == "icmp") {
    p.proto = 1;
    return testing::buildPacket(p);
  }
  if (r.kind == "syn_fin") {
    p.flags = 0x03;
    return testing::buildPacket(p);
  }
  if (r.kind == "null_flags") {
    p.flags = 0;
    return testing::buildPacket(p);
  }
  if (r.kind == "odd_options") {
    p.tcpOptions = {0x01, 0x01, 0x05, 0x01};  // NOP NOP and a SACK option of length 1
    return testing::buildPacket(p);
  }
  Frame f = testing::buildPacket(p);
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

bool World::check(const Expectation& x) {
  const YAML::Node& n = x.node;
  json actual;
  std::string what;
  if (n["sessions"]) {
    const std::string name = n["sessions"].as<std::string>();
    const ClientGroup* g = nullptr;
    for (const ClientGroup& cg : s_.groups) {
      if (cg.name == name) g = &cg;
    }
    if (g == nullptr) bad("expect.sessions: no client group " + name);
    bool ok = true;
    std::ostringstream got;
    got << "started " << g->started << ", completed " << g->completed << ", reset " << g->reset
        << ", failed " << g->failed;
    const std::uint64_t unfinished = g->started - g->completed - g->reset - g->failed;
    const std::uint64_t connectMs = static_cast<std::uint64_t>(g->connectMax / kNsPerMs);
    got << ", unfinished " << unfinished << ", slowest handshake " << connectMs << " ms, "
        << g->slowConnects << " needed the SYN again";
    for (const char* k :
         {"started", "completed", "reset", "failed", "unfinished", "connect_ms", "slow_connects"}) {
      const std::string key = k;
      const std::uint64_t have = key == "started"         ? g->started
                                 : key == "completed"     ? g->completed
                                 : key == "reset"         ? g->reset
                                 : key == "failed"        ? g->failed
                                 : key == "connect_ms"    ? connectMs
                                 : key == "slow_connects" ? g->slowConnects
                                                          : unfinished;
      if (n[key]) ok = ok && n[key].as<std::uint64_t>() == have;
      if (n[key + "_min"]) ok = ok && have >= n[key + "_min"].as<std::uint64_t>();
      if (n[key + "_max"]) ok = ok && have <= n[key + "_max"].as<std::uint64_t>();
    }
    if (!ok)
      log_ << "FAIL: " << x.text << ": got " << got.str() << "\n";
    else
      log_ << "  ok: " << x.text << " (" << got.str() << ")\n";
    return ok;
  }
  if (n["weights"]) {
    const std::string vip = n["weights"].as<std::string>();
    const double within = num<double>(n["within"], "expect.within", 0.05);
    const HttpReply r = http("GET", "/api/v1/vips/" + vip + "/backends");
    const json j = json::parse(r.body, nullptr, false);
    if (!j.is_object() || !j.contains("items")) {
      log_ << "FAIL: " << x.text << ": " << r.status << " " << r.body << "\n";
      return false;
    }
    double total = 0, weights = 0;
    for (const json& b : j["items"]) {
      total += b["connections_total"].get<double>();
      weights += b["weight"].get<double>();
    }
    bool ok = total > 0;
    std::ostringstream got;
    for (const json& b : j["items"]) {
      const double want = total * b["weight"].get<double>() / weights;
      const double have = b["connections_total"].get<double>();
      got << b["address"].get<std::string>() << " " << have << " (weight share " << want << ") ";
      if (want > 0 && std::fabs(have - want) / want > within) ok = false;
    }
    if (!ok)
      log_ << "FAIL: " << x.text << ": " << got.str() << "\n";
    else
      log_ << "  ok: " << x.text << " (" << got.str() << ")\n";
    return ok;
  }
  if (n["metric"]) {
    what = n["metric"].as<std::string>();
    const HttpReply r = http("GET", "/metrics");
    std::istringstream in(r.body);
    for (std::string line; std::getline(in, line);) {
      if (line.rfind(what + " ", 0) == 0) actual = std::stod(line.substr(what.size() + 1));
    }
  } else {
    const std::string path = str(n["get"], "expect.get");
    const std::string jpath = str(n["path"], "expect.path");
    what = path + " " + jpath;
    const HttpReply r = http("GET", path);
    const json j = json::parse(r.body, nullptr, false);
    const json* v = lookup(j, jpath);
    if (v != nullptr) actual = *v;
    // Reason maps list only the reasons seen: a reason never seen counts zero.
    const bool reasonMap = jpath.rfind("xdp.", 0) == 0 || jpath.rfind("engine.", 0) == 0;
    if (v == nullptr && reasonMap && j.is_object() &&
        jpath.find('.', jpath.find('.') + 1) == std::string::npos) {
      actual = 0;
    }
  }
  bool ok = !actual.is_null();
  auto asNum = [](const json& v) { return v.is_number() ? v.get<double>() : std::nan(""); };
  if (ok && n["equals"]) {
    const YAML::Node& e = n["equals"];
    if (actual.is_string())
      ok = actual.get<std::string>() == e.as<std::string>();
    else if (actual.is_boolean())
      ok = actual.get<bool>() == e.as<bool>();
    else
      ok = asNum(actual) == e.as<double>();
  }
  if (ok && n["min"]) ok = asNum(actual) >= n["min"].as<double>();
  if (ok && n["max"]) ok = asNum(actual) <= n["max"].as<double>();
  if (!ok)
    log_ << "FAIL: " << x.text << ": got " << (actual.is_null() ? "nothing" : actual.dump())
         << "\n";
  else
    log_ << "  ok: " << x.text << " (got " << actual.dump() << ")\n";
  return ok;
}

int World::run() {
  rng_.seed(s_.seed);
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(0, &set);
  sched_setaffinity(0, sizeof set, &set);
  std::string err;
  XdpOptions xo;
  xo.failOpen = s_.config.failOpen;
  xo.blocklistCapacity = s_.config.blocklistCapacity;
  xo.simRedirect = true;
  prog_ = XdpProgram::load(xo, err);
  if (!prog_) {
    log_ << "xlb-sim: the XDP stage cannot run (" << err << "); run needs root and BPF\n";
    const char* ci = std::getenv("CI");
    return ci != nullptr && std::string(ci) == "true" ? 1 : kExitNoBpf;
  }
  std::uint64_t seed = s_.seed;
  const CookieKey key{seed * 0x9e3779b97f4a7c15ull + 1, seed ^ 0xc2b2ae3d27d4eb4full};
  io_ = std::make_unique<SimIo>(
      [this](const std::uint8_t* d, std::uint32_t len) { engineOut_.emplace_back(d, d + len); });
  worker_ = std::make_unique<Worker>(0, 1, s_.config, *io_, nullptr, key, seed);
  ControllerDeps deps;
  deps.prog = prog_.get();
  deps.workers = {worker_.get()};
  deps.localMac = simLocalMac();
  deps.resolve = [](const Address& a) -> std::optional<MacAddr> { return simHostMac(a); };
  deps.cookieKey = key;
  controller_ = std::make_unique<Controller>(s_.config, std::move(deps), nullptr,
                                             [this] { return wallClock(); });
  if (!controller_->start(err)) {
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

  // Backends: every configured backend address serves every service port.
  for (const VipConfig& v : s_.config.vips) {
    for (const BackendConfig& b : v.backends) {
      TcpHost& h = host(b.address);
      for (const Service& svc : s_.services)
        h.listen(svc.port, [this](TcpConn& c) { serverSetup(c); });
    }
  }
  for (ClientGroup& g : s_.groups) {
    for (std::uint64_t i = 0; i < g.sessions; ++i) {
      const auto at = g.start + static_cast<TimeNs>(static_cast<double>(i) * 1e9 / g.rate);
      schedule(at, [this, &g, i] { startSession(g, i); });
    }
  }
  for (const Flood& f : s_.floods) {
    const auto total = static_cast<std::uint64_t>(f.rate * static_cast<double>(f.length) / 1e9);
    const std::uint32_t bits = f.sources.addr.bitLength() - f.sources.length;
    for (std::uint64_t i = 0; i < total; ++i) {
      const auto at = f.start + static_cast<TimeNs>(static_cast<double>(i) * 1e9 / f.rate);
      schedule(at, [this, &f, bits] {
        testing::PacketSpec p;
        const std::uint64_t r = rng_();
        const Address src = nthInPrefix(f.sources, bits >= 63 ? r : r % ((1ull << bits) - 2));
        p.srcMac = "02:dd:00:00:00:01";
        p.dstMac = simLocalMac().toString();
        p.src = src.toString();
        p.dst = f.vip.toString();
        p.sport = static_cast<std::uint16_t>(1024 + (r >> 40) % 60000);
        p.dport = f.port;
        p.seq = static_cast<std::uint32_t>(r >> 8);
        p.tcpOptions = testing::optMss(1460);
        toLb(testing::buildPacket(p));
      });
    }
  }
  for (const Raw& r : s_.raws) {
    for (std::uint32_t i = 0; i < r.count; ++i) {
      schedule(r.at + i * 1000, [this, &r, i] { toLb(rawFrame(r, i)); });
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
       << kernelFrames_ << "\n";
  api_->stop();
  log_ << "scenario " << s_.name << ": " << (failures_ == 0 ? "PASS" : "FAIL") << " (" << failures_
       << " failed expectation(s))\n";
  return failures_ == 0 ? 0 : 1;
}

}  // namespace

int runScenario(const std::string& path, std::ostream& log) {
  try {
    Scenario s = load(path);
    World w(s, log);
    return w.run();
  } catch (const ScenarioError& e) {
    log << "xlb-sim: " << path << ": " << e.message << "\n";
    return 2;
  }
}

}  // namespace xlb::sim
