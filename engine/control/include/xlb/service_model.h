// SPDX-License-Identifier: Apache-2.0
// The control plane's model of what xlb serves: VIPs (each with a stable slot) and their backends
// (weight, administrative state, health, a stable id). It changes through the API, health checks,
// a reload of the configuration file and the end of a VIP's drain; from it the Controller builds
// the workers' snapshots and fills the XDP program's maps. Not thread-safe: the Controller
// serialises access.
//
// What survives a restart is the difference from the configuration file (an overlay, written by
// service_overlay.cc): VIPs added over the API, configured VIPs removed, VIP settings changed,
// backends added, removed or changed. A restart or a reload applies the file, then the overlay;
// a setting the overlay does not name comes from the file, so editing the file and reloading
// changes it.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <variant>
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
  VipConfig config;  // address, protocol, ports, backend ports, SYN flood (backends: `backends`)
  std::uint16_t id = 0;     // slot in the XDP program and the snapshot, stable while it exists
  bool fromConfig = false;  // named in the configuration file (else added over the API)
  // Removed: takes no new connections and stays (XDP, snapshot) until its last one has ended.
  bool draining = false;
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

// A VIP as JSON, with the configuration file's keys: address, protocol ("tcp"), ports,
// backend_ports {"443": 8443}, syn_flood {mode, threshold_pps}, backends [{address, weight}].
// The API's POST /vips body and the overlay's VIPs added over the API. Throws JsonReadError
// naming the key; an unknown key is an error. Cross-field rules are ServiceModel::addVip's.
VipConfig vipFromJson(const nlohmann::json& j);
BackendPorts backendPortsFromJson(const nlohmann::json& j);
nlohmann::json backendPortsToJson(const BackendPorts& bp);  // {"443": 8443}

class ServiceModel {
 public:
  explicit ServiceModel(const Config& config);

  const std::vector<VipRecord>& vips() const noexcept { return vips_; }
  const VipRecord* findVip(const VipKey& a) const noexcept;
  // The configuration file's settings this model was built from (reload replaces them).
  const Config& base() const noexcept { return config_; }
  // A config with the current VIP settings (ports, SYN flood) and in-rotation backends: what the
  // XDP program's maps are filled from; vipIds() gives each VIP's slot, in the same order.
  Config effectiveConfig() const;
  std::vector<std::uint16_t> vipIds() const;

  // A VIP added at runtime, with its backends; checked whole (checkConfig) against the others.
  std::optional<ModelError> addVip(const VipConfig& vip);
  // Starts a VIP's drain (no new connections; the Controller drops it when none are left).
  std::optional<ModelError> removeVip(const VipKey& vip);
  // Forgets a VIP altogether (its drain is over); its slot becomes free.
  void dropVip(const VipKey& vip);
  // Every backend id ever handed out for this VIP (removed backends' too): its connections.
  std::vector<std::uint16_t> backendIdsOf(const VipKey& vip) const;

  std::optional<ModelError> addBackend(const VipKey& vip, const Address& backend,
                                       std::uint32_t weight);
  std::optional<ModelError> setBackend(const VipKey& vip, const Address& backend,
                                       std::optional<std::uint32_t> weight,
                                       std::optional<BackendState> state);
  std::optional<ModelError> removeBackend(const VipKey& vip, const Address& backend);
  // Health check results; true when the health changed.
  bool setHealth(const VipKey& vip, const Address& backend, Health h);
  // Runtime VIP settings (PATCH /config). Backend ports unset: kept (each must still be served).
  std::optional<ModelError> setVipPorts(const VipKey& vip, std::vector<std::uint16_t> ports,
                                        std::optional<BackendPorts> backendPorts = std::nullopt);
  std::optional<ModelError> setSynFlood(const VipKey& vip, std::optional<SynFloodMode> mode,
                                        std::optional<std::uint32_t> thresholdPps);

  // The snapshot spec: every id ever handed out keeps its MAC (connections to removed backends
  // finish), per VIP only backends in rotation (none while the VIP drains).
  SnapshotSpec spec(const MacAddr& localMac, const Snapshot::Resolver& resolve) const;
  // Every backend address with an id, by id (next hops to resolve).
  const std::vector<Address>& idAddresses() const noexcept { return idAddress_; }

  // The runtime overlay as JSON text, and applying one read back at start. A malformed overlay
  // is reported and leaves the model as configured.
  std::string overlayJson() const;
  std::optional<ModelError> applyOverlay(const std::string& json);
  // The model a reloaded configuration file gives: `config` as the base, this model's overlay
  // on top, backend ids, VIP slots and health kept; a VIP the file no longer names drains.
  std::variant<ServiceModel, ModelError> rebase(const Config& config) const;

 private:
  VipRecord* vip(const VipKey& a) noexcept;
  // nullopt when the backend id space has no room for its backends.
  std::optional<VipRecord> recordOf(const VipConfig& c, bool fromConfig);
  std::optional<std::uint16_t> freeSlot() const;
  // One VIP of an overlay (throws JsonReadError / json::exception on a malformed record).
  std::optional<ModelError> applyVipOverlay(const nlohmann::json& jv);
  std::optional<std::uint16_t> idFor(const VipKey& vip, const Address& backend);

  Config config_;
  std::vector<VipRecord> vips_;
  // (VIP, backend) -> id; ids are never reused while the process runs.
  std::map<std::pair<std::string, std::string>, std::uint16_t> ids_;
  std::vector<Address> idAddress_;
};

}  // namespace xlb
