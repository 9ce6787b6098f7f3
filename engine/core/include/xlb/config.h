// SPDX-License-Identifier: Apache-2.0
// The configuration model. Loading it from YAML lives in xlb_config (engine/config); the model
// and its cross-field checks are pure so the engine core can take it as is.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "xlb/addr.h"
#include "xlb/conn_table.h"
#include "xlb/enum_names.h"
#include "xlb_common.h"

namespace xlb {

enum class XdpMode : std::uint8_t { kAuto, kNative, kGeneric };
enum class SynFloodMode : std::uint8_t { kOff, kAlways, kAuto };
XLB_ENUM_NAMES(XdpMode, {XdpMode::kAuto, "auto"}, {XdpMode::kNative, "native"},
               {XdpMode::kGeneric, "generic"});
XLB_ENUM_NAMES(SynFloodMode, {SynFloodMode::kOff, "off"}, {SynFloodMode::kAlways, "always"},
               {SynFloodMode::kAuto, "auto"});
// full_nat: both directions through xlb, SNAT towards the backends. dsr: client -> backend only;
// backends hold the VIP and answer clients directly.
enum class Forwarding : std::uint8_t { kFullNat, kDsr };
// How a DSR packet reaches its backend: l2 (its MAC; same segment) or ipip (an outer IP header to
// the backend's address; xlb_decap.bpf.o removes it there).
enum class DsrEncap : std::uint8_t { kL2, kIpip };
XLB_ENUM_NAMES(Forwarding, {Forwarding::kFullNat, "full_nat"}, {Forwarding::kDsr, "dsr"});
XLB_ENUM_NAMES(DsrEncap, {DsrEncap::kL2, "l2"}, {DsrEncap::kIpip, "ipip"});

struct BackendConfig {
  Address address;
  std::uint32_t weight = 1;
};

struct SynFloodConfig {
  SynFloodMode mode = SynFloodMode::kAuto;
  std::uint32_t thresholdPps = 20000;
};

// Served ports whose backends listen on another port: VIP port -> backend port (VIP:443 ->
// backend:8443). A served port not named here reaches the backends on the same port.
using BackendPorts = std::map<std::uint16_t, std::uint16_t>;

inline constexpr std::uint8_t kVipTcp = 6;   // kProtoTcp
inline constexpr std::uint8_t kVipUdp = 17;  // kProtoUdp

// A VIP is an address and a protocol: a TCP and a UDP service may share an address (HTTPS on
// TCP 443, QUIC on UDP 443). Written "10.0.0.1" for TCP and "10.0.0.1/udp" for UDP.
struct VipKey {
  Address address;
  std::uint8_t protocol = kVipTcp;

  VipKey() = default;
  // Implicit: an address alone names its TCP VIP, as it did before UDP services.
  VipKey(const Address& a, std::uint8_t p = kVipTcp) : address(a), protocol(p) {}  // NOLINT
  static std::optional<VipKey> parse(std::string_view text);
  std::string toString() const;
  bool operator==(const VipKey&) const = default;
};

struct VipConfig {
  Address address;
  std::uint8_t protocol = kVipTcp;  // or kVipUdp (UDP VIPs have syn_flood off)
  // UDP only: QUIC flows are also found by the server's connection ID (NAT rebinding).
  bool quic = false;
  Forwarding forwarding = Forwarding::kFullNat;
  DsrEncap encapsulation = DsrEncap::kL2;  // dsr only
  std::vector<std::uint16_t> ports{80, 443};
  BackendPorts backendPorts;  // keys are served ports (checkConfig)
  SynFloodConfig synFlood;
  std::vector<BackendConfig> backends;

  VipKey key() const { return {address, protocol}; }
  // The port a connection to VIP port `p` reaches its backend on.
  std::uint16_t backendPort(std::uint16_t p) const {
    auto it = backendPorts.find(p);
    return it == backendPorts.end() ? p : it->second;
  }
};

struct SnatConfig {
  std::vector<Address> addresses;
  std::uint16_t portLo = 10000;
  std::uint16_t portHi = 32767;
  // New connections per second the operator means to sustain (0: not stated). xlbd checks the
  // SNAT pool against it at start (snatSizing) and warns when it falls short.
  std::uint32_t sustainedRate = 0;

  bool operator==(const SnatConfig&) const = default;
};

struct ConntrackConfig {
  std::uint32_t capacity = 1'000'000;
  // The share of the capacity UDP flows may hold (ConnTable::allocateUdp): a UDP flood from
  // random sources fills at most this much, and never evicts a TCP connection.
  std::uint32_t udpSharePercent = 50;
  Timeouts timeouts;

