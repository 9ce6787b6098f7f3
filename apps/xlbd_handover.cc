// SPDX-License-Identifier: Apache-2.0
#include "xlbd_handover.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include "xlb/flow_store.h"
#include "xlb/worker.h"  // monotonicNow
#include "xlbd_restart.h"

namespace xlb {
namespace {

// Before the quiesce a slow new process (loading and verifying its program) is waited for; after
// it the old one is already stopped and the answers are immediate.
constexpr std::chrono::milliseconds kPrepareTimeout{60'000};
constexpr std::chrono::milliseconds kStepTimeout{10'000};

void closeFds(const std::vector<int>& fds) {
  for (int fd : fds) close(fd);
}

// kState: when the workers stopped, then per queue its figures, its free frames and (in `fds`)
// its socket and UMEM.
HandoverWriter stateMessage(std::uint64_t stoppedAtNs, const std::vector<XskHandover>& socks,
                            std::vector<int>& fds) {
  HandoverWriter st;
  st.put(stoppedAtNs).put(static_cast<std::uint32_t>(socks.size()));
  for (const XskHandover& h : socks) {
    st.put(h.queue).put(h.frames).put(h.ringSize).put(h.inFill).put(h.inTx);
    st.put(static_cast<std::uint8_t>(h.zeroCopy ? 1 : 0));
    st.put(static_cast<std::uint32_t>(h.free.size()));
    for (std::uint64_t a : h.free) st.put(a);
    fds.push_back(h.socketFd);
    fds.push_back(h.umemFd);
  }
  return st;
}

}  // namespace

std::string handoverSocketPath(const Config& config) {
  return config.runtimeDir + "/handover.sock";
}

std::unique_ptr<Takeover> Takeover::begin(const Config& config, std::string& error) {
  auto ch = HandoverChannel::connect(handoverSocketPath(config));
  if (!ch) return nullptr;
  std::unique_ptr<Takeover> t(new Takeover(std::move(ch)));
  HandoverWriter hello;
  hello.put(kHandoverVersion).put(static_cast<std::int32_t>(getpid()));
  HandoverFrame f;
  if (!t->channel_->send(HandoverMsg::kHello, hello.bytes()) ||
      !t->channel_->receive(f, kStepTimeout, error)) {
    if (error.empty()) error = "the running xlbd did not answer the hand-over";
    return nullptr;
  }
  closeFds(f.fds);
  HandoverReader r(f.body);
  std::uint32_t version = 0, workers = 0, frames = 0;
  std::int32_t pid = 0;
  if (f.type != HandoverMsg::kWelcome || !r.get(version) || !r.get(pid) || !r.get(workers) ||
      !r.get(frames)) {
    error = "the running xlbd answered the hand-over with something else";
    return nullptr;
  }
  t->pid_ = pid;
  if (version != kHandoverVersion) {
    error = "the running xlbd (pid " + std::to_string(pid) + ") speaks hand-over version " +
            std::to_string(version) + ", this one " + std::to_string(kHandoverVersion) +
            ": stop it and start this one (its connections are kept)";
    return nullptr;
  }
  if (const std::string why = FlowStore::inspect(flowFilePath(config), flowLayout(config));
      !why.empty()) {
    error = "the running xlbd's connection tables do not fit this configuration (" + why +
            "): a hand-over would drop them; stop it and start this one to accept that";
    return nullptr;
  }
  if (workers != config.workers || frames != config.framesPerQueue) {
    error = "the running xlbd (pid " + std::to_string(pid) + ") has " + std::to_string(workers) +
            " worker(s) and " + std::to_string(frames) + " frames per queue, this configuration " +
            std::to_string(config.workers) + " and " + std::to_string(config.framesPerQueue) +
            ": sockets cannot change hands; stop it and start this one (its connections are "
            "kept)";
    return nullptr;
  }
  return t;
}

bool Takeover::quiesce(std::string& error) {
  if (quiesced_) return ok_;
  quiesced_ = true;
  HandoverFrame f;
  if (!channel_->send(HandoverMsg::kQuiesce, {}) || !channel_->receive(f, kStepTimeout, error)) {
    if (error.empty()) error = "the running xlbd went away during the hand-over";
    return false;
  }
  HandoverReader r(f.body);
  std::uint32_t count = 0;
  if (f.type != HandoverMsg::kState || !r.get(stoppedAtNs_) || !r.get(count) ||
      f.fds.size() != std::size_t{2} * count) {
    closeFds(f.fds);
    error = "the running xlbd handed over a malformed state";
    return false;
  }
  for (std::uint32_t i = 0; i < count; ++i) {
    XskHandover h;
    std::uint32_t freeCount = 0;
    std::uint8_t zc = 0;
    if (!r.get(h.queue) || !r.get(h.frames) || !r.get(h.ringSize) || !r.get(h.inFill) ||
        !r.get(h.inTx) || !r.get(zc) || !r.get(freeCount) || freeCount > h.frames) {
      closeFds(f.fds);
      error = "the running xlbd handed over a malformed state";
      return false;
    }
    h.zeroCopy = zc != 0;
    h.free.resize(freeCount);
    for (auto& a : h.free) r.get(a);
    h.socketFd = f.fds[std::size_t{2} * i];
    h.umemFd = f.fds[std::size_t{2} * i + 1];
    if (h.queue >= queues_.size()) queues_.resize(h.queue + 1);
    queues_[h.queue] = std::move(h);
  }
  ok_ = true;
  return true;
}

std::optional<XskHandover> Takeover::take(std::uint32_t q) {
  if (q >= queues_.size() || !queues_[q]) return std::nullopt;
  auto h = std::move(queues_[q]);
  queues_[q].reset();
  return h;
}

void Takeover::abandon() {
  if (!quiesced_) return;  // the old process never stopped
  if (touched_) {
    spdlog::error(
        "the hand-over failed after this process took the connection tables: the old "
        "xlbd exits; start xlbd again to adopt them");
    return;
  }
  channel_->send(HandoverMsg::kAbort, {});
  spdlog::error("the hand-over failed; the old xlbd (pid {}) resumes serving", pid_);
}

void Takeover::done() {
  HandoverWriter w;
  w.put(static_cast<std::int32_t>(getpid()));
  channel_->send(HandoverMsg::kDone, w.bytes());
}

double Takeover::pausedMs() const {
  return static_cast<double>(monotonicNow() - stoppedAtNs_) / 1e6;
}

bool handOver(HandoverChannel& ch, const HandoverSource& src) {
  std::string error;
  HandoverFrame f;
  if (!ch.receive(f, kStepTimeout, error) || f.type != HandoverMsg::kHello) {
    closeFds(f.fds);
    spdlog::warn("hand-over: ignored a connection that did not say hello ({})", error);
    return false;
  }
  HandoverReader hr(f.body);
  std::uint32_t version = 0;
  std::int32_t pid = 0;
  hr.get(version);
  hr.get(pid);
  spdlog::info("hand-over: xlbd pid {} asks to take over; serving on while it prepares", pid);
  HandoverWriter welcome;
  welcome.put(kHandoverVersion)
      .put(static_cast<std::int32_t>(getpid()))
      .put(src.workers)
      .put(src.frames);
  if (!ch.send(HandoverMsg::kWelcome, welcome.bytes())) return false;
  if (!ch.receive(f, kPrepareTimeout, error) || f.type != HandoverMsg::kQuiesce) {
    closeFds(f.fds);
    spdlog::warn("hand-over: pid {} went away before taking over ({}); still serving", pid, error);
    return false;
  }
  src.stopControl();
  const auto t0 = std::chrono::steady_clock::now();
  // CLOCK_MONOTONIC is the host's: the new process measures the pause from this moment.
  const std::uint64_t stoppedAtNs = monotonicNow();
  src.stopWorkers();
  const std::vector<XskHandover> socks = src.sockets();
  src.releaseFlows();
  std::vector<int> fds;
  const HandoverWriter st = stateMessage(stoppedAtNs, socks, fds);
  const bool sent = ch.send(HandoverMsg::kState, st.bytes(), fds);
  const double stopMs =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  if (!sent) {  // nothing reached the new process: this one can go on as it was
    src.resume();
    spdlog::error("hand-over: cannot send the sockets to pid {}; serving again", pid);
    return false;
  }
  const bool answered = ch.receive(f, kPrepareTimeout, error);
  if (answered && f.type == HandoverMsg::kAbort) {
    closeFds(f.fds);
    src.resume();
    spdlog::warn(
        "hand-over: pid {} gave up before it took the connection tables; serving again "
        "after a {:.1f} ms pause",
        pid,
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    return false;
  }
  if (answered && f.type == HandoverMsg::kDone) {
    spdlog::info(
        "hand-over: stopped in {:.1f} ms and handed {} queue(s) to pid {}, which serves "
        "now; exiting",
        stopMs, socks.size(), pid);
  } else {
    spdlog::error(
        "hand-over: pid {} did not confirm ({}); exiting (the connections are in the "
        "tables' file for the next start)",
        pid, error);
  }
  closeFds(f.fds);
  return true;
}

}  // namespace xlb
