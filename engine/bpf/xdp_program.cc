// SPDX-License-Identifier: Apache-2.0
#include "xlb/xdp_program.h"

#include <linux/bpf.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>

#include "kernel_runtime.h"
#include "native_runtime.h"
#include "xlb_common.h"

namespace xlb {

xlb_addr_key addrKey(const Address& a) {
  xlb_addr_key k{};
  k.family = a.family == Family::kV4 ? XLB_FAMILY_V4 : XLB_FAMILY_V6;
  std::memcpy(k.addr, a.ip.bytes.data(), a.family == Family::kV4 ? 4 : 16);
  return k;
}

namespace {

// The per-CPU maps are read into arrays of their value type: one value per CPU at no padding.
static_assert(sizeof(xlb_stat) == perCpuStride(sizeof(xlb_stat)));
static_assert(sizeof(xlb_syn_rate) == perCpuStride(sizeof(xlb_syn_rate)));

std::string errnoText(int err) {
  return std::strerror(err < 0 ? -err : err);
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

}  // namespace

std::string checkMapLayout(const char* name, std::uint32_t keySize, std::uint32_t valueSize,
                           std::uint32_t wantKey, std::uint32_t wantValue) {
  if (keySize == wantKey && valueSize == wantValue) return {};
  return std::string("map ") + name + ": key/value size " + std::to_string(keySize) + "/" +
         std::to_string(valueSize) + " in the BPF object, " + std::to_string(wantKey) + "/" +
         std::to_string(wantValue) + " in xlb_common.h as compiled into this binary";
}

namespace {

// Every map's key and value against xlb_common.h as this binary knows it; empty when they fit.
std::string checkLayouts(const XdpRuntime& rt) {
  for (const XdpMapLayout& w : kXdpMaps) {
    const XdpMapInfo i = rt.info(w.map);
    std::string e = checkMapLayout(w.name, i.keySize, i.valueSize, w.keySize, w.valueSize);
    if (!e.empty()) return e;
  }
  if (rt.info(XdpMap::kStats).maxEntries != XLB_REASON_COUNT) {
    return "map xlb_stats: entry count differs from the reason list";
  }
  return {};
}

unsigned possibleCpus() {
  const int n = KernelXdp::possibleCpus();
  return n > 0 ? static_cast<unsigned>(n) : 1u;
}

}  // namespace

std::unique_ptr<XdpProgram> XdpProgram::load(const XdpOptions& options, std::string& error) {
  std::unique_ptr<XdpProgram> p(new XdpProgram());
  p->options_ = options;
  const std::uint32_t cap = std::max<std::uint32_t>(options.blocklistCapacity, 1);
  if (options.runtime == XdpRuntimeKind::kNative) {
    p->rt_ = std::make_unique<NativeXdp>(cap, possibleCpus());
  } else {
    std::unique_ptr<KernelXdp> k = KernelXdp::load(cap, options.adoptMapsFrom, error);
    if (!k) return nullptr;
    p->adoptedMaps_ = k->adoptedMaps();
    p->rt_ = std::move(k);
  }
  if (std::string e = checkLayouts(*p->rt_); !e.empty()) {
    error = e;
    return nullptr;
  }
  p->cpus_ = p->rt_->cpus();
  p->filter_.emplace(cap);
  p->cfg_.syn_window_ns = options.synWindow;
  p->cfg_.fail_open = options.failOpen ? 1 : 0;
  p->cfg_.synack_mss_cap = options.synackMssCap;
  p->cfg_.sim_redirect = options.simRedirect ? 1 : 0;
  p->cfg_.nr_cpus = static_cast<std::uint16_t>(std::min<unsigned>(p->cpus_, 0xffff));
  if (options.localMac) {
    p->cfg_.check_mac = 1;
    std::copy(options.localMac->bytes.begin(), options.localMac->bytes.end(), p->cfg_.local_mac);
  }
  if (int err = p->updateConfigMap(); err != 0) {
    error = "cannot write the config map: " + errnoText(err);
    return nullptr;
  }
  return p;
}

XdpProgram::~XdpProgram() = default;

int XdpProgram::progFd() const noexcept {
  return rt_->progFd();
}

int XdpProgram::updateConfigMap() {
  filter_->writeConfig(cfg_);
  return writeConfigMap();
}

int XdpProgram::writeConfigMap() {
  const std::uint32_t zero = 0;
  const int err = rt_->update(XdpMap::kCfg, &zero, &cfg_, BPF_ANY);
  configStale_ = err != 0;
  return err;
}

// Most blocklist changes leave the config's fields as they were (a bulk load of addresses sets
// block_maps once): the map is written when they changed, or when its last write failed.
int XdpProgram::updateBlockConfig() {
  xlb_config next = cfg_;
  filter_->writeConfig(next);
  if (!configStale_ && std::memcmp(&next, &cfg_, sizeof next) == 0) return 0;
  cfg_ = next;
  return writeConfigMap();
}

// One destination per address: a TCP and a UDP VIP on the same address share it, each with its
// own slot (and port set). Ports go in before the destination, so a new VIP never exists without
// its port set.
bool XdpProgram::writeVips(const Config& config, std::span<const std::uint16_t> vipIds,
                           std::vector<xlb_addr_key>& keep, std::string& error) {
  // Thresholds are per window, for the VIP as a whole: each CPU counts its own SYNs and adds
  // up the others' once per window (xlb.bpf.c, cookies_on).
  const double windowSec = static_cast<double>(options_.synWindow) / 1e9;
  std::vector<xlb_dest> dests;
  std::vector<const Address*> addresses;  // parallel to dests, for the error message
  for (std::size_t i = 0; i < config.vips.size(); ++i) {
    const VipConfig& v = config.vips[i];
    const std::uint32_t id = vipIds[i];
    xlb_port_bits bits{};
    for (std::uint16_t port : v.ports) bits.bits[port >> 6] |= 1ull << (port & 63);
    if (int err = rt_->update(XdpMap::kVipPorts, &id, &bits, BPF_ANY); err != 0) {
      error = "cannot write VIP ports: " + errnoText(err);
      return false;
    }
    const xlb_addr_key k = addrKey(v.address);
    auto at = std::find_if(keep.begin(), keep.end(), [&](const xlb_addr_key& x) {
      return std::memcmp(&x, &k, sizeof k) == 0;
    });
    if (at == keep.end()) {
      keep.push_back(k);
      dests.push_back(xlb_dest{});
      dests.back().kind = XLB_DEST_VIP;
      addresses.push_back(&v.address);
      at = keep.end() - 1;
    }
    xlb_dest& d = dests[static_cast<std::size_t>(at - keep.begin())];
    if (v.protocol == kProtoUdp) {
      d.protos |= XLB_PROTO_UDP;
      d.udp_vip_id = static_cast<std::uint16_t>(id);
      continue;
    }
    d.protos |= XLB_PROTO_TCP;
    d.vip_id = static_cast<std::uint16_t>(id);
    d.syn_mode = synModeValue(v.synFlood.mode);
    d.syn_threshold =
        std::max<std::uint32_t>(1, static_cast<std::uint32_t>(v.synFlood.thresholdPps * windowSec));
    // A slot new to this address (a VIP added at runtime, maybe into a removed one's slot)
    // starts its SYN-rate window afresh instead of inheriting the old VIP's cookie mode.
    xlb_dest old{};
    if (rt_->lookup(XdpMap::kDests, &k, &old) != 0 || old.kind != XLB_DEST_VIP ||
        !(old.protos & XLB_PROTO_TCP) || old.vip_id != d.vip_id) {
      const std::vector<xlb_syn_rate> zero(cpus_);
      // Best effort: a stale window ends by itself after two windows without a SYN.
      rt_->update(XdpMap::kSynRate, &id, zero.data(), BPF_ANY);
    }
  }
  for (std::size_t i = 0; i < dests.size(); ++i) {
    if (int err = rt_->update(XdpMap::kDests, &keep[i], &dests[i], BPF_ANY); err != 0) {
      error = "cannot write VIP " + addresses[i]->toString() + ": " + errnoText(err);
      return false;
    }
  }
  return true;
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
  cfg_.cluster = config.cluster.enabled() ? 1 : 0;
  const AutoBlockConfig& ab = config.autoBlock;
  cfg_.src_window_ns = ab.on() ? ab.window : 0;
  std::copy(ab.limits.begin(), ab.limits.end(), cfg_.src_limit);

  // The destination filter (in the config map, written last): the old keys' bits stay set
  // until the stale keys are gone, so no packet to a destination still in the hash is passed as
  // not ours; a new destination is served once the config map is written, with the rest of it.
  std::vector<xlb_addr_key> keep;
  if (!writeVips(config, vipIds, keep, error)) return false;
  for (const Address& a : config.snat.addresses) {
    xlb_dest d{};
    d.kind = XLB_DEST_SNAT;
    const xlb_addr_key k = addrKey(a);
    if (int err = rt_->update(XdpMap::kDests, &k, &d, BPF_ANY); err != 0) {
      error = "cannot write SNAT address " + a.toString() + ": " + errnoText(err);
      return false;
    }
    keep.push_back(k);
  }
  // Remove destinations that are no longer configured.
  std::vector<xlb_addr_key> stale;
  xlb_addr_key cur{}, next{};
  const void* prev = nullptr;
  while (rt_->nextKey(XdpMap::kDests, prev, &next) == 0) {
    const bool kept = std::any_of(keep.begin(), keep.end(), [&](const xlb_addr_key& k) {
      return std::memcmp(&k, &next, sizeof k) == 0;
    });
    if (!kept) stale.push_back(next);
    cur = next;
    prev = &cur;
  }
  for (const xlb_addr_key& k : stale) rt_->remove(XdpMap::kDests, &k);
  std::fill(std::begin(cfg_.dest_filter), std::end(cfg_.dest_filter), 0);
  for (const xlb_addr_key& k : keep) {
    const std::uint64_t bit = xlb_dest_filter_bit(&k);
    cfg_.dest_filter[bit >> 6] |= 1ull << (bit & 63);
  }
  if (int err = updateConfigMap(); err != 0) {
    error = "cannot write the config map: " + errnoText(err);
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
  if (int err = rt_->update(XdpMap::kXsks, &queue, &xskFd, BPF_ANY); err != 0) {
    error = "cannot put the AF_XDP socket of queue " + std::to_string(queue) +
            " in the XSKMAP: " + errnoText(err);
    return false;
  }
  return true;
}

bool XdpProgram::clearXsk(std::uint32_t queue) {
  return rt_->remove(XdpMap::kXsks, &queue) == 0;
}

XdpMap XdpProgram::blockMap(const Prefix& p) {
  switch (blockMapBit(p.addr.family, p.length)) {
    case XLB_BLOCK_V4_EXACT:
      return XdpMap::kBlock4;
    case XLB_BLOCK_V4_LPM:
      return XdpMap::kBlock4Lpm;
    case XLB_BLOCK_V6_EXACT:
      return XdpMap::kBlock6;
    default:
      return XdpMap::kBlock6Lpm;
  }
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
  if (isExactBlockMap(blockMapBit(p.addr.family, p.length))) {
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
  if (const int err = rt_->update(blockMap(p), k.bytes.data(), &v, BPF_NOEXIST); err != 0) {
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
  // The bit is set after the entry exists, and the program told to probe its length after that.
  int err = writeFilterWords(filter_->add(p));
  const char* what = "the blocklist filter";
  if (err == 0 && (err = updateBlockConfig()) != 0) what = "the config map";
  if (err != 0) {
    // Without both, the program could let the source through: the entry goes, with an error.
    writeFilterWords(filter_->remove(p));  // if this fails, a bit left set only costs lookups
    rt_->remove(blockMap(p), k.bytes.data());
    error = "cannot add " + p.toString() + ": cannot write " + what + ": " + errnoText(err);
    return false;
  }
  return true;
}

bool XdpProgram::blockRemove(const Prefix& p) {
  if (p.addr.family == Family::kNone) return false;
  const BlockKey k = blockKey(p);
  if (rt_->remove(blockMap(p), k.bytes.data()) != 0) return false;
  // A failed write leaves the program's bit set or a length still listed, which costs sources a
  // lookup and never lets a blocked one through; the next write of the word (from filter_) or of
  // the config map corrects it. The removal stands, and the failure is logged.
  const auto warn = [&p](const char* what, int err) {
    if (err == 0) return;
    spdlog::warn(
        "blocklist: {} removed, but cannot write {}: {} (the program probes for it "
        "until that is written again)",
        p.toString(), what, errnoText(err));
  };
  warn("the blocklist filter", writeFilterWords(filter_->remove(p)));
  warn("the config map", updateBlockConfig());
  return true;
}

int XdpProgram::writeFilterWords(std::optional<FilterWords> words) {
  if (!words) return 0;
  return rt_->updateArray(XdpMap::kBlockFilter, words->first, words->count,
                          filter_->wordsAt(*words));
}

std::optional<BlockHits> XdpProgram::blockHits(const Prefix& p) const {
  if (p.addr.family == Family::kNone) return std::nullopt;
  const BlockKey k = blockKey(p);
  xlb_block_val v{};
  if (rt_->lookup(blockMap(p), k.bytes.data(), &v) != 0) return std::nullopt;
  return BlockHits{v.hits, v.last_hit_ns};
}

std::size_t XdpProgram::blockCount() const noexcept {
  return filter_->entries();
}

std::array<ReasonStat, kReasonCount> XdpProgram::stats() const {
  std::array<ReasonStat, kReasonCount> out{};
  std::vector<xlb_stat> per(std::size_t{cpus_} * kReasonCount);
  if (rt_->lookupArray(XdpMap::kStats, kReasonCount, per.data()) != 0) return out;
  for (std::uint32_t r = 0; r < kReasonCount; ++r) {
    for (unsigned c = 0; c < cpus_; ++c) {
      out[r].packets += per[r * cpus_ + c].packets;
      out[r].bytes += per[r * cpus_ + c].bytes;
    }
  }
  return out;
}

SynState XdpProgram::synState(std::uint16_t vipId) const {
  SynState out;
  std::vector<xlb_syn_rate> per(cpus_);
  const std::uint32_t id = vipId;
  if (rt_->lookup(XdpMap::kSynRate, &id, per.data()) != 0) {
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

XdpProgram::RunResult XdpProgram::run(std::vector<std::uint8_t>& frame, std::uint32_t repeat) {
  const XdpRun r = rt_->run(frame, repeat);
  if (r.action >= 0) frame.assign(r.frame.begin(), r.frame.end());
  return RunResult{r.action, r.durationNs};
}

void XdpProgram::takeSourceEvents(std::vector<SourceEvent>& out) {
  rt_->drainRing(XdpMap::kSrcEvents, [&](std::span<const std::uint8_t> r) {
    xlb_src_event ev{};
    if (r.size() != sizeof ev) return;
    std::memcpy(&ev, r.data(), sizeof ev);
    if (ev.kind >= kSourceKindCount) return;
    SourceEvent e;
    e.source.family = ev.src.family == XLB_FAMILY_V4 ? Family::kV4 : Family::kV6;
    e.source.ip = ev.src.family == XLB_FAMILY_V4 ? IpAddr::fromV4Bytes(ev.src.addr)
                                                 : IpAddr::fromV6Bytes(ev.src.addr);
    e.kind = static_cast<SourceKind>(ev.kind);
    e.count = ev.count;
    out.push_back(e);
  });
}

}  // namespace xlb
