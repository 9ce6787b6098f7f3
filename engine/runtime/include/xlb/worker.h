// SPDX-License-Identifier: Apache-2.0
// A worker owns one queue's I/O, connection table, SNAT port sub-range and pipeline. No lock is
// taken on the packet path:
//  - each connection has one owner worker: the hash of its client tuple picks it, and the owner
//    allocates SNAT ports only from its own sub-range, so the port of a backend's reply names the
//    same owner;
//  - a packet that arrives on another worker's queue (RSS does not know our hash) is copied into
//    a single-producer/single-consumer ring towards its owner, which processes and transmits it;
//  - the control plane publishes immutable snapshots; a worker checks one atomic version number
//    per batch and takes the new snapshot only when it changed.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "xlb/batch_io.h"
#include "xlb/config.h"
#include "xlb/pipeline.h"

namespace xlb {

// Fixed-size SPSC rings between every ordered pair of workers.
class Handoff {
 public:
  static constexpr std::uint32_t kSlots = 1024;  // per ring
  static constexpr std::uint32_t kSlotBytes = 2048;

  explicit Handoff(std::uint32_t workers);
  std::uint32_t workers() const noexcept { return workers_; }
  // Copies a frame into the ring from -> to. False when full (the frame is dropped, counted).
  bool push(std::uint32_t from, std::uint32_t to, const std::uint8_t* data,
            std::uint32_t len) noexcept;
  // Frames waiting in from -> to, oldest first: up to `max` are exposed as packet refs.
  std::size_t peek(std::uint32_t from, std::uint32_t to, PacketBatch& batch,
                   std::size_t max) noexcept;
  void release(std::uint32_t from, std::uint32_t to, std::size_t n) noexcept;

 private:
  // The padding is the point: head and tail on their own cache lines (no false sharing).
  struct alignas(64) Ring {              // NOLINT(clang-analyzer-optin.performance.Padding)
    std::atomic<std::uint32_t> head{0};  // consumer
    alignas(64) std::atomic<std::uint32_t> tail{0};  // producer
    std::vector<std::uint32_t> lens;
    std::vector<std::uint8_t> data;
  };
  Ring& ring(std::uint32_t from, std::uint32_t to) noexcept {
    return *rings_[from * workers_ + to];
  }
  std::uint32_t workers_;
  std::vector<std::unique_ptr<Ring>> rings_;
};

// Per backend id, as published (connections live now, and totals).
struct BackendStats {
  std::uint64_t active = 0;
  BackendCounters counters;
};

// What a worker publishes for the control plane (copied about every 100 ms, never per packet):
// the pipeline's counters, the figures of XLB_WORKER_FIGURES (figures.h), connections by state
// and closes by reason, per-backend figures and the I/O's counters.
struct WorkerStats {
  WorkerCounters counters;
  XLB_WORKER_FIGURES(XLB_FIGURE_MEMBER)
  std::array<std::uint64_t, kTcpStateCount> byState{};
  std::array<std::uint64_t, kCloseReasonCount> closed{};
  std::vector<BackendStats> backends;  // indexed by backend id, up to the snapshot's ids
  IoCounters io;

  // Adds another worker's figures: counters, states, closes and backends (by id). The I/O's
  // counters stay per queue.
  WorkerStats& operator+=(const WorkerStats& o);
};

inline constexpr auto kWorkerFigures = XLB_FIGURE_TABLE(WorkerStats, XLB_WORKER_FIGURES);

// One connection as the API shows it.
struct ConnView {
  Address client;
  std::uint16_t clientPort = 0;
  Address vip;
  std::uint16_t vipPort = 0;
  Address backend;
  std::uint16_t backendPort = 0;
  Address snat;
  std::uint16_t snatPort = 0;
  TcpState state = TcpState::kFree;
  std::uint8_t protocol = 6;  // kProtoTcp or kProtoUdp
  bool synProxy = false;
  std::uint32_t worker = 0;
  std::int64_t expiresInMs = 0;  // until the entry's timer fires without further traffic
};

// A page of a listing: scanning resumes at `next` (kNone: this worker is done).
struct ConnPage {
  static constexpr std::uint32_t kNone = 0xffffffffu;
  std::vector<ConnView> items;
  std::uint32_t next = kNone;
  std::uint32_t scanned = 0;  // entries looked at
};

// A worker as the control plane drives it (Controller): Worker, or a fake in unit tests.
class WorkerControl {
 public:
  virtual ~WorkerControl() = default;
  // The snapshot to use from the next batch on.
  virtual void publish(std::shared_ptr<const Snapshot> snapshot) = 0;
  virtual WorkerStats stats() const = 0;
  // Answered by the worker between batches; nullopt when it did not answer within `timeout`.
  virtual std::optional<ConnPage> listConnections(const ConnFilter& filter, std::uint32_t start,
                                                  std::uint32_t limit, std::uint32_t maxScan,
                                                  std::chrono::milliseconds timeout) = 0;
  virtual std::optional<std::size_t> kill(const ConnFilter& filter,
                                          std::chrono::milliseconds timeout) = 0;
  // Appends the sources that crossed the invalid-ACK limit since the last call (automatic
  // blocking; they arrive with the stats, about every 100 ms).
  virtual void takeSourceEvents(std::vector<SourceEvent>& out) = 0;
};

class Worker final : public WorkerControl {
 public:
  // `id` of `count` workers. The table capacity and the SNAT range are split evenly. With
  // `storage` (flow_store.h) the table lives there and holds nothing until adopt().
  Worker(std::uint32_t id, std::uint32_t count, const Config& config, BatchIo& io, Handoff* handoff,
         const CookieKey& key, std::uint64_t seed, const ConnStorage* storage = nullptr);

