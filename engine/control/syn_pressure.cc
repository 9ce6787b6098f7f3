// SPDX-License-Identifier: Apache-2.0
#include "xlb/syn_pressure.h"

#include <algorithm>

namespace xlb {

bool SynPressure::update(std::span<const WorkerStats> workers) noexcept {
  std::uint64_t halfOpen = 0, limit = 0;
  for (const WorkerStats& w : workers) {
    halfOpen += w.byState[static_cast<std::size_t>(TcpState::kSynSent)] +
                w.byState[static_cast<std::size_t>(TcpState::kSynReceived)];
    limit += std::min(w.snatCapacity, w.capacity) / kShareDivisor;
  }
  halfOpen_ = halfOpen;
  limit_ = limit;
  const bool next = limit > 0 && (on_ ? halfOpen >= limit / 2 : halfOpen >= limit);
  if (next == on_) return false;
  on_ = next;
  if (on_) ++switches_;
  return true;
}

}  // namespace xlb
