// SPDX-License-Identifier: Apache-2.0
// Closed-loop runs (xlb-sim run SCENARIO.yaml): simulated clients and backends with real TCP
// behaviour exchange frames with the XDP stage (the real object, BPF_PROG_TEST_RUN) and a worker
// running the real pipeline, on a virtual clock. The real control plane (Controller + REST API on
// loopback) runs beside it, and the scenario's events and expectations go through the API, as an
// operator's would. The scenario format is in docs/SIM.md.
#pragma once

#include <ostream>
#include <string>

namespace xlb::sim {

// Returned when the XDP stage cannot run (no root or BPF) outside CI: ctest counts it a skip.
inline constexpr int kExitNoBpf = 77;

// Runs the scenario file; prints progress and every failed expectation (expected and actual) to
// `log`. Returns 0 when every expectation held, 1 when one failed (or, under CI=true, when the XDP
// stage cannot run), 2 for a malformed scenario, kExitNoBpf without BPF elsewhere.
int runScenario(const std::string& path, std::ostream& log);

}  // namespace xlb::sim
