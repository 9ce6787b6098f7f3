// SPDX-License-Identifier: Apache-2.0
// Next-hop MAC addresses from the kernel (libnl-route-3): the route to a backend gives the next
// hop (the backend itself on the same segment, or the gateway), the neighbour table its MAC.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "xlb/addr.h"

struct nl_sock;
struct nl_cache;

namespace xlb {

class NeighborTable {
 public:
  static std::unique_ptr<NeighborTable> open(std::string& error);
  ~NeighborTable();
  NeighborTable(const NeighborTable&) = delete;
  NeighborTable& operator=(const NeighborTable&) = delete;

  // The MAC to send packets for `dst` to, when the route leaves through `ifindex`. nullopt when
  // the kernel does not know it yet; a datagram is then sent towards `dst` so the kernel starts
  // resolving it (ARP or neighbour discovery), and a later refresh() finds it.
  std::optional<MacAddr> lookup(const Address& dst, int ifindex);
  // Re-reads the kernel's neighbour table.
  void refresh();
  // Source addresses for the resolving datagrams, one per family (xlbd: the SNAT addresses).
  void setSources(std::vector<Address> sources) { sources_ = std::move(sources); }

 private:
  NeighborTable() = default;
  std::vector<Address> sources_;
  nl_sock* sock_ = nullptr;
  nl_cache* neigh_ = nullptr;
};

// The interface's own MAC address, or nullopt.
std::optional<MacAddr> interfaceMac(const std::string& ifname);
// Number of receive queues the interface has (from sysfs), 0 if unknown.
unsigned interfaceRxQueues(const std::string& ifname);

}  // namespace xlb
