// SPDX-License-Identifier: Apache-2.0
// Attaching the XDP program to an interface through libxdp (which, on this kernel, falls back
// from its multi-program dispatcher to attaching the one program), replacing a stale xlb program
// a crashed daemon left behind, and detaching cleanly.
#pragma once

#include <memory>
#include <string>

#include "xlb/config.h"

struct xdp_program;

namespace xlb {

class XdpAttachment {
 public:
  // The interface's index, or 0 with `error` set ("no such interface").
  static int ifindexOf(const std::string& ifname, std::string& error);

  // Attaches `progFd` to `ifname`. kAuto tries native and falls back to generic; kNative and
  // kGeneric try only that mode. An xlb program already attached (a crashed run) is detached
  // first and reported in `note`; any other program is left alone and the attach refused.
  static std::unique_ptr<XdpAttachment> attach(const std::string& ifname, int progFd, XdpMode mode,
                                               std::string& error, std::string& note);
  ~XdpAttachment();  // detaches
  XdpAttachment(const XdpAttachment&) = delete;
  XdpAttachment& operator=(const XdpAttachment&) = delete;

  bool native() const noexcept { return native_; }
  int ifindex() const noexcept { return ifindex_; }
  void detach();

 private:
  XdpAttachment() = default;
  xdp_program* prog_ = nullptr;
  int ifindex_ = 0;
  bool native_ = false;
  bool attached_ = false;
};

// The program name xlb attaches; used to recognise a stale one.
inline constexpr const char* kXdpProgramName = "xlb_xdp";

}  // namespace xlb
