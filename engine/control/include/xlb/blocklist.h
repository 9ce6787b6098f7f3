// SPDX-License-Identifier: Apache-2.0
// The blocklist as the operator sees it (comment, expiry, where each entry came from); the
// Controller keeps the XDP program's blocklist maps in step with it. What survives a restart is
// the difference from the configuration file: entries added, configured entries removed.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "xlb/addr.h"
#include "xlb/expiry.h"
#include "xlb/service_model.h"  // ControlError

namespace xlb {

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
  // Added by automatic blocking, for this kind of behaviour (else by hand or the file).
  std::optional<SourceKind> autoReason;

  const char* source() const noexcept {
    return fromConfig ? "config" : autoReason ? "auto" : "api";
  }
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

  // A reloaded configuration file's entries: configured entries it no longer names go, new ones
  // come (unless the operator removed them at runtime); entries added over the API stay.
  struct Change {
    std::vector<Prefix> added, removed;
  };
  Change rebase(const std::vector<Prefix>& configured, std::int64_t now);

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
