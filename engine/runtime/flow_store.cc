// SPDX-License-Identifier: Apache-2.0
#include "xlb/flow_store.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "xlb/snat.h"

namespace xlb {
namespace {

constexpr std::size_t kPage = 4096;
constexpr char kMagic[8] = {'X', 'L', 'B', 'F', 'L', 'O', 'W', 'S'};

// The file's first page. Every field the layout depends on is here; the checksum covers all of
// them, so a torn or foreign header is refused as a whole.
struct FlowHeader {
  char magic[8];
  std::uint32_t version;
  std::uint32_t headerBytes;
  std::uint32_t entryBytes;
  std::uint32_t finSeqBytes;
  std::uint32_t workers;
  std::uint32_t capacity;  // per worker
  std::uint16_t portLo;
  std::uint16_t portHi;
  std::uint32_t snatCount;
  std::uint8_t snatFamily[XLB_MAX_SNAT_ADDRS];
  std::uint8_t snatAddr[XLB_MAX_SNAT_ADDRS][16];
  char bootId[40];
  std::uint64_t sectionBytes;
  std::int32_t ownerPid;
  std::uint32_t generation;
  std::uint64_t checksum;  // FNV-1a over everything before it
};
static_assert(sizeof(FlowHeader) <= kPage);

std::uint64_t checksumOf(const FlowHeader& h) {
  std::uint64_t x = 0xcbf29ce484222325ull;
  const auto* p = reinterpret_cast<const std::uint8_t*>(&h);
  for (std::size_t i = 0; i < offsetof(FlowHeader, checksum); ++i) {
    x = (x ^ p[i]) * 0x100000001b3ull;
  }
  return x;
}

std::string bootId() {
  std::ifstream f("/proc/sys/kernel/random/boot_id");
  std::string s;
  std::getline(f, s);
  return s;
}

std::size_t pageUp(std::size_t n) {
  return (n + kPage - 1) / kPage * kPage;
}

// A worker's section: a page holding its high-water mark, then the three arrays.
std::size_t sectionBytesFor(std::uint32_t capacity) {
  return kPage + pageUp(std::size_t{capacity} * sizeof(ConnEntry)) +
         pageUp(std::size_t{capacity} * sizeof(FinSeqs)) +
         pageUp(std::size_t{capacity} * sizeof(std::uint32_t));
}

// Live entries in a file whose header is intact but does not fit (for the refusal's count).
std::uint64_t liveEntries(const std::uint8_t* base, std::size_t fileBytes, const FlowHeader& h) {
  if (h.entryBytes != sizeof(ConnEntry) || h.sectionBytes != sectionBytesFor(h.capacity)) return 0;
  std::uint64_t n = 0;
  for (std::uint32_t w = 0; w < h.workers; ++w) {
    const std::size_t off = kPage + w * h.sectionBytes + kPage;
    if (off + std::size_t{h.capacity} * sizeof(ConnEntry) > fileBytes) break;
    const auto* e = reinterpret_cast<const ConnEntry*>(base + off);
    for (std::uint32_t i = 0; i < h.capacity; ++i) n += e[i].state != TcpState::kFree ? 1 : 0;
  }
  return n;
}

// Why the stored header cannot be adopted for `layout`, or "" when it can.
std::string misfit(const FlowHeader& h, const FlowLayout& layout, std::size_t fileBytes) {
  if (std::memcmp(h.magic, kMagic, sizeof kMagic) != 0) return "not an xlb flow file";
  if (h.checksum != checksumOf(h)) return "its header is corrupt (checksum)";
  if (h.version != kFlowFileVersion) {
    return "layout version " + std::to_string(h.version) + ", this xlbd reads version " +
           std::to_string(kFlowFileVersion);
  }
  if (h.headerBytes != sizeof(FlowHeader) || h.entryBytes != sizeof(ConnEntry) ||
      h.finSeqBytes != sizeof(FinSeqs)) {
    return "its entry layout differs from this build's";
  }
  if (std::string(h.bootId, strnlen(h.bootId, sizeof h.bootId)) != bootId()) {
    return "it was written before the host rebooted";
  }
  if (h.workers != layout.workers) {
    return "it holds " + std::to_string(h.workers) + " worker(s)' tables, the configuration has " +
           std::to_string(layout.workers);
  }
  if (h.capacity != layout.capacityPerWorker) {
    return "its capacity is " + std::to_string(h.capacity) +
           " per worker, the configuration gives " + std::to_string(layout.capacityPerWorker);
  }
  if (h.portLo != layout.portLo || h.portHi != layout.portHi) {
    return "its SNAT port range " + std::to_string(h.portLo) + "-" + std::to_string(h.portHi) +
           " differs from the configuration's";
  }
  if (h.snatCount > XLB_MAX_SNAT_ADDRS) return "its header is corrupt (SNAT count)";
  if (fileBytes != kPage + h.workers * sectionBytesFor(h.capacity)) return "it is truncated";
  return "";
}

}  // namespace

std::unique_ptr<FlowStore> FlowStore::open(const std::string& path, const FlowLayout& layout,
                                           std::string& error, FlowStoreOpen& result) {
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) {
    error = "cannot open the flow state file " + path + ": " + std::strerror(errno);
    return nullptr;
  }
  std::unique_ptr<FlowStore> s(new FlowStore());
  s->fd_ = fd;
  s->path_ = path;
  s->layout_ = layout;
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    FlowHeader h{};
    const bool read = pread(fd, &h, sizeof h, 0) == static_cast<ssize_t>(sizeof h);
    error = "the flow state file " + path + " is in use by another xlbd" +
            (read && h.ownerPid > 0 ? " (pid " + std::to_string(h.ownerPid) + ")" : "") +
            ": stop it, or start this one with --takeover to replace it without a gap";
    return nullptr;
  }
  struct stat st {};
  fstat(fd, &st);
  const auto oldBytes = static_cast<std::size_t>(st.st_size);
  s->sectionBytes_ = sectionBytesFor(layout.capacityPerWorker);
  s->bytes_ = kPage + layout.workers * s->sectionBytes_;
  if (oldBytes > 0 && oldBytes < sizeof(FlowHeader)) {
    result.refused = "not an xlb flow file (shorter than a header)";
  } else if (oldBytes >= sizeof(FlowHeader)) {
    void* old = mmap(nullptr, oldBytes, PROT_READ, MAP_SHARED, fd, 0);
    if (old != MAP_FAILED) {
      const auto* base = static_cast<const std::uint8_t*>(old);
      FlowHeader h{};
      std::memcpy(&h, base, sizeof h);
      result.refused = misfit(h, layout, oldBytes);
      result.previousPid = h.ownerPid;
      result.generation = h.generation;
      if (result.refused.empty()) {
        result.adopting = true;
        for (std::uint32_t i = 0; i < h.snatCount; ++i) {
          Address a;
          a.family = static_cast<Family>(h.snatFamily[i]);
          std::memcpy(a.ip.bytes.data(), h.snatAddr[i], 16);
          s->storedSnat_.push_back(a);
        }
      } else if (h.checksum == checksumOf(h)) {
        result.refusedFlows = liveEntries(base, oldBytes, h);
      }
      munmap(old, oldBytes);
    } else {
      result.refused = "it cannot be read";
    }
  }
  if (!result.adopting && (ftruncate(fd, 0) != 0 || ftruncate(fd, static_cast<off_t>(s->bytes_)))) {
    error = "cannot size the flow state file " + path + ": " + std::strerror(errno);
    return nullptr;
  }
  void* base = mmap(nullptr, s->bytes_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, 0);
  if (base == MAP_FAILED) {
    error = "cannot map the flow state file " + path + ": " + std::strerror(errno);
    return nullptr;
  }
  s->base_ = base;
  return s;
}

