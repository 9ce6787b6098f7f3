// SPDX-License-Identifier: Apache-2.0
#include "xlb/announcer.h"

#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <linux/rtnetlink.h>
#include <netinet/in.h>
#include <netlink/netlink.h>
#include <netlink/route/route.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

namespace xlb {

namespace {

// Marks our routes in the table (BIRD's `learn` imports routes of any protocol but its own and
// the kernel's).
constexpr std::uint8_t kRouteProtocol = RTPROT_STATIC;

std::string errnoText() {
  return std::strerror(errno);
}

// Brings the device up; its ifindex, 0 on failure.
int setUp(const std::string& device, std::string& error) {
  const int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) {
    error = "socket: " + errnoText();
    return 0;
  }
  ifreq ifr{};
  std::strncpy(ifr.ifr_name, device.c_str(), IFNAMSIZ - 1);
  bool ok = ioctl(s, SIOCGIFFLAGS, &ifr) == 0;
  if (ok) {
    ifr.ifr_flags = static_cast<short>(ifr.ifr_flags | IFF_UP);
    ok = ioctl(s, SIOCSIFFLAGS, &ifr) == 0;
  }
  if (!ok) error = "cannot bring " + device + " up: " + errnoText();
  ok = ok && ioctl(s, SIOCGIFINDEX, &ifr) == 0;
  close(s);
  return ok ? ifr.ifr_ifindex : 0;
}

}  // namespace

std::unique_ptr<Announcer> Announcer::open(const std::string& device, std::uint32_t table,
                                           std::string& error) {
  std::unique_ptr<Announcer> a(new Announcer());
  a->device_ = device;
  a->table_ = table;
  a->tunFd_ = ::open("/dev/net/tun", O_RDWR | O_CLOEXEC);
  if (a->tunFd_ < 0) {
    error = "cluster.announce: cannot open /dev/net/tun: " + errnoText();
    return nullptr;
  }
  ifreq ifr{};
  ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
  std::strncpy(ifr.ifr_name, device.c_str(), IFNAMSIZ - 1);
  if (ioctl(a->tunFd_, TUNSETIFF, &ifr) != 0) {
    error = "cluster.announce: cannot create device " + device + ": " + errnoText() +
            (errno == EBUSY ? " (another process holds it: is an xlbd already running?)" : "");
    return nullptr;
  }
  a->ifindex_ = setUp(device, error);
  if (a->ifindex_ == 0) return nullptr;
  a->sock_ = nl_socket_alloc();
  if (a->sock_ == nullptr || nl_connect(a->sock_, NETLINK_ROUTE) != 0) {
    error = "cluster.announce: cannot open a netlink socket";
    return nullptr;
  }
  return a;
}

Announcer::~Announcer() {
  withdraw();
  if (sock_ != nullptr) nl_socket_free(sock_);
  if (tunFd_ >= 0) close(tunFd_);
}

bool Announcer::route(const Address& a, bool add, std::string& error) {
  rtnl_route* r = rtnl_route_alloc();
  const int family = a.family == Family::kV4 ? AF_INET : AF_INET6;
  nl_addr* dst = nl_addr_build(family, a.ip.bytes.data(), a.family == Family::kV4 ? 4 : 16);
  nl_addr_set_prefixlen(dst, a.family == Family::kV4 ? 32 : 128);
  rtnl_route_set_family(r, static_cast<std::uint8_t>(family));
  rtnl_route_set_dst(r, dst);
  rtnl_route_set_table(r, table_);
  rtnl_route_set_protocol(r, kRouteProtocol);
  rtnl_route_set_scope(r, RT_SCOPE_LINK);
  rtnl_nexthop* nh = rtnl_route_nh_alloc();
  rtnl_route_nh_set_ifindex(nh, ifindex_);
  rtnl_route_add_nexthop(r, nh);
  const int rc =
      add ? rtnl_route_add(sock_, r, NLM_F_CREATE | NLM_F_REPLACE) : rtnl_route_delete(sock_, r, 0);
  nl_addr_put(dst);
  rtnl_route_put(r);
  if (rc < 0) {
    error = std::string(add ? "cannot route " : "cannot remove the route of ") + a.toString() +
            " in table " + std::to_string(table_) + ": " + nl_geterror(rc);
    return false;
  }
  return true;
}

bool Announcer::announce(const std::vector<Address>& vips, std::string& error) {
  bool ok = true;
  for (const Address& v : vips) {
    if (std::find(routed_.begin(), routed_.end(), v) != routed_.end()) continue;
    if (route(v, true, error)) {
      routed_.push_back(v);
    } else {
      ok = false;
    }
  }
  for (auto it = routed_.begin(); it != routed_.end();) {
    std::string ignored;
    if (std::find(vips.begin(), vips.end(), *it) == vips.end()) {
      route(*it, false, ignored);
      it = routed_.erase(it);
    } else {
      ++it;
    }
  }
  return ok;
}

void Announcer::withdraw() {
  for (const Address& v : routed_) {
    std::string ignored;
    route(v, false, ignored);
  }
  routed_.clear();
}

}  // namespace xlb
