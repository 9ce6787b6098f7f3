// SPDX-License-Identifier: Apache-2.0
// Half-open pressure: on at a quarter of the SNAT ports or entries (whichever is fewer, summed
// over workers), off below half of that, and each switch on counted.
#include "xlb/syn_pressure.h"

#include <gtest/gtest.h>

#include <vector>

namespace xlb {
namespace {

WorkerStats worker(std::uint64_t synSent, std::uint64_t synReceived, std::uint64_t ports,
                   std::uint64_t entries) {
  WorkerStats w;
  w.byState[static_cast<std::size_t>(TcpState::kSynSent)] = synSent;
  w.byState[static_cast<std::size_t>(TcpState::kSynReceived)] = synReceived;
  w.byState[static_cast<std::size_t>(TcpState::kEstablished)] = 5000;  // not half-open
  w.snatCapacity = ports;
  w.capacity = entries;
  return w;
}

TEST(SynPressure, OnAtAQuarterOfThePortsOffBelowHalfOfThat) {
  SynPressure p;
  std::vector<WorkerStats> ws{worker(400, 99, 2000, 100000), worker(0, 0, 2000, 100000)};
  EXPECT_FALSE(p.update(ws));
  EXPECT_EQ(p.limit(), 1000u);  // (2000 / 4) per worker
  EXPECT_EQ(p.halfOpen(), 499u);
  ws[1] = worker(300, 201, 2000, 100000);  // 1,000 together
  EXPECT_TRUE(p.update(ws));
  EXPECT_TRUE(p.on());
  EXPECT_EQ(p.switches(), 1u);
  ws[1] = worker(0, 1, 2000, 100000);  // 500: still at half, stays on
  EXPECT_FALSE(p.update(ws));
  EXPECT_TRUE(p.on());
  ws[0] = worker(400, 98, 2000, 100000);  // 499: off
  EXPECT_TRUE(p.update(ws));
  EXPECT_FALSE(p.on());
  ws[0] = worker(1000, 0, 2000, 100000);
  EXPECT_TRUE(p.update(ws));
  EXPECT_EQ(p.switches(), 2u);
}

TEST(SynPressure, EntriesCountWhenFewerThanPortsAndNoWorkersMeansOff) {
  SynPressure p;
  std::vector<WorkerStats> ws{worker(250, 0, 60000, 1000)};
  EXPECT_TRUE(p.update(ws));
  EXPECT_EQ(p.limit(), 250u);
  ws.clear();
  EXPECT_TRUE(p.update(ws));
  EXPECT_FALSE(p.on());
  EXPECT_EQ(p.limit(), 0u);
}

}  // namespace
}  // namespace xlb
