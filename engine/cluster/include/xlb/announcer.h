// SPDX-License-Identifier: Apache-2.0
// The VIP routes a routing daemon announces (BIRD's kernel protocol imports the table and its BGP
// exports it; docs/ARCHITECTURE.md, "Scale-out"). Each VIP is routed in `table` through a TUN
// device this process creates and holds open: when xlbd exits in any way, kill -9 included, the
// kernel removes the device and with it every route, so a dead instance never stays announced.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "xlb/addr.h"

struct nl_sock;

namespace xlb {

class Announcer {
 public:
  // Creates `device` and brings it up. Fails when another process holds it.
  static std::unique_ptr<Announcer> open(const std::string& device, std::uint32_t table,
                                         std::string& error);
  ~Announcer();  // withdraws, then the device goes with the descriptor
  Announcer(const Announcer&) = delete;
  Announcer& operator=(const Announcer&) = delete;

  // Routes exactly `vips` (host routes); false with `error` when the kernel refused one.
  bool announce(const std::vector<Address>& vips, std::string& error);
  void withdraw();
  bool announced() const noexcept { return !routed_.empty(); }
  const std::string& device() const noexcept { return device_; }

 private:
  Announcer() = default;
  bool route(const Address& a, bool add, std::string& error);

  int tunFd_ = -1;
  int ifindex_ = 0;
  std::uint32_t table_ = 0;
  std::string device_;
  nl_sock* sock_ = nullptr;
  std::vector<Address> routed_;
};

}  // namespace xlb
