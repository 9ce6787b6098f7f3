// SPDX-License-Identifier: Apache-2.0
#include "xlb/xdp_attach.h"

#include <net/if.h>
#include <xdp/libxdp.h>

#include <cerrno>
#include <cstring>

namespace xlb {
namespace {

std::string errText(int err) {
  return std::strerror(err < 0 ? -err : err);
}

// Detaches a program named like ours. Returns false with `error` if a foreign program is there.
bool clearStale(int ifindex, const std::string& ifname, std::string& error, std::string& note) {
  xdp_multiprog* mp = xdp_multiprog__get_from_ifindex(ifindex);
  if (mp == nullptr || libxdp_get_error(mp) != 0) return true;  // nothing attached
  bool ours = false;
  std::string foreign;
  if (xdp_multiprog__is_legacy(mp)) {
    xdp_program* p = xdp_multiprog__main_prog(mp);
    const char* name = p != nullptr ? xdp_program__name(p) : nullptr;
    if (name != nullptr && std::strcmp(name, kXdpProgramName) == 0) {
      ours = true;
    } else if (p != nullptr) {
      foreign = name != nullptr ? name : "?";
    }
  } else {
    for (xdp_program* p = xdp_multiprog__next_prog(nullptr, mp); p != nullptr;
         p = xdp_multiprog__next_prog(p, mp)) {
      const char* name = xdp_program__name(p);
      if (name != nullptr && std::strcmp(name, kXdpProgramName) == 0) {
        ours = true;
      } else {
        foreign = name != nullptr ? name : "?";
      }
    }
  }
  bool ok = true;
  if (!foreign.empty()) {
    error = "interface " + ifname + " already has an XDP program (\"" + foreign +
            "\"); xlb does not replace programs it did not attach";
    ok = false;
  } else if (ours) {
    const int err = xdp_multiprog__detach(mp);
    if (err != 0) {
      error = "cannot detach the stale xlb program from " + ifname + ": " + errText(err);
      ok = false;
    } else {
      note = "replaced a stale xlb program left on " + ifname + " by an earlier run";
    }
  }
  xdp_multiprog__close(mp);
  return ok;
}

}  // namespace

int XdpAttachment::ifindexOf(const std::string& ifname, std::string& error) {
  const unsigned idx = if_nametoindex(ifname.c_str());
  if (idx == 0) error = "no such interface: " + ifname;
  return static_cast<int>(idx);
}

std::unique_ptr<XdpAttachment> XdpAttachment::attach(const std::string& ifname, int progFd,
                                                     XdpMode mode, std::string& error,
                                                     std::string& note) {
  const int ifindex = ifindexOf(ifname, error);
  if (ifindex == 0) return nullptr;
  if (!clearStale(ifindex, ifname, error, note)) return nullptr;
  std::unique_ptr<XdpAttachment> a(new XdpAttachment());
  a->ifindex_ = ifindex;
  a->prog_ = xdp_program__from_fd(progFd);
  if (a->prog_ == nullptr || libxdp_get_error(a->prog_) != 0) {
    error = "libxdp cannot use the loaded program: " + errText(errno);
    a->prog_ = nullptr;
    return nullptr;
  }
  int err = -EINVAL;
  if (mode != XdpMode::kGeneric) {
    err = xdp_program__attach(a->prog_, ifindex, XDP_MODE_NATIVE, 0);
    if (err == 0) a->native_ = true;
  }
  if (err != 0 && mode != XdpMode::kNative) {
    const int nativeErr = err;
    err = xdp_program__attach(a->prog_, ifindex, XDP_MODE_SKB, 0);
    if (err == 0 && mode == XdpMode::kAuto) {
      note += std::string(note.empty() ? "" : "; ") + "native XDP refused (" + errText(nativeErr) +
              "), using generic mode";
    }
  }
  if (err != 0) {
    error = "cannot attach XDP to " + ifname + " (" + std::string(enumName(mode)) +
            "): " + errText(err);
    if (err == -EPERM || err == -EACCES) error += " (needs root: CAP_NET_ADMIN and CAP_BPF)";
    return nullptr;
  }
  a->attached_ = true;
  return a;
}

void XdpAttachment::detach() {
  if (!attached_) return;
  xdp_program__detach(prog_, ifindex_, native_ ? XDP_MODE_NATIVE : XDP_MODE_SKB, 0);
  attached_ = false;
}

XdpAttachment::~XdpAttachment() {
  detach();
  if (prog_ != nullptr) xdp_program__close(prog_);
}

}  // namespace xlb
