// SPDX-License-Identifier: Apache-2.0
// What the packet harnesses hold every frame xlb sends to: a receiver must accept it. A frame
// xlb wrote (a SYN-ACK, a reset, a probe) parses and carries valid checksums; a frame it
// forwarded parses if what came in parsed, and its checksums are valid if the input's were (xlb
// updates checksums incrementally and does not repair a sender's). And the input helpers the
// harnesses share: a cursor over libFuzzer's bytes, and a temporary file for readers of paths.
#pragma once

#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <string>

#include "xlb/checksum.h"
#include "xlb/parse.h"

namespace xlb::fuzz {

using Frame = std::span<const std::uint8_t>;

struct FrameFacts {
  bool parsed = false;
  bool ipChecksum = false;  // IPv4 header checksum (true for IPv6 and non-IP)
  bool l4Checksum = false;  // TCP/UDP/ICMP checksum (true when not checkable: fragment, other)
  PacketInfo info;
};

inline FrameFacts facts(Frame f) {
  FrameFacts r;
  Reason why{};
  r.parsed = parsePacket(f.data(), static_cast<std::uint32_t>(f.size()), r.info, why);
  if (!r.parsed) return r;
  const PacketInfo& p = r.info;
  r.ipChecksum = true;
  if (p.family == Family::kV4) {
    const std::size_t ihl = (f[p.l3Offset] & 0x0f) * 4u;
    r.ipChecksum =
        ipv4HeaderChecksum(f.data() + p.l3Offset, ihl) == load16(f.data() + p.l3Offset + 10);
  }
  r.l4Checksum = true;
  const bool checkable = p.proto == 6 || p.proto == 17 || p.proto == 1 || p.proto == 58;
  if (p.family != Family::kNone && p.frag == Frag::kNone && checkable) {
    r.l4Checksum = l4ChecksumValid(p.family, p.proto, p.src, p.dst, f.data() + p.l4Offset, p.l4Len);
  }
  return r;
}

// Empty when `out` is acceptable; otherwise what is wrong with it. `in` is what came in (for a
// frame xlb wrote from scratch, pass written = true and `in` is not consulted).
inline std::string frameProblem(Frame in, Frame out, bool written) {
  const FrameFacts o = facts(out);
  const FrameFacts i = written ? FrameFacts{true, true, true, {}} : facts(in);
  if (!i.parsed) return {};  // garbage in: only memory safety is asked of it
  if (!o.parsed) return "sent a frame that does not parse";
  if (i.ipChecksum && !o.ipChecksum) return "sent a bad IPv4 header checksum";
  if (i.l4Checksum && !o.l4Checksum) return "sent a bad L4 checksum";
  const PacketInfo& p = o.info;
  if (p.family != Family::kNone && p.l4Offset + std::size_t{p.l4Len} > out.size()) {
    return "sent an IP length beyond the frame";
  }
  return {};
}

inline std::string hex(Frame f) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string s;
  for (const std::uint8_t b : f) {
    s += kDigits[b >> 4];
    s += kDigits[b & 15];
  }
  return s;
}

[[noreturn]] inline void finding(const char* harness, const std::string& what) {
  std::fprintf(stderr, "%s: %s\n", harness, what.c_str());
  std::abort();
}

// Reads fixed-size fields off the input; zeros once it runs out.
class Cursor {
 public:
  explicit Cursor(Frame data) : data_(data) {}
  std::uint8_t u8() { return pos_ < data_.size() ? data_[pos_++] : 0; }
  std::uint16_t u16() { return static_cast<std::uint16_t>(u8() | u8() << 8); }
  std::uint32_t u32() { return u16() | static_cast<std::uint32_t>(u16()) << 16; }
  Frame take(std::size_t n) {
    n = std::min(n, data_.size() - pos_);
    const Frame r = data_.subspan(pos_, n);
    pos_ += n;
    return r;
  }
  Frame rest() { return take(data_.size() - pos_); }
  bool empty() const noexcept { return pos_ >= data_.size(); }

 private:
  Frame data_;
  std::size_t pos_ = 0;
};

// A file in /dev/shm (or TMPDIR) rewritten per input, for readers that take a path.
class ScratchFile {
 public:
  explicit ScratchFile(const char* name) {
    const char* dir = std::getenv("XLB_FUZZ_TMP");
    path_ = std::string(dir ? dir : "/dev/shm") + "/" + name + "-" + std::to_string(::getpid());
  }
  ~ScratchFile() { std::remove(path_.c_str()); }
  const std::string& write(Frame bytes) {
    if (std::FILE* f = std::fopen(path_.c_str(), "wb")) {
      std::fwrite(bytes.data(), 1, bytes.size(), f);
      std::fclose(f);
    }
    return path_;
  }
  const std::string& path() const noexcept { return path_; }

 private:
  std::string path_;
};

}  // namespace xlb::fuzz