  // Takes the connections the storage holds (ConnTable::adopt); before the worker runs.
  AdoptCounts adopt(const EntryCheck& check, TimeNs now);

  // Control plane: the snapshot to use from the next batch on.
  void publish(std::shared_ptr<const Snapshot> snapshot) override;
  // One iteration: receive a batch, hand off what is not ours, process, complete, send emitted
  // frames, then process frames other workers handed to us. Returns frames handled.
  std::size_t step(TimeNs now);
  // The thread body: steps until `stop`, waiting up to 10 ms when idle.
  void run(const std::atomic<bool>& stop);

  WorkerStats stats() const override;
  void takeSourceEvents(std::vector<SourceEvent>& out) override;

  // Control-plane calls answered by the worker's own thread between batches (it owns the
  // table). Each blocks up to `timeout`; nullopt when the worker did not answer in time.
  // Lists matching entries from index `start` on: at most `limit` items, looking at no more than
  // `maxScan` entries (a page may come back short with `next` set, so one call never holds the
  // worker for long).
  std::optional<ConnPage> listConnections(const ConnFilter& filter, std::uint32_t start,
                                          std::uint32_t limit, std::uint32_t maxScan,
                                          std::chrono::milliseconds timeout) override;
  // Kills every matching connection (see Pipeline::kill). Returns how many.
  std::optional<std::size_t> kill(const ConnFilter& filter,
                                  std::chrono::milliseconds timeout) override;
  // Runs queued control-plane calls now; step() does this after each batch. For tests and the
  // simulator, which drive step() themselves.
  void serveCalls(TimeNs now);
  // Publishes stats() now instead of at the next 100 ms mark (the simulator, on its clock).
  void publishNow() { publishStats(); }
  // Which worker owns a frame (its connection), or `id` when it is nobody's in particular.
  std::uint32_t ownerOf(const std::uint8_t* frame, std::uint32_t len) const noexcept;

  // For tests and the simulator, from the worker's own thread only.
  Pipeline& pipeline() noexcept { return *pipe_; }
  ConnTable& table() noexcept { return *table_; }
  SnatPool& snat() noexcept { return *snat_; }

 private:
  void takeSnapshot();
  void publishStats();
  void sendEmitted();
  using Call = std::function<void(TimeNs)>;
  bool submit(Call call, std::chrono::milliseconds timeout, const std::function<bool()>& done);
  std::size_t drainHandoff(TimeNs now);

  std::uint32_t id_;
  std::uint32_t count_;
  BatchIo& io_;
  Handoff* handoff_;
  std::uint16_t portLo_;
  std::uint16_t portHi_;  // the whole range; ownership is by sub-range
  std::unique_ptr<SnatPool> snat_;
  std::unique_ptr<ConnTable> table_;
  std::unique_ptr<Pipeline> pipe_;

  std::atomic<std::uint64_t> version_{0};
  std::uint64_t seenVersion_ = 0;
  std::mutex snapMutex_;  // only taken when version_ changed
  std::shared_ptr<const Snapshot> pending_;
  std::shared_ptr<const Snapshot> current_;

  std::mutex callMutex_;
  std::deque<Call> calls_;
  std::atomic<bool> callsPending_{false};

  mutable std::mutex statsMutex_;
  WorkerStats published_;
  std::vector<SourceEvent> sourceEvents_;  // bounded: SourceMeter::kMaxEvents
  std::uint64_t sourceEventsLost_ = 0;
  TimeNs lastStats_ = 0;
  std::uint64_t handedOff_ = 0;
  std::uint64_t handoffDrops_ = 0;
  std::uint64_t sendDrops_ = 0;

  PacketBatch rx_;
  PacketBatch local_;
  std::array<std::uint8_t, kMaxBatch> localIndex_{};
  std::array<Verdict, kMaxBatch> verdicts_{};
  std::array<Verdict, kMaxBatch> localVerdicts_{};
};

// The connection-table capacity of each of config.workers workers.
std::uint32_t workerCapacity(const Config& config) noexcept;

// The SNAT sub-range worker `id` of `count` allocates from.
void snatSubRange(std::uint16_t lo, std::uint16_t hi, std::uint32_t id, std::uint32_t count,
                  std::uint16_t& subLo, std::uint16_t& subHi) noexcept;

// The worker whose sub-range holds `port` (lo <= port <= hi).
std::uint32_t snatOwner(std::uint16_t lo, std::uint16_t hi, std::uint32_t count,
                        std::uint16_t port) noexcept;

// CLOCK_MONOTONIC in nanoseconds: the clock the XDP program reads (at tick resolution there).
TimeNs monotonicNow() noexcept;

}  // namespace xlb
