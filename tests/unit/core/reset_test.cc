// SPDX-License-Identifier: Apache-2.0
// Resets of an established connection judged as RFC 5961 asks (ConnTable::rstFit): a blind
// reset, outside what the other side last acknowledged, is dropped and the connection lives on;
// one ahead of the expected number passes to the endpoint (which answers with a challenge ACK)
// and the connection stays; the expected number ends it. Before the connection is established
// and once a FIN is out, a reset ends it as before.
#include <gtest/gtest.h>

#include "flow_fixture.h"
#include "harness.h"

namespace xlb {
namespace {

using testing::Bytes;
using testing::Flow;
using testing::Harness;
using testing::sec;

constexpr std::uint8_t PA = kTcpPsh | kTcpAck;

// Open, then one exchange each way, so both sides' acknowledgements are known: the client has
// sent up to 106 and the backend has acknowledged it; the backend has sent up to 511.
void established(Flow& f, TimeNs t) {
  f.open(t);
  ASSERT_EQ(f.c(PA, 101, 501, t, Bytes(5, 'q')), Reason::kTxToBackend);
  ASSERT_EQ(f.s(PA, 501, 106, t, Bytes(10, 'r')), Reason::kTxToClient);
  ASSERT_EQ(f.c(kTcpAck, 106, 511, t), Reason::kTxToBackend);
}

TEST(Reset, ABlindResetFromEitherSideIsDroppedAndTheConnectionLivesOn) {
  Harness h;
  Flow f{h};
  established(f, sec(1));
  for (const std::uint32_t seq : {106u + (1u << 31), 105u, 106u + ConnTable::kRstWindow}) {
    EXPECT_EQ(f.c(kTcpRst, seq, 0, sec(2)), Reason::kRstOutOfWindow) << seq;
    EXPECT_EQ(f.s(kTcpRst | kTcpAck, seq + 405, 106, sec(2)), Reason::kRstOutOfWindow) << seq;
  }
  EXPECT_EQ(h.table->activeIn(TcpState::kEstablished), 1u);
  EXPECT_EQ(h.pipe->counters().of(Reason::kRstOutOfWindow), 6u);
  // Long after the reset grace the connection still carries data both ways.
  EXPECT_EQ(f.c(PA, 106, 511, sec(10), Bytes(3, 'x')), Reason::kTxToBackend);
  EXPECT_EQ(f.s(PA, 511, 109, sec(10), Bytes(3, 'y')), Reason::kTxToClient);
}

TEST(Reset, AResetAheadOfTheExpectedNumberPassesWithoutEndingTheConnection) {
  Harness h;
  Flow f{h};
  established(f, sec(1));
  EXPECT_EQ(f.c(kTcpRst, 106 + 1000, 0, sec(2)), Reason::kTxToBackend);
  EXPECT_EQ(f.s(kTcpRst, 511 + 5, 0, sec(2)), Reason::kTxToClient);
  EXPECT_EQ(h.pipe->counters().rstKept, 2u);
  EXPECT_EQ(h.table->activeIn(TcpState::kEstablished), 1u);
  EXPECT_EQ(f.c(PA, 106, 511, sec(10), Bytes(3, 'x')), Reason::kTxToBackend);
}

TEST(Reset, TheExpectedNumberEndsTheConnectionFromEitherSide) {
  for (const bool fromClient : {true, false}) {
    Harness h;
    Flow f{h};
    established(f, sec(1));
    if (fromClient) {
      EXPECT_EQ(f.c(kTcpRst, 106, 0, sec(2)), Reason::kTxToBackend);
    } else {
      EXPECT_EQ(f.s(kTcpRst | kTcpAck, 511, 106, sec(2)), Reason::kTxToClient);
    }
    EXPECT_EQ(h.table->activeIn(TcpState::kClosed), 1u) << fromClient;
    h.tick(sec(4));
    EXPECT_EQ(h.table->active(), 0u);
    EXPECT_EQ(h.table->closed(CloseReason::kRst), 1u);
  }
}

TEST(Reset, BeforeEstablishedAndDuringACloseAResetEndsItAsBefore) {
  Harness h;
  Flow refused{h, "10.0.0.1", 40001};
  ASSERT_EQ(refused.c(kTcpSyn, 100, 0, sec(1)), Reason::kTxToBackend);
  EXPECT_EQ(refused.s(kTcpRst | kTcpAck, 0, 101, sec(1)), Reason::kTxToClient);  // port closed
  EXPECT_EQ(h.table->activeIn(TcpState::kClosed), 1u);
  Flow closing{h, "10.0.0.1", 40002};
  established(closing, sec(1));
  ASSERT_EQ(closing.c(kTcpFin | kTcpAck, 106, 511, sec(2)), Reason::kTxToBackend);
  EXPECT_EQ(closing.s(kTcpRst, 777777, 0, sec(2)), Reason::kTxToClient);
  EXPECT_EQ(h.table->activeIn(TcpState::kClosed), 2u);
}

}  // namespace
}  // namespace xlb