  bool operator==(const ConntrackConfig&) const = default;
};

struct ControlConfig {
  std::string listenHost = "127.0.0.1";
  std::uint16_t listenPort = 9180;
  std::string tokenFile;  // empty: no token; mutations refused unless on loopback

  bool operator==(const ControlConfig&) const = default;
};

struct HealthCheckConfig {
  bool enabled = true;
  std::uint16_t port = 0;    // TCP port probed on each backend; 0: the VIP's first port
  bool resetOnDown = false;  // a backend going down: reset its connections (else they finish)
  TimeNs interval = 1 * kNsPerSec;
  TimeNs timeout = 500 * kNsPerMs;
  std::uint32_t rise = 2;
  std::uint32_t fall = 2;

  bool operator==(const HealthCheckConfig&) const = default;
};

// One instance of a cluster: its name and the address its flow announcements come from and go
// to (on the segment the instances share; normally its SNAT address).
struct ClusterMember {
  std::string name;
  Address address;
  bool operator==(const ClusterMember&) const = default;
};

// Several instances behind a router's ECMP (docs/ARCHITECTURE.md, "Scale-out"). No members: a
// single instance (the default).
struct ClusterConfig {
  std::vector<ClusterMember> members;
  // This instance's name. Empty: the member whose address is on this host (xlbd finds it), so
  // every instance can run the same file.
  std::string self;
  std::uint16_t port = 9190;              // UDP: flow announcements and heartbeats
  TimeNs heartbeat = 200 * kNsPerMs;      // how often each instance says it is alive
  TimeNs deadAfter = 1 * kNsPerSec;       // silence after which a peer counts as gone
  TimeNs drainTimeout = 300 * kNsPerSec;  // a drain reports done after this at the latest
  // Routes for BIRD (or any routing daemon that imports a kernel table): while this instance is
  // ready and not draining, each VIP is routed in this table through `announceDevice`, a
  // device that exists only while xlbd runs. 0: no routes.
  std::uint32_t announceTable = 0;
  std::string announceDevice = "xlb-announce";
  bool enabled() const noexcept { return !members.empty(); }
  bool operator==(const ClusterConfig&) const = default;
};

// Automatic blocking (docs/ARCHITECTURE.md, "Automatic blocking"). The XDP program counts, per
// source address of traffic to a VIP and per window, each kind of XLB_SRC_KINDS (the engine counts
// invalid ACKs, which only it can tell); a source whose
// count reaches its kind's limit is blocked for `ttl` (block), or only reported (observe).
enum class AutoBlockMode : std::uint8_t { kOff, kObserve, kBlock };
XLB_ENUM_NAMES(AutoBlockMode, {AutoBlockMode::kOff, "off"}, {AutoBlockMode::kObserve, "observe"},
               {AutoBlockMode::kBlock, "block"});

enum class SourceKind : std::uint8_t {
#define XLB_SOURCE_KIND_ENUM(e, c, l) k##c,
  XLB_SRC_KINDS(XLB_SOURCE_KIND_ENUM)
#undef XLB_SOURCE_KIND_ENUM
};
inline constexpr std::size_t kSourceKindCount = XLB_SRC_KIND_COUNT;
// The kinds' names in the configuration, the API, the log and the metrics.
inline constexpr std::array<const char*, kSourceKindCount> kSourceKindNames = {
#define XLB_SOURCE_KIND_NAME(e, c, l) #l,
    XLB_SRC_KINDS(XLB_SOURCE_KIND_NAME)
#undef XLB_SOURCE_KIND_NAME
};

inline std::optional<SourceKind> sourceKindByName(std::string_view name) {
  for (std::size_t i = 0; i < kSourceKindCount; ++i) {
    if (name == kSourceKindNames[i]) return static_cast<SourceKind>(i);
  }
  return std::nullopt;
}
inline const char* sourceKindName(SourceKind k) {
  return kSourceKindNames[static_cast<std::size_t>(k)];
}

// Automatic blocking's bounds, the same in the file, the API and the state file.
inline constexpr TimeNs kMinAutoBlockWindow = 10 * kNsPerMs;
inline constexpr TimeNs kMaxAutoBlockWindow = 60 * kNsPerSec;
inline constexpr std::uint32_t kMaxAutoBlockLimit = 1'000'000'000;
inline constexpr std::uint32_t kMaxAutoBlockFoldSources = 1000;
inline constexpr std::size_t kMaxAutoBlockAllow = 1024;

struct AutoBlockConfig {
  AutoBlockMode mode = AutoBlockMode::kOff;
  TimeNs window = kNsPerSec;
  // Per kind, in one window; 0: the kind is not judged. A client behind a NAT opens many
  // connections, but completes their handshakes: the SYN kind counts only those it does not.
  // Every packet and UDP are off by default: what a client sends legitimately depends on the
  // service. Invalid ACKs come from a client only after its connection ended here.
  std::array<std::uint32_t, kSourceKindCount> limits{1000, 500, 0, 0, 1000};
  TimeNs ttl = 600 * kNsPerSec;
  // `foldSources` sources blocked inside one /foldV4 (IPv4) or /foldV6 (IPv6) are replaced by
  // that prefix; 0: never fold.
  std::uint8_t foldV4 = 24;
  std::uint8_t foldV6 = 64;
  std::uint32_t foldSources = 8;
  std::vector<Prefix> allow;  // never blocked automatically (health checkers, the operator's own)

