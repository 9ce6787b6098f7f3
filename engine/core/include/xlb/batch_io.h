// SPDX-License-Identifier: Apache-2.0
// The one batch I/O interface a worker runs on: AF_XDP sockets in the daemon, the simulator's
// single-thread I/O (frames from pcap files or simulated hosts), memory in tests. A worker is
// receive -> process -> complete (+ send what the pipeline emitted) -> flush.
#pragma once

#include <array>
#include <cstdint>
#include <limits>
#include <span>

#include "xlb/figures.h"
#include "xlb/packet.h"
#include "xlb/reason.h"

namespace xlb {

// Frame counts an I/O backend keeps (plain counters, read by its worker's thread only).
// Where an I/O's frames are (AF_XDP UMEM; zeros for I/O without a frame pool): they add up to
// `total` at every moment, so a leak shows as one place growing for good.
struct FrameAccounting {
  std::uint32_t total = 0;
  std::uint32_t free = 0;   // in the free list
  std::uint32_t fill = 0;   // given to the kernel for receiving
  std::uint32_t inApp = 0;  // received, not yet completed
  std::uint32_t inTx = 0;   // submitted for transmission, completion not yet seen
  bool balanced() const noexcept { return free + fill + inApp + inTx == total; }
};

// The counters are XLB_IO_FIGURES (figures.h).
struct IoCounters {
  XLB_IO_FIGURES(XLB_FIGURE_MEMBER)
  FrameAccounting frames;
};

inline constexpr auto kIoFigures = XLB_FIGURE_TABLE(IoCounters, XLB_IO_FIGURES);

class BatchIo {
 public:
  virtual ~BatchIo() = default;
  // Fills `batch` (cleared first) with up to kMaxBatch received frames; returns the count.
  virtual std::size_t receive(PacketBatch& batch) = 0;
  // Hands every frame of `batch` back: transmitted when its verdict's action is kTx, recycled
  // otherwise. Each frame is transmitted with the length the pipeline left it.
  virtual void complete(PacketBatch& batch, std::span<const Verdict> verdicts) = 0;
  // Transmits a copy of a frame that is not in a receive buffer. False: no room (counted).
  virtual bool send(const std::uint8_t* data, std::uint32_t len) = 0;
  // Makes transmitted frames leave and reclaims finished ones.
  virtual void flush() = 0;
  // Blocks up to timeoutMs for frames to arrive. False on timeout.
  virtual bool wait(int timeoutMs) = 0;
  // Frames that complete() (kTx verdicts) and send() can still put out before the next flush():
  // the worker hands it to the pipeline, which keeps the retransmissions that do not fit due
  // for a later step instead of losing them at a full ring. Unlimited unless the I/O has a ring.
  virtual std::size_t txRoom() { return std::numeric_limits<std::size_t>::max(); }
  virtual IoCounters ioCounters() const { return {}; }
};

}  // namespace xlb
