// SPDX-License-Identifier: Apache-2.0
#include "xlb/xdp_program.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>
#include <netinet/in.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdarg>
#include <cstring>
#include <ctime>
#include <mutex>

#include "xlb_bpf.skel.h"
#include "xlb_common.h"

namespace xlb {
namespace {

// libbpf prints the verifier log through this hook; keep the last part so a load failure can
// say why instead of only "permission denied".
std::mutex gLogMutex;
std::string gLog;

int libbpfPrint(enum libbpf_print_level level, const char* fmt, va_list args) {
  if (level == LIBBPF_DEBUG) return 0;
  char buf[1024];
  const int n = std::vsnprintf(buf, sizeof buf, fmt, args);
  if (n <= 0) return 0;
  std::lock_guard lock(gLogMutex);
  gLog.append(buf, std::min<std::size_t>(static_cast<std::size_t>(n), sizeof buf - 1));
  if (gLog.size() > 8192) gLog.erase(0, gLog.size() - 8192);
  return 0;
}

std::string takeLog() {
  std::lock_guard lock(gLogMutex);
  std::string s;
  s.swap(gLog);
  return s;
}

std::string errnoText(int err) {
  return std::strerror(err < 0 ? -err : err);
}

xlb_addr_key addrKey(const Address& a) {
  xlb_addr_key k{};
  k.family = a.family == Family::kV4 ? XLB_FAMILY_V4 : XLB_FAMILY_V6;
  std::memcpy(k.addr, a.ip.bytes.data(), a.family == Family::kV4 ? 4 : 16);
  return k;
}

std::uint8_t synModeValue(SynFloodMode m) {
  switch (m) {
    case SynFloodMode::kOff:
      return XLB_SYN_OFF;
    case SynFloodMode::kAlways:
      return XLB_SYN_ALWAYS;
    case SynFloodMode::kAuto:
      return XLB_SYN_AUTO;
  }
  return XLB_SYN_OFF;
}

// Reuses the previous program's counter and SYN-rate maps where type, sizes and entry count
// match this object's (anything else starts empty). Returns the names reused.
std::vector<std::string> adoptMaps(xlb_bpf* s, std::uint32_t progId) {
  std::vector<std::string> reused;
  const int pfd = bpf_prog_get_fd_by_id(progId);
  if (pfd < 0) return reused;
  std::array<std::uint32_t, 64> ids{};
  bpf_prog_info info{};
  info.nr_map_ids = ids.size();
  info.map_ids = reinterpret_cast<std::uint64_t>(ids.data());
  std::uint32_t len = sizeof info;
  const bool ok = bpf_obj_get_info_by_fd(pfd, &info, &len) == 0;
  close(pfd);
  if (!ok) return reused;
  for (std::uint32_t i = 0; i < std::min<std::uint32_t>(info.nr_map_ids, ids.size()); ++i) {
    const int mfd = bpf_map_get_fd_by_id(ids[i]);
    if (mfd < 0) continue;
    bpf_map_info mi{};
    std::uint32_t mlen = sizeof mi;
    if (bpf_obj_get_info_by_fd(mfd, &mi, &mlen) == 0) {
      for (bpf_map* m : {s->maps.xlb_stats, s->maps.xlb_syn_rate, s->maps.xlb_dests}) {
        if (std::strcmp(mi.name, bpf_map__name(m)) != 0) continue;
        if (mi.type == static_cast<std::uint32_t>(bpf_map__type(m)) &&
            mi.key_size == bpf_map__key_size(m) && mi.value_size == bpf_map__value_size(m) &&
            mi.max_entries == bpf_map__max_entries(m) && bpf_map__reuse_fd(m, mfd) == 0) {
          reused.emplace_back(mi.name);
        }
      }
    }
    close(mfd);
  }
  return reused;
}

}  // namespace

std::string checkMapLayout(const char* name, std::uint32_t keySize, std::uint32_t valueSize,
                           std::uint32_t wantKey, std::uint32_t wantValue) {
  if (keySize == wantKey && valueSize == wantValue) return {};
  return std::string("map ") + name + ": key/value size " + std::to_string(keySize) + "/" +
         std::to_string(valueSize) + " in the BPF object, " + std::to_string(wantKey) + "/" +
         std::to_string(wantValue) + " in xlb_common.h as compiled into this binary";
}

std::unique_ptr<XdpProgram> XdpProgram::load(const XdpOptions& options, std::string& error) {
  libbpf_set_print(libbpfPrint);
  takeLog();
  std::unique_ptr<XdpProgram> p(new XdpProgram());
  p->options_ = options;
  const int cpus = libbpf_num_possible_cpus();
  if (cpus <= 0) {
    error = "cannot count possible CPUs: " + errnoText(cpus);
    return nullptr;
  }
  p->cpus_ = static_cast<unsigned>(cpus);
  p->skel_ = xlb_bpf__open();
  if (p->skel_ == nullptr) {
    error = "cannot open the embedded BPF object: " + errnoText(errno) + " " + takeLog();
    return nullptr;
  }
  xlb_bpf* s = p->skel_;
  const std::uint32_t cap = std::max<std::uint32_t>(options.blocklistCapacity, 1);
  for (bpf_map* m :
       {s->maps.xlb_block4, s->maps.xlb_block4_lpm, s->maps.xlb_block6, s->maps.xlb_block6_lpm}) {
    bpf_map__set_max_entries(m, cap);
  }
  struct Want {
    bpf_map* map;
    std::uint32_t key, value;
  };
  const Want want[] = {
      {s->maps.xlb_cfg, 4, sizeof(xlb_config)},
      {s->maps.xlb_dests, sizeof(xlb_addr_key), sizeof(xlb_dest)},
      {s->maps.xlb_vip_ports, 4, sizeof(xlb_port_bits)},
      {s->maps.xlb_syn_rate, 4, sizeof(xlb_syn_rate)},
      {s->maps.xlb_block4, 4, sizeof(xlb_block_val)},
      {s->maps.xlb_block4_lpm, sizeof(xlb_lpm4_key), sizeof(xlb_block_val)},
      {s->maps.xlb_block6, 16, sizeof(xlb_block_val)},
      {s->maps.xlb_block6_lpm, sizeof(xlb_lpm6_key), sizeof(xlb_block_val)},
      {s->maps.xlb_xsks, 4, 4},
      {s->maps.xlb_stats, 4, sizeof(xlb_stat)},
  };
  for (const Want& w : want) {
    std::string e = checkMapLayout(bpf_map__name(w.map), bpf_map__key_size(w.map),
                                   bpf_map__value_size(w.map), w.key, w.value);
    if (!e.empty()) {
      error = e;
      return nullptr;
    }
  }
  if (bpf_map__max_entries(s->maps.xlb_stats) != XLB_REASON_COUNT) {
    error = "map xlb_stats: entry count differs from the reason list";
    return nullptr;
  }
  if (options.adoptMapsFrom != 0) p->adoptedMaps_ = adoptMaps(s, options.adoptMapsFrom);
  if (int err = xlb_bpf__load(s); err != 0) {
    std::string log = takeLog();
    error = "cannot load the XDP program (" + errnoText(err) + ")";
    if (err == -EPERM || err == -EACCES) {
      error += ": loading BPF needs root (CAP_BPF and CAP_NET_ADMIN)";
    }
    if (!log.empty()) error += "\n" + log;
    return nullptr;
  }
  p->cfg_.syn_window_ns = options.synWindow;
  p->cfg_.fail_open = options.failOpen ? 1 : 0;
  p->cfg_.synack_mss_cap = options.synackMssCap;
  p->cfg_.sim_redirect = options.simRedirect ? 1 : 0;
  p->cfg_.nr_cpus = static_cast<std::uint16_t>(std::min<unsigned>(p->cpus_, 0xffff));
  if (!p->updateConfigMap()) {
    error = "cannot write the config map: " + errnoText(errno);
    return nullptr;
  }
  return p;
}

XdpProgram::~XdpProgram() {
  if (skel_ != nullptr) xlb_bpf__destroy(skel_);
}

int XdpProgram::progFd() const noexcept {
  return bpf_program__fd(skel_->progs.xlb_xdp);
}

bool XdpProgram::updateConfigMap() {
  std::uint8_t bits = 0;
  if (blockCounts_[0] != 0) bits |= XLB_BLOCK_V4_EXACT;
  if (blockCounts_[1] != 0) bits |= XLB_BLOCK_V4_LPM;
  if (blockCounts_[2] != 0) bits |= XLB_BLOCK_V6_EXACT;
  if (blockCounts_[3] != 0) bits |= XLB_BLOCK_V6_LPM;
  cfg_.block_maps = bits;
  const std::uint32_t zero = 0;
  return bpf_map_update_elem(bpf_map__fd(skel_->maps.xlb_cfg), &zero, &cfg_, BPF_ANY) == 0;
}

bool XdpProgram::apply(const Config& config, std::span<const std::uint16_t> vipIds,
                       const CookieKey& key, std::string& error) {
  if (std::string e = checkConfig(config); !e.empty()) {
    error = e;
    return false;
  }
  if (vipIds.size() != config.vips.size() ||
      std::any_of(vipIds.begin(), vipIds.end(), [](std::uint16_t id) { return id >= kMaxVips; })) {
    error = "VIP slots do not match the VIPs";
    return false;
  }
  cfg_.cookie_key[0] = key[0];
  cfg_.cookie_key[1] = key[1];
  cfg_.snat_port_lo = config.snat.portLo;
  cfg_.snat_port_hi = config.snat.portHi;

  const int destFd = bpf_map__fd(skel_->maps.xlb_dests);
  const int portsFd = bpf_map__fd(skel_->maps.xlb_vip_ports);
  // Thresholds are per window, for the VIP as a whole: each CPU counts its own SYNs and adds
  // up the others' once per window (xlb.bpf.c, cookies_on).
  const double windowSec = static_cast<double>(options_.synWindow) / 1e9;
  std::vector<xlb_addr_key> keep;
  for (std::size_t i = 0; i < config.vips.size(); ++i) {
    const VipConfig& v = config.vips[i];
    xlb_dest d{};
    d.kind = XLB_DEST_VIP;
    d.syn_mode = synModeValue(v.synFlood.mode);
    d.proto = v.protocol;
    d.vip_id = vipIds[i];
    d.syn_threshold =
        std::max<std::uint32_t>(1, static_cast<std::uint32_t>(v.synFlood.thresholdPps * windowSec));
    xlb_port_bits bits{};
    for (std::uint16_t port : v.ports) bits.bits[port >> 6] |= 1ull << (port & 63);
    const std::uint32_t id = vipIds[i];
    // Ports before the destination, so a new VIP never exists without its port set.
    if (bpf_map_update_elem(portsFd, &id, &bits, BPF_ANY) != 0) {
      error = "cannot write VIP ports: " + errnoText(errno);
      return false;
    }
    const xlb_addr_key k = addrKey(v.address);
    // A slot new to this address (a VIP added at runtime, maybe into a removed one's slot)
    // starts its SYN-rate window afresh instead of inheriting the old VIP's cookie mode.
    xlb_dest old{};
    if (bpf_map_lookup_elem(destFd, &k, &old) != 0 || old.kind != XLB_DEST_VIP ||
        old.vip_id != d.vip_id) {
      const std::vector<xlb_syn_rate> zero(cpus_);
      // Best effort: a stale window ends by itself after two windows without a SYN.
      bpf_map_update_elem(bpf_map__fd(skel_->maps.xlb_syn_rate), &id, zero.data(), BPF_ANY);
    }
    if (bpf_map_update_elem(destFd, &k, &d, BPF_ANY) != 0) {
      error = "cannot write VIP " + v.address.toString() + ": " + errnoText(errno);
      return false;
    }
    keep.push_back(k);
  }
  for (const Address& a : config.snat.addresses) {
    xlb_dest d{};
    d.kind = XLB_DEST_SNAT;
    const xlb_addr_key k = addrKey(a);
    if (bpf_map_update_elem(destFd, &k, &d, BPF_ANY) != 0) {
      error = "cannot write SNAT address " + a.toString() + ": " + errnoText(errno);
      return false;
    }
    keep.push_back(k);
  }
  // Remove destinations that are no longer configured.
  std::vector<xlb_addr_key> stale;
  xlb_addr_key cur{}, next{};
  const void* prev = nullptr;
  while (bpf_map_get_next_key(destFd, prev, &next) == 0) {
    const bool kept = std::any_of(keep.begin(), keep.end(), [&](const xlb_addr_key& k) {
      return std::memcmp(&k, &next, sizeof k) == 0;
    });
    if (!kept) stale.push_back(next);
    cur = next;
    prev = &cur;
  }
  for (const xlb_addr_key& k : stale) bpf_map_delete_elem(destFd, &k);
  if (!updateConfigMap()) {
    error = "cannot write the config map: " + errnoText(errno);
    return false;
  }
  return true;
}

void XdpProgram::setSynPressure(bool on) {
  if ((cfg_.syn_pressure != 0) == on) return;
  cfg_.syn_pressure = on ? 1 : 0;
  updateConfigMap();
}

void XdpProgram::setFixedNow(TimeNs now) {
  cfg_.fixed_now_ns = now;
  updateConfigMap();
}

bool XdpProgram::setXsk(std::uint32_t queue, int xskFd, std::string& error) {
  if (bpf_map_update_elem(bpf_map__fd(skel_->maps.xlb_xsks), &queue, &xskFd, BPF_ANY) != 0) {
    error = "cannot put the AF_XDP socket of queue " + std::to_string(queue) +
            " in the XSKMAP: " + errnoText(errno);
    return false;
  }
  return true;
}

bool XdpProgram::clearXsk(std::uint32_t queue) {
  return bpf_map_delete_elem(bpf_map__fd(skel_->maps.xlb_xsks), &queue) == 0;
}

unsigned XdpProgram::blockMapIndex(const Prefix& p) const {
  const bool v4 = p.addr.family == Family::kV4;
  const bool exact = p.length == (v4 ? 32 : 128);
  return (v4 ? 0u : 2u) + (exact ? 0u : 1u);
}

int XdpProgram::blockMapFd(const Prefix& p) const {
  const bpf_map* maps[] = {skel_->maps.xlb_block4, skel_->maps.xlb_block4_lpm,
                           skel_->maps.xlb_block6, skel_->maps.xlb_block6_lpm};
  return bpf_map__fd(maps[blockMapIndex(p)]);
}

namespace {
// The key of a prefix in whichever blocklist map holds it.
struct BlockKey {
  std::array<std::uint8_t, 20> bytes{};
  std::size_t size = 0;
};
BlockKey blockKey(const Prefix& p) {
  BlockKey k;
  const bool v4 = p.addr.family == Family::kV4;
  const std::size_t n = v4 ? 4 : 16;
  const bool exact = p.length == (v4 ? 32 : 128);
  if (exact) {
    std::memcpy(k.bytes.data(), p.addr.ip.bytes.data(), n);
    k.size = n;
  } else {
    const std::uint32_t len = p.length;
    std::memcpy(k.bytes.data(), &len, 4);
    std::memcpy(k.bytes.data() + 4, p.addr.ip.bytes.data(), n);
    k.size = 4 + n;
  }
  return k;
}
}  // namespace

bool XdpProgram::blockAdd(const Prefix& p, std::string& error, bool* exists) {
  if (exists != nullptr) *exists = false;
  if (p.addr.family == Family::kNone) {
    error = "not an IPv4 or IPv6 prefix";
    return false;
  }
  const BlockKey k = blockKey(p);
  const xlb_block_val v{};
  if (bpf_map_update_elem(blockMapFd(p), k.bytes.data(), &v, BPF_NOEXIST) != 0) {
    const int err = errno;
    if (err == EEXIST) {
      if (exists != nullptr) *exists = true;
      error = p.toString() + " is already on the blocklist";
    } else if (err == E2BIG || err == ENOMEM || err == ENOSPC) {
      error = "blocklist full (" + std::to_string(options_.blocklistCapacity) + " entries per map)";
    } else {
      error = "cannot add " + p.toString() + ": " + errnoText(err);
    }
    return false;
  }
  ++blockCounts_[blockMapIndex(p)];
  updateConfigMap();
  return true;
}

bool XdpProgram::blockRemove(const Prefix& p) {
  if (p.addr.family == Family::kNone) return false;
  const BlockKey k = blockKey(p);
  if (bpf_map_delete_elem(blockMapFd(p), k.bytes.data()) != 0) return false;
  std::size_t& n = blockCounts_[blockMapIndex(p)];
  if (n > 0) --n;
  updateConfigMap();
  return true;
}

std::optional<BlockHits> XdpProgram::blockHits(const Prefix& p) const {
  if (p.addr.family == Family::kNone) return std::nullopt;
  const BlockKey k = blockKey(p);
  xlb_block_val v{};
  if (bpf_map_lookup_elem(blockMapFd(p), k.bytes.data(), &v) != 0) return std::nullopt;
  return BlockHits{v.hits, v.last_hit_ns};
}

std::size_t XdpProgram::blockCount() const noexcept {
  std::size_t n = 0;
  for (std::size_t c : blockCounts_) n += c;
  return n;
}

std::array<ReasonStat, kReasonCount> XdpProgram::stats() const {
  std::array<ReasonStat, kReasonCount> out{};
  std::vector<xlb_stat> per(cpus_);
  const int fd = bpf_map__fd(skel_->maps.xlb_stats);
  for (std::uint32_t r = 0; r < kReasonCount; ++r) {
    if (bpf_map_lookup_elem(fd, &r, per.data()) != 0) continue;
    for (const xlb_stat& s : per) {
      out[r].packets += s.packets;
      out[r].bytes += s.bytes;
    }
  }
  return out;
}

SynState XdpProgram::synState(std::uint16_t vipId) const {
  SynState out;
  std::vector<xlb_syn_rate> per(cpus_);
  const std::uint32_t id = vipId;
  if (bpf_map_lookup_elem(bpf_map__fd(skel_->maps.xlb_syn_rate), &id, per.data()) != 0) {
    return out;
  }
  // The program turns cookies off on the first SYN after an idle gap of two windows; until such
  // a SYN arrives its flag still says on. Report what that SYN would find.
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  const std::uint64_t now = cfg_.fixed_now_ns != 0
                                ? cfg_.fixed_now_ns
                                : static_cast<std::uint64_t>(ts.tv_sec) * kNsPerSec +
                                      static_cast<std::uint64_t>(ts.tv_nsec);
  for (const xlb_syn_rate& r : per) {
    const bool recent = now - r.window_start_ns < 2 * cfg_.syn_window_ns;
    out.cookies = out.cookies || (r.cookies != 0 && recent);
    out.switches += r.switches;
  }
  return out;
}

XdpProgram::RunResult XdpProgram::run(std::vector<std::uint8_t>& frame,
                                      std::uint32_t repeat) const {
  RunResult res;
  std::vector<std::uint8_t> out(frame.size() + 256);
  LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame.data(), .data_out = out.data(),
              .data_size_in = static_cast<std::uint32_t>(frame.size()),
              .data_size_out = static_cast<std::uint32_t>(out.size()),
              .repeat = static_cast<int>(repeat));
  const int err = bpf_prog_test_run_opts(progFd(), &opts);
  if (err != 0) {
    res.action = err < 0 ? err : -errno;
    return res;
  }
  res.action = static_cast<int>(opts.retval);
  res.durationNs = opts.duration;
  out.resize(opts.data_size_out);
  frame.swap(out);
  return res;
}

}  // namespace xlb
