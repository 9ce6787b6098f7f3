// SPDX-License-Identifier: Apache-2.0
// The reason list from bpf/xlb_common.h: labels are usable as Prometheus label values and
// unique, and every reason has one of the actions.
#include "xlb/reason.h"

#include <gtest/gtest.h>

#include <set>

namespace xlb {
namespace {

TEST(Reason, LabelsAreUniqueLowerSnakeCase) {
  std::set<std::string_view> seen;
  for (std::size_t i = 0; i < kReasonCount; ++i) {
    const std::string_view name = kReasonNames[i];
    EXPECT_TRUE(seen.insert(name).second) << "duplicate label " << name;
    ASSERT_FALSE(name.empty());
    for (char c : name)
      EXPECT_TRUE((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_') << name;
  }
}

TEST(Reason, ActionsFollowTheList) {
  EXPECT_EQ(Verdict{Reason::kTxToBackend}.action(), Action::kTx);
  EXPECT_EQ(Verdict{Reason::kPassNotOurs}.action(), Action::kPass);
  EXPECT_EQ(Verdict{Reason::kNoConntrack}.action(), Action::kDrop);
  EXPECT_EQ(enumName(actionOf(Reason::kTableFull)), "drop");
  EXPECT_EQ(enumName(actionOf(Reason::kTxSyncookie)), "tx");
  EXPECT_EQ(enumName(actionOf(Reason::kPassNotIp)), "pass");
  EXPECT_EQ(reasonName(Reason::kSnatExhausted), "snat_exhausted");
  EXPECT_EQ(enumName(actionOf(Reason::kRedirect)), "redirect");
  EXPECT_EQ(enumName(actionOf(Reason::kSynproxyHeld)), "hold");
  std::size_t tx = 0, pass = 0, drop = 0, other = 0;
  for (Action a : kReasonActions) {
    tx += a == Action::kTx;
    pass += a == Action::kPass;
    drop += a == Action::kDrop;
    other += a == Action::kRedirect || a == Action::kHold;
  }
  EXPECT_EQ(tx + pass + drop + other, kReasonCount);
  EXPECT_EQ(tx, 7u);
  EXPECT_EQ(pass, 5u);   // not IP, not ours, no socket (fail-open), neighbour discovery, other host
  EXPECT_EQ(other, 3u);  // to the engine (and from a cluster peer), held
}

}  // namespace
}  // namespace xlb
