// SPDX-License-Identifier: Apache-2.0
#include "replay.h"

#include <linux/bpf.h>
#include <sched.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>

#include "replay_xdp.h"
#include "sim_io.h"
#include "xlb/assembly.h"
#include "xlb/packet_builder.h"
#include "xlb/snapshot.h"
#include "xlb/splitmix.h"
#include "xlb/worker.h"

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

namespace {

// One replay: the XDP stage, a worker on the capture's clock, the timeline of active entries.
class Replayer {
 public:
  Replayer(const ReplayOptions& options, Config config, PcapWriter* out)
      : options_(options),
        config_(std::move(config)),
        out_(out),
        seeds_(seedsFrom(options.seed)),
        io_([this](const std::uint8_t* d, std::uint32_t len) {
          if (out_ != nullptr) out_->write(now_, d, len);
        }),
        worker_(0, 1, config_, io_, nullptr, seeds_.key, seeds_.tableSeed) {
    // Open loop: no backend answers a replayed SYN, so xlb's own SYN retransmissions would only
    // add copies to the output. Closed-loop runs keep them.
    worker_.pipeline().setSynRetransmit(false);
    worker_.publish(Snapshot::fromConfig(config_, frames::lbMac(), frames::hostMac));
  }

  bool loadXdp(std::string& error) {
    if (!options_.xdp) return true;
    xdp_ = ReplayXdp::load(options_.xdpMode, config_, seeds_.key, error);
    if (!xdp_) return false;
    xdpBefore_ = xdp_->counts();
    return true;
  }

  // Every frame of every loop; false with `error` when --differential finds a difference.
  bool feed(const std::vector<PcapFrame>& in, std::string& error) {
    first_ = in.empty() ? 0 : in.front().ts;
    span_ = in.empty() ? 0 : in.back().ts - first_;
    nextSample_ = first_;
    const auto wall0 = std::chrono::steady_clock::now();
    for (std::uint32_t loop = 0; loop < loops(); ++loop) {
      const TimeNs shift = loop * (span_ + kNsPerMs);
      for (const PcapFrame& f : in) {
        if (!frame(f, f.ts + shift, error)) return false;
      }
    }
    while (io_.pending() > 0) worker_.step(now_);
    wallSeconds_ = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0).count();
    worker_.publishNow();
    activeAtEnd_ = worker_.stats().active;
    return true;
  }

  // Runs the clock on until every entry has left (or the longest timeout has passed).
  void drain() {
    const TimeNs until = now_ + maxTimeout(config_.conntrack.timeouts) + 2 * kNsPerSec;
    while (now_ < until) {
      now_ += kDrainStep;
      worker_.step(now_);
      sample(now_);
      if (timeline_.back()[1] == 0 && worker_.stats().active == 0) break;
    }
  }

  json report(const std::vector<PcapFrame>& in);

 private:
  std::uint32_t loops() const { return std::max<std::uint32_t>(1, options_.loops); }

  bool frame(const PcapFrame& f, TimeNs at, std::string& error) {
    const TimeNs t = std::max(now_, at);
    // Frames far apart in time are not one batch: the engine sees the time of its batch.
    if (io_.pending() > 0 && t - batchStart_ > kBatchWindow) worker_.step(now_);
    now_ = t;
    sample(now_);
    ++frames_;
    if (xdp_) {
      if (now_ - xdpClock_ >= kXdpClockStep || xdpClock_ == 0) {
        xdp_->setNow(now_);
        xdpClock_ = now_;
      }
      XdpRun r;
      if (!xdp_->run(f.data, r, error)) return false;
      if (r.action == XDP_TX && out_ != nullptr) {
        out_->write(now_, r.frame.data(), static_cast<std::uint32_t>(r.frame.size()));
      }
      if (r.action != XDP_REDIRECT) return true;
    }
    if (io_.pending() == 0) batchStart_ = now_;
    io_.push(f.data.data(), static_cast<std::uint32_t>(f.data.size()));
    if (io_.pending() >= kMaxBatch) worker_.step(now_);
    return true;
  }

  void sample(TimeNs t) {
    while (t >= nextSample_) {
      worker_.publishNow();
      const std::uint64_t active = worker_.stats().active;
      peak_ = std::max(peak_, active);
      timeline_.push_back({(nextSample_ - first_) / kNsPerMs, active});
      nextSample_ += kSample;
    }
  }

  json conntrackJson(const WorkerStats& ws);
  json backendsJson(const WorkerStats& ws) const;