  bool on() const noexcept { return mode != AutoBlockMode::kOff; }
  std::int64_t ttlSeconds() const noexcept { return static_cast<std::int64_t>(ttl / kNsPerSec); }
  bool operator==(const AutoBlockConfig&) const = default;
};

struct Config {
  std::string interface = "eth0";
  XdpMode xdpMode = XdpMode::kAuto;
  std::uint32_t workers = 1;
  // No AF_XDP socket on a queue (daemon stopped or crashed, program still attached): drop VIP and
  // SNAT traffic (false, fail-closed) or hand it to the kernel (true, fail-open).
  bool failOpen = false;
  std::uint32_t framesPerQueue = 4096;          // AF_XDP UMEM frames per queue (power of two)
  std::uint32_t blocklistCapacity = 1'000'000;  // per blocklist map (v4/v6, exact/prefix)
  SnatConfig snat;
  std::vector<VipConfig> vips;
  std::vector<Prefix> blocklist;
  ConntrackConfig conntrack;
  ControlConfig control;
  std::string stateDir = "/var/lib/xlb";
  // Where the connection tables live while xlbd runs and between runs (flow_store.h) and the
  // hand-over socket: a tmpfs, so the packet path's writes never reach a disk.
  std::string runtimeDir = "/run/xlb";
  HealthCheckConfig healthCheck;
  ClusterConfig cluster;
  AutoBlockConfig autoBlock;
};

// Limits the loader and the cross-field check enforce. Those the XDP program's maps size come
// from the ABI header, their one copy.
inline constexpr std::uint32_t kMaxWorkers = XLB_MAX_QUEUES;  // one queue (and socket) each
inline constexpr std::uint32_t kMaxVips = XLB_MAX_VIPS;
inline constexpr std::uint32_t kMaxBackendsPerVip = 4096;
// Backend ids are 16-bit (connection entries and per-backend counters hold them) and are never
// reused while the process runs: the configuration may name at most this many backends in all.
inline constexpr std::uint32_t kMaxBackendIds = 0xffff;
inline constexpr std::uint32_t kMaxWeight = 10000;
inline constexpr std::uint32_t kMaxConntrackCapacity = 100'000'000;
// Timeouts live in 32-bit wrapping milliseconds in each entry: keep far from the wrap.
inline constexpr TimeNs kMaxTimeout = 24ull * 3600 * kNsPerSec;
inline constexpr std::uint32_t kMaxClusterMembers = XLB_MAX_PEERS;

// Cross-field checks (families match, SNAT address per VIP family, no duplicate VIPs, ...).
// Returns an empty string when the configuration is usable, else one message naming the key.
std::string checkConfig(const Config& c);
// "tcp" -> 6, "udp" -> 17; nullopt for anything else. And back.
std::optional<std::uint8_t> protocolNumber(std::string_view name);
const char* protocolName(std::uint8_t proto);
// What a SNAT pool sustains at a stated rate of new connections: ports per family in all, how
// soon a port comes back into use, and whether that is inside a backend's 60 s TIME_WAIT (safe
// only for clients that send timestamps) or ports run out altogether while closed connections
// hold theirs for the LB's time_wait timer. One warning per problem, empty when none.
std::vector<std::string> snatSizing(const Config& c);

}  // namespace xlb
