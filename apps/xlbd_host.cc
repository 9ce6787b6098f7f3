// SPDX-License-Identifier: Apache-2.0
#include "xlbd_host.h"

#include <spdlog/spdlog.h>
#include <sys/random.h>

#include <array>
#include <filesystem>
#include <fstream>

#include "xlb/host_addr.h"
#include "xlb/state_store.h"

namespace xlb {

// The kernel's ephemeral port range on this host (the namespace's, inside a netns).
bool ephemeralRange(std::uint32_t& lo, std::uint32_t& hi) {
  std::ifstream f("/proc/sys/net/ipv4/ip_local_port_range");
  return static_cast<bool>(f >> lo >> hi);
}

bool isLoopback(const std::string& host) {
  auto a = Address::parse(host);
  if (!a) return false;
  if (a->family == Family::kV4) return a->ip.bytes[0] == 127;
  static const Address kV6Loopback = *Address::parse("::1");
  return *a == kV6Loopback;
}

// The API token: from control.token_file, or (loopback only) generated once into state_dir.
bool loadToken(const Config& config, std::string& token, std::string& error) {
  std::string path = config.control.tokenFile;
  if (path.empty()) {
    if (!isLoopback(config.control.listenHost)) {
      error = "control.listen " + config.control.listenHost +
              " is not a loopback address: set control.token_file";
      return false;
    }
    path = config.stateDir + "/api-token";
    if (!std::filesystem::exists(path)) {
      std::array<std::uint8_t, 24> raw{};
      if (getrandom(raw.data(), raw.size(), 0) != static_cast<ssize_t>(raw.size())) {
        error = "cannot generate an API token";
        return false;
      }
      std::string hex;
      for (std::uint8_t b : raw) hex += fmt::format("{:02x}", b);
      StateStore store(config.stateDir);
      if (!store.open(error) || !store.save("api-token", hex + "\n", error)) return false;
      spdlog::info("generated an API token in {} (xlbctl reads it from there)", path);
    }
  }
  std::ifstream f(path);
  if (!f || !std::getline(f, token)) {
    error = "cannot read the API token file " + path;
    return false;
  }
  while (!token.empty() && (token.back() == '\r' || token.back() == ' ')) token.pop_back();
  if (token.size() < 16) {
    error = "the API token in " + path + " is shorter than 16 characters";
    return false;
  }
  return true;
}

// Host set-ups that break xlb quietly, said loudly at start. Returns how many warnings it gave.
std::size_t warnAboutHostAddresses(const Config& config) {
  std::size_t warnings = 0;
  // A preferred IPv6 VIP may become the source of the host's own connections; their replies
  // come back to the VIP on ports it does not serve and XDP drops them. xlbd's own traffic is
  // bound to the SNAT address; the host's other traffic needs the VIP deprecated.
  for (const HostAddress6& h : hostAddresses6()) {
    for (const VipConfig& v : config.vips) {
      if (v.address != h.address || h.deprecated()) continue;
      spdlog::warn(
          "IPv6 VIP {} on {} is a preferred source address: the host's own connections may leave "
          "from it and their replies would be dropped as VIP traffic; add it with preferred_lft 0 "
          "(ip -6 addr change {}/128 dev {} preferred_lft 0)",
          v.address.toString(), h.interface, v.address.toString(), h.interface);
      ++warnings;
    }
  }
  for (const Address& a : config.snat.addresses) {
    if (isHostAddress(a)) continue;
    spdlog::warn(
        "SNAT address {} is not assigned to an interface of this host: backends cannot resolve "
        "it and health checks, which leave from it, will fail; add it to {}",
        a.toString(), config.interface);
    ++warnings;
  }
  return warnings;
}

}  // namespace xlb
