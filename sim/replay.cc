// SPDX-License-Identifier: Apache-2.0
#include "replay.h"

#include <linux/bpf.h>
#include <sched.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>

#include "sim_io.h"
#include "xlb/assembly.h"
#include "xlb/packet_builder.h"
#include "xlb/snapshot.h"
#include "xlb/splitmix.h"
#include "xlb/worker.h"
#include "xlb/xdp_program.h"

namespace xlb::sim {

using nlohmann::json;

SimSeeds seedsFrom(std::uint64_t seed) {
  std::uint64_t s = seed;
  SimSeeds out;
  out.key = CookieKey{splitmix64(s), splitmix64(s)};
  out.tableSeed = splitmix64(s);
  return out;
}

namespace {

constexpr TimeNs kSample = 100 * kNsPerMs;  // timeline resolution
constexpr TimeNs kXdpClockStep = kNsPerMs;  // XDP's virtual clock is refreshed this often
constexpr TimeNs kBatchWindow = kNsPerMs;   // frames this close in time share an engine batch
constexpr TimeNs kDrainStep = 10 * kNsPerMs;

json reasonCounts(const std::array<std::uint64_t, kReasonCount>& r) {
  json j = json::object();
  for (std::size_t i = 0; i < kReasonCount; ++i) {
    if (r[i] != 0) j[std::string(kReasonNames[i])] = r[i];
  }
  return j;
}

json actionCountsJson(const std::array<std::uint64_t, kReasonCount>& r, bool xdp) {
  const auto a = actionCounts(r);
  json j = {{"pass", a[static_cast<std::size_t>(Action::kPass)]},
            {"drop", a[static_cast<std::size_t>(Action::kDrop)]},
            {"tx", a[static_cast<std::size_t>(Action::kTx)]}};
  if (xdp)
    j["redirect"] = a[static_cast<std::size_t>(Action::kRedirect)];
  else
    j["hold"] = a[static_cast<std::size_t>(Action::kHold)];
  return j;
}

std::string fmtHex(std::uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

TimeNs maxTimeout(const Timeouts& t) {
  return std::max({t.syn, t.established, t.fin, t.timeWait, t.rst});
}

}  // namespace

bool replay(const ReplayOptions& options, const std::vector<PcapFrame>& in, PcapWriter* out,
            json& report, std::string& error) {
  Config config = options.config;
  config.workers = 1;  // one worker: the simulator runs on one thread
  if (std::string e = checkConfig(config); !e.empty()) {
    error = e;
    return false;
  }
  // Per-CPU state in XDP (SYN-rate windows) must see every frame on one CPU to be deterministic.
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(0, &set);
  sched_setaffinity(0, sizeof set, &set);

  const SimSeeds seeds = seedsFrom(options.seed);
  const CookieKey& key = seeds.key;
  const std::uint64_t tableSeed = seeds.tableSeed;

  std::unique_ptr<XdpProgram> prog;
  if (options.xdp) {
    XdpOptions xo = xdpOptionsFor(config, true);
    xo.runtime = options.xdpRuntime;
    prog = XdpProgram::load(xo, error);
    if (!prog) {
      error = "the XDP stage cannot run (" + error +
              "); run as root with BPF, or drop --kernel for the native build of the program";
      return false;
    }
    if (!prog->applyConfig(config, key, error)) return false;
    for (const Prefix& p : config.blocklist) {
      bool exists = false;
      if (!prog->blockAdd(p, error, &exists) && !exists) return false;
    }
  }

  TimeNs now = 0;
  SimIo io([&](const std::uint8_t* d, std::uint32_t len) {
    if (out != nullptr) out->write(now, d, len);
  });
  Worker worker(0, 1, config, io, nullptr, key, tableSeed);
  // Open loop: no backend answers a replayed SYN, so xlb's own SYN retransmissions would only
  // add copies to the output. Closed-loop runs keep them.
  worker.pipeline().setSynRetransmit(false);
  worker.publish(Snapshot::fromConfig(config, frames::lbMac(), frames::hostMac));

  std::array<std::uint64_t, kReasonCount> xdpBefore{};
  if (prog) {
    const auto st = prog->stats();
    for (std::size_t i = 0; i < kReasonCount; ++i) xdpBefore[i] = st[i].packets;
  }

  const TimeNs first = in.empty() ? 0 : in.front().ts;
  const TimeNs span = in.empty() ? 0 : in.back().ts - first;
  json timeline = json::array();
  TimeNs nextSample = first;
  std::uint64_t peak = 0;
  auto sample = [&](TimeNs t) {
    while (t >= nextSample) {
      worker.publishNow();
      const std::uint64_t active = worker.stats().active;
      peak = std::max(peak, active);
      timeline.push_back({(nextSample - first) / kNsPerMs, active});
      nextSample += kSample;
    }
  };

  TimeNs xdpClock = 0;
  TimeNs batchStart = 0;
  std::uint64_t frames = 0;
  const auto wall0 = std::chrono::steady_clock::now();
  for (std::uint32_t loop = 0; loop < std::max<std::uint32_t>(1, options.loops); ++loop) {
    const TimeNs shift = loop * (span + kNsPerMs);
    for (const PcapFrame& f : in) {
      const TimeNs t = std::max(now, f.ts + shift);
      // Frames far apart in time are not one batch: the engine sees the time of its batch.
      if (io.pending() > 0 && t - batchStart > kBatchWindow) worker.step(now);
      now = t;
      sample(now);
      ++frames;
      const std::uint8_t* data = f.data.data();
      auto len = static_cast<std::uint32_t>(f.data.size());
      if (prog) {
        if (now - xdpClock >= kXdpClockStep || xdpClock == 0) {
          prog->setFixedNow(now);
          xdpClock = now;
        }
        const XdpRun r = prog->runFrame(f.data);
        if (r.action == XDP_TX && out != nullptr) {
          out->write(now, r.frame.data(), static_cast<std::uint32_t>(r.frame.size()));
        }
        if (r.action != XDP_REDIRECT) continue;
      }
      if (io.pending() == 0) batchStart = now;
      io.push(data, len);
      if (io.pending() >= kMaxBatch) worker.step(now);
    }
  }
  while (io.pending() > 0) worker.step(now);
  const auto wall = std::chrono::steady_clock::now() - wall0;
  worker.publishNow();
  const std::uint64_t activeAtEnd = worker.stats().active;

  if (options.drain) {
    const TimeNs until = now + maxTimeout(config.conntrack.timeouts) + 2 * kNsPerSec;
    while (now < until) {
      now += kDrainStep;
      worker.step(now);
      sample(now);
      if (timeline.back()[1] == 0 && worker.stats().active == 0) break;
    }
  }
  worker.publishNow();
  const WorkerStats ws = worker.stats();

  // Thin the timeline to at most 1000 points (every k-th sample).
  if (timeline.size() > 1000) {
    const std::size_t k = (timeline.size() + 999) / 1000;
    json thin = json::array();
    for (std::size_t i = 0; i < timeline.size(); i += k) thin.push_back(timeline[i]);
    timeline = std::move(thin);
  }

  std::array<std::uint64_t, kReasonCount> xdp{};
  if (prog) {
    const auto st = prog->stats();
    for (std::size_t i = 0; i < kReasonCount; ++i) xdp[i] = st[i].packets - xdpBefore[i];
  }
  json closed = json::object();
  std::uint64_t closedTotal = 0;
  for (std::size_t i = 0; i < kCloseReasonCount; ++i) {
    closed[std::string(enumName(static_cast<CloseReason>(i)))] = ws.closed[i];
    closedTotal += ws.closed[i];
  }
  json backends = json::array();
  std::uint16_t id = 0;
  for (const VipConfig& v : config.vips) {
    for (const BackendConfig& b : v.backends) {
      const std::uint64_t n = id < ws.backends.size() ? ws.backends[id].counters.created : 0;
      backends.push_back({{"vip", v.address.toString()},
                          {"address", b.address.toString()},
                          {"weight", b.weight},
                          {"connections", n}});
      ++id;
    }
  }
  const double seconds = std::chrono::duration<double>(wall).count();
  report =
      json{{"mode", options.xdp ? "xdp+engine" : "engine"},
           {"input",
            {{"frames", in.size()},
             {"loops", std::max<std::uint32_t>(1, options.loops)},
             {"duration_ms", span / kNsPerMs}}},
           {"xdp", {{"verdicts", actionCountsJson(xdp, true)}, {"reasons", reasonCounts(xdp)}}},
           {"engine",
            {{"frames", ws.counters.packets},
             {"verdicts", actionCountsJson(ws.counters.reasons, false)},
             {"reasons", reasonCounts(ws.counters.reasons)}}},
           {"output",
            {{"frames", out != nullptr ? out->frames() : 0},
             {"fnv1a64", out != nullptr ? fmtHex(out->digest()) : ""}}},
           {"conntrack",
            {{"created", ws.created},
             {"closed", closed},
             {"closed_total", closedTotal},
             {"peak_active", peak},
             {"active_at_end_of_input", activeAtEnd},
             {"active_after_drain", ws.active},
             {"timeline_ms_active", timeline}}},
           {"snat", {{"ports_in_use_after_drain", ws.snatInUse}}},
           {"backends", backends},
           {"rate",
            {{"frames", frames},
             {"wall_ms", seconds * 1e3},
             {"mpps", seconds > 0 ? static_cast<double>(frames) / seconds / 1e6 : 0.0},
             {"xdp_runtime", !options.xdp                                    ? "none"
                             : options.xdpRuntime == XdpRuntimeKind::kKernel ? "kernel"
                                                                             : "native"}}}};
  if (!options.xdp) report.erase("xdp");
  return true;
}

}  // namespace xlb::sim
