// SPDX-License-Identifier: Apache-2.0
// TCP connect probes from the host's own stack: what the health checker (control) asks, done
// here so that the control plane opens no sockets itself.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <vector>

#include "xlb/dataplane_ports.h"

namespace xlb {

// A non-blocking connect to every target, waited for together up to `timeout` (or until `stop`
// is set). true: the connection was accepted.
std::vector<bool> probeTcp(const std::vector<ProbeTarget>& targets,
                           std::chrono::nanoseconds timeout, const std::atomic<bool>& stop);

}  // namespace xlb
