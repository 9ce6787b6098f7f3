// SPDX-License-Identifier: Apache-2.0
#include "kernel_runtime.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdarg>
#include <cstring>
#include <mutex>
#include <numeric>
#include <vector>

#include "xlb/block_filter.h"
#include "xlb_bpf.skel.h"

namespace xlb {
namespace {

// libbpf prints the verifier log through this hook; keep the last part so a load failure can
// say why instead of only "permission denied".
std::mutex gLogMutex;
std::string gLog;

__attribute__((format(printf, 2, 0))) int libbpfPrint(enum libbpf_print_level level,
                                                      const char* fmt, va_list args) {
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

// A map command's errno (libbpf 1.x returns -errno and sets errno).
int result(int rc) {
  return rc == 0 ? 0 : (errno != 0 ? errno : -rc);
}

}  // namespace

std::unique_ptr<KernelXdp> KernelXdp::load(std::uint32_t blocklistCapacity,
                                           std::uint32_t adoptMapsFrom, std::string& error) {
  libbpf_set_print(libbpfPrint);
  takeLog();
  std::unique_ptr<KernelXdp> p(new KernelXdp());
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
  for (const XdpMapLayout& l : kXdpMaps) {
    bpf_map* m = bpf_object__find_map_by_name(s->obj, l.name);
    if (m == nullptr) {
      error = std::string("the embedded BPF object has no map ") + l.name;
      return nullptr;
    }
    p->maps_[static_cast<std::size_t>(l.map)] = m;
  }
  for (bpf_map* m :
       {s->maps.xlb_block4, s->maps.xlb_block4_lpm, s->maps.xlb_block6, s->maps.xlb_block6_lpm}) {
    bpf_map__set_max_entries(m, blocklistCapacity);
  }
  bpf_map__set_max_entries(s->maps.xlb_block_filter, BlockFilter::wordsFor(blocklistCapacity));
  if (adoptMapsFrom != 0) p->adopted_ = adoptMaps(s, adoptMapsFrom);
  if (int err = xlb_bpf__load(s); err != 0) {
    std::string log = takeLog();
    error = "cannot load the XDP program (" + errnoText(err) + ")";
    if (err == -EPERM || err == -EACCES) {
      error += ": loading BPF needs root (CAP_BPF and CAP_NET_ADMIN)";
    }
    if (!log.empty()) error += "\n" + log;
    return nullptr;
  }
  return p;
}

KernelXdp::~KernelXdp() {
  if (events_ != nullptr) ring_buffer__free(events_);
  if (skel_ != nullptr) xlb_bpf__destroy(skel_);
}

int KernelXdp::possibleCpus() noexcept {
  return libbpf_num_possible_cpus();
}

int KernelXdp::progFd() const noexcept {
  return bpf_program__fd(skel_->progs.xlb_xdp);
}

int KernelXdp::fd(XdpMap m) const noexcept {
  return bpf_map__fd(maps_[static_cast<std::size_t>(m)]);
}

XdpMapInfo KernelXdp::info(XdpMap m) const {
  const bpf_map* map = maps_[static_cast<std::size_t>(m)];
  return XdpMapInfo{static_cast<std::uint32_t>(bpf_map__type(map)), bpf_map__key_size(map),
                    bpf_map__value_size(map), bpf_map__max_entries(map)};
}

int KernelXdp::update(XdpMap m, const void* key, const void* value, std::uint64_t flags) {
  errno = 0;
  return result(bpf_map_update_elem(fd(m), key, value, flags));
}

int KernelXdp::updateArray(XdpMap m, std::uint32_t first, std::uint32_t count, const void* values) {
  std::vector<std::uint32_t> keys(count);
  std::iota(keys.begin(), keys.end(), first);
  bpf_map_batch_opts opts{};
  opts.sz = sizeof opts;
  opts.elem_flags = BPF_ANY;
  std::uint32_t n = count;
  errno = 0;
  return result(bpf_map_update_batch(fd(m), keys.data(), values, &n, &opts));
}

int KernelXdp::remove(XdpMap m, const void* key) {
  errno = 0;
  return result(bpf_map_delete_elem(fd(m), key));
}

int KernelXdp::lookup(XdpMap m, const void* key, void* value) const {
  errno = 0;
  return result(bpf_map_lookup_elem(fd(m), key, value));
}

int KernelXdp::lookupArray(XdpMap m, std::uint32_t count, void* values) const {
  std::vector<std::uint32_t> keys(count);
  std::uint32_t after = 0, n = count;
  errno = 0;
  // An array's batch starts at index 0 and ends with ENOENT once it reaches max_entries.
  const int rc = bpf_map_lookup_batch(fd(m), nullptr, &after, keys.data(), values, &n, nullptr);
  if (rc != 0 && errno != ENOENT) return result(rc);
  return n == count ? 0 : ENOENT;
}

int KernelXdp::nextKey(XdpMap m, const void* key, void* next) const {
  errno = 0;
  return result(bpf_map_get_next_key(fd(m), key, next));
}

std::size_t KernelXdp::drainRing(XdpMap m, const RingRecordFn& fn) {
  if (m != XdpMap::kSrcEvents) return 0;  // the program's one ring
  if (events_ == nullptr) {
    auto each = [](void* self, void* data, std::size_t size) {
      const RingRecordFn* f = static_cast<KernelXdp*>(self)->drainFn_;
      (*f)(std::span<const std::uint8_t>(static_cast<const std::uint8_t*>(data), size));
      return 0;
    };
    events_ = ring_buffer__new(fd(m), each, this, nullptr);
    if (events_ == nullptr) return 0;
  }
  drainFn_ = &fn;
  const int n = ring_buffer__consume(events_);
  drainFn_ = nullptr;
  return n > 0 ? static_cast<std::size_t>(n) : 0;
}

XdpRun KernelXdp::run(std::span<const std::uint8_t> frame, std::uint32_t repeat) {
  XdpRun res;
  out_.resize(frame.size() + 256);
  // Filled by hand rather than with LIBBPF_OPTS, whose statement expression is a GNU extension
  // that clang's -Wpedantic refuses.
  bpf_test_run_opts opts{};
  opts.sz = sizeof opts;
  opts.data_in = frame.data();
  opts.data_out = out_.data();
  opts.data_size_in = static_cast<std::uint32_t>(frame.size());
  opts.data_size_out = static_cast<std::uint32_t>(out_.size());
  opts.repeat = static_cast<int>(repeat);
  errno = 0;
  const int err = bpf_prog_test_run_opts(progFd(), &opts);
  if (err != 0) {
    res.action = err < 0 ? err : -errno;
    return res;
  }
  res.action = static_cast<int>(opts.retval);
  res.durationNs = opts.duration;
  res.frame = std::span<const std::uint8_t>(out_.data(), opts.data_size_out);
  return res;
}

}  // namespace xlb