FlowStore::~FlowStore() {
  if (base_ != nullptr) munmap(base_, bytes_);
  if (fd_ >= 0) close(fd_);  // releases the lock
}

ConnStorage FlowStore::storage(std::uint32_t worker) const noexcept {
  auto* page = static_cast<std::uint8_t*>(base_) + kPage + worker * sectionBytes_;
  auto* section = page + kPage;
  const std::size_t cap = layout_.capacityPerWorker;
  ConnStorage st;
  st.highWater = reinterpret_cast<std::uint32_t*>(page);
  st.entries = reinterpret_cast<ConnEntry*>(section);
  st.finSeqs = reinterpret_cast<FinSeqs*>(section + pageUp(cap * sizeof(ConnEntry)));
  st.clientSeqDeltas = reinterpret_cast<std::uint32_t*>(section + pageUp(cap * sizeof(ConnEntry)) +
                                                        pageUp(cap * sizeof(FinSeqs)));
  return st;
}

void FlowStore::claim(const std::vector<Address>& snat) {
  auto& h = *static_cast<FlowHeader*>(base_);
  const std::uint32_t generation =
      std::memcmp(h.magic, kMagic, sizeof kMagic) == 0 ? h.generation + 1 : 1;
  FlowHeader n{};
  std::memcpy(n.magic, kMagic, sizeof kMagic);
  n.version = kFlowFileVersion;
  n.headerBytes = sizeof(FlowHeader);
  n.entryBytes = sizeof(ConnEntry);
  n.finSeqBytes = sizeof(FinSeqs);
  n.workers = layout_.workers;
  n.capacity = layout_.capacityPerWorker;
  n.portLo = layout_.portLo;
  n.portHi = layout_.portHi;
  n.snatCount = static_cast<std::uint32_t>(std::min<std::size_t>(snat.size(), XLB_MAX_SNAT_ADDRS));
  for (std::uint32_t i = 0; i < n.snatCount; ++i) {
    n.snatFamily[i] = static_cast<std::uint8_t>(snat[i].family);
    std::memcpy(n.snatAddr[i], snat[i].ip.bytes.data(), 16);
  }
  const std::string boot = bootId();
  std::memcpy(n.bootId, boot.data(), std::min(boot.size(), sizeof n.bootId - 1));
  n.sectionBytes = sectionBytes_;
  n.ownerPid = getpid();
  n.generation = generation;
  n.checksum = checksumOf(n);
  h = n;
  storedSnat_ = snat;
}

