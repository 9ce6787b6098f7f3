// SPDX-License-Identifier: Apache-2.0
#include "xlbd_notify.h"

#include <spdlog/spdlog.h>
#include <systemd/sd-daemon.h>

namespace xlb::notify {
namespace {

void send(const std::string& state) {
  // 0: nothing to notify (not under systemd); < 0: the socket refused, worth a line in the log.
  if (const int r = sd_notify(0, state.c_str()); r < 0) {
    spdlog::warn("sd_notify({}): error {}", state.substr(0, state.find('\n')), -r);
  }
}

}  // namespace

void ready(const std::string& status) {
  send("READY=1\nSTATUS=" + status);
}

void reloading() {
  send("RELOADING=1\nSTATUS=reloading the configuration file");
}

void stopping() {
  send("STOPPING=1\nSTATUS=stopping");
}

}  // namespace xlb::notify
