// SPDX-License-Identifier: Apache-2.0
// SNAT source ports: one FIFO pool per SNAT address, O(1) allocate and release.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <vector>

#include "xlb/addr.h"
#include "xlb_common.h"

namespace xlb {

// Ports are unique per SNAT address across all backends. That is stricter than uniqueness per
// (SNAT address, backend) pair, needs no per-backend state and makes "which worker owns this
// reply" a function of the port alone (a worker can own a sub-range). The pool is FIFO so a
// released port is reused as late as possible, away from the backend's own TIME_WAIT.
//
// Not thread-safe: each worker owns its pool.
class SnatPool {
 public:
  static constexpr std::uint8_t kNoAddress = 0xff;
  static constexpr std::size_t kMaxAddresses = XLB_MAX_SNAT_ADDRS;

  // Allocates every ring here, never later. `addresses` must be <= kMaxAddresses, lo <= hi.
  SnatPool(const std::vector<Address>& addresses, std::uint16_t lo, std::uint16_t hi);

  // Picks an address of `family` (round robin across those with free ports) and a port.
  bool allocate(Family family, std::uint8_t& addrIdx, std::uint16_t& port) noexcept;
  // Returns a port. Releasing a port that is not in use is refused (returns false) and counted,
  // so a bookkeeping bug cannot hand the same port out twice.
  bool release(std::uint8_t addrIdx, std::uint16_t port) noexcept;

  // Where the last connection on (address, port) to one backend (id and port) ended in the
  // sequence space that backend saw: just past the client's FIN, or nullopt when it is not known
  // to end in the backend's TIME_WAIT (reset, expired without the client's FIN). Kept for the
  // kRecentBackends backends a port served last. A SYN the SYN proxy numbers itself starts after
  // it, so a backend still holding that TIME_WAIT accepts the reuse (RFC 6191's sequence rule:
  // the proxy's SYN carries no timestamp). Costs 32 bytes per port and address.
  void noteEnd(std::uint8_t addrIdx, std::uint16_t port, std::uint16_t backendId,
               std::uint16_t backendPort, std::optional<std::uint32_t> endSeq) noexcept;
  std::optional<std::uint32_t> lastEnd(std::uint8_t addrIdx, std::uint16_t port,
                                       std::uint16_t backendId,
                                       std::uint16_t backendPort) const noexcept;
  static constexpr std::size_t kRecentBackends = 4;

  // Adoption (ConnTable::adopt): marks a port in use without taking it from the free ring; false
  // when it is out of range or already claimed. rebuildFree() then makes the ring the unclaimed
  // ports. Only on a pool that has not handed out a port.
  bool claim(std::uint8_t addrIdx, std::uint16_t port) noexcept;
  void rebuildFree() noexcept;

  // Index of `addr` among the SNAT addresses, or kNoAddress.
  std::uint8_t find(Family family, const IpAddr& addr) const noexcept;
  bool inRange(std::uint16_t port) const noexcept { return port >= lo_ && port <= hi_; }
  bool inUse(std::uint8_t addrIdx, std::uint16_t port) const noexcept;

  const IpAddr& address(std::uint8_t idx) const noexcept { return pools_[idx].addr.ip; }
  Family familyOf(std::uint8_t idx) const noexcept { return pools_[idx].addr.family; }
  std::size_t addressCount() const noexcept { return pools_.size(); }
  std::uint16_t rangeLo() const noexcept { return lo_; }
  std::uint16_t rangeHi() const noexcept { return hi_; }
  std::uint64_t portsInUse() const noexcept { return inUseTotal_; }
  std::uint64_t capacity() const noexcept;
  std::uint64_t badReleases() const noexcept { return badReleases_; }

 private:
  struct PortEnd {
    std::uint16_t backendId = kNoBackend;
    std::uint16_t backendPort = 0;
    std::uint32_t seq = 0;
  };
  static constexpr std::uint16_t kNoBackend = 0xffff;  // backend ids stop below it
  struct Pool {
    Address addr;
    std::vector<std::uint16_t> ring;  // free ports, FIFO
    std::vector<std::uint64_t> used;  // bitmap over the range
    std::vector<PortEnd> ends;        // kRecentBackends per port, most recent first
    std::uint32_t head = 0;           // next to hand out
    std::uint32_t freeCount = 0;
  };
  std::vector<Pool> pools_;
  std::array<std::uint8_t, 256> index_{};  // open addressing by address mix: pool index or 0xff
  std::uint16_t lo_;
  std::uint16_t hi_;
  std::uint32_t rangeSize_;
  std::uint32_t rr_ = 0;
  std::uint64_t inUseTotal_ = 0;
  std::uint64_t badReleases_ = 0;
};

}  // namespace xlb
