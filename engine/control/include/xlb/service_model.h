// SPDX-License-Identifier: Apache-2.0
// The control plane's model of what xlb serves: VIPs with their backends (weight, administrative
// state, health, a stable id) and the blocklist (comment, expiry). It changes only through the
// API, health checks and expiry, and from it the daemon builds snapshots for the workers and the
// blocklist maps for XDP. Not thread-safe: the Controller serialises access.
//
// What survives a restart is the difference from the configuration file (an overlay): backends
// added, removed or changed at runtime, blocklist entries added, and configured entries removed.
// A restart applies the file, then the overlay; a newly configured backend or entry appears
// unless the overlay removed it.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <vector>

#include "xlb/config.h"
#include "xlb/enum_names.h"
#include "xlb/snapshot.h"

namespace xlb {

enum class BackendState : std::uint8_t { kActive, kDraining, kDown };
enum class Health : std::uint8_t { kUnknown, kUp, kDown };
XLB_ENUM_NAMES(BackendState, {BackendState::kActive, "active"},
               {BackendState::kDraining, "draining"}, {BackendState::kDown, "down"});
XLB_ENUM_NAMES(Health, {Health::kUnknown, "unknown"}, {Health::kUp, "up"}, {Health::kDown, "down"});

struct BackendRecord {
  Address address;
  std::uint16_t id = 0;
  std::uint32_t weight = 1;
  BackendState state = BackendState::kActive;
  Health health = Health::kUnknown;
  bool fromConfig = false;
  // Takes new connections: active, not failing its checks, weight above zero.
  bool inRotation() const noexcept {
    return state == BackendState::kActive && health != Health::kDown && weight > 0;
  }
};

struct VipRecord {
  VipConfig config;  // address, protocol, ports, SYN flood (backends: see `backends`)
  std::vector<BackendRecord> backends;
};

// Why a change or a request failed, in the control plane's terms; the API's handlers map each to
// an HTTP status, and the name is the error code they answer with.
enum class Failure : std::uint8_t {
  kBadRequest,   // the request contradicts the model (a weight out of range, a duplicate port)
  kNotFound,     // no such VIP, backend, entry or connection
  kConflict,     // already there
  kFull,         // a kernel map has no room
  kUnavailable,  // a worker did not answer in time
  kInternal,     // state_dir or the XDP maps refused the change; nothing changed
};
XLB_ENUM_NAMES(Failure, {Failure::kBadRequest, "bad_request"}, {Failure::kNotFound, "not_found"},
               {Failure::kConflict, "conflict"}, {Failure::kFull, "blocklist_full"},
               {Failure::kUnavailable, "unavailable"}, {Failure::kInternal, "internal"});

struct ControlError {
  Failure failure = Failure::kInternal;
  std::string message;
};
using ModelError = ControlError;  // what the service model's checks answer

class ServiceModel {
 public:
  explicit ServiceModel(const Config& config);

  const std::vector<VipRecord>& vips() const noexcept { return vips_; }
  const VipRecord* findVip(const Address& a) const noexcept;
  // A config with the current VIP settings (ports, SYN flood) and in-rotation backends: what the
  // XDP program's maps are filled from.
  Config effectiveConfig() const;

  std::optional<ModelError> addBackend(const Address& vip, const Address& backend,
                                       std::uint32_t weight);
  std::optional<ModelError> setBackend(const Address& vip, const Address& backend,
                                       std::optional<std::uint32_t> weight,
                                       std::optional<BackendState> state);
  std::optional<ModelError> removeBackend(const Address& vip, const Address& backend);
  // Health check results; true when the health changed.
  bool setHealth(const Address& vip, const Address& backend, Health h);
  // Runtime VIP settings (PATCH /config).
  std::optional<ModelError> setVipPorts(const Address& vip, std::vector<std::uint16_t> ports);
  std::optional<ModelError> setSynFlood(const Address& vip, std::optional<SynFloodMode> mode,
                                        std::optional<std::uint32_t> thresholdPps);

  // The snapshot spec: every id ever handed out keeps its MAC (connections to removed backends
  // finish), per VIP only backends in rotation.
  SnapshotSpec spec(const MacAddr& localMac, const Snapshot::Resolver& resolve) const;
  // Every backend address with an id, by id (next hops to resolve).
  const std::vector<Address>& idAddresses() const noexcept { return idAddress_; }

  // The runtime overlay as JSON text, and applying one read back at start. A malformed overlay
  // is reported and leaves the model as configured.
  std::string overlayJson() const;
  std::optional<ModelError> applyOverlay(const std::string& json);

 private:
  VipRecord* vip(const Address& a) noexcept;
  // One VIP of an overlay (throws JsonReadError / json::exception on a malformed record).
  std::optional<ModelError> applyVipOverlay(const nlohmann::json& jv);
  std::optional<std::uint16_t> idFor(std::size_t vipIndex, const Address& backend);

  Config config_;
  std::vector<VipRecord> vips_;
  std::map<std::pair<std::size_t, std::string>, std::uint16_t> ids_;  // (vip, address) -> id
  std::vector<Address> idAddress_;
};

// Longest blocklist comment, in bytes of UTF-8 (API and state files).
inline constexpr std::size_t kMaxBlockComment = 256;
// Wall-clock seconds read from state files: up to the year 9999.
inline constexpr std::int64_t kMaxWallSeconds = 253'402'300'799;

// The blocklist as the operator sees it. Wall-clock times in seconds since the epoch.
struct BlockEntry {
  Prefix prefix;
  std::string comment;
  std::int64_t addedAt = 0;
  std::int64_t expiresAt = 0;  // 0: never
  bool fromConfig = false;
};

class Blocklist {
 public:
  // Configured entries are present from the start.
  explicit Blocklist(const std::vector<Prefix>& configured, std::int64_t now);

  std::size_t size() const noexcept { return entries_.size(); }
  const BlockEntry* find(const Prefix& p) const noexcept;
  // False when present.
  bool add(BlockEntry e);
  bool remove(const Prefix& p);
  // Entries whose expiry passed, oldest first; they stay until remove() is called for each.
  std::vector<Prefix> expired(std::int64_t now) const;
  // Entries in a stable order (IPv4 before IPv6, by address then length), starting after
  // `after` (a prefix's text, or empty for the start), at most `limit`.
  std::vector<BlockEntry> page(const std::string& after, std::size_t limit, bool& more) const;
  std::vector<BlockEntry> all() const;

  std::string overlayJson() const;
  std::optional<ModelError> applyOverlay(const std::string& json, std::int64_t now);

 private:
  struct Key {
    std::uint8_t family;
    std::array<std::uint8_t, 16> ip;
    std::uint8_t length;
    auto operator<=>(const Key&) const =
        default;  // NOLINT(modernize-use-nullptr): a false alarm on <=>
  };
  static Key keyOf(const Prefix& p) noexcept;
  std::map<Key, BlockEntry> entries_;
  std::vector<Prefix> removedConfigured_;  // configured entries the operator deleted
};

}  // namespace xlb
