// SPDX-License-Identifier: Apache-2.0
// The loader's side of the blocklist filter (engine/bpf/block_filter.cc): which bit stands for
// a prefix, when a bit is set and cleared, and what the program is told to probe. The program's
// side, on both runtimes, is in tests/bpf/xdp_test.cc.
#include "xlb/block_filter.h"

#include <gtest/gtest.h>

#include <map>

namespace xlb {
namespace {

Prefix prefix(const char* text) {
  return *Prefix::parse(text);
}

// A prefix whose address keeps its host bits: what the program hashes for a source address.
Prefix sourceAs(const char* addr, unsigned length) {
  return Prefix{*Address::parse(addr), static_cast<std::uint8_t>(length)};
}

bool bitSet(const BlockFilter& f, std::uint64_t bit) {
  return (f.word(static_cast<std::uint32_t>(bit >> 6)) >> (bit & 63)) & 1;
}

TEST(BlockFilter, SizedByCapacityWithinItsBounds) {
  EXPECT_EQ(BlockFilter::log2For(1000), 13u);  // 8,000 bits, rounded up
  EXPECT_EQ(BlockFilter::log2For(1'000'000), 23u);
  EXPECT_EQ(BlockFilter::log2For(1), 6u);  // one word
  EXPECT_EQ(BlockFilter::log2For(100'000'000), unsigned{XLB_BLOCK_FILTER_MAX_LOG2});
  EXPECT_EQ(BlockFilter::wordsFor(1000), 128u);
  EXPECT_EQ(BlockFilter(1000).words(), 128u);
}

TEST(BlockFilter, EverySourceUnderAPrefixProbesThePrefixsBit) {
  const BlockFilter f(1000);
  EXPECT_EQ(f.bitOf(sourceAs("10.1.2.77", 24)), f.bitOf(prefix("10.1.2.0/24")));
  EXPECT_EQ(f.bitOf(sourceAs("10.1.255.1", 16)), f.bitOf(prefix("10.1.0.0/16")));
  EXPECT_EQ(f.bitOf(sourceAs("2001:db8:bad:1::7", 48)), f.bitOf(prefix("2001:db8:bad::/48")));
  EXPECT_EQ(f.bitOf(sourceAs("2001:db8:bad:1::7", 80)), f.bitOf(prefix("2001:db8:bad:1::/80")));
  EXPECT_EQ(f.bitOf(sourceAs("1.2.3.4", 0)), f.bitOf(prefix("0.0.0.0/0")));
  // The length and the family are part of the bit's identity.
  std::map<std::uint64_t, int> bits;
  for (const char* p : {"10.1.2.0/24", "10.1.2.0/25", "10.1.2.0/26", "::a01:200/120"}) {
    ++bits[f.bitOf(prefix(p))];
  }
  EXPECT_GE(bits.size(), 3u);  // four prefixes in 8,192 bits: at most one collision by chance
}

TEST(BlockFilter, ABitClearsWithTheLastEntryThatNeedsIt) {
  BlockFilter f(1);  // 64 bits: collisions are easy to find
  const Prefix a = prefix("10.0.0.1/32");
  Prefix b = a;
  for (std::uint32_t i = 2; f.bitOf(b) != f.bitOf(a); ++i)
    b = prefix(("10.0." + std::to_string(i >> 8) + "." + std::to_string(i & 255)).c_str());
  const std::uint64_t bit = f.bitOf(a);
  ASSERT_EQ(f.add(a), static_cast<std::uint32_t>(bit >> 6));  // the word changed
  EXPECT_EQ(f.add(b), std::nullopt);                          // already set
  EXPECT_TRUE(bitSet(f, bit));
  EXPECT_EQ(f.remove(a), std::nullopt);
  EXPECT_TRUE(bitSet(f, bit)) << "b still needs the bit";
  EXPECT_EQ(f.remove(b), static_cast<std::uint32_t>(bit >> 6));
  EXPECT_FALSE(bitSet(f, bit));
  EXPECT_EQ(f.word(static_cast<std::uint32_t>(bit >> 6)), 0u);
}

TEST(BlockFilter, ASaturatedBitStaysSet) {
  BlockFilter f(1);
  std::vector<Prefix> same;
  const std::uint64_t bit = f.bitOf(prefix("10.0.0.1/32"));
  for (std::uint32_t i = 1; same.size() < 256; ++i) {
    const Prefix p{Address{Family::kV4, IpAddr::v4(0x0a000000u + i)}, 32};
    if (f.bitOf(p) == bit) same.push_back(p);
  }
  for (const Prefix& p : same) f.add(p);
  for (const Prefix& p : same) EXPECT_EQ(f.remove(p), std::nullopt);
  EXPECT_TRUE(bitSet(f, bit)) << "a count that saturated cannot tell when it reaches zero";
}

TEST(BlockFilter, TheProgramProbesTheLengthsPresentOrNoneWhenTooMany) {
  BlockFilter f(1000);
  xlb_config cfg{};
  for (const char* p :
       {"10.0.0.0/8", "10.1.2.0/24", "10.1.2.3/32", "10.9.9.9/32", "2001:db8::/32"}) {
    f.add(prefix(p));
  }
  f.writeConfig(cfg);
  EXPECT_EQ(cfg.block_filter_log2, 13u);
  ASSERT_EQ(cfg.block_nlens4, 3u);
  EXPECT_EQ(cfg.block_lens4[0], 32u);  // longest first
  EXPECT_EQ(cfg.block_lens4[1], 24u);
  EXPECT_EQ(cfg.block_lens4[2], 8u);
  ASSERT_EQ(cfg.block_nlens6, 1u);
  EXPECT_EQ(cfg.block_lens6[0], 32u);

  f.remove(prefix("10.1.2.3/32"));
  f.writeConfig(cfg);
  EXPECT_EQ(cfg.block_nlens4, 3u) << "10.9.9.9/32 keeps /32";
  f.remove(prefix("10.9.9.9/32"));
  f.writeConfig(cfg);
  EXPECT_EQ(cfg.block_nlens4, 2u);

  for (unsigned len = 9; len <= 16; ++len) f.add(Prefix::of(*Address::parse("172.16.0.0"), len));
  f.writeConfig(cfg);
  EXPECT_GT(cfg.block_nlens4, unsigned{XLB_BLOCK_FILTER_LENS}) << "ten lengths: the maps decide";
}

// The config's block_maps bits (which maps the program asks) and the entry count follow the
// per-length counts: a full-length prefix lives in a family's hash map, a shorter one in its trie.
TEST(BlockFilter, TheMapsAskedAndTheEntriesFollowWhatIsOnTheList) {
  BlockFilter f(1000);
  xlb_config cfg{};
  f.writeConfig(cfg);
  EXPECT_EQ(cfg.block_maps, 0u);
  EXPECT_EQ(f.entries(), 0u);
  const struct {
    const char* prefix;
    std::uint8_t bit;
  } kSteps[] = {{"10.1.2.3/32", XLB_BLOCK_V4_EXACT},
                {"10.0.0.0/0", XLB_BLOCK_V4_LPM},
                {"2001:db8::1/128", XLB_BLOCK_V6_EXACT},
                {"2001:db8::/127", XLB_BLOCK_V6_LPM}};
  std::uint8_t want = 0;
  for (const auto& step : kSteps) {
    f.add(prefix(step.prefix));
    want = static_cast<std::uint8_t>(want | step.bit);
    f.writeConfig(cfg);
    EXPECT_EQ(cfg.block_maps, want) << step.prefix;
  }
  EXPECT_EQ(f.entries(), 4u);
  for (const auto& step : kSteps) {
    f.remove(prefix(step.prefix));
    want = static_cast<std::uint8_t>(want & ~step.bit);
    f.writeConfig(cfg);
    EXPECT_EQ(cfg.block_maps, want) << step.prefix;
  }
  EXPECT_EQ(f.entries(), 0u);
}

}  // namespace
}  // namespace xlb
