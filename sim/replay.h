// SPDX-License-Identifier: Apache-2.0
// Open-loop replay: every frame of a capture through the XDP program (its native build, or the
// real object in the kernel through BPF_PROG_TEST_RUN; maps filled from the configuration as
// xlbd fills them) and, when XDP redirects it, through a worker running the real pipeline, on a
// virtual clock taken from the capture's timestamps.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "pcap_io.h"
#include "replay_xdp.h"
#include "xlb/config.h"
#include "xlb/syncookie.h"

namespace xlb::sim {

struct ReplayOptions {
  Config config;
  bool xdp = true;  // false: engine only (no blocklist, no SYN cookies)
  // The XDP stage: the native build of the program (no privileges, no system call per frame),
  // the kernel's (BPF_PROG_TEST_RUN, root), or both compared frame by frame (root; the first
  // difference fails the replay). Reports are the same but for "rate".
  ReplayXdpMode xdpMode = ReplayXdpMode::kNative;
  std::uint32_t loops = 1;  // the capture again, shifted in time, this many times in all
  std::uint64_t seed = 1;   // cookie key and connection-table hash seed
  bool drain = true;        // after the input, run the clock on until every entry has left
};

// Replays `in`; frames XDP answers (XDP_TX) and frames the engine transmits go to `out` (may be
// null). Fills `report` (see docs/SIM.md). False with `error` when the XDP stage cannot load or
// the configuration is unusable.
bool replay(const ReplayOptions& options, const std::vector<PcapFrame>& in, PcapWriter* out,
            nlohmann::json& report, std::string& error);

// The MAC the simulator gives a host (02:bb + its last four address bytes) and the LB itself.
// The cookie key and table hash seed of a run, from its one seed (replay and scenarios alike).
struct SimSeeds {
  CookieKey key{};
  std::uint64_t tableSeed = 0;
};
SimSeeds seedsFrom(std::uint64_t seed);

}  // namespace xlb::sim
