// SPDX-License-Identifier: Apache-2.0
#include "xlb/neighbors.h"

#include <arpa/inet.h>
#include <linux/neighbour.h>
#include <netinet/in.h>
#include <netlink/addr.h>
#include <netlink/netlink.h>
#include <netlink/route/neighbour.h>
#include <netlink/route/nexthop.h>
#include <netlink/route/route.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "xlb/host_addr.h"

namespace xlb {
namespace {

nl_addr* toNl(const Address& a) {
  const bool v4 = a.family == Family::kV4;
  return nl_addr_build(v4 ? AF_INET : AF_INET6, a.ip.bytes.data(), v4 ? 4 : 16);
}

// A UDP datagram to the discard port makes the kernel resolve the next hop. It leaves from
// `src` when given: left to itself, IPv6 source selection may pick a VIP, and the neighbour
// solicitation would then ask for the answer to go to the VIP.
void probe(const Address& a, const std::optional<Address>& src) {
  const bool v4 = a.family == Family::kV4;
  const int fd = socket(v4 ? AF_INET : AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return;
  if (src && !bindSource(fd, *src)) {
    close(fd);
    return;
  }
  sockaddr_storage ss{};
  const socklen_t len = toSockaddr(a, 9, ss);
  const char byte = 0;
  sendto(fd, &byte, 1, MSG_DONTWAIT, reinterpret_cast<sockaddr*>(&ss), len);
  close(fd);
}

}  // namespace

std::unique_ptr<NeighborTable> NeighborTable::open(std::string& error) {
  std::unique_ptr<NeighborTable> t(new NeighborTable());
  t->sock_ = nl_socket_alloc();
  if (t->sock_ == nullptr || nl_connect(t->sock_, NETLINK_ROUTE) != 0) {
    error = "cannot open a route netlink socket";
    return nullptr;
  }
  if (rtnl_neigh_alloc_cache(t->sock_, &t->neigh_) != 0) {
    error = "cannot read the kernel's neighbour table";
    return nullptr;
  }
  return t;
}

NeighborTable::~NeighborTable() {
  if (neigh_ != nullptr) nl_cache_free(neigh_);
  if (sock_ != nullptr) nl_socket_free(sock_);
}

void NeighborTable::refresh() {
  nl_cache_refill(sock_, neigh_);
}

std::optional<MacAddr> NeighborTable::lookup(const Address& dst, int ifindex) {
  nl_addr* target = toNl(dst);
  if (target == nullptr) return std::nullopt;
  nl_addr* hop = nl_addr_clone(target);
  int oif = ifindex;
  rtnl_route* route = nullptr;
  if (rtnl_route_lookup(sock_, target, &route) == 0 && route != nullptr) {
    if (rtnl_route_get_nnexthops(route) > 0) {
      rtnl_nexthop* nh = rtnl_route_nexthop_n(route, 0);
      if (nl_addr* gw = rtnl_route_nh_get_gateway(nh); gw != nullptr) {
        nl_addr_put(hop);
        hop = nl_addr_clone(gw);
      }
      if (rtnl_route_nh_get_ifindex(nh) > 0) oif = rtnl_route_nh_get_ifindex(nh);
    }
    rtnl_route_put(route);
  }
  std::optional<MacAddr> out;
  if (oif == ifindex) {
    if (rtnl_neigh* n = rtnl_neigh_get(neigh_, ifindex, hop); n != nullptr) {
      const int state = rtnl_neigh_get_state(n);
      nl_addr* ll = rtnl_neigh_get_lladdr(n);
      const int usable = NUD_REACHABLE | NUD_STALE | NUD_DELAY | NUD_PROBE | NUD_PERMANENT;
      if ((state & usable) != 0 && ll != nullptr && nl_addr_get_len(ll) == 6) {
        MacAddr m;
        std::memcpy(m.bytes.data(), nl_addr_get_binary_addr(ll), 6);
        out = m;
      }
      rtnl_neigh_put(n);
    }
  }
  nl_addr_put(hop);
  nl_addr_put(target);
  if (!out) probe(dst, firstOfFamily(sources_, dst.family));
  return out;
}

std::optional<MacAddr> interfaceMac(const std::string& ifname) {
  std::ifstream f("/sys/class/net/" + ifname + "/address");
  std::string s;
  if (!(f >> s)) return std::nullopt;
  return MacAddr::parse(s);
}

unsigned interfaceRxQueues(const std::string& ifname) {
  std::error_code ec;
  unsigned n = 0;
  for (const auto& e :
       std::filesystem::directory_iterator("/sys/class/net/" + ifname + "/queues", ec)) {
    if (e.path().filename().string().rfind("rx-", 0) == 0) ++n;
  }
  return n;
}

}  // namespace xlb
