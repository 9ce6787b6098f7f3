// SPDX-License-Identifier: Apache-2.0
// The host's own addresses and sockets: xlbd's own traffic (health checks, next-hop probes) is
// bound to a chosen source so that the kernel's source address selection never picks a VIP,
// whose replies the XDP program would take for VIP traffic and drop.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "xlb/addr.h"

namespace xlb {

// Binds `fd` (a socket of `src`'s family) to `src` with an ephemeral port. IP_FREEBIND lets it
// bind while an IPv6 address is still tentative (duplicate address detection). False with errno.
bool bindSource(int fd, const Address& src) noexcept;

// `a`:`port` as a socket address; returns its length.
socklen_t toSockaddr(const Address& a, std::uint16_t port, sockaddr_storage& out) noexcept;

// An IPv6 address on an interface of this host, as /proc/net/if_inet6 lists it.
struct HostAddress6 {
  Address address;
  std::string interface;
  std::uint32_t flags = 0;                                           // IFA_F_*
  bool deprecated() const noexcept { return (flags & 0x20u) != 0; }  // IFA_F_DEPRECATED
};
std::vector<HostAddress6> hostAddresses6();

// True when `a` is assigned to an interface of this host (either family).
bool isHostAddress(const Address& a);

}  // namespace xlb
