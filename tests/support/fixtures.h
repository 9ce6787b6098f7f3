// SPDX-License-Identifier: Apache-2.0
// The one fixture table: frames with the verdict the XDP program gives them and the verdict the
// engine's pipeline gives them. Three runners read it: the pipeline unit test, the
// BPF_PROG_TEST_RUN test (label bpf) and the simulator's replay test.
#pragma once

#include <string>
#include <vector>

#include "harness.h"
#include "xlb/reason.h"

namespace xlb::testing {

struct Fixture {
  std::string name;
  Bytes frame;
  Reason xdp;     // the XDP program's verdict (kRedirect: handed to the engine)
  Reason engine;  // the pipeline's verdict for the same frame on a fresh table
};

// Against testConfig() with every VIP's SYN-flood mode off: VIP 10.0.0.100 and 2001:db8::100
// on ports 80 and 443, SNAT 10.0.0.2 / 2001:db8::2 with ports 10000-10999.
std::vector<Fixture> filterFixtures();

}  // namespace xlb::testing
