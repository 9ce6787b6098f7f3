// SPDX-License-Identifier: Apache-2.0
#include "xlb/xdp_attach.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace xlb {
namespace {

std::string errText(int err) {
  return std::strerror(err < 0 ? -err : err);
}

struct Attached {
  std::uint32_t id = 0;
  bool native = false;
  std::string name;
};

// The program on `ifindex` (native before generic) by id only: one netlink query.
Attached attachedId(int ifindex) {
  Attached a;
  bpf_xdp_query_opts q{};
  q.sz = sizeof q;
  if (bpf_xdp_query(ifindex, 0, &q) != 0) return a;
  a.id = q.drv_prog_id != 0 ? q.drv_prog_id : q.skb_prog_id;
  a.native = q.drv_prog_id != 0;
  return a;
}

Attached attachedProgram(int ifindex) {
  Attached a = attachedId(ifindex);
  if (a.id == 0) return a;
  const int fd = bpf_prog_get_fd_by_id(a.id);
  if (fd < 0) return a;
  bpf_prog_info info{};
  std::uint32_t len = sizeof info;
  if (bpf_obj_get_info_by_fd(fd, &info, &len) == 0) a.name = info.name;
  close(fd);
  return a;
}

std::uint32_t progIdOf(int fd) {
  bpf_prog_info info{};
  std::uint32_t len = sizeof info;
  return bpf_obj_get_info_by_fd(fd, &info, &len) == 0 ? info.id : 0;
}

std::uint32_t modeFlag(bool native) {
  return native ? XDP_FLAGS_DRV_MODE : XDP_FLAGS_SKB_MODE;
}

}  // namespace

int XdpAttachment::ifindexOf(const std::string& ifname, std::string& error) {
  const unsigned idx = if_nametoindex(ifname.c_str());
  if (idx == 0) error = "no such interface: " + ifname;
  return static_cast<int>(idx);
}

std::uint32_t XdpAttachment::attachedXlbProgram(int ifindex) {
  const Attached a = attachedProgram(ifindex);
  return a.name == kXdpProgramName ? a.id : 0;
}

std::unique_ptr<XdpAttachment> XdpAttachment::attach(const std::string& ifname, int progFd,
                                                     XdpMode mode, std::string& error,
                                                     std::string& note) {
  const int ifindex = ifindexOf(ifname, error);
  if (ifindex == 0) return nullptr;
  std::unique_ptr<XdpAttachment> a(new XdpAttachment());
  a->ifindex_ = ifindex;
  a->progFd_ = progFd;
  a->progId_ = progIdOf(progFd);
  const Attached old = attachedProgram(ifindex);
  if (old.id != 0 && old.name != kXdpProgramName) {
    error = "interface " + ifname + " already has an XDP program (\"" + old.name +
            "\"); xlb does not replace programs it did not attach";
    return nullptr;
  }
  const bool modeFits =
      old.id != 0 && (mode == XdpMode::kAuto || (mode == XdpMode::kNative) == old.native);
  if (modeFits) {
    // The previous run's program: replaced in one step, so no frame meets an interface without
    // one (and the kernel refuses if something else replaced it meanwhile).
    const int oldFd = bpf_prog_get_fd_by_id(old.id);
    bpf_xdp_attach_opts o{};
    o.sz = sizeof o;
    o.old_prog_fd = oldFd;
    const int err = bpf_xdp_attach(ifindex, progFd, modeFlag(old.native) | XDP_FLAGS_REPLACE, &o);
    if (oldFd >= 0) close(oldFd);
    if (err != 0) {
      error = "cannot replace the xlb program on " + ifname + ": " + errText(err);
      return nullptr;
    }
    a->native_ = old.native;
    a->attached_ = true;
    a->replaced_ = true;
    note = "replaced the xlb program a previous run left attached to " + ifname + " (in one step)";
    return a;
  }
  if (old.id != 0) {
    bpf_xdp_detach(ifindex, modeFlag(old.native), nullptr);
    note = "removed the xlb program a previous run left on " + ifname + " in " +
           (old.native ? "native" : "generic") + " mode";
  }
  int err = -EINVAL;
  if (mode != XdpMode::kGeneric) {
    err =
        bpf_xdp_attach(ifindex, progFd, XDP_FLAGS_DRV_MODE | XDP_FLAGS_UPDATE_IF_NOEXIST, nullptr);
    if (err == 0) a->native_ = true;
  }
  if (err != 0 && mode != XdpMode::kNative) {
    const int nativeErr = err;
    err =
        bpf_xdp_attach(ifindex, progFd, XDP_FLAGS_SKB_MODE | XDP_FLAGS_UPDATE_IF_NOEXIST, nullptr);
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

bool XdpAttachment::detachXlb(const std::string& ifname, std::string& error) {
  const int ifindex = ifindexOf(ifname, error);
  if (ifindex == 0) return false;
  const Attached old = attachedProgram(ifindex);
  if (old.id == 0 || old.name != kXdpProgramName) {
    error = "no xlb program is attached to " + ifname;
    return false;
  }
  if (const int err = bpf_xdp_detach(ifindex, modeFlag(old.native), nullptr); err != 0) {
    error = "cannot detach the xlb program from " + ifname + ": " + errText(err);
    return false;
  }
  return true;
}

bool XdpAttachment::inPlace() const {
  // Asked on every scrape and readiness probe: the id is enough, the name is not read.
  return attached_ && progId_ != 0 && attachedId(ifindex_).id == progId_;
}

void XdpAttachment::detach() {
  if (!attached_) return;
  bpf_xdp_attach_opts o{};
  o.sz = sizeof o;
  o.old_prog_fd = progFd_;
  bpf_xdp_detach(ifindex_, modeFlag(native_) | XDP_FLAGS_REPLACE, &o);
  attached_ = false;
}

}  // namespace xlb
