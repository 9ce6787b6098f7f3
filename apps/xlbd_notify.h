// SPDX-License-Identifier: Apache-2.0
// systemd's service notifications (sd_notify) for a Type=notify unit: READY=1 once the API
// answers and XDP is attached, RELOADING=1 around a SIGHUP reload, STOPPING=1 on the way out.
// Outside systemd (no NOTIFY_SOCKET) every call does nothing.
#pragma once

#include <string>

namespace xlb::notify {

void ready(const std::string& status);
void reloading();
void stopping();

}  // namespace xlb::notify
