// SPDX-License-Identifier: Apache-2.0
// The frame builder (xlb/packet_builder.h, namespace xlb::frames) under the tests' namespace, so
// test code names it as testing::PacketSpec, testing::buildPacket, ... beside its other helpers.
#pragma once

#include "xlb/packet_builder.h"

namespace xlb::testing {
using namespace xlb::frames;  // NOLINT(google-build-using-namespace): one vocabulary for tests
}  // namespace xlb::testing
