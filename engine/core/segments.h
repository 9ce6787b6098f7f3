// SPDX-License-Identifier: Apache-2.0
// Segments the engine builds itself (SYN proxy handshakes, resets, kill probes), addressed as
// the two ends of a connection expect: from our SNAT address and port to the backend, or from
// the VIP to the client. Internal to engine/core.
#pragma once

#include "xlb/conn_table.h"
#include "xlb/rewrite.h"
#include "xlb/snat.h"

namespace xlb {

inline TcpSegment toBackendSegment(const ConnEntry& e, const SnatPool& snat) noexcept {
  return TcpSegment{.family = e.family,
                    .src = snat.address(e.snatIdx),
                    .dst = e.backend,
                    .sport = e.snatPort,
                    .dport = e.backendPort};
}

inline TcpSegment toClientSegment(const ConnEntry& e) noexcept {
  return TcpSegment{
      .family = e.family, .src = e.vip, .dst = e.client, .sport = e.vipPort, .dport = e.clientPort};
}

}  // namespace xlb