void FlowStore::unlock() {
  msync(base_, bytes_, MS_ASYNC);
  flock(fd_, LOCK_UN);
}

int FlowStore::heldBy(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  int holder = 0;
  if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
    flock(fd, LOCK_UN);
  } else {
    FlowHeader h{};
    const bool read = pread(fd, &h, sizeof h, 0) == static_cast<ssize_t>(sizeof h);
    holder = read && h.ownerPid > 0 ? h.ownerPid : -1;
  }
  close(fd);
  return holder;
}

bool FlowStore::relock() {
  for (int i = 0; i < 100; ++i) {
    if (flock(fd_, LOCK_EX | LOCK_NB) == 0) return true;
    usleep(10'000);
  }
  return false;
}

std::string FlowStore::inspect(const std::string& path, const FlowLayout& layout) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return "";
  struct stat st {};
  FlowHeader h{};
  std::string why;
  if (fstat(fd, &st) == 0 && pread(fd, &h, sizeof h, 0) == static_cast<ssize_t>(sizeof h)) {
    why = misfit(h, layout, static_cast<std::size_t>(st.st_size));
  }
  close(fd);
  return why;
}

bool FlowStore::discard(const std::string& path, std::string& error) {
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    error = "cannot remove " + path + ": " + std::strerror(errno);
    return false;
  }
  return true;
}

bool FlowRemap::KeyLess::operator()(const Key& a, const Key& b) const noexcept {
  if (std::get<0>(a) != std::get<0>(b)) return std::get<0>(a) < std::get<0>(b);
  const int c = std::memcmp(std::get<1>(a).bytes.data(), std::get<1>(b).bytes.data(), 16);
  if (c != 0) return c < 0;
  const int d = std::memcmp(std::get<2>(a).bytes.data(), std::get<2>(b).bytes.data(), 16);
  if (d != 0) return d < 0;
  return std::get<3>(a) < std::get<3>(b);
}

FlowRemap::FlowRemap(const std::vector<FlowTarget>& targets, const std::vector<Address>& storedSnat,
                     const SnatPool& snat) {
  for (const FlowTarget& t : targets) {
    if (t.vip.family != t.backend.family) continue;
    ids_[Key{t.vip.family, t.vip.ip, t.backend.ip, t.protocol}] = {t.vipId, t.backendId};
  }
  snatIndex_.assign(256, SnatPool::kNoAddress);
  for (std::size_t i = 0; i < storedSnat.size() && i < snatIndex_.size(); ++i) {
    snatIndex_[i] = snat.find(storedSnat[i].family, storedSnat[i].ip);
  }
}

bool FlowRemap::keep(ConnEntry& e) const noexcept {
  const std::uint8_t snat = snatIndex_[e.snatIdx];
  if (snat == SnatPool::kNoAddress) return false;
  const auto it = ids_.find(Key{e.family, e.vip, e.backend, e.proto});
  if (it == ids_.end()) return false;
  e.snatIdx = snat;
  e.vipId = it->second.first;
  e.backendId = it->second.second;
  return true;
}

}  // namespace xlb
