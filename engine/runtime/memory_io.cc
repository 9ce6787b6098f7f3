// SPDX-License-Identifier: Apache-2.0
#include "xlb/memory_io.h"

#include <chrono>

namespace xlb {

bool MemoryIo::inject(const Frame& f) {
  if (f.size() > kFrameBytes) return false;
  {
    std::lock_guard lock(mutex_);
    inbox_.push_back(f);
  }
  cv_.notify_one();
  return true;
}

std::vector<MemoryIo::Frame> MemoryIo::takeSent() {
  std::lock_guard lock(mutex_);
  std::vector<Frame> out;
  out.swap(sent_);
  return out;
}

std::size_t MemoryIo::receive(PacketBatch& batch) {
  batch.clear();
  std::lock_guard lock(mutex_);
  inFlight_.clear();
  while (!inbox_.empty() && inFlight_.size() < kMaxBatch) {
    inFlight_.push_back(std::move(inbox_.front()));
    inbox_.pop_front();
  }
  for (Frame& f : inFlight_) {
    const auto len = static_cast<std::uint32_t>(f.size());
    f.resize(kFrameBytes);
    batch.push(PacketRef{f.data(), len, kFrameBytes, 0});
  }
  counters_.rxFrames += batch.count;
  return batch.count;
}

void MemoryIo::complete(PacketBatch& batch, std::span<const Verdict> verdicts) {
  std::lock_guard lock(mutex_);
  for (std::size_t i = 0; i < batch.count; ++i) {
    if (verdicts[i].action() != Action::kTx) continue;
    const PacketRef& p = batch.pkts[i];
    sent_.emplace_back(p.data, p.data + p.len);
    ++counters_.txFrames;
  }
}

bool MemoryIo::send(const std::uint8_t* data, std::uint32_t len) {
  std::lock_guard lock(mutex_);
  sent_.emplace_back(data, data + len);
  ++counters_.txFrames;
  return true;
}

bool MemoryIo::wait(int timeoutMs) {
  std::unique_lock lock(mutex_);
  return cv_.wait_for(lock, std::chrono::milliseconds(timeoutMs), [&] { return !inbox_.empty(); });
}

IoCounters MemoryIo::ioCounters() const {
  std::lock_guard lock(mutex_);
  return counters_;
}

}  // namespace xlb
