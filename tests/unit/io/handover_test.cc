// SPDX-License-Identifier: Apache-2.0
// The hand-over channel: framed messages with descriptors between two processes' ends.
#include "xlb/handover.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>

namespace xlb {
namespace {

using namespace std::chrono_literals;

TEST(Handover, AMessageCarriesItsBodyAndWorkingDescriptors) {
  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  HandoverChannel a(sv[0]), b(sv[1]);
  int p[2];
  ASSERT_EQ(pipe(p), 0);
  HandoverWriter w;
  w.put(std::uint32_t{7}).put(std::uint64_t{0x1122334455667788ull});
  ASSERT_TRUE(a.send(HandoverMsg::kState, w.bytes(), {p[0]}));
  close(p[0]);  // the receiver's copy keeps the pipe's read end open
  HandoverFrame f;
  std::string err;
  ASSERT_TRUE(b.receive(f, 1000ms, err)) << err;
  EXPECT_EQ(f.type, HandoverMsg::kState);
  HandoverReader r(f.body);
  std::uint32_t x = 0;
  std::uint64_t y = 0;
  ASSERT_TRUE(r.get(x));
  ASSERT_TRUE(r.get(y));
  EXPECT_EQ(x, 7u);
  EXPECT_EQ(y, 0x1122334455667788ull);
  EXPECT_FALSE(r.get(x));  // nothing more
  ASSERT_EQ(f.fds.size(), 1u);
  ASSERT_EQ(write(p[1], "hi", 2), 2);
  char buf[2] = {};
  EXPECT_EQ(read(f.fds[0], buf, 2), 2);
  EXPECT_EQ(std::string(buf, 2), "hi");
  close(f.fds[0]);
  close(p[1]);
}

TEST(Handover, SilenceAClosedPeerAndGarbageAreErrorsNotHangs) {
  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  HandoverChannel b(sv[1]);
  HandoverFrame f;
  std::string err;
  EXPECT_FALSE(b.receive(f, 50ms, err));
  EXPECT_FALSE(err.empty());
  const std::uint32_t garbage[2] = {999, 4};
  ASSERT_EQ(write(sv[0], garbage, sizeof garbage), static_cast<ssize_t>(sizeof garbage));
  err.clear();
  EXPECT_FALSE(b.receive(f, 200ms, err));
  EXPECT_NE(err.find("malformed"), std::string::npos) << err;
  close(sv[0]);
  err.clear();
  EXPECT_FALSE(b.receive(f, 200ms, err));
}

TEST(Handover, TheListenerAcceptsWhoConnectsAndNobodyIsNoError) {
  char tmpl[] = "/tmp/xlb-handover-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string path = std::string(tmpl) + "/handover.sock";
  EXPECT_EQ(HandoverChannel::connect(path), nullptr);  // nobody listens: a normal start
  std::string err;
  auto l = HandoverListener::listen(path, err);
  ASSERT_NE(l, nullptr) << err;
  EXPECT_EQ(l->accept(), nullptr);  // never blocks
  auto c = HandoverChannel::connect(path);
  ASSERT_NE(c, nullptr);
  auto s = l->accept();
  ASSERT_NE(s, nullptr);
  ASSERT_TRUE(c->send(HandoverMsg::kHello, {}));
  HandoverFrame f;
  ASSERT_TRUE(s->receive(f, 1000ms, err)) << err;
  EXPECT_EQ(f.type, HandoverMsg::kHello);
  std::filesystem::remove_all(tmpl);
}

}  // namespace
}  // namespace xlb
