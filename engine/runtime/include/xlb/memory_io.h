// SPDX-License-Identifier: Apache-2.0
// Batch I/O in memory: frames injected by another thread (a test, the simulator) are received
// by the worker; what it transmits is collected. Frames live in fixed buffers of kFrameBytes,
// so the pipeline can grow a frame in place as it does in an AF_XDP frame.
#pragma once

#include <condition_variable>
#include <deque>
#include <mutex>
#include <vector>

#include "xlb/batch_io.h"

namespace xlb {

class MemoryIo final : public BatchIo {
 public:
  static constexpr std::uint32_t kFrameBytes = 2048;
  using Frame = std::vector<std::uint8_t>;

  // Thread-safe: queues a frame for the worker (frames over kFrameBytes are refused).
  bool inject(const Frame& f);
  // Thread-safe: takes everything transmitted so far.
  std::vector<Frame> takeSent();

  std::size_t receive(PacketBatch& batch) override;
  void complete(PacketBatch& batch, std::span<const Verdict> verdicts) override;
  bool send(const std::uint8_t* data, std::uint32_t len) override;
  void flush() override {}
  bool wait(int timeoutMs) override;
  IoCounters ioCounters() const override;

 private:
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<Frame> inbox_;
  std::vector<Frame> sent_;
  std::vector<Frame> inFlight_;  // the batch being processed (owned buffers)
  IoCounters counters_;
};

}  // namespace xlb
