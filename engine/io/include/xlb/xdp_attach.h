// SPDX-License-Identifier: Apache-2.0
// Attaching the XDP program to an interface (netlink, through libbpf): an xlb program already
// there (a previous run's, left attached on purpose for a restart, or by a crash) is replaced
// atomically, so the interface is never without one; a foreign program is left alone.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "xlb/config.h"

namespace xlb {

class XdpAttachment {
 public:
  // The interface's index, or 0 with `error` set ("no such interface").
  static int ifindexOf(const std::string& ifname, std::string& error);
  // The id of the xlb program attached to `ifindex` (a previous run's), or 0.
  static std::uint32_t attachedXlbProgram(int ifindex);

  // Attaches `progFd` to `ifname`. kAuto tries native and falls back to generic; kNative and
  // kGeneric try only that mode. An xlb program already attached in that mode is replaced in one
  // step (XDP_FLAGS_REPLACE) and reported in `note`; any other program is left alone and the
  // attach refused.
  static std::unique_ptr<XdpAttachment> attach(const std::string& ifname, int progFd, XdpMode mode,
                                               std::string& error, std::string& note);
  // Removes the xlb program from `ifname` (xlbd --detach). False with `error` when there is none
  // or it cannot be removed.
  static bool detachXlb(const std::string& ifname, std::string& error);
  // Leaves the program attached: a stop for a restart (the next process replaces it).
  ~XdpAttachment() = default;
  XdpAttachment(const XdpAttachment&) = delete;
  XdpAttachment& operator=(const XdpAttachment&) = delete;

  bool native() const noexcept { return native_; }
  // The attach replaced a previous run's program in one step.
  bool replacedPrevious() const noexcept { return replaced_; }
  int ifindex() const noexcept { return ifindex_; }
  // This process's program is still the one on the interface (asks the kernel: someone may have
  // removed or replaced it since, e.g. `ip link set dev X xdp off`).
  bool inPlace() const;
  // Detaches this process's program if it is still the one attached (not replaced since).
  void detach();

 private:
  XdpAttachment() = default;
  int progFd_ = -1;
  std::uint32_t progId_ = 0;
  int ifindex_ = 0;
  bool native_ = false;
  bool attached_ = false;
  bool replaced_ = false;
};

// The program name xlb attaches; used to recognise its own.
inline constexpr const char* kXdpProgramName = "xlb_xdp";

}  // namespace xlb
