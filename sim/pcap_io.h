// SPDX-License-Identifier: Apache-2.0
// pcap files with nanosecond timestamps (libpcap). Reading accepts micro- and nanosecond files.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "xlb/addr.h"

typedef struct pcap pcap_t;
typedef struct pcap_dumper pcap_dumper_t;

namespace xlb::sim {

struct PcapFrame {
  TimeNs ts = 0;
  std::vector<std::uint8_t> data;
};

// Reads every frame of an Ethernet pcap. False with `error` set (not a pcap, not Ethernet, ...).
bool readPcap(const std::string& path, std::vector<PcapFrame>& frames, std::string& error);

class PcapWriter {
 public:
  static std::unique_ptr<PcapWriter> open(const std::string& path, std::string& error);
  ~PcapWriter();
  PcapWriter(const PcapWriter&) = delete;
  PcapWriter& operator=(const PcapWriter&) = delete;
  void write(TimeNs ts, const std::uint8_t* data, std::uint32_t len);
  std::uint64_t frames() const noexcept { return frames_; }
  // FNV-1a over every frame's bytes and length: a stable digest of what was written.
  std::uint64_t digest() const noexcept { return digest_; }

 private:
  PcapWriter() = default;
  pcap_t* pcap_ = nullptr;
  pcap_dumper_t* dumper_ = nullptr;
  std::uint64_t frames_ = 0;
  std::uint64_t digest_ = 0xcbf29ce484222325ull;
};

}  // namespace xlb::sim
