// SPDX-License-Identifier: Apache-2.0
// Engine-core benchmarks (single core, release build): established-flow pipeline throughput,
// the new-connection path, the full close cycle, Maglev build time and memory per connection.
// Each batch is copied from a pre-built pool of frames into the batch buffers before it is
// processed, as a NIC writes frames into UMEM; that copy is included in every figure.
#include <benchmark/benchmark.h>

#include <cstring>
#include <map>
#include <memory>
#include <random>

#include "harness.h"
#include "xlb/maglev.h"
#include "xlb/rewrite.h"

namespace xlb {
namespace {

using testing::A;
using testing::Bytes;
using testing::PacketSpec;

constexpr std::size_t kFrame = 64;  // every frame here fits in 64 bytes (54 used)

Config benchConfig(std::uint32_t capacity) {
  Config c;
  // 16 SNAT addresses x 64512 ports: enough distinct SNAT tuples for 1,000,000 connections.
  for (std::uint32_t i = 0; i < 16; ++i)
    c.snat.addresses.push_back(Address{Family::kV4, IpAddr::v4(0x0a010001u + i)});
  c.snat.portLo = 1024;
  c.snat.portHi = 65535;
  VipConfig v;
  v.address = A("10.0.0.100");
  for (std::uint32_t i = 0; i < 8; ++i)
    v.backends.push_back({Address{Family::kV4, IpAddr::v4(0x0a00000bu + i)}, 1});
  c.vips = {v};
  c.conntrack.capacity = capacity;
  return c;
}

// A template frame re-addressed with an incremental rewrite.
struct Template {
  Bytes bytes;
  PacketInfo info;
  explicit Template(PacketSpec s)
      : bytes(testing::buildPacket(s)), info(testing::parseInfo(bytes)) {}
  void make(std::uint8_t* out, IpAddr src, IpAddr dst, std::uint16_t sport,
            std::uint16_t dport) const {
    std::memcpy(out, bytes.data(), bytes.size());
    natRewrite(out, info, src, dst, sport, dport);
  }
  std::uint32_t size() const { return static_cast<std::uint32_t>(bytes.size()); }
};

PacketSpec spec(std::uint8_t flags, std::uint32_t seq, std::uint32_t ack) {
  PacketSpec s;
  s.flags = flags;
  s.seq = seq;
  s.ack = ack;
  s.dstMac = testing::kLbMac;
  return s;
}

// The LB-side tuple of a connection, read from the rewritten SYN.
struct Conn {
  IpAddr client;
  std::uint16_t cport;
  IpAddr backend;
  IpAddr snat;
  std::uint16_t sport;
};

struct Engine {
  testing::Harness h;
  TimeNs now = testing::sec(1);
  std::vector<std::uint8_t> buf = std::vector<std::uint8_t>(kMaxBatch * kFrame);
  std::array<Verdict, kMaxBatch> verdicts{};
  explicit Engine(std::uint32_t capacity) : h(benchConfig(capacity)) {
    h.pipe->setExpireBudget(Pipeline::kDefaultExpireBudget);
  }
  // Processes n frames already in buf.
  void run(std::size_t n, std::uint32_t len) {
    PacketBatch b;
    for (std::size_t i = 0; i < n; ++i) b.push({buf.data() + i * kFrame, len, kFrame, i});
    h.pipe->process(b, verdicts, now);
  }
};

const IpAddr kVip = A("10.0.0.100").ip;

std::uint64_t packets(const benchmark::State& state) {
  return static_cast<std::uint64_t>(state.iterations()) * kMaxBatch;
}
const Template& synT() {
  static Template t(spec(kTcpSyn, 100, 0));
  return t;
}
const Template& synAckT() {
  static Template t(spec(kTcpSyn | kTcpAck, 500, 101));
  return t;
}
const Template& ackT() {
  static Template t(spec(kTcpAck, 101, 501));
  return t;
}
const Template& cFinT() {
  static Template t(spec(kTcpFin | kTcpAck, 101, 501));
  return t;
}
const Template& sAckT() {
  static Template t(spec(kTcpAck, 501, 102));
  return t;
}
const Template& sFinT() {
  static Template t(spec(kTcpFin | kTcpAck, 501, 102));
  return t;
}
const Template& cLastAckT() {
  static Template t(spec(kTcpAck, 102, 502));
  return t;
}

Conn clientTuple(std::uint64_t i) {
  return Conn{IpAddr::v4(0x0b000000u + static_cast<std::uint32_t>(i % 4'000'000)),
              static_cast<std::uint16_t>(1024 + (i / 4'000'000) % 60000),
              {},
              {},
              0};
}

// Opens `conns.size()` connections with a full handshake, filling in the LB side of each.
void openAll(Engine& e, std::vector<Conn>& conns) {
  for (std::size_t base = 0; base < conns.size(); base += kMaxBatch) {
    const std::size_t n = std::min(kMaxBatch, conns.size() - base);
    for (std::size_t i = 0; i < n; ++i) {
      const Conn& c = conns[base + i];
      synT().make(e.buf.data() + i * kFrame, c.client, kVip, c.cport, 80);
    }
    e.run(n, synT().size());
    for (std::size_t i = 0; i < n; ++i) {
      const PacketInfo info = testing::parseInfo(e.buf.data() + i * kFrame, synT().size());
      Conn& c = conns[base + i];
      c.snat = info.src;
      c.sport = info.sport;
      c.backend = info.dst;
      synAckT().make(e.buf.data() + i * kFrame, c.backend, c.snat, 80, c.sport);
    }
    e.run(n, synAckT().size());
    for (std::size_t i = 0; i < n; ++i) {
      const Conn& c = conns[base + i];
      ackT().make(e.buf.data() + i * kFrame, c.client, kVip, c.cport, 80);
    }
    e.run(n, ackT().size());
  }
}

struct Established {
  std::unique_ptr<Engine> engine;
  std::vector<std::uint8_t> pool;  // frames for random flows, random direction
  std::size_t frames = 0;
};

Established& established(std::uint32_t flows) {
  static std::map<std::uint32_t, std::unique_ptr<Established>> cache;
  auto& slot = cache[flows];
  if (slot) return *slot;
  slot = std::make_unique<Established>();
  slot->engine = std::make_unique<Engine>(flows);  // capacity as configured: exactly the flows
  std::vector<Conn> conns(flows);
  for (std::uint32_t i = 0; i < flows; ++i) conns[i] = clientTuple(i);
  openAll(*slot->engine, conns);
  if (slot->engine->h.table->activeIn(TcpState::kEstablished) != flows) {
    std::fprintf(
        stderr, "bench setup: only %llu of %u flows established\n",
        static_cast<unsigned long long>(slot->engine->h.table->activeIn(TcpState::kEstablished)),
        flows);
    std::abort();
  }
  slot->frames = std::max<std::size_t>(flows, 1u << 16);
  slot->pool.resize(slot->frames * kFrame);
  std::mt19937_64 rng(flows);
  const Template data(spec(kTcpAck | kTcpPsh, 101, 501));
  const Template reply(spec(kTcpAck | kTcpPsh, 501, 101));
  for (std::size_t i = 0; i < slot->frames; ++i) {
    const Conn& c = conns[rng() % flows];
    if (rng() & 1) {
      data.make(slot->pool.data() + i * kFrame, c.client, kVip, c.cport, 80);
    } else {
      reply.make(slot->pool.data() + i * kFrame, c.backend, c.snat, 80, c.sport);
    }
  }
  return *slot;
}

void BM_PipelineEstablished(benchmark::State& state) {
  const auto flows = static_cast<std::uint32_t>(state.range(0));
  Established& est = established(flows);
  Engine& e = *est.engine;
  const std::uint32_t len = ackT().size();
  std::size_t pos = 0;
  std::uint64_t tx = 0;
  for (auto _ : state) {
    std::memcpy(e.buf.data(), est.pool.data() + pos * kFrame, kMaxBatch * kFrame);
    pos += kMaxBatch;
    if (pos + kMaxBatch > est.frames) pos = 0;
    e.now += 1000;  // 1 us per batch of virtual time
    e.run(kMaxBatch, len);
    for (std::size_t i = 0; i < kMaxBatch; ++i) tx += e.verdicts[i].action() == Action::kTx;
  }
  if (tx != packets(state)) state.SkipWithError("a packet was not transmitted");
  state.SetItemsProcessed(static_cast<std::int64_t>(packets(state)));
  state.counters["flows"] = flows;
  state.counters["bytes_per_conn"] = e.h.table->bytesPerConnection();
}
BENCHMARK(BM_PipelineEstablished)
    ->Arg(1000)
    ->Arg(10000)
    ->Arg(100'000)
    ->Arg(1'000'000)
    ->Unit(benchmark::kNanosecond);

// New connections: SYN -> Maglev pick, entry, SNAT port, rewrite. Every SYN is a new tuple; when
// the table's capacity has been used, a fresh engine is made outside the timed region.
void BM_NewConnections(benchmark::State& state) {
  constexpr std::uint32_t kCap = 1'000'000;
  std::unique_ptr<Engine> e = std::make_unique<Engine>(kCap);
  std::vector<std::uint8_t> pool(kCap * kFrame);
  for (std::uint32_t i = 0; i < kCap; ++i) {
    Conn c = clientTuple(i);
    synT().make(pool.data() + std::size_t{i} * kFrame, c.client, kVip, c.cport, 80);
  }
  std::size_t pos = 0;
  std::uint64_t created = 0;
  for (auto _ : state) {
    if (pos + kMaxBatch > kCap) {
      state.PauseTiming();
      created += e->h.table->created();
      e = std::make_unique<Engine>(kCap);
      pos = 0;
      state.ResumeTiming();
    }
    std::memcpy(e->buf.data(), pool.data() + pos * kFrame, kMaxBatch * kFrame);
    pos += kMaxBatch;
    e->now += 1000;
    e->run(kMaxBatch, synT().size());
  }
  created += e->h.table->created();
  if (created != packets(state)) state.SkipWithError("a SYN did not create an entry");
  state.SetItemsProcessed(static_cast<std::int64_t>(packets(state)));
}
BENCHMARK(BM_NewConnections)->Unit(benchmark::kNanosecond);

// Full close cycle per connection: SYN, SYN-ACK, ACK, FIN, ACK, FIN, ACK, then TIME_WAIT expiry
// by the pipeline's own bounded timer work. 64 connections per iteration, 7 batches; includes
// synthesising the server-side frames from the rewritten SYN.
void BM_CloseCycle(benchmark::State& state) {
  Engine e(1'000'000);
  std::uint64_t next = 0;
  std::array<Conn, kMaxBatch> conns{};
  auto client = [&](const Template& t) {
    for (std::size_t i = 0; i < kMaxBatch; ++i)
      t.make(e.buf.data() + i * kFrame, conns[i].client, kVip, conns[i].cport, 80);
    e.now += kNsPerMs;
    e.run(kMaxBatch, t.size());
  };
  auto server = [&](const Template& t) {
    for (std::size_t i = 0; i < kMaxBatch; ++i)
      t.make(e.buf.data() + i * kFrame, conns[i].backend, conns[i].snat, 80, conns[i].sport);
    e.now += kNsPerMs;
    e.run(kMaxBatch, t.size());
  };
  for (auto _ : state) {
    for (auto& c : conns) c = clientTuple(next++);
    client(synT());
    for (std::size_t i = 0; i < kMaxBatch; ++i) {
      const PacketInfo info = testing::parseInfo(e.buf.data() + i * kFrame, synT().size());
      conns[i].snat = info.src;
      conns[i].sport = info.sport;
      conns[i].backend = info.dst;
    }
    server(synAckT());
    client(ackT());
    client(cFinT());
    server(sAckT());
    server(sFinT());
    client(cLastAckT());
  }
  const auto& t = *e.h.table;
  if (t.closed(CloseReason::kFin) + t.active() != t.created() ||
      t.activeIn(TcpState::kEstablished) != 0) {
    state.SkipWithError("connections did not close cleanly");
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(packets(state)));
  state.counters["conns_per_sec"] =
      benchmark::Counter(static_cast<double>(packets(state)), benchmark::Counter::kIsRate);
  state.counters["closed_by_fin"] = static_cast<double>(t.closed(CloseReason::kFin));
  state.counters["in_time_wait"] = static_cast<double>(t.activeIn(TcpState::kTimeWait));
}
BENCHMARK(BM_CloseCycle)->Unit(benchmark::kNanosecond);

void BM_MaglevBuild(benchmark::State& state) {
  std::vector<MaglevBackend> b;
  for (std::int64_t i = 0; i < state.range(0); ++i) {
    b.push_back({Address{Family::kV4, IpAddr::v4(0x0a100000u + static_cast<std::uint32_t>(i))}, 1});
  }
  for (auto _ : state) {
    auto t = buildMaglev(b, kDefaultMaglevSize);
    benchmark::DoNotOptimize(t.data());
  }
  state.counters["backends"] = static_cast<double>(state.range(0));
}
BENCHMARK(BM_MaglevBuild)->Arg(10)->Arg(100)->Arg(1000)->Unit(benchmark::kMicrosecond);

void BM_MemoryPerConnection(benchmark::State& state) {
  SnatPool snat({A("10.0.0.2")}, 1024, 65535);
  ConnTable table(static_cast<std::uint32_t>(state.range(0)), Timeouts{}, snat, 1);
  for (auto _ : state) benchmark::DoNotOptimize(table.bytesPerConnection());
  state.counters["bytes_per_conn"] = table.bytesPerConnection();
  state.counters["entry_bytes"] = sizeof(ConnEntry);
  state.counters["table_MiB"] = static_cast<double>(table.bytesAllocated()) / (1024.0 * 1024.0);
}
BENCHMARK(BM_MemoryPerConnection)->Arg(100'000)->Arg(1'000'000)->Iterations(1);

}  // namespace
}  // namespace xlb

BENCHMARK_MAIN();
