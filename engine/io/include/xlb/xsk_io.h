// SPDX-License-Identifier: Apache-2.0
// AF_XDP: one socket per queue with its own UMEM, fill and completion rings (libxdp's xsk API).
// Every frame is always in exactly one place: the free list, the fill ring (kernel), the
// application (received, not yet completed), or the TX ring (kernel, until completion).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "xlb/batch_io.h"
#include "xlb/dataplane_ports.h"

struct xsk_socket;
struct xsk_umem;

namespace xlb {

struct XskOptions {
  std::string interface;
  std::uint32_t queue = 0;
  std::uint32_t frames = 4096;  // power of two
  bool tryZeroCopy = true;      // zero-copy first, copy mode if the driver refuses
};

// A socket as one process hands it to the next (handover.h): the socket and the UMEM's memfd,
// and where every frame is. Frames in the kernel's rings stay there; the new owner learns the
// rings' positions from the rings themselves.
struct XskHandover {
  int socketFd = -1;
  int umemFd = -1;
  std::uint32_t queue = 0;
  std::uint32_t frames = 0;
  std::uint32_t ringSize = 0;
  std::uint32_t inFill = 0;  // in the fill ring or received and not yet read
  std::uint32_t inTx = 0;    // in the TX ring or not yet completed
  bool zeroCopy = false;
  std::vector<std::uint64_t> free;  // frame addresses the process held unused
};

class XskIo final : public BatchIo, public SocketInfo {
 public:
  static constexpr std::uint32_t kFrameSize = 4096;

  // Creates the UMEM and the socket and binds it to interface/queue. The socket is not yet in
  // any XSKMAP: the caller puts fd() there. nullptr with `error` set on failure.
  static std::unique_ptr<XskIo> open(const XskOptions& options, std::string& error);
  // Takes over a socket another process handed over (its fds are owned from now on). nullptr
  // with `error` when they cannot be mapped or do not match `options`.
  static std::unique_ptr<XskIo> adopt(const XskOptions& options, XskHandover h, std::string& error);
  // What the next process needs to continue where this one stops. Only between batches, with no
  // frame in the application; this XskIo must not be used afterwards (the fds are shared, not
  // given away: they stay open until it is destroyed).
  XskHandover handover() const;
  ~XskIo() override;
  XskIo(const XskIo&) = delete;
  XskIo& operator=(const XskIo&) = delete;

  int fd() const noexcept;
  bool zeroCopy() const noexcept override { return zeroCopy_; }
  std::uint32_t queue() const noexcept override { return options_.queue; }

  std::size_t receive(PacketBatch& batch) override;
  void complete(PacketBatch& batch, std::span<const Verdict> verdicts) override;
  bool send(const std::uint8_t* data, std::uint32_t len) override;
  void flush() override;
  bool wait(int timeoutMs) override;
  std::size_t txRoom() override;

  FrameAccounting accounting() const noexcept;
  const IoCounters& counters() const noexcept { return counters_; }
  std::uint64_t wakeups() const noexcept { return wakeups_; }
  IoCounters ioCounters() const override {
    IoCounters c = counters_;
    c.frames = accounting();
    return c;
  }
  // Safe from any thread: one getsockopt.
  XskKernelStats kernelStats() const noexcept override;

 private:
  XskIo() = default;
  void reapCompletions();
  void refill();
  void txSubmit(std::uint64_t addr, std::uint32_t len);

  struct Rings;
  struct Mapped {  // rings mapped by adopt() (libxdp maps its own)
    void* ptr = nullptr;
    std::size_t len = 0;
  };
  bool mapRings(std::uint32_t ringSize, std::string& error);
  XskOptions options_;
  int socketFd_ = -1;  // adopted socket (libxdp owns the one it creates)
  int umemFd_ = -1;
  std::uint32_t ringSize_ = 0;
  std::vector<Mapped> mapped_;
  std::unique_ptr<Rings> rings_;
  std::uint8_t* area_ = nullptr;
  std::size_t areaSize_ = 0;
  xsk_umem* umem_ = nullptr;
  xsk_socket* xsk_ = nullptr;
  bool zeroCopy_ = false;
  std::vector<std::uint64_t> free_;
  std::uint32_t inFill_ = 0;
  std::uint32_t inApp_ = 0;
  std::uint32_t inTx_ = 0;
  std::uint32_t txPending_ = 0;  // submitted since the last kick
  IoCounters counters_;          // frame places are filled in by ioCounters()
  std::uint64_t wakeups_ = 0;
};

}  // namespace xlb
