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
  // IPv4's bit per /24 first, whatever the capacity.
  EXPECT_EQ(BlockFilter::wordsFor(1000), XLB_BLOCK_FILTER_V4_WORDS + 128u);
  EXPECT_EQ(BlockFilter(1000).words(), XLB_BLOCK_FILTER_V4_WORDS + 128u);
  EXPECT_EQ(XLB_BLOCK_FILTER_V4_WORDS * 64u, 1u << 24);
}

// IPv4: a source probes the bit of its own /24, which every entry intersecting that /24 sets:
// an address in it, the /24, or a shorter prefix (the bits of all of its /24s).
TEST(BlockFilter, AnIpv4SourceProbesItsSlash24WhichEveryEntryOverItSets) {
  BlockFilter f(1000);
  EXPECT_EQ(f.bitOf(sourceAs("10.1.2.77", 32)), 0x0a0102u);
  EXPECT_EQ(f.bitOf(sourceAs("10.1.2.77", 32)), f.bitOf(prefix("10.1.2.0/24")));
  // A /16: 256 bits, four whole words.
  EXPECT_EQ(f.add(prefix("10.1.0.0/16")), (FilterWords{0x0a0100 >> 6, 4}));
  for (const char* a : {"10.1.0.1", "10.1.2.77", "10.1.255.254"}) {
    EXPECT_TRUE(bitSet(f, f.bitOf(sourceAs(a, 32)))) << a;
  }
  for (const char* a : {"10.0.255.1", "10.2.0.1", "11.1.2.77"}) {
    EXPECT_FALSE(bitSet(f, f.bitOf(sourceAs(a, 32)))) << a;
  }
  // A /26 and a /32 set their /24's bit, whatever the length: no lengths to list.
  EXPECT_EQ(f.add(prefix("172.16.9.64/26")), (FilterWords{0xac1009 >> 6, 1}));
  EXPECT_EQ(f.add(prefix("172.16.9.1/32")), std::nullopt) << "the /26 set it already";
  EXPECT_TRUE(bitSet(f, f.bitOf(sourceAs("172.16.9.200", 32))));
  EXPECT_EQ(f.add(prefix("0.0.0.0/0")), (FilterWords{0, XLB_BLOCK_FILTER_V4_WORDS}));
  EXPECT_TRUE(bitSet(f, f.bitOf(sourceAs("203.0.113.9", 32))));
  EXPECT_EQ(f.remove(prefix("0.0.0.0/0")), (FilterWords{0, XLB_BLOCK_FILTER_V4_WORDS}));
  EXPECT_FALSE(bitSet(f, f.bitOf(sourceAs("203.0.113.9", 32))));
  EXPECT_TRUE(bitSet(f, f.bitOf(sourceAs("10.1.2.77", 32)))) << "the /16 still needs it";
}

TEST(BlockFilter, AnIpv4BitClearsWithTheLastEntryThatNeedsIt) {
  BlockFilter f(1000);
  ASSERT_EQ(f.add(prefix("10.5.3.9/32")), (FilterWords{0x0a0503 >> 6, 1}));
  EXPECT_EQ(f.add(prefix("10.5.0.0/16")), (FilterWords{0x0a0500 >> 6, 4}));
  EXPECT_EQ(f.add(prefix("10.5.3.10/32")), std::nullopt);
  // The /16 goes: every /24 but 10.5.3 clears.
  EXPECT_EQ(f.remove(prefix("10.5.0.0/16")), (FilterWords{0x0a0500 >> 6, 4}));
  EXPECT_FALSE(bitSet(f, f.bitOf(sourceAs("10.5.4.1", 32))));
  EXPECT_TRUE(bitSet(f, f.bitOf(sourceAs("10.5.3.1", 32))));
  EXPECT_EQ(f.remove(prefix("10.5.3.9/32")), std::nullopt) << "10.5.3.10 still needs it";
  EXPECT_EQ(f.remove(prefix("10.5.3.10/32")), (FilterWords{0x0a0503 >> 6, 1}));
  for (std::uint32_t w = 0x0a0500 >> 6; w < (0x0a0500 >> 6) + 4; ++w) EXPECT_EQ(f.word(w), 0u);
}

