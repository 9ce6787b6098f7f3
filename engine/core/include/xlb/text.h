// SPDX-License-Identifier: Apache-2.0
// Checks on text that arrives from outside (API parameters, state files) before it is stored.
#pragma once

#include <string_view>

namespace xlb {

// True when `s` is well-formed UTF-8 (no overlong forms, surrogates or code points past
// U+10FFFF), as JSON requires of every string xlb persists or renders.
bool validUtf8(std::string_view s) noexcept;

}  // namespace xlb
