// SPDX-License-Identifier: Apache-2.0
// The packet pipeline: a batch in, one verdict per packet out. Pure: no syscalls, no allocation,
// no logging, time passed in. Deterministic given (snapshot, table state, packets, now).
#pragma once

#include <array>
#include <cstdint>
#include <span>

#include "xlb/conn_table.h"
#include "xlb/packet.h"
#include "xlb/parse.h"
#include "xlb/reason.h"
#include "xlb/snapshot.h"

namespace xlb {

// Plain per-worker counters; folded into metrics by whoever reads them, never atomics.
struct WorkerCounters {
  std::array<std::uint64_t, kReasonCount> reasons{};
  std::uint64_t packets = 0;
  std::uint64_t bytes = 0;
  std::uint64_t batches = 0;

  std::uint64_t of(Reason r) const noexcept { return reasons[static_cast<std::size_t>(r)]; }
  std::uint64_t ofAction(Action a) const noexcept {
    std::uint64_t t = 0;
    for (std::size_t i = 0; i < kReasonCount; ++i) {
      if (kReasonActions[i] == a) t += reasons[i];
    }
    return t;
  }
};

class Pipeline {
 public:
  // Work units of timer expiry done after each batch (see ConnTable::expire).
  static constexpr std::size_t kDefaultExpireBudget = 256;
  // Live entries above which the chain-follower prefetch pass runs. It hides DRAM latency, so it
  // pays only once the entries outgrow the cache; below that it costs more than it hides
  // (measured on a 32 MiB L3: -8 % at 100k flows, +26 % at 1M). 200k entries ~ 20 MiB.
  static constexpr std::uint64_t kDefaultChainPrefetchMinActive = 200'000;

  // The table and the pool must outlive the pipeline; a worker owns all three.
  Pipeline(ConnTable& table, SnatPool& snat) noexcept : table_(table), snat_(snat) {}

  // Called between batches; the snapshot must stay alive until the next call. nullptr: every
  // packet is passed to the kernel.
  void setSnapshot(const Snapshot* snapshot) noexcept { snap_ = snapshot; }
  void setExpireBudget(std::size_t budget) noexcept { expireBudget_ = budget; }
  void setChainPrefetchMinActive(std::uint64_t n) noexcept { chainPrefetchMinActive_ = n; }

  // Processes batch.pkts[0, batch.count) in place and writes verdicts[0, batch.count).
  // Precondition: verdicts.size() >= batch.count.
  void process(PacketBatch& batch, std::span<Verdict> verdicts, TimeNs now) noexcept;

  const WorkerCounters& counters() const noexcept { return counters_; }
  ConnTable& table() noexcept { return table_; }
  const ConnTable& table() const noexcept { return table_; }

 private:
  enum class Kind : std::uint8_t { kDone, kForward, kReverse };
  struct Slot {
    PacketInfo info;
    FlowKey key;
    std::uint64_t hash;
    const VipEntry* vip;
    Reason reason;
    Kind kind;
  };

  Reason classify(const PacketRef& pkt, Slot& s) noexcept;
  Reason forward(PacketRef& pkt, Slot& s, TimeNs now) noexcept;
  Reason reverse(PacketRef& pkt, Slot& s, TimeNs now) noexcept;
  Reason newConnection(PacketRef& pkt, Slot& s, TimeNs now) noexcept;
  void toBackend(PacketRef& pkt, const PacketInfo& info, const ConnEntry& e) noexcept;

  ConnTable& table_;
  SnatPool& snat_;
  const Snapshot* snap_ = nullptr;
  std::size_t expireBudget_ = kDefaultExpireBudget;
  std::uint64_t chainPrefetchMinActive_ = kDefaultChainPrefetchMinActive;
  WorkerCounters counters_;
  std::array<Slot, kMaxBatch> slots_{};
};

}  // namespace xlb
