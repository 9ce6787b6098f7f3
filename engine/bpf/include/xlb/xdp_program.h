// SPDX-License-Identifier: Apache-2.0
// The XDP program as an object: loads it (the embedded xlb.bpf.o into the kernel, or its native
// build in process: XdpRuntime), checks every map's layout against bpf/xlb_common.h, pushes
// configuration and the blocklist into its maps, reads its per-CPU counters back, and runs
// frames through it. Attaching it to an interface is XdpAttachment's job (xdp_attach.h); only a
// kernel program can be attached, and the simulator never attaches.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "xlb/addr.h"
#include "xlb/block_filter.h"
#include "xlb/config.h"
#include "xlb/dataplane_ports.h"
#include "xlb/reason.h"
#include "xlb/syncookie.h"
#include "xlb/xdp_runtime.h"

namespace xlb {

// An address as the program's maps key it (xlb_dests, the source meter, the destination filter).
xlb_addr_key addrKey(const Address& a);

struct XdpOptions {
  std::uint32_t blocklistCapacity = 1'000'000;  // per map (IPv4 exact, IPv4 prefixes, IPv6 ...)
  bool failOpen = false;                        // no AF_XDP socket: pass instead of drop
  TimeNs synWindow = 100 * kNsPerMs;            // auto mode window
  std::uint16_t synackMssCap = 1460;
  // The simulator: no AF_XDP socket exists in a test run, so what would be redirected to the
  // engine is returned as XDP_REDIRECT (counted to_engine) instead of meeting the fallback.
  bool simRedirect = false;
  // A previous run's program still attached (XdpAttachment::attachedXlbProgram), 0: none. Its
  // per-reason counters and SYN-rate windows are taken over when their layout matches, so the
  // counters continue across a restart and a flood in progress keeps its cookie mode.
  std::uint32_t adoptMapsFrom = 0;
  // The kernel (xlbd, --kernel in the simulator) or the native build (the simulator's default;
  // needs no privileges and no system call per frame).
  XdpRuntimeKind runtime = XdpRuntimeKind::kKernel;
  // The interface's MAC (xlbd): a unicast frame to any other MAC passes untouched
  // (pass_other_host), as a switch flooding unknown unicast hands it to every host. Unset: every
  // frame is looked at (the simulator's and the tests' frames carry made-up MACs).
  std::optional<MacAddr> localMac = std::nullopt;
};

class XdpProgram final : public XdpMaps {
 public:
  // Opens and loads the program. On failure returns nullptr and sets `error` (verifier log
  // excerpt, missing permission, layout mismatch, ...).
  static std::unique_ptr<XdpProgram> load(const XdpOptions& options, std::string& error);
  ~XdpProgram() override;
  XdpProgram(const XdpProgram&) = delete;
  XdpProgram& operator=(const XdpProgram&) = delete;

  int progFd() const noexcept;  // -1 for the native runtime

  // Replaces VIPs, served ports, SNAT addresses and range, SYN modes and the cookie key.
  // vipIds[i] is config.vips[i]'s slot in the port-set and SYN-rate maps (XdpMaps::apply).
  // Returns false with `error` set.
  bool apply(const Config& config, std::span<const std::uint16_t> vipIds, const CookieKey& key,
             std::string& error) override;
  // 0: the program reads CLOCK_MONOTONIC (coarse). The simulator sets its virtual clock here.
  void setFixedNow(TimeNs now);
  // Half-open pressure (the engine's verdict, Controller): on, every auto-mode VIP answers
  // SYNs with cookies whatever its SYN rate.
  void setSynPressure(bool on) override;
  void takeSourceEvents(std::vector<SourceEvent>& out) override;
  bool synPressure() const noexcept { return cfg_.syn_pressure != 0; }
  bool setXsk(std::uint32_t queue, int xskFd, std::string& error);
  bool clearXsk(std::uint32_t queue);

  // Blocklist. Full-length prefixes go to the exact-match hash maps, shorter ones to the LPM
  // tries. add() fails if the prefix is present (`exists` = true) or the map is full.
  bool blockAdd(const Prefix& p, std::string& error, bool* exists = nullptr) override;
  bool blockRemove(const Prefix& p) override;
  std::optional<BlockHits> blockHits(const Prefix& p) const override;
  std::size_t blockCount() const noexcept;

  // Per-reason counters summed over CPUs.
  std::array<ReasonStat, kReasonCount> stats() const override;
  SynState synState(std::uint16_t vipId) const override;

  // Runs one frame through the program (kernel: BPF_PROG_TEST_RUN). The output (XDP_TX: the
  // reply) is valid until the next run. `repeat` > 1 is for benchmarks: the mean time per run
  // goes to durationNs.
  XdpRun runFrame(std::span<const std::uint8_t> frame, std::uint32_t repeat = 1) {
    return rt_->run(frame, repeat);
  }
  // The same, with the frame replaced by the program's output.
  struct RunResult {
    int action = -1;  // XDP_* on success, -errno on failure
    std::uint32_t durationNs = 0;
  };
  RunResult run(std::vector<std::uint8_t>& frame, std::uint32_t repeat = 1);
  // The maps and the runtime itself (the differential test compares two of them).
  XdpRuntime& runtime() noexcept { return *rt_; }
  const XdpRuntime& runtime() const noexcept { return *rt_; }

  const XdpOptions& options() const noexcept { return options_; }
  // The maps taken over from options().adoptMapsFrom.
  const std::vector<std::string>& adoptedMaps() const noexcept { return adoptedMaps_; }
  unsigned cpus() const noexcept { return cpus_; }  // possible CPUs (per-CPU map width)

 private:
  XdpProgram() = default;
  static XdpMap blockMap(const Prefix& p);
  int updateConfigMap();    // 0 or an errno
  int updateBlockConfig();  // writes the map when the blocklist's fields changed; 0 or an errno
  int writeConfigMap();     // cfg_ as it is; 0 or an errno
  int writeFilterWords(std::optional<FilterWords> words);  // 0 or an errno
  // The VIPs' port sets and destinations; `keep` gets every VIP address's key.
  bool writeVips(const Config& config, std::span<const std::uint16_t> vipIds,
                 std::vector<xlb_addr_key>& keep, std::string& error);

  std::unique_ptr<XdpRuntime> rt_;
  XdpOptions options_;
  unsigned cpus_ = 1;
  // Its words mirror the program's filter map; its counts say which maps hold entries.
  std::optional<BlockFilter> filter_;
  // The config map's value as last written (the blocklist fields are recomputed on each write).
  xlb_config cfg_{};
  bool configStale_ = false;  // the last config map write failed: the next one is not skipped
  std::vector<std::string> adoptedMaps_;
};

// Layout check of one map: returns an empty string when the key and value sizes match.
std::string checkMapLayout(const char* name, std::uint32_t keySize, std::uint32_t valueSize,
                           std::uint32_t wantKey, std::uint32_t wantValue);

}  // namespace xlb
