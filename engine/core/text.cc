// SPDX-License-Identifier: Apache-2.0
#include "xlb/text.h"

#include <charconv>
#include <cstdint>
#include <limits>

namespace xlb {

bool parseUint(std::string_view s, std::uint64_t max, std::uint64_t& out) noexcept {
  if (s.empty() || s.size() > 20) return false;
  std::uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v > max) return false;
  out = v;
  return true;
}

std::optional<TimeNs> parseDuration(std::string_view text) noexcept {
  std::size_t i = 0;
  while (i < text.size() && text[i] >= '0' && text[i] <= '9') ++i;
  std::uint64_t v = 0;
  if (i == 0 || !parseUint(text.substr(0, i), std::numeric_limits<std::uint64_t>::max(), v)) {
    return std::nullopt;
  }
  const std::string_view unit = text.substr(i);
  TimeNs mult = 0;
  if (unit == "us")
    mult = 1000;
  else if (unit == "ms")
    mult = kNsPerMs;
  else if (unit == "s")
    mult = kNsPerSec;
  else if (unit == "m")
    mult = 60 * kNsPerSec;
  else if (unit == "h")
    mult = 3600 * kNsPerSec;
  else
    return std::nullopt;
  if (v > std::numeric_limits<TimeNs>::max() / mult) return std::nullopt;
  return v * mult;
}

bool validUtf8(std::string_view s) noexcept {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<std::uint8_t>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t n = 0;
    std::uint32_t cp = 0;
    if ((c & 0xe0) == 0xc0) {
      n = 1;
      cp = c & 0x1fu;
    } else if ((c & 0xf0) == 0xe0) {
      n = 2;
      cp = c & 0x0fu;
    } else if ((c & 0xf8) == 0xf0) {
      n = 3;
      cp = c & 0x07u;
    } else {
      return false;  // a continuation byte first, or 0xf8..0xff
    }
    if (n > s.size() - 1 - i) return false;  // truncated sequence
    for (std::size_t k = 1; k <= n; ++k) {
      const auto cc = static_cast<std::uint8_t>(s[i + k]);
      if ((cc & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3fu);
    }
    static constexpr std::uint32_t kMin[] = {0, 0x80, 0x800, 0x10000};
    if (cp < kMin[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    i += n + 1;
  }
  return true;
}

}  // namespace xlb
