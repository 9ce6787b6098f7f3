// SPDX-License-Identifier: Apache-2.0
// UTF-8 validation of text that is persisted or rendered as JSON.
#include "xlb/text.h"

#include <gtest/gtest.h>

namespace xlb {
namespace {

TEST(Text, ValidUtf8) {
  EXPECT_TRUE(validUtf8(""));
  EXPECT_TRUE(validUtf8("plain ascii"));
  EXPECT_TRUE(validUtf8("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"));  // é € 😀
  EXPECT_TRUE(validUtf8("\xf4\x8f\xbf\xbf"));                           // U+10FFFF
  EXPECT_FALSE(validUtf8("\xff"));
  EXPECT_FALSE(validUtf8("a\x80"));             // a lone continuation byte
  EXPECT_FALSE(validUtf8("\xc3"));              // truncated
  EXPECT_FALSE(validUtf8("\xe2\x82"));          // truncated
  EXPECT_FALSE(validUtf8("\xc0\xaf"));          // overlong '/'
  EXPECT_FALSE(validUtf8("\xe0\x80\xaf"));      // overlong
  EXPECT_FALSE(validUtf8("\xed\xa0\x80"));      // a surrogate
  EXPECT_FALSE(validUtf8("\xf4\x90\x80\x80"));  // past U+10FFFF
  EXPECT_FALSE(validUtf8("\xc3("));             // a continuation byte missing
}

}  // namespace
}  // namespace xlb

namespace xlb {
namespace {

// The one strict number and duration parser that configuration, API and scenarios share.
TEST(Text, WholeStringNumbersAndDurations) {
  std::uint64_t v = 0;
  EXPECT_TRUE(parseUint("65535", 65535, v));
  EXPECT_EQ(v, 65535u);
  for (const char* bad : {"", "-1", "+1", "12abc", " 1", "65536", "123456789012345678901"}) {
    EXPECT_FALSE(parseUint(bad, 65535, v)) << bad;
  }
  EXPECT_EQ(parseDuration("250us"), 250'000);
  EXPECT_EQ(parseDuration("500ms"), 500 * kNsPerMs);
  EXPECT_EQ(parseDuration("2m"), 120 * kNsPerSec);
  for (const char* bad : {"5", "s", "1.5s", "-1s", "5 s", "5S", "18446744074s", "5124096h"}) {
    EXPECT_FALSE(parseDuration(bad)) << bad;
  }
}

}  // namespace
}  // namespace xlb
