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
