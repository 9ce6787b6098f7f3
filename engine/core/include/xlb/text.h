// SPDX-License-Identifier: Apache-2.0
// Checks and strict parses of text that arrives from outside (configuration, API parameters,
// state files, scenarios): one implementation each, so every edge refuses the same things.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "xlb/addr.h"

namespace xlb {

// True when `s` is well-formed UTF-8 (no overlong forms, surrogates or code points past
// U+10FFFF), as JSON requires of every string xlb persists or renders.
bool validUtf8(std::string_view s) noexcept;

// A whole-string unsigned decimal no larger than `max`: "12abc", "-1", "+1", "" and 21 digits
// are refused.
bool parseUint(std::string_view s, std::uint64_t max, std::uint64_t& out) noexcept;

// A whole-string duration: digits and one unit of us, ms, s, m or h ("500ms", "2m"). A value
// whose nanoseconds do not fit 64 bits is refused, never wrapped.
std::optional<TimeNs> parseDuration(std::string_view text) noexcept;

}  // namespace xlb
