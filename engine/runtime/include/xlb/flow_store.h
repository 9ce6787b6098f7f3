// SPDX-License-Identifier: Apache-2.0
// The connection tables' memory as a file that outlives the process: every worker's entries,
// FIN sequence numbers and SYN-proxy deltas live in one MAP_SHARED mapping of
// <runtime_dir>/flows, written in place by the packet path at no extra cost. A process that stops
// (SIGTERM, kill -9, a crash) leaves the file behind; the next one checks its header against its
// own layout and configuration and adopts the connections (ConnTable::adopt), or refuses the
// file with a reason and the number of flows it held and starts from zeros. The layout is
// versioned: kFlowFileVersion changes with any change of what is stored.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "xlb/addr.h"
#include "xlb/config.h"
#include "xlb/conn_table.h"

namespace xlb {

inline constexpr std::uint32_t kFlowFileVersion = 1;

// What the file must agree on to be adopted: entry ownership (workers, per-worker capacity, the
// SNAT port range split by worker) and the SNAT addresses an entry's index points into.
struct FlowLayout {
  std::uint32_t workers = 1;
  std::uint32_t capacityPerWorker = 1;
  std::uint16_t portLo = 0;
  std::uint16_t portHi = 0;
};

// How opening the file went: adopted (the previous process's connections are there to adopt),
// fresh (no file, or an empty one), or refused (the reason; `refusedFlows` live entries lost).
struct FlowStoreOpen {
  bool adopting = false;
  std::string refused;
  std::uint64_t refusedFlows = 0;
  std::int32_t previousPid = 0;
  std::uint32_t generation = 0;  // how many processes have used the file before this one
};

class FlowStore {
 public:
  // Opens (or creates) `path` for `layout`, locked against a second process (flock): nullptr
  // with `error` when it cannot, or when another process holds the lock (its pid in `error`).
  static std::unique_ptr<FlowStore> open(const std::string& path, const FlowLayout& layout,
                                         std::string& error, FlowStoreOpen& result);
  ~FlowStore();
  FlowStore(const FlowStore&) = delete;
  FlowStore& operator=(const FlowStore&) = delete;

  ConnStorage storage(std::uint32_t worker) const noexcept;
  // The SNAT addresses the stored entries' indexes point into (the previous process's).
  const std::vector<Address>& storedSnat() const noexcept { return storedSnat_; }
  // Records this process as the file's user, with its SNAT addresses (after adoption).
  void claim(const std::vector<Address>& snat);
  // Lets another process open the file (a hand-over): the lock is released, the mapping kept.
  void unlock();
  // Takes the lock back (a hand-over the new process abandoned); waits up to a second.
  bool relock();
  // Why the file at `path` would be refused for `layout` ("" when it would be adopted or does not
  // exist), without opening it for use: a hand-over checks before the running process stops.
  static std::string inspect(const std::string& path, const FlowLayout& layout);
  // The pid of the process holding the file at `path` (-1: held, pid unknown), or 0 when none
  // does: a start checks before it touches anything.
  static int heldBy(const std::string& path);
  // Forgets every stored connection (xlbd --detach).
  static bool discard(const std::string& path, std::string& error);

  std::size_t bytes() const noexcept { return bytes_; }

 private:
  FlowStore() = default;
  std::string path_;
  int fd_ = -1;
  void* base_ = nullptr;
  std::size_t bytes_ = 0;
  std::size_t sectionBytes_ = 0;
  FlowLayout layout_;
  std::vector<Address> storedSnat_;
};

// One VIP-backend pair as this process numbers it: adoption maps stored entries onto it by
// address (ids are per process).
struct FlowTarget {
  Address vip;
  std::uint16_t vipId = 0;
  Address backend;
  std::uint16_t backendId = 0;
  std::uint8_t protocol = kVipTcp;
};

// Adoption's EntryCheck: keeps an entry whose VIP and backend this process serves and whose SNAT
// address it still has, rewriting the ids to this process's.
class FlowRemap final : public EntryCheck {
 public:
  FlowRemap(const std::vector<FlowTarget>& targets, const std::vector<Address>& storedSnat,
            const SnatPool& snat);
  bool keep(ConnEntry& e) const noexcept override;

 private:
  using Key = std::tuple<Family, IpAddr, IpAddr, std::uint8_t>;  // ..., protocol
  struct KeyLess {
    bool operator()(const Key& a, const Key& b) const noexcept;
  };
  std::map<Key, std::pair<std::uint16_t, std::uint16_t>, KeyLess> ids_;
  std::vector<std::uint8_t> snatIndex_;  // stored index -> this process's, or 0xff
};

}  // namespace xlb
