// SPDX-License-Identifier: Apache-2.0
// Batch I/O for the simulator: one thread, no locks. Frames queued with push() are received by
// the worker in order; what it transmits goes to a sink with the simulator's current time.
#pragma once

#include <functional>
#include <vector>

#include "xlb/batch_io.h"

namespace xlb::sim {

class SimIo final : public BatchIo {
 public:
  static constexpr std::uint32_t kFrameBytes = 2048;
  using Sink = std::function<void(const std::uint8_t*, std::uint32_t)>;

  explicit SimIo(Sink sink) : sink_(std::move(sink)), buffers_(kMaxBatch * kFrameBytes) {}

  // Queues a copy (frames over kFrameBytes are truncated to it; pcaps of real traffic can hold
  // jumbo frames the engine never sees on a 2 KiB AF_XDP frame either).
  void push(const std::uint8_t* data, std::uint32_t len);
  std::size_t pending() const noexcept { return index_.size() - head_; }

  std::size_t receive(PacketBatch& batch) override;
  void complete(PacketBatch& batch, std::span<const Verdict> verdicts) override;
  bool send(const std::uint8_t* data, std::uint32_t len) override;
  void flush() override {}
  bool wait(int) override { return false; }
  IoCounters ioCounters() const override { return counters_; }

 private:
  Sink sink_;
  // Queued frames back to back; (offset, length) per frame, consumed from head_.
  std::vector<std::uint8_t> bytes_;
  std::vector<std::pair<std::size_t, std::uint32_t>> index_;
  std::size_t head_ = 0;
  std::vector<std::uint8_t> buffers_;
  IoCounters counters_;
};

}  // namespace xlb::sim
