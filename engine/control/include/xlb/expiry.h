// SPDX-License-Identifier: Apache-2.0
// Expiry in wall-clock seconds, for the blocklist's entries and automatic blocking's memory of
// the sources it acted on.
#pragma once

#include <cstdint>

namespace xlb {

// The second something made at `now` that lives `ttlSeconds` ends (0: never, for a TTL of 0),
// and whether such a second has come at `now`.
constexpr std::int64_t expiryAt(std::int64_t now, std::int64_t ttlSeconds) noexcept {
  return ttlSeconds > 0 ? now + ttlSeconds : 0;
}
constexpr bool hasExpired(std::int64_t at, std::int64_t now) noexcept {
  return at != 0 && at <= now;
}

}  // namespace xlb
