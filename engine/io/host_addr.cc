// SPDX-License-Identifier: Apache-2.0
#include "xlb/host_addr.h"

#include <ifaddrs.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstring>
#include <fstream>
#include <sstream>

namespace xlb {

bool bindSource(int fd, const Address& src) noexcept {
  const int one = 1;
  ::setsockopt(fd, SOL_IP, IP_FREEBIND, &one, sizeof one);
  sockaddr_storage ss{};
  const socklen_t len = toSockaddr(src, 0, ss);
  return ::bind(fd, reinterpret_cast<sockaddr*>(&ss), len) == 0;
}

socklen_t toSockaddr(const Address& a, std::uint16_t port, sockaddr_storage& out) noexcept {
  out = sockaddr_storage{};
  if (a.family == Family::kV4) {
    auto* sa = reinterpret_cast<sockaddr_in*>(&out);
    sa->sin_family = AF_INET;
    sa->sin_port = htons(port);
    std::memcpy(&sa->sin_addr, a.ip.bytes.data(), 4);
    return sizeof *sa;
  }
  auto* sa = reinterpret_cast<sockaddr_in6*>(&out);
  sa->sin6_family = AF_INET6;
  sa->sin6_port = htons(port);
  std::memcpy(&sa->sin6_addr, a.ip.bytes.data(), 16);
  return sizeof *sa;
}

std::vector<HostAddress6> hostAddresses6() {
  // Each line: address (32 hex digits), ifindex, prefix length, scope, flags, name (all hex).
  std::vector<HostAddress6> out;
  std::ifstream f("/proc/net/if_inet6");
  std::string line;
  while (std::getline(f, line)) {
    std::istringstream in(line);
    std::string hex, ifindex, plen, scope, flags, name;
    if (!(in >> hex >> ifindex >> plen >> scope >> flags >> name) || hex.size() != 32) continue;
    std::string text;
    for (std::size_t i = 0; i < 32; i += 4) {
      if (i != 0) text.push_back(':');
      text.append(hex, i, 4);
    }
    auto a = Address::parse(text);
    if (!a) continue;
    HostAddress6 h;
    h.address = *a;
    h.interface = name;
    h.flags = static_cast<std::uint32_t>(std::strtoul(flags.c_str(), nullptr, 16));
    out.push_back(h);
  }
  return out;
}

bool isHostAddress(const Address& a) {
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) return false;
  bool found = false;
  for (ifaddrs* i = list; i != nullptr && !found; i = i->ifa_next) {
    if (i->ifa_addr == nullptr) continue;
    if (i->ifa_addr->sa_family == AF_INET && a.family == Family::kV4) {
      const auto* sa = reinterpret_cast<const sockaddr_in*>(i->ifa_addr);
      found = std::memcmp(&sa->sin_addr, a.ip.bytes.data(), 4) == 0;
    } else if (i->ifa_addr->sa_family == AF_INET6 && a.family == Family::kV6) {
      const auto* sa = reinterpret_cast<const sockaddr_in6*>(i->ifa_addr);
      found = std::memcmp(&sa->sin6_addr, a.ip.bytes.data(), 16) == 0;
    }
  }
  ::freeifaddrs(list);
  return found;
}

}  // namespace xlb
