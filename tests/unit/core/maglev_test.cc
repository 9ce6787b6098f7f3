// SPDX-License-Identifier: Apache-2.0
#include "xlb/maglev.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>

namespace xlb {
namespace {

std::vector<MaglevBackend> backends(int n, std::uint32_t weight = 1) {
  std::vector<MaglevBackend> v;
  for (int i = 0; i < n; ++i) {
    v.push_back(
        {Address{Family::kV4, IpAddr::v4(0x0a000100u + static_cast<std::uint32_t>(i))}, weight});
  }
  return v;
}

std::vector<std::size_t> counts(const std::vector<std::uint16_t>& t, std::size_t n) {
  std::vector<std::size_t> c(n, 0);
  for (auto s : t) {
    EXPECT_NE(s, kMaglevEmpty);
    if (s != kMaglevEmpty) ++c[s];
  }
  return c;
}

TEST(Maglev, FillsEverySlotEvenly) {
  auto b = backends(10);
  auto t = buildMaglev(b);
  ASSERT_EQ(t.size(), kDefaultMaglevSize);
  for (auto c : counts(t, 10)) {
    EXPECT_NEAR(static_cast<double>(c), 6553.7, 6553.7 * 0.01);
  }
}

TEST(Maglev, DeterministicAndIndependentOfOrder) {
  auto b = backends(7);
  auto t1 = buildMaglev(b);
  EXPECT_EQ(t1, buildMaglev(b));
  auto r = b;
  std::reverse(r.begin(), r.end());
  auto t2 = buildMaglev(r);
  for (std::size_t i = 0; i < t1.size(); ++i) {
    ASSERT_EQ(b[t1[i]].address, r[t2[i]].address) << "slot " << i;
  }
}

TEST(Maglev, WeightsSetShares) {
  std::vector<MaglevBackend> b = backends(3);
  b[0].weight = 1;
  b[1].weight = 2;
  b[2].weight = 3;
  auto c = counts(buildMaglev(b), 3);
  const double total = kDefaultMaglevSize;
  EXPECT_NEAR(static_cast<double>(c[0]) / total, 1.0 / 6, 0.005);
  EXPECT_NEAR(static_cast<double>(c[1]) / total, 2.0 / 6, 0.005);
  EXPECT_NEAR(static_cast<double>(c[2]) / total, 3.0 / 6, 0.005);
  b[1].weight = 0;
  c = counts(buildMaglev(b), 3);
  EXPECT_EQ(c[1], 0u);
}

TEST(Maglev, EmptySetGivesEmptyTable) {
  auto t = buildMaglev(std::vector<MaglevBackend>{});
  EXPECT_TRUE(std::all_of(t.begin(), t.end(), [](auto s) { return s == kMaglevEmpty; }));
  EXPECT_THROW(buildMaglev(backends(2), 65536), std::invalid_argument);
}

// Removing one of N backends: its own slots must move, and only a small remainder of the others.
TEST(Maglev, RemovingOneBackendMovesLittleElse) {
  for (int n : {5, 10, 50, 100}) {
    auto b = backends(n);
    auto before = buildMaglev(b);
    const std::size_t removed = static_cast<std::size_t>(n / 2);
    auto after_set = b;
    after_set.erase(after_set.begin() + static_cast<std::ptrdiff_t>(removed));
    auto after = buildMaglev(after_set);
    std::size_t own = 0, others = 0;
    for (std::size_t i = 0; i < before.size(); ++i) {
      const Address& was = b[before[i]].address;
      const Address& now = after_set[after[i]].address;
      if (before[i] == removed) {
        ++own;
      } else if (!(was == now)) {
        ++others;
      }
    }
    const double disruption = static_cast<double>(others) / static_cast<double>(before.size());
    RecordProperty("disruption_n" + std::to_string(n), std::to_string(disruption));
    std::printf("maglev: N=%d remove 1: own share %.4f moved, others moved %.4f of slots\n", n,
                static_cast<double>(own) / static_cast<double>(before.size()), disruption);
    EXPECT_LT(disruption, 0.02) << "N=" << n;
  }
}

}  // namespace
}  // namespace xlb
