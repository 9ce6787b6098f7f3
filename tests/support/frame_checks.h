// SPDX-License-Identifier: Apache-2.0
// Checks on frames the pipeline wrote (GoogleTest assertions).
#pragma once

#include <gtest/gtest.h>

#include "test_frames.h"
#include "xlb/checksum.h"

namespace xlb::testing {

// The TCP/UDP checksum and, for IPv4, the header checksum are what a receiver computes.
inline void expectValidChecksums(const Bytes& f) {
  const PacketInfo p = parseInfo(f);
  EXPECT_TRUE(l4ChecksumValid(p.family, p.proto, p.src, p.dst, f.data() + p.l4Offset, p.l4Len));
  if (p.family == Family::kV4) {
    EXPECT_EQ(load16(f.data() + p.l3Offset + 10), ipv4HeaderChecksum(f.data() + p.l3Offset, 20));
  }
}

}  // namespace xlb::testing
