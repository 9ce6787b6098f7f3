// SPDX-License-Identifier: Apache-2.0
// What automatic blocking measures sources against, and what a crossing reports. Both meters
// (the XDP program's, read through XdpMaps, and the engine's SourceMeter) speak these, and the
// snapshot carries the engine's limit, so none of them needs another's header.
#pragma once

#include <cstddef>
#include <cstdint>

#include "xlb/addr.h"
#include "xlb/config.h"

namespace xlb {

// A source whose count of one kind reached its limit in a window: sent once per window and kind.
struct SourceEvent {
  Address source;
  SourceKind kind = SourceKind::kSyn;
  std::uint32_t count = 0;
};

// What one kind is judged on: the count in a window; limit 0 or window 0: not counted.
struct SourceLimit {
  TimeNs window = 0;
  std::uint32_t limit = 0;
  bool on() const noexcept { return window > 0 && limit > 0; }
  bool operator==(const SourceLimit&) const = default;
};

// The invalid-ACK kind's limit under automatic blocking's settings (off unless it is on).
inline SourceLimit invalidAckLimit(const AutoBlockConfig& c) noexcept {
  if (!c.on()) return {};
  return {c.window, c.limits[static_cast<std::size_t>(SourceKind::kInvalidAck)]};
}

}  // namespace xlb