  const ReplayOptions& options_;
  const Config config_;
  PcapWriter* out_;
  const SimSeeds seeds_;
  TimeNs now_ = 0;
  SimIo io_;
  Worker worker_;
  std::unique_ptr<ReplayXdp> xdp_;
  std::array<std::uint64_t, kReasonCount> xdpBefore_{};
  TimeNs first_ = 0, span_ = 0, nextSample_ = 0, xdpClock_ = 0, batchStart_ = 0;
  json timeline_ = json::array();
  std::uint64_t peak_ = 0, frames_ = 0, activeAtEnd_ = 0;
  double wallSeconds_ = 0;
};

json Replayer::conntrackJson(const WorkerStats& ws) {
  // Thin the timeline to at most 1000 points (every k-th sample).
  if (timeline_.size() > 1000) {
    const std::size_t k = (timeline_.size() + 999) / 1000;
    json thin = json::array();
    for (std::size_t i = 0; i < timeline_.size(); i += k) thin.push_back(timeline_[i]);
    timeline_ = std::move(thin);
  }
  json closed = json::object();
  std::uint64_t closedTotal = 0;
  for (std::size_t i = 0; i < kCloseReasonCount; ++i) {
    closed[std::string(enumName(static_cast<CloseReason>(i)))] = ws.closed[i];
    closedTotal += ws.closed[i];
  }
  return {{"created", ws.created},
          {"closed", closed},
          {"closed_total", closedTotal},
          {"peak_active", peak_},
          {"active_at_end_of_input", activeAtEnd_},
          {"active_after_drain", ws.active},
          {"timeline_ms_active", timeline_}};
}

json Replayer::backendsJson(const WorkerStats& ws) const {
  json backends = json::array();
  std::uint16_t id = 0;
  for (const VipConfig& v : config_.vips) {
    for (const BackendConfig& b : v.backends) {
      const std::uint64_t n = id < ws.backends.size() ? ws.backends[id].counters.created : 0;
      backends.push_back({{"vip", v.address.toString()},
                          {"address", b.address.toString()},
                          {"weight", b.weight},
                          {"connections", n}});
      ++id;
    }
  }
  return backends;
}

const char* runtimeName(const ReplayOptions& o) {
  if (!o.xdp) return "none";
  switch (o.xdpMode) {
    case ReplayXdpMode::kNative:
      return "native";
    case ReplayXdpMode::kKernel:
      return "kernel";
    case ReplayXdpMode::kDifferential:
      return "differential";
  }
  return "native";
}

json Replayer::report(const std::vector<PcapFrame>& in) {
  worker_.publishNow();
  const WorkerStats ws = worker_.stats();
  std::array<std::uint64_t, kReasonCount> xdp{};
  if (xdp_) {
    const auto now = xdp_->counts();
    for (std::size_t i = 0; i < kReasonCount; ++i) xdp[i] = now[i] - xdpBefore_[i];
  }
  const double s = wallSeconds_;
  json report = json{
      {"mode", options_.xdp ? "xdp+engine" : "engine"},
      {"input", {{"frames", in.size()}, {"loops", loops()}, {"duration_ms", span_ / kNsPerMs}}},
      {"xdp", {{"verdicts", actionCountsJson(xdp, true)}, {"reasons", reasonCounts(xdp)}}},
      {"engine",
       {{"frames", ws.counters.packets},
        {"verdicts", actionCountsJson(ws.counters.reasons, false)},
        {"reasons", reasonCounts(ws.counters.reasons)}}},
      {"output",
       {{"frames", out_ != nullptr ? out_->frames() : 0},
        {"fnv1a64", out_ != nullptr ? fmtHex(out_->digest()) : ""}}},
      {"conntrack", conntrackJson(ws)},
      {"snat", {{"ports_in_use_after_drain", ws.snatInUse}}},
      {"backends", backendsJson(ws)},
      {"rate",
       {{"frames", frames_},
        {"wall_ms", s * 1e3},
        {"mpps", s > 0 ? static_cast<double>(frames_) / s / 1e6 : 0.0},
        {"xdp_runtime", runtimeName(options_)}}}};
  if (!options_.xdp) report.erase("xdp");
  return report;
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

  auto r = std::make_unique<Replayer>(options, std::move(config), out);
  if (!r->loadXdp(error) || !r->feed(in, error)) return false;
  if (options.drain) r->drain();
  report = r->report(in);
  return true;
}

}  // namespace xlb::sim