TEST(BlockFilter, AnIpv4BitSaturatedStaysSet) {
  BlockFilter f(1000);
  std::vector<Prefix> same;
  for (std::uint32_t i = 0; i < 256; ++i) {
    same.push_back(Prefix{Address{Family::kV4, IpAddr::v4(0x0a000000u + i)}, 32});
  }
  for (const Prefix& p : same) f.add(p);
  for (const Prefix& p : same) EXPECT_EQ(f.remove(p), std::nullopt);
  EXPECT_TRUE(bitSet(f, 0x0a0000)) << "a count that saturated cannot tell when it reaches zero";
}

// IPv6: a hashed bit per prefix; every source under a prefix hashes to the prefix's bit when
// probed at that length.
TEST(BlockFilter, EveryIpv6SourceUnderAPrefixProbesThePrefixsBit) {
  const BlockFilter f(1000);
  EXPECT_EQ(f.bitOf(sourceAs("2001:db8:bad:1::7", 48)), f.bitOf(prefix("2001:db8:bad::/48")));
  EXPECT_EQ(f.bitOf(sourceAs("2001:db8:bad:1::7", 80)), f.bitOf(prefix("2001:db8:bad:1::/80")));
  EXPECT_EQ(f.bitOf(sourceAs("::1", 0)), f.bitOf(prefix("::/0")));
  EXPECT_GE(f.bitOf(prefix("::/0")), std::uint64_t{XLB_BLOCK_FILTER_V4_WORDS} * 64)
      << "after IPv4's words";
  // The length is part of the bit's identity.
  std::map<std::uint64_t, int> bits;
  for (const char* p : {"2001:db8::/32", "2001:db8::/33", "2001:db8::/34", "2001:db8::/35"}) {
    ++bits[f.bitOf(prefix(p))];
  }
  EXPECT_GE(bits.size(), 3u);  // four prefixes in 8,192 bits: at most one collision by chance
}

TEST(BlockFilter, AnIpv6BitClearsWithTheLastEntryThatNeedsIt) {
  BlockFilter f(1);  // 64 IPv6 bits: collisions are easy to find
  const Prefix a = prefix("2001:db8::1/128");
  Prefix b = a;
  for (std::uint32_t i = 2; f.bitOf(b) != f.bitOf(a); ++i) {
    b = prefix(("2001:db8::" + std::to_string(i % 10000) + ":" + std::to_string(i / 10000) + "/128")
                   .c_str());
  }
  const std::uint64_t bit = f.bitOf(a);
  const FilterWords word{static_cast<std::uint32_t>(bit >> 6), 1};
  ASSERT_EQ(f.add(a), word);
  EXPECT_EQ(f.add(b), std::nullopt);  // already set
  EXPECT_TRUE(bitSet(f, bit));
  EXPECT_EQ(f.remove(a), std::nullopt);
  EXPECT_TRUE(bitSet(f, bit)) << "b still needs the bit";
  EXPECT_EQ(f.remove(b), word);
  EXPECT_FALSE(bitSet(f, bit));
  EXPECT_EQ(f.word(word.first), 0u);
}

TEST(BlockFilter, TheProgramProbesTheIpv6LengthsPresentOrNoneWhenTooMany) {
  BlockFilter f(1000);
  xlb_config cfg{};
  for (const char* p : {"10.0.0.0/8", "10.1.2.3/32", "2001:db8::/32", "2001:db8:1::/48",
                        "2001:db8::7/128", "2001:db8::8/128"}) {
    f.add(prefix(p));
  }
  f.writeConfig(cfg);
  EXPECT_EQ(cfg.block_filter_log2, 13u);
  ASSERT_EQ(cfg.block_nlens6, 3u) << "IPv4's lengths are not listed";
  EXPECT_EQ(cfg.block_lens6[0], 128u);  // longest first
  EXPECT_EQ(cfg.block_lens6[1], 48u);
  EXPECT_EQ(cfg.block_lens6[2], 32u);

  f.remove(prefix("2001:db8::7/128"));
  f.writeConfig(cfg);
  EXPECT_EQ(cfg.block_nlens6, 3u) << "2001:db8::8 keeps /128";
  f.remove(prefix("2001:db8::8/128"));
  f.writeConfig(cfg);
  EXPECT_EQ(cfg.block_nlens6, 2u);

  for (unsigned len = 56; len <= 64; ++len) f.add(Prefix::of(*Address::parse("2001:db8::"), len));
  f.writeConfig(cfg);
  EXPECT_GT(cfg.block_nlens6, unsigned{XLB_BLOCK_FILTER_LENS}) << "eleven lengths: the maps decide";
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
