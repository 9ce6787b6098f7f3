// SPDX-License-Identifier: Apache-2.0
// Every enum shown or parsed as text goes through one table: each value has a unique name and
// the name parses back to the value; anything else is refused.
#include "xlb/enum_names.h"

#include <gtest/gtest.h>

#include <set>

#include "xlb/config.h"
#include "xlb/conn_table.h"
#include "xlb/reason.h"

namespace xlb {
namespace {

template <typename E>
void expectRoundTrip() {
  std::set<std::string_view> names;
  for (const auto& [value, name] : EnumNames<E>::kTable) {
    EXPECT_TRUE(names.insert(name).second) << "duplicate name " << name;
    EXPECT_EQ(enumName(value), name);
    ASSERT_TRUE(parseEnum<E>(name).has_value()) << name;
    EXPECT_EQ(*parseEnum<E>(name), value);
  }
  EXPECT_FALSE(parseEnum<E>("").has_value());
  EXPECT_FALSE(parseEnum<E>("no such name").has_value());
}

TEST(EnumNames, EveryTableRoundTrips) {
  expectRoundTrip<Action>();
  expectRoundTrip<TcpState>();
  expectRoundTrip<CloseReason>();
  expectRoundTrip<SynFloodMode>();
  expectRoundTrip<XdpMode>();
}

TEST(EnumNames, TablesCoverTheCountedEnums) {
  EXPECT_EQ(EnumNames<TcpState>::kTable.size(), kTcpStateCount);
  EXPECT_EQ(EnumNames<CloseReason>::kTable.size(), kCloseReasonCount);
  EXPECT_EQ(enumName(TcpState::kCount), "?");
}

TEST(EnumNames, ParsingIsExactAndChoicesListEveryName) {
  EXPECT_EQ(parseEnum<SynFloodMode>("auto"), SynFloodMode::kAuto);
  EXPECT_FALSE(parseEnum<SynFloodMode>("Auto").has_value());
  EXPECT_FALSE(parseEnum<SynFloodMode>("auto ").has_value());
  EXPECT_EQ(enumChoices<SynFloodMode>(), "off, always, auto");
  EXPECT_EQ(enumNameList<XdpMode>(), (std::vector<std::string>{"auto", "native", "generic"}));
}

}  // namespace
}  // namespace xlb
