// SPDX-License-Identifier: Apache-2.0
// libFuzzer target: the simulator's pcap reader (sim/pcap_io.cc, on libpcap) and the parser its
// replay hands each frame to. A file is read or refused with a message; every frame it yields
// holds the bytes the file claimed for it.
#include <cstdint>
#include <string>
#include <vector>

#include "fuzz_support.h"
#include "pcap_io.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace xlb;
  static fuzz::ScratchFile file("xlb-pcap-fuzz");
  std::vector<sim::PcapFrame> frames;
  std::string error;
  const bool ok = sim::readPcap(file.write(fuzz::Frame(data, size)), frames, error);
  if (!ok && error.empty()) fuzz::finding("pcap-fuzz", "refused without a message");
  std::size_t bytes = 0;
  for (const sim::PcapFrame& f : frames) {
    bytes += f.data.size();
    PacketInfo p;
    Reason why{};
    parsePacket(f.data.data(), static_cast<std::uint32_t>(f.data.size()), p, why);
  }
  if (bytes > size) fuzz::finding("pcap-fuzz", "frames hold more bytes than the file");
  return 0;
}
