// SPDX-License-Identifier: Apache-2.0
// libFuzzer target: the engine's packet parser (engine/core/parse.cc) on arbitrary frames. Beyond
// memory safety (ASan, UBSan), what it reports for a frame it accepts lies inside the frame:
// the L3/L4 offsets and lengths, the payload, and the TCP option offsets a later stage
// rewrites in place.
#include <cstdint>
#include <string>

#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace xlb;
  if (size > 0xffff) return 0;
  const auto len = static_cast<std::uint32_t>(size);
  PacketInfo p;
  Reason why{};
  if (!parsePacket(data, len, p, why)) return 0;
  auto within = [&](std::size_t off, std::size_t n, const char* what) {
    if (off + n > len) fuzz::finding("parse-fuzz", std::string(what) + " lies past the frame");
  };
  if (p.family == Family::kNone) return 0;
  within(p.l3Offset, p.family == Family::kV4 ? 20 : 40, "the IP header");
  if (p.l4Offset < p.l3Offset) fuzz::finding("parse-fuzz", "L4 starts before L3");
  within(p.l4Offset, p.l4Len, "the L4 bytes");
  if (p.frag == Frag::kNone && p.proto == kProtoTcp) {
    within(p.l4Offset, 20, "the TCP header");
    within(p.payloadOffset, p.payloadLen, "the TCP payload");
    if (p.tcp.hasTimestamp) within(p.tcp.tsOffset, 8, "the timestamp option");
    if (p.tcp.sackBlocks > 4) fuzz::finding("parse-fuzz", "more than four SACK blocks");
    if (p.tcp.sackBlocks) within(p.tcp.sackOffset, p.tcp.sackBlocks * 8u, "the SACK blocks");
  }
  if (p.frag == Frag::kNone && p.proto == kProtoUdp) {
    within(p.l4Offset, 8, "the UDP header");
    within(p.payloadOffset, p.payloadLen, "the UDP payload");
  }
  return 0;
}
