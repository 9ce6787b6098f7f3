// SPDX-License-Identifier: Apache-2.0
// The TCP prober against a listener on loopback (no root, no address added): a listening port
// answers, a closed one does not, and the source address is bound as asked.
#include "xlb/tcp_probe.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

namespace xlb {
namespace {

// A listening socket on 127.0.0.1 and an ephemeral port; closed on destruction.
struct Listener {
  int fd = -1;
  std::uint16_t port = 0;
  Listener() {
    fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof sa;
    EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&sa), len), 0);
    EXPECT_EQ(::listen(fd, 16), 0);
    EXPECT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len), 0);
    port = ntohs(sa.sin_port);
  }
  ~Listener() { ::close(fd); }
};

TEST(TcpProbe, AListeningPortAnswersAndAClosedOneDoesNot) {
  Listener open;
  std::uint16_t closedPort = 0;
  {
    Listener gone;
    closedPort = gone.port;
  }
  const Address lo = *Address::parse("127.0.0.1");
  const std::atomic<bool> stop{false};
  const std::vector<ProbeTarget> targets{{lo, open.port, std::nullopt},
                                         {lo, closedPort, std::nullopt},
                                         {lo, open.port, *Address::parse("127.0.0.2")}};
  const std::vector<bool> ok = probeTcp(targets, std::chrono::milliseconds(500), stop);
  ASSERT_EQ(ok.size(), 3u);
  EXPECT_TRUE(ok[0]);
  EXPECT_FALSE(ok[1]);
  EXPECT_TRUE(ok[2]);  // from 127.0.0.2, bound explicitly
}

}  // namespace
}  // namespace xlb
