// SPDX-License-Identifier: Apache-2.0
// What xlbd keeps between processes so that a restart, an upgrade or a start after kill -9 keeps
// every connection: the SYN-cookie key (state_dir, so that cookies answered before the restart
// still validate), the connection tables (runtime_dir/flows, flow_store.h) and the XDP program,
// which stays attached while no xlbd runs and is replaced in one step by the next.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "xlb/config.h"
#include "xlb/flow_store.h"
#include "xlb/syncookie.h"

namespace xlb {

// The cookie key from <state_dir>/cookie-key, generated and saved there on first use.
std::optional<CookieKey> loadCookieKey(const Config& config, std::string& error);

std::string flowFilePath(const Config& config);
// What the tables' file must fit: workers, per-worker capacity, SNAT ports.
FlowLayout flowLayout(const Config& config);

// Opens the connection tables' file for `config`, logging what it holds: connections to adopt,
// or why the previous process's are refused and how many are lost. nullptr with `error` when the
// file cannot be used (another xlbd holds it, runtime_dir is not writable).
std::unique_ptr<FlowStore> openFlowStore(const Config& config, std::string& error,
                                         FlowStoreOpen& opened);

// xlbd --detach: removes the XDP program a stopped xlbd left attached and forgets the stored
// connections. Refused while an xlbd runs on the same runtime_dir. Returns the exit code.
int detachCommand(const Config& config);

}  // namespace xlb
