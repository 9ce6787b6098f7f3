// SPDX-License-Identifier: Apache-2.0
#include "xlbd_restart.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/file.h>
#include <sys/random.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

#include "xlb/state_store.h"
#include "xlb/worker.h"
#include "xlb/xdp_attach.h"

namespace xlb {
namespace {

constexpr const char* kCookieKeyFile = "cookie-key";

std::optional<CookieKey> parseKey(const std::string& text) {
  CookieKey k{};
  unsigned long long a = 0, b = 0;
  char extra = 0;
  if (std::sscanf(text.c_str(), "%16llx %16llx %c", &a, &b, &extra) != 2) return std::nullopt;
  k[0] = a;
  k[1] = b;
  return k;
}

}  // namespace

std::optional<CookieKey> loadCookieKey(const Config& config, std::string& error) {
  StateStore store(config.stateDir);
  if (!store.open(error)) return std::nullopt;
  const auto text = store.load(kCookieKeyFile, error);
  if (!error.empty()) return std::nullopt;
  if (text) {
    if (auto k = parseKey(*text)) return k;
    spdlog::warn(
        "{}/{} is not a cookie key; a new one replaces it (cookies answered before now "
        "no longer validate)",
        config.stateDir, kCookieKeyFile);
    store.quarantine(kCookieKeyFile);
  }
  CookieKey k{};
  if (getrandom(k.data(), sizeof k, 0) != static_cast<ssize_t>(sizeof k)) {
    error = "cannot generate a SYN-cookie key: " + std::string(std::strerror(errno));
    return std::nullopt;
  }
  if (!store.save(kCookieKeyFile, fmt::format("{:016x} {:016x}\n", k[0], k[1]), error)) {
    return std::nullopt;
  }
  return k;
}

std::string flowFilePath(const Config& config) {
  return config.runtimeDir + "/flows";
}

FlowLayout flowLayout(const Config& config) {
  FlowLayout layout;
  layout.workers = config.workers;
  layout.capacityPerWorker = workerCapacity(config);
  layout.portLo = config.snat.portLo;
  layout.portHi = config.snat.portHi;
  return layout;
}

std::unique_ptr<FlowStore> openFlowStore(const Config& config, std::string& error,
                                         FlowStoreOpen& r) {
  const FlowLayout layout = flowLayout(config);
  const std::string path = flowFilePath(config);
  auto store = FlowStore::open(path, layout, error, r);
  if (!store) return nullptr;
  if (r.adopting) {
    spdlog::info(
        "{}: connection tables of a previous xlbd (pid {}, generation {}) found; "
        "adopting them",
        path, r.previousPid, r.generation);
  } else if (!r.refused.empty()) {
    spdlog::warn(
        "{}: not adopting the stored connections: {}; {} connection(s) dropped, "
        "starting with empty tables",
        path, r.refused, r.refusedFlows);
  }
  return store;
}

int detachCommand(const Config& config) {
  const std::string path = flowFilePath(config);
  const int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) != 0) {
    std::fprintf(stderr, "xlbd --detach: an xlbd is running on %s; stop it first\n", path.c_str());
    close(fd);
    return 1;
  }
  std::string error;
  int code = 0;
  const int ifindex = XdpAttachment::ifindexOf(config.interface, error);
  if (ifindex != 0 && XdpAttachment::attachedXlbProgram(ifindex) == 0) {
    std::printf("no xlb program is attached to %s\n", config.interface.c_str());
  } else if (XdpAttachment::detachXlb(config.interface, error)) {
    std::printf("detached the xlb program from %s\n", config.interface.c_str());
  } else {
    std::fprintf(stderr, "xlbd --detach: %s\n", error.c_str());
    code = 1;
  }
  if (FlowStore::discard(path, error)) {
    std::printf("removed the stored connections (%s)\n", path.c_str());
  } else {
    std::fprintf(stderr, "xlbd --detach: %s\n", error.c_str());
    code = 1;
  }
  if (fd >= 0) close(fd);
  return code;
}

}  // namespace xlb
