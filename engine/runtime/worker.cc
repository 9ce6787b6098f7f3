// SPDX-License-Identifier: Apache-2.0
#include "xlb/worker.h"

#include <time.h>

#include <condition_variable>
#include <cstring>

#include "xlb/boundary.h"

namespace xlb {

TimeNs monotonicNow() noexcept {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<TimeNs>(ts.tv_sec) * kNsPerSec + static_cast<TimeNs>(ts.tv_nsec);
}

namespace {
// Ports per worker sub-range; the last worker also takes the remainder.
std::uint32_t portsPerWorker(std::uint16_t lo, std::uint16_t hi, std::uint32_t count) noexcept {
  return (static_cast<std::uint32_t>(hi) - lo + 1) / count;
}
}  // namespace

void snatSubRange(std::uint16_t lo, std::uint16_t hi, std::uint32_t id, std::uint32_t count,
                  std::uint16_t& subLo, std::uint16_t& subHi) noexcept {
  const std::uint32_t per = portsPerWorker(lo, hi, count);
  subLo = static_cast<std::uint16_t>(lo + id * per);
  subHi = id + 1 == count ? hi : static_cast<std::uint16_t>(lo + (id + 1) * per - 1);
}

std::uint32_t snatOwner(std::uint16_t lo, std::uint16_t hi, std::uint32_t count,
                        std::uint16_t port) noexcept {
  return std::min(count - 1,
                  (static_cast<std::uint32_t>(port) - lo) / portsPerWorker(lo, hi, count));
}

// ---- Handoff ----

Handoff::Handoff(std::uint32_t workers) : workers_(workers) {
  rings_.resize(static_cast<std::size_t>(workers) * workers);
  for (std::uint32_t from = 0; from < workers; ++from) {
    for (std::uint32_t to = 0; to < workers; ++to) {
      if (from == to) continue;
      auto r = std::make_unique<Ring>();
      r->lens.assign(kSlots, 0);
      r->data.assign(static_cast<std::size_t>(kSlots) * kSlotBytes, 0);
      rings_[from * workers + to] = std::move(r);
    }
  }
}

bool Handoff::push(std::uint32_t from, std::uint32_t to, const std::uint8_t* data,
                   std::uint32_t len) noexcept {
  Ring& r = ring(from, to);
  const std::uint32_t tail = r.tail.load(std::memory_order_relaxed);
  const std::uint32_t head = r.head.load(std::memory_order_acquire);
  if (tail - head == kSlots || len > kSlotBytes) return false;
  const std::uint32_t slot = tail % kSlots;
  std::memcpy(r.data.data() + static_cast<std::size_t>(slot) * kSlotBytes, data, len);
  r.lens[slot] = len;
  r.tail.store(tail + 1, std::memory_order_release);
  return true;
}

std::size_t Handoff::peek(std::uint32_t from, std::uint32_t to, PacketBatch& batch,
                          std::size_t max) noexcept {
  Ring& r = ring(from, to);
  const std::uint32_t head = r.head.load(std::memory_order_relaxed);
  const std::uint32_t tail = r.tail.load(std::memory_order_acquire);
  std::size_t n = 0;
  for (std::uint32_t i = head; i != tail && n < max; ++i, ++n) {
    const std::uint32_t slot = i % kSlots;
    batch.push(PacketRef{r.data.data() + static_cast<std::size_t>(slot) * kSlotBytes, r.lens[slot],
                         kSlotBytes, 0});
  }
  return n;
}

void Handoff::release(std::uint32_t from, std::uint32_t to, std::size_t n) noexcept {
  Ring& r = ring(from, to);
  r.head.store(r.head.load(std::memory_order_relaxed) + static_cast<std::uint32_t>(n),
               std::memory_order_release);
}

// ---- Worker ----

Worker::Worker(std::uint32_t id, std::uint32_t count, const Config& config, BatchIo& io,
               Handoff* handoff, const CookieKey& key, std::uint64_t seed,
               const ConnStorage* storage)
    : id_(id),
      count_(count),
      io_(io),
      handoff_(handoff),
      portLo_(config.snat.portLo),
      portHi_(config.snat.portHi) {
  std::uint16_t lo = 0, hi = 0;
  snatSubRange(config.snat.portLo, config.snat.portHi, id, count, lo, hi);
  snat_ = std::make_unique<SnatPool>(config.snat.addresses, lo, hi);
  const std::uint32_t capacity = std::max<std::uint32_t>(1, config.conntrack.capacity / count);
  table_ = storage != nullptr ? std::make_unique<ConnTable>(capacity, config.conntrack.timeouts,
                                                            *snat_, seed + id, *storage)
                              : std::make_unique<ConnTable>(capacity, config.conntrack.timeouts,
                                                            *snat_, seed + id);
  table_->setUdpShare(config.conntrack.udpSharePercent);
  pipe_ = std::make_unique<Pipeline>(*table_, *snat_);
  pipe_->setCookieKey(key);
  // SYN timestamps from the wall clock's rate and origin: they keep rising across restarts,
  // which backends' TIME_WAIT checks need (Pipeline::newConnection).
  timespec wall{};
  clock_gettime(CLOCK_REALTIME, &wall);
  const TimeNs wallNs =
      static_cast<TimeNs>(wall.tv_sec) * kNsPerSec + static_cast<TimeNs>(wall.tv_nsec);
  pipe_->setTimestampBase(wallNs - monotonicNow());
  sourceEvents_.reserve(SourceMeter::kMaxEvents);
  // Readers see the capacities (and zeros) from the start, not only after the first 100 ms.
  publishStats();
}

std::uint32_t workerCapacity(const Config& config) noexcept {
  return std::max<std::uint32_t>(1, config.conntrack.capacity / std::max(config.workers, 1u));
}

AdoptCounts Worker::adopt(const EntryCheck& check, TimeNs now) {
  const AdoptCounts counts = table_->adopt(now, check);
  publishStats();
  return counts;
}

void Worker::publish(std::shared_ptr<const Snapshot> snapshot) {
  {
    std::lock_guard lock(snapMutex_);
    pending_ = std::move(snapshot);
  }
  version_.fetch_add(1, std::memory_order_release);
}

void Worker::takeSnapshot() {
  const std::uint64_t v = version_.load(std::memory_order_acquire);
  if (v == seenVersion_) return;
  std::lock_guard lock(snapMutex_);
  current_ = pending_;
  seenVersion_ = v;
  pipe_->setSnapshot(current_.get());
}

std::uint32_t Worker::ownerOf(const std::uint8_t* frame, std::uint32_t len) const noexcept {
  if (count_ == 1 || current_ == nullptr) return id_;
  PacketInfo in;
  Reason why = Reason::kPassNotIp;
  if (!parsePacket(frame, len, in, why) || in.family == Family::kNone) return id_;
  const Destination d = current_->lookup(in.family, in.dst);
  if (d.kind == Destination::Kind::kSnat) {
    if (in.dport < portLo_ || in.dport > portHi_) return id_;
    return snatOwner(portLo_, portHi_, count_, in.dport);
  }
  if (d.kind != Destination::Kind::kVip) return id_;
  // The client tuple decides; the same function runs in every worker.
  std::uint64_t h = in.src.mix() * 0x9e3779b97f4a7c15ull ^ in.dst.mix();
  h ^= (static_cast<std::uint64_t>(in.sport) << 16 | in.dport) * 0xc2b2ae3d27d4eb4full;
  h ^= h >> 29;
  return static_cast<std::uint32_t>(h % count_);
}

std::size_t Worker::drainHandoff(TimeNs now) {
  std::size_t total = 0;
  for (std::uint32_t from = 0; from < count_; ++from) {
    if (from == id_) continue;
    local_.clear();
    const std::size_t n = handoff_->peek(from, id_, local_, kMaxBatch);
    if (n == 0) continue;
    pipe_->setTxRoom(io_.txRoom());
    pipe_->process(local_, localVerdicts_, now);
    for (std::size_t i = 0; i < n; ++i) {
      if (localVerdicts_[i].action() == Action::kTx &&
          !io_.send(local_.pkts[i].data, local_.pkts[i].len)) {
        ++sendDrops_;
      }
    }
    sendEmitted();
    handoff_->release(from, id_, n);
    total += n;
  }
  return total;
}

std::size_t Worker::step(TimeNs now) {
  takeSnapshot();
  const std::size_t n = io_.receive(rx_);
  pipe_->setTxRoom(io_.txRoom());
  if (count_ == 1 || handoff_ == nullptr) {
    pipe_->process(rx_, verdicts_, now);
    io_.complete(rx_, verdicts_);
  } else {
    // Frames owned by another worker are copied to it; ours are processed here.
    local_.clear();
    for (std::size_t i = 0; i < n; ++i) {
      const PacketRef& p = rx_.pkts[i];
      verdicts_[i] = Verdict{Reason::kRedirect};  // recycled unless processed and transmitted
      const std::uint32_t owner = ownerOf(p.data, p.len);
      if (owner != id_) {
        if (handoff_->push(id_, owner, p.data, p.len)) {
          ++handedOff_;
        } else {
          ++handoffDrops_;
        }
        continue;
      }
      localIndex_[local_.count] = static_cast<std::uint8_t>(i);
      local_.push(p);
    }
    pipe_->process(local_, localVerdicts_, now);
    for (std::size_t j = 0; j < local_.count; ++j) {
      rx_.pkts[localIndex_[j]].len = local_.pkts[j].len;
      verdicts_[localIndex_[j]] = localVerdicts_[j];
    }
    io_.complete(rx_, verdicts_);
  }
  sendEmitted();
  std::size_t handled = n;
  if (count_ > 1 && handoff_ != nullptr) handled += drainHandoff(now);
  if (callsPending_.load(std::memory_order_acquire)) serveCalls(now);
  io_.flush();
  if (now - lastStats_ >= 100 * kNsPerMs) {
    publishStats();
    lastStats_ = now;
  }
  return handled;
}

void Worker::run(const std::atomic<bool>& stop) {
  // The packet path throws nothing by design; the guard keeps a worker serving if a bug breaks
  // that promise (a try block costs nothing until something throws).
  while (!stop.load(std::memory_order_relaxed)) {
    guardBoundary(Boundary::kWorker, [&] {
      if (step(monotonicNow()) == 0) io_.wait(count_ > 1 ? 1 : 10);
    });
  }
  publishStats();
}

void Worker::sendEmitted() {
  for (const Emitted& e : pipe_->emitted()) {
    if (!io_.send(e.data, e.len)) ++sendDrops_;
  }
}

void Worker::serveCalls(TimeNs now) {
  std::deque<Call> calls;
  {
    std::lock_guard lock(callMutex_);
    calls.swap(calls_);
    callsPending_.store(false, std::memory_order_release);
  }
  for (Call& c : calls) c(now);
}

bool Worker::submit(Call call, std::chrono::milliseconds timeout,
                    const std::function<bool()>& done) {
  // The call and the caller share the answer; a call the worker runs after the caller gave up
  // writes into state the caller no longer reads.
  // A call that throws is counted at the worker boundary and answered as failed at once.
  struct Waiter {
    std::mutex m;
    std::condition_variable cv;
    bool failed = false;
  };
  auto w = std::make_shared<Waiter>();
  {
    std::lock_guard lock(callMutex_);
    calls_.push_back([w, call = std::move(call)](TimeNs now) {
      const bool ok = guardBoundary(Boundary::kWorker, [&] {
        faultPoint(Boundary::kWorker);
        call(now);
      });
      std::lock_guard l(w->m);
      w->failed = !ok;
      w->cv.notify_all();
    });
    callsPending_.store(true, std::memory_order_release);
  }
  std::unique_lock l(w->m);
  return w->cv.wait_for(l, timeout, [&] { return w->failed || done(); }) && !w->failed;
}

std::optional<ConnPage> Worker::listConnections(const ConnFilter& filter, std::uint32_t start,
                                                std::uint32_t limit, std::uint32_t maxScan,
                                                std::chrono::milliseconds timeout) {
  auto page = std::make_shared<ConnPage>();
  auto finished = std::make_shared<std::atomic<bool>>(false);
  auto call = [this, filter, start, limit, maxScan, page, finished](TimeNs now) {
    const ConnTable& t = *table_;
    const auto nowMs = static_cast<std::uint32_t>(now / kNsPerMs);
    std::uint32_t i = start;
    for (std::uint32_t scanned = 0; i < t.capacity() && scanned < maxScan; ++i, ++scanned) {
      if (page->items.size() >= limit) break;
      const ConnEntry& e = t.entry(i);
      if (!filter.matches(e)) continue;
      ConnView v;
      v.client = Address{e.family, e.client};
      v.clientPort = e.clientPort;
      v.vip = Address{e.family, e.vip};
      v.vipPort = e.vipPort;
      v.backend = Address{e.family, e.backend};
      v.backendPort = e.backendPort;
      v.snat = Address{e.family, snat_->address(e.snatIdx)};
      v.snatPort = e.snatPort;
      v.state = e.state;
      v.protocol = e.proto;
      v.synProxy = e.proto == kProtoTcp && (e.flags & kFlagSynProxy) != 0;
      v.worker = id_;
      v.expiresInMs = static_cast<std::int32_t>(e.deadlineMs - nowMs);
      page->items.push_back(v);
    }
    page->next = i < t.capacity() ? i : ConnPage::kNone;
    page->scanned = i - start;
    finished->store(true, std::memory_order_release);
  };
  if (!submit(call, timeout, [&] { return finished->load(std::memory_order_acquire); })) {
    return std::nullopt;
  }
  return *page;
}

std::optional<std::size_t> Worker::kill(const ConnFilter& filter,
                                        std::chrono::milliseconds timeout) {
  auto killed = std::make_shared<std::atomic<std::int64_t>>(-1);
  auto call = [this, filter, killed](TimeNs now) {
    const std::size_t n = pipe_->kill(filter, now);
    sendEmitted();
    io_.flush();
    killed->store(static_cast<std::int64_t>(n), std::memory_order_release);
  };
  if (!submit(call, timeout, [&] { return killed->load(std::memory_order_acquire) >= 0; })) {
    return std::nullopt;
  }
  return static_cast<std::size_t>(killed->load());
}

WorkerStats& WorkerStats::operator+=(const WorkerStats& o) {
  counters += o.counters;
  addFigures(*this, o, kWorkerFigures);
  for (std::size_t i = 0; i < kTcpStateCount; ++i) byState[i] += o.byState[i];
  for (std::size_t i = 0; i < kCloseReasonCount; ++i) closed[i] += o.closed[i];
  if (backends.size() < o.backends.size()) backends.resize(o.backends.size());
  for (std::size_t i = 0; i < o.backends.size(); ++i) {
    backends[i].active += o.backends[i].active;
    backends[i].counters += o.backends[i].counters;
  }
  return *this;
}

void Worker::publishStats() {
  WorkerStats s;
  s.counters = pipe_->counters();
  s.active = table_->active();
  for (std::size_t i = 0; i < kTcpStateCount; ++i)
    s.byState[i] = table_->activeIn(static_cast<TcpState>(i));
  s.created = table_->created();
  for (std::size_t i = 0; i < kCloseReasonCount; ++i)
    s.closed[i] = table_->closed(static_cast<CloseReason>(i));
  s.snatInUse = snat_->portsInUse();
  s.snatCapacity = snat_->capacity();
  s.capacity = table_->capacity();
  s.handedOff = handedOff_;
  s.handoffDrops = handoffDrops_;
  s.sendDrops = sendDrops_;
  s.io = io_.ioCounters();
  SourceMeter& meter = pipe_->invalidAcks();
  const std::size_t ids = current_ ? current_->backendIds() : 0;
  s.backends.resize(ids);
  for (std::size_t i = 0; i < ids; ++i) {
    const auto id = static_cast<std::uint16_t>(i);
    s.backends[i] = BackendStats{table_->activeForBackend(id), pipe_->backendCounters(id)};
  }
  std::lock_guard lock(statsMutex_);
  // Crossings the Controller has not taken yet stay; beyond the bound they are lost, counted.
  for (const SourceEvent& ev : meter.events()) {
    if (sourceEvents_.size() < SourceMeter::kMaxEvents) {
      sourceEvents_.push_back(ev);
    } else {
      ++sourceEventsLost_;
    }
  }
  meter.clearEvents();
  s.sourceEventsLost = sourceEventsLost_ + meter.lostEvents();
  published_ = s;
}

WorkerStats Worker::stats() const {
  std::lock_guard lock(statsMutex_);
  return published_;
}

void Worker::takeSourceEvents(std::vector<SourceEvent>& out) {
  std::lock_guard lock(statsMutex_);
  out.insert(out.end(), sourceEvents_.begin(), sourceEvents_.end());
  sourceEvents_.clear();
}

}  // namespace xlb
