// SPDX-License-Identifier: Apache-2.0
// xlbd's checks of the host at start: the kernel's ephemeral ports, the API token, addresses
// that would break xlb quietly.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "xlb/config.h"

namespace xlb {

// The kernel's ephemeral port range on this host (the namespace's, inside a netns).
bool ephemeralRange(std::uint32_t& lo, std::uint32_t& hi);
bool isLoopback(const std::string& host);
// The API token: from control.token_file, or (loopback only) generated once into state_dir.
bool loadToken(const Config& config, std::string& token, std::string& error);
// Host set-ups that break xlb quietly, said loudly at start. Returns how many warnings it gave.
std::size_t warnAboutHostAddresses(const Config& config);

}  // namespace xlb
