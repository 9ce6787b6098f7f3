// SPDX-License-Identifier: Apache-2.0
#include "xlb/xsk_io.h"

#include <linux/if_xdp.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>
#include <xdp/xsk.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

namespace xlb {

struct XskIo::Rings {
  xsk_ring_prod fill{};
  xsk_ring_cons comp{};
  xsk_ring_cons rx{};
  xsk_ring_prod tx{};
};

namespace {
std::string errText(int err) {
  return std::strerror(err < 0 ? -err : err);
}
}  // namespace

std::unique_ptr<XskIo> XskIo::open(const XskOptions& o, std::string& error) {
  if (o.frames < 256 || (o.frames & (o.frames - 1)) != 0) {
    error = "AF_XDP frame count must be a power of two >= 256";
    return nullptr;
  }
  std::unique_ptr<XskIo> x(new XskIo());
  x->options_ = o;
  x->rings_ = std::make_unique<Rings>();
  x->areaSize_ = static_cast<std::size_t>(o.frames) * kFrameSize;
  // A memfd, not anonymous memory: a hand-over maps the same frames into the next process.
  x->umemFd_ = memfd_create("xlb-umem", MFD_CLOEXEC);
  if (x->umemFd_ < 0 || ftruncate(x->umemFd_, static_cast<off_t>(x->areaSize_)) != 0) {
    error = "cannot create the UMEM's memfd: " + errText(errno);
    return nullptr;
  }
  void* area =
      mmap(nullptr, x->areaSize_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, x->umemFd_, 0);
  if (area == MAP_FAILED) {
    error = "cannot map " + std::to_string(x->areaSize_ >> 20) + " MiB of UMEM: " + errText(errno);
    return nullptr;
  }
  x->area_ = static_cast<std::uint8_t*>(area);
  const std::uint32_t ring = std::max<std::uint32_t>(o.frames / 2, 128);
  x->ringSize_ = ring;
  xsk_umem_config uc{};
  uc.fill_size = ring;
  uc.comp_size = ring;
  uc.frame_size = kFrameSize;
  uc.frame_headroom = 0;
  uc.flags = 0;
  if (int err = xsk_umem__create(&x->umem_, x->area_, x->areaSize_, &x->rings_->fill,
                                 &x->rings_->comp, &uc);
      err != 0) {
    error = "cannot register the UMEM: " + errText(err);
    return nullptr;
  }
  xsk_socket_config sc{};
  sc.rx_size = ring;
  sc.tx_size = ring;
  sc.libxdp_flags = XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD;  // our own program and XSKMAP
  sc.xdp_flags = 0;
  int err = -EINVAL;
  // Zero-copy first; drivers without it (veth, most virtual NICs) refuse, then copy mode.
  // Re-binding a queue right after a previous socket closed can fail with EBUSY for a moment.
  const std::uint16_t modes[] = {XDP_ZEROCOPY, XDP_COPY};
  for (std::uint16_t mode : modes) {
    if (mode == XDP_ZEROCOPY && !o.tryZeroCopy) continue;
    sc.bind_flags = static_cast<std::uint16_t>(mode | XDP_USE_NEED_WAKEUP);
    for (int attempt = 0; attempt < 20; ++attempt) {
      err = xsk_socket__create(&x->xsk_, o.interface.c_str(), o.queue, x->umem_, &x->rings_->rx,
                               &x->rings_->tx, &sc);
      if (err != -EBUSY) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    if (err == 0) {
      x->zeroCopy_ = mode == XDP_ZEROCOPY;
      break;
    }
  }
  if (err != 0) {
    error = "cannot bind an AF_XDP socket to " + o.interface + " queue " + std::to_string(o.queue) +
            ": " + errText(err);
    if (err == -ENODEV) error += " (no such interface)";
    if (err == -EINVAL) error += " (does the interface have that many queues?)";
    return nullptr;
  }
  x->free_.reserve(o.frames);
  for (std::uint32_t i = o.frames; i-- > 0;) {
    x->free_.push_back(static_cast<std::uint64_t>(i) * kFrameSize);
  }
  x->refill();
  return x;
}

XskIo::~XskIo() {
  if (xsk_ != nullptr) xsk_socket__delete(xsk_);
  if (umem_ != nullptr) xsk_umem__delete(umem_);
  for (const Mapped& m : mapped_) munmap(m.ptr, m.len);
  if (socketFd_ >= 0) close(socketFd_);
  if (area_ != nullptr) munmap(area_, areaSize_);
  if (umemFd_ >= 0) close(umemFd_);
}

int XskIo::fd() const noexcept {
  return xsk_ != nullptr ? xsk_socket__fd(xsk_) : socketFd_;
}

XskHandover XskIo::handover() const {
  XskHandover h;
  h.socketFd = fd();
  h.umemFd = umemFd_;
  h.queue = options_.queue;
  h.frames = options_.frames;
  h.ringSize = ringSize_;
  h.inFill = inFill_;
  h.inTx = inTx_;
  h.zeroCopy = zeroCopy_;
  h.free = free_;
  return h;
}

bool XskIo::mapRings(std::uint32_t ringSize, std::string& error) {
  xdp_mmap_offsets off{};
  socklen_t len = sizeof off;
  if (getsockopt(socketFd_, SOL_XDP, XDP_MMAP_OFFSETS, &off, &len) != 0) {
    error = "cannot read the handed-over socket's ring offsets: " + errText(errno);
    return false;
  }
  auto map = [&](const xdp_ring_offset& o, std::size_t entry, off_t pgoff) -> std::uint8_t* {
    const std::size_t bytes = o.desc + ringSize * entry;
    void* p =
        mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, socketFd_, pgoff);
    if (p == MAP_FAILED) return nullptr;
    mapped_.push_back(Mapped{p, bytes});
    return static_cast<std::uint8_t*>(p);
  };
  // The rings' positions are in the shared pages: producers continue from the producer index,
  // consumers from the consumer index (libxdp's cached_cons of a producer ring is one size ahead).
  // xsk_ring_prod and xsk_ring_cons have the same fields.
  auto bind = [&](auto& r, const xdp_ring_offset& o, std::uint8_t* base, bool producer) {
    r.mask = ringSize - 1;
    r.size = ringSize;
    r.producer = reinterpret_cast<std::uint32_t*>(base + o.producer);
    r.consumer = reinterpret_cast<std::uint32_t*>(base + o.consumer);
    r.ring = base + o.desc;
    r.flags = reinterpret_cast<std::uint32_t*>(base + o.flags);
    r.cached_prod = *r.producer;
    r.cached_cons = *r.consumer + (producer ? ringSize : 0);
  };
  std::uint8_t* fill = map(off.fr, sizeof(std::uint64_t), XDP_UMEM_PGOFF_FILL_RING);
  std::uint8_t* comp = map(off.cr, sizeof(std::uint64_t), XDP_UMEM_PGOFF_COMPLETION_RING);
  std::uint8_t* rx = map(off.rx, sizeof(xdp_desc), XDP_PGOFF_RX_RING);
  std::uint8_t* tx = map(off.tx, sizeof(xdp_desc), XDP_PGOFF_TX_RING);
  if (fill == nullptr || comp == nullptr || rx == nullptr || tx == nullptr) {
    error = "cannot map the handed-over socket's rings: " + errText(errno);
    return false;
  }
  bind(rings_->fill, off.fr, fill, true);
  bind(rings_->comp, off.cr, comp, false);
  bind(rings_->rx, off.rx, rx, false);
  bind(rings_->tx, off.tx, tx, true);
  return true;
}

std::unique_ptr<XskIo> XskIo::adopt(const XskOptions& o, XskHandover h, std::string& error) {
  std::unique_ptr<XskIo> x(new XskIo());
  x->options_ = o;
  x->socketFd_ = h.socketFd;
  x->umemFd_ = h.umemFd;
  x->rings_ = std::make_unique<Rings>();
  if (h.frames != o.frames || h.queue != o.queue) {
    error = "the handed-over socket of queue " + std::to_string(h.queue) + " has " +
            std::to_string(h.frames) + " frames, this configuration " + std::to_string(o.frames);
    return nullptr;
  }
  // Every frame accounted for once, every free address a frame of this UMEM: a frame used twice
  // would corrupt packets silently.
  const std::uint64_t areaBytes = static_cast<std::uint64_t>(o.frames) * kFrameSize;
  bool sane = h.ringSize != 0 && (h.ringSize & (h.ringSize - 1)) == 0 &&
              std::uint64_t{h.inFill} + h.inTx + h.free.size() <= h.frames;
  for (std::uint64_t a : h.free) sane = sane && a < areaBytes && a % kFrameSize == 0;
  if (!sane) {
    error = "the handed-over state of queue " + std::to_string(h.queue) + " does not add up";
    return nullptr;
  }
  x->areaSize_ = static_cast<std::size_t>(o.frames) * kFrameSize;
  void* area =
      mmap(nullptr, x->areaSize_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, x->umemFd_, 0);
  if (area == MAP_FAILED) {
    error = "cannot map the handed-over UMEM: " + errText(errno);
    return nullptr;
  }
  x->area_ = static_cast<std::uint8_t*>(area);
  x->ringSize_ = h.ringSize;
  if (!x->mapRings(h.ringSize, error)) return nullptr;
  x->zeroCopy_ = h.zeroCopy;
  x->free_ = std::move(h.free);
  x->free_.reserve(o.frames);
  x->inFill_ = h.inFill;
  x->inTx_ = h.inTx;
  return x;
}

FrameAccounting XskIo::accounting() const noexcept {
  FrameAccounting a;
  a.total = options_.frames;
  a.free = static_cast<std::uint32_t>(free_.size());
  a.fill = inFill_;
  a.inApp = inApp_;
  a.inTx = inTx_;
  return a;
}

void XskIo::refill() {
  // Keep the fill ring stocked, leaving a reserve in the free list for emitted copies.
  const std::uint32_t reserve = options_.frames / 8;
  if (free_.size() <= reserve) return;
  const auto want = static_cast<std::uint32_t>(free_.size() - reserve);
  std::uint32_t idx = 0;
  std::uint32_t n = want;
  while (n > 0 && xsk_ring_prod__reserve(&rings_->fill, n, &idx) != n) n /= 2;
  if (n == 0) return;
  for (std::uint32_t i = 0; i < n; ++i) {
    *xsk_ring_prod__fill_addr(&rings_->fill, idx + i) = free_.back();
    free_.pop_back();
  }
  xsk_ring_prod__submit(&rings_->fill, n);
  inFill_ += n;
  if (xsk_ring_prod__needs_wakeup(&rings_->fill)) {
    ++wakeups_;
    recvfrom(fd(), nullptr, 0, MSG_DONTWAIT, nullptr, nullptr);
  }
}

std::size_t XskIo::receive(PacketBatch& batch) {
  batch.count = 0;
  std::uint32_t idx = 0;
  const std::uint32_t n = xsk_ring_cons__peek(&rings_->rx, kMaxBatch, &idx);
  for (std::uint32_t i = 0; i < n; ++i) {
    const xdp_desc* d = xsk_ring_cons__rx_desc(&rings_->rx, idx + i);
    const std::uint64_t addr = d->addr;
    const auto offset = static_cast<std::uint32_t>(addr & (kFrameSize - 1));
    batch.push(PacketRef{area_ + addr, d->len, kFrameSize - offset, addr});
  }
  if (n > 0) xsk_ring_cons__release(&rings_->rx, n);
  inFill_ -= n;
  inApp_ += n;
  counters_.rxFrames += n;
  return n;
}

void XskIo::txSubmit(std::uint64_t addr, std::uint32_t len) {
  std::uint32_t idx = 0;
  if (xsk_ring_prod__reserve(&rings_->tx, 1, &idx) != 1) {
    ++counters_.txRingFull;
    free_.push_back(addr & ~static_cast<std::uint64_t>(kFrameSize - 1));
    return;
  }
  xdp_desc* d = xsk_ring_prod__tx_desc(&rings_->tx, idx);
  d->addr = addr;
  d->len = len;
  d->options = 0;
  xsk_ring_prod__submit(&rings_->tx, 1);
  ++inTx_;
  ++txPending_;
  ++counters_.txFrames;
}

void XskIo::complete(PacketBatch& batch, std::span<const Verdict> verdicts) {
  for (std::size_t i = 0; i < batch.count; ++i) {
    const PacketRef& p = batch.pkts[i];
    --inApp_;
    if (verdicts[i].action() == Action::kTx) {
      txSubmit(p.handle, p.len);
    } else {
      free_.push_back(p.handle & ~static_cast<std::uint64_t>(kFrameSize - 1));
    }
  }
  batch.count = 0;
}

bool XskIo::send(const std::uint8_t* data, std::uint32_t len) {
  if (len > kFrameSize) return false;
  if (free_.empty()) reapCompletions();
  if (free_.empty()) {
    return false;
  }
  const std::uint64_t addr = free_.back();
  free_.pop_back();
  std::memcpy(area_ + addr, data, len);
  txSubmit(addr, len);
  return true;
}

std::size_t XskIo::txRoom() {
  // A slot in the TX ring for each frame, and for a send() a free frame to copy into too:
  // the smaller, so that what the pipeline is given always fits.
  if (free_.empty()) reapCompletions();
  const std::uint32_t ring = xsk_prod_nb_free(&rings_->tx, options_.frames);
  return std::min<std::size_t>(ring, free_.size());
}

void XskIo::reapCompletions() {
  std::uint32_t idx = 0;
  const std::uint32_t n = xsk_ring_cons__peek(&rings_->comp, options_.frames, &idx);
  for (std::uint32_t i = 0; i < n; ++i) {
    free_.push_back(*xsk_ring_cons__comp_addr(&rings_->comp, idx + i) &
                    ~static_cast<std::uint64_t>(kFrameSize - 1));
  }
  if (n > 0) xsk_ring_cons__release(&rings_->comp, n);
  inTx_ -= n;
}

void XskIo::flush() {
  if (txPending_ > 0 || inTx_ > 0) {
    // In copy mode the kernel transmits only when kicked, and at most 32 frames per kick
    // (EAGAIN: more are waiting). Kick until the ring is drained, or the kernel stops taking.
    for (int i = 0; i < 64 && xsk_ring_prod__needs_wakeup(&rings_->tx); ++i) {
      ++wakeups_;
      if (sendto(fd(), nullptr, 0, MSG_DONTWAIT, nullptr, 0) >= 0) break;
      if (errno != EAGAIN && errno != EBUSY && errno != ENOBUFS) break;
      reapCompletions();
    }
    txPending_ = 0;
  }
  reapCompletions();
  refill();
}

XskKernelStats XskIo::kernelStats() const noexcept {
  XskKernelStats k;
  xdp_statistics st{};
  socklen_t len = sizeof st;
  if (getsockopt(fd(), SOL_XDP, XDP_STATISTICS, &st, &len) == 0) {
    k.rxDropped = st.rx_dropped;
    k.rxRingFull = st.rx_ring_full;
    k.fillRingEmpty = st.rx_fill_ring_empty_descs;
  }
  return k;
}

bool XskIo::wait(int timeoutMs) {
  pollfd p{fd(), POLLIN, 0};
  return poll(&p, 1, timeoutMs) > 0;
}

}  // namespace xlb
