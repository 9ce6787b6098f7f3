// SPDX-License-Identifier: Apache-2.0
// The reason list from bpf/xlb_common.h: labels are usable as Prometheus label values and
// unique, and every reason has one of the three actions.
#include <gtest/gtest.h>

#include <set>

#include "xlb/reason.h"

namespace xlb {
namespace {

TEST(Reason, LabelsAreUniqueLowerSnakeCase) {
  std::set<std::string_view> seen;
  for (std::size_t i = 0; i < kReasonCount; ++i) {
    const std::string_view name = kReasonNames[i];
    EXPECT_TRUE(seen.insert(name).second) << "duplicate label " << name;
    ASSERT_FALSE(name.empty());
    for (char c : name) EXPECT_TRUE((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_') << name;
  }
}

TEST(Reason, ActionsFollowTheList) {
  EXPECT_EQ(Verdict{Reason::kTxToBackend}.action(), Action::kTx);
  EXPECT_EQ(Verdict{Reason::kPassNotOurs}.action(), Action::kPass);
  EXPECT_EQ(Verdict{Reason::kNoConntrack}.action(), Action::kDrop);
  EXPECT_EQ(actionName(actionOf(Reason::kTableFull)), "drop");
  EXPECT_EQ(actionName(actionOf(Reason::kTxSyncookie)), "tx");
  EXPECT_EQ(actionName(actionOf(Reason::kPassNotIp)), "pass");
  EXPECT_EQ(reasonName(Reason::kSnatExhausted), "snat_exhausted");
  std::size_t tx = 0, pass = 0, drop = 0;
  for (Action a : kReasonActions) {
    tx += a == Action::kTx;
    pass += a == Action::kPass;
    drop += a == Action::kDrop;
  }
  EXPECT_EQ(tx + pass + drop, kReasonCount);
  EXPECT_EQ(tx, 3u);
  EXPECT_EQ(pass, 2u);
}

}  // namespace
}  // namespace xlb
