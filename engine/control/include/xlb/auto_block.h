// SPDX-License-Identifier: Apache-2.0
// Automatic blocking's decisions (docs/ARCHITECTURE.md, "Automatic blocking"). The XDP program
// measures sources and reports each that crosses a limit (SourceEvent); this decides what that
// means: nothing for an allowlisted source or one already blocked, a report in observe mode, a
// blocklist entry with the configured TTL in block mode. Once `foldSources` sources inside one
// fold prefix (/24, /64 by default) are blocked, the prefix replaces them. Pure: the Controller
// applies what it says to the blocklist, under its lock. Memory is bounded by the automatic
// entries on the blocklist (each offender here is one of them) and, for observe mode's and the
// allowlist's reports, by kReportedMax sources reported.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "xlb/addr.h"
#include "xlb/config.h"
#include "xlb/dataplane_ports.h"
#include "xlb/expiry.h"

namespace xlb {

// A change to automatic blocking's settings, as PATCH /api/v1/config gives it: the fields named,
// each checked against config.h's bounds when it was read (auto_block_json.h). The Controller
// applies it to the running settings under its lock, so two PATCHes never lose each other's
// fields.
struct AutoBlockPatch {
  std::optional<AutoBlockMode> mode;
  std::optional<TimeNs> window;
  std::array<std::optional<std::uint32_t>, kSourceKindCount> limits{};
  std::optional<TimeNs> ttl;
  std::optional<std::uint8_t> foldV4;
  std::optional<std::uint8_t> foldV6;
  std::optional<std::uint32_t> foldSources;
  std::optional<std::vector<Prefix>> allow;

  AutoBlockConfig applyTo(AutoBlockConfig c) const;
};

// What automatic blocking did, per kind of behaviour (the API's stats and the metrics).
struct AutoBlockFigures {
  std::array<std::uint64_t, kSourceKindCount> blocked{};   // entries added
  std::array<std::uint64_t, kSourceKindCount> observed{};  // would have been added (observe)
  // Observe mode: crossings from a source already reported within its TTL (not reported again).
  std::array<std::uint64_t, kSourceKindCount> repeated{};
  // Crossings from allowlisted sources, every one (the log reports a source once per TTL).
  std::array<std::uint64_t, kSourceKindCount> allowed{};
  std::uint64_t folds = 0;  // fold prefixes that replaced single sources
};

struct AutoBlockDecision {
  enum class Act : std::uint8_t { kNone, kAllowed, kObserve, kBlock };
  Act act = Act::kNone;
  Prefix prefix;                 // the source, or the fold prefix replacing its neighbours
  std::vector<Prefix> replaced;  // automatic entries inside a fold prefix: to remove
};

class AutoBlocker {
 public:
  // Observe mode, and the allowlist's reports, remember up to this many sources reported (a
  // flood of sources crossing the limits is bounded by the meter's LRU; past this, a source is
  // reported every window).
  static constexpr std::size_t kReportedMax = 65536;

  explicit AutoBlocker(const AutoBlockConfig& c) : config_(c) {}
  // New settings start observe mode's reports afresh (a source observed before is reported again).
  void configure(const AutoBlockConfig& c) {
    config_ = c;
    reported_.clear();
    lastSweep_ = -1;
  }
  const AutoBlockConfig& config() const noexcept { return config_; }

  // One crossing at wall-clock second `now`. `blocked(p)`: whether the blocklist holds p.
  template <typename IsBlocked>
  AutoBlockDecision judge(const SourceEvent& e, std::int64_t now, IsBlocked&& blocked) {
    const Prefix host = hostPrefix(e.source);
    const Prefix fold = foldPrefix(e.source);
    if (!config_.on() || blocked(host) || (config_.foldSources != 0 && blocked(fold))) {
      return {};
    }
    return decide(e, host, fold, now);
  }
  // An entry left the blocklist (expiry, by hand): it no longer counts towards a fold.
  void forget(const Prefix& p);

  const AutoBlockFigures& figures() const noexcept { return figures_; }
  static Prefix hostPrefix(const Address& a);
  Prefix foldPrefix(const Address& a) const;

 private:
  struct Offender {
    Address source;
    std::int64_t expiresAt = 0;
  };
  AutoBlockDecision decide(const SourceEvent& e, const Prefix& host, const Prefix& fold,
                           std::int64_t now);
  bool allowed(const Address& a) const;
  bool firstReport(const Prefix& host, std::int64_t now);

  AutoBlockConfig config_;
  AutoBlockFigures figures_;
  std::map<Prefix, std::vector<Offender>> byFold_;  // fold prefix -> blocked sources
  // Observe mode's sources and allowlisted ones: source -> the second a block would have
  // expired (0: never). A source that keeps crossing is reported once until then, as block mode
  // would block it once, instead of once per window. (An allowlisted source is never blocked,
  // so the two never meet on one source under one configuration.)
  std::map<Prefix, std::int64_t> reported_;
  std::int64_t lastSweep_ = -1;  // the second reported_ was last swept while full
};

}  // namespace xlb
