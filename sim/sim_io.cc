// SPDX-License-Identifier: Apache-2.0
#include "sim_io.h"

#include <algorithm>
#include <cstring>

namespace xlb::sim {

void SimIo::push(const std::uint8_t* data, std::uint32_t len) {
  len = std::min(len, kFrameBytes);
  index_.emplace_back(bytes_.size(), len);
  bytes_.insert(bytes_.end(), data, data + len);
}

std::size_t SimIo::receive(PacketBatch& batch) {
  batch.clear();
  while (head_ < index_.size() && !batch.full()) {
    const auto [off, len] = index_[head_++];
    std::uint8_t* buf = buffers_.data() + batch.count * kFrameBytes;
    std::memcpy(buf, bytes_.data() + off, len);
    batch.push(PacketRef{buf, len, kFrameBytes, 0});
  }
  if (head_ == index_.size()) {  // all taken: reuse the storage
    bytes_.clear();
    index_.clear();
    head_ = 0;
  }
  counters_.rxFrames += batch.count;
  return batch.count;
}

void SimIo::complete(PacketBatch& batch, std::span<const Verdict> verdicts) {
  for (std::size_t i = 0; i < batch.count; ++i) {
    if (verdicts[i].action() == Action::kTx) send(batch.pkts[i].data, batch.pkts[i].len);
  }
}

bool SimIo::send(const std::uint8_t* data, std::uint32_t len) {
  ++counters_.txFrames;
  sink_(data, len);
  return true;
}

}  // namespace xlb::sim
