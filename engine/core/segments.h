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
  TcpSegment seg;
  seg.family = e.family;
  seg.src = snat.address(e.snatIdx);
  seg.dst = e.backend;
  seg.sport = e.snatPort;
  seg.dport = e.backendPort;
  return seg;
}

inline TcpSegment toClientSegment(const ConnEntry& e) noexcept {
  TcpSegment seg;
  seg.family = e.family;
  seg.src = e.vip;
  seg.dst = e.client;
  seg.sport = e.vipPort;
  seg.dport = e.clientPort;
  return seg;
}

}  // namespace xlb
