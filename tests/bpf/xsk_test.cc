// SPDX-License-Identifier: Apache-2.0
// AF_XDP for real: the XDP program attached to a veth in a private network namespace, a worker on
// its AF_XDP socket, frames injected from the peer with a packet socket. After a mix of frames the
// engine transmits, the engine drops and XDP drops, every UMEM frame is back in its place and
// exactly the transmitted frames came out of the peer.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <set>

#include "harness.h"
#include "privileges.h"
#include "xlb/worker.h"
#include "xlb/xdp_attach.h"
#include "xlb/xdp_program.h"
#include "xlb/xsk_io.h"

namespace xlb {
namespace {

using testing::Bytes;
using testing::PacketSpec;

int run(const std::string& cmd) {
  return std::system(cmd.c_str());
}

class Xsk : public ::testing::Test {
 protected:
  void SetUp() override {
    XLB_REQUIRE_ROOT();
    // A namespace of our own: the veth pair vanishes with the process, whatever happens.
    ASSERT_EQ(unshare(CLONE_NEWNET), 0) << std::strerror(errno);
    ASSERT_EQ(run("ip link add xa type veth peer name xb && ip link set xa up && "
                  "ip link set xb up && ip link set lo up && "
                  "ethtool -K xa tx off rx off tso off gso off gro off >/dev/null 2>&1; "
                  "ethtool -K xb tx off rx off tso off gso off gro off >/dev/null 2>&1; true"),
              0);
  }
};

TEST_F(Xsk, FrameAccountingIsExactAfterMixedVerdicts) {
  std::string err, note;
  Config config = testing::testConfig();
  auto prog = XdpProgram::load(XdpOptions{}, err);
  ASSERT_NE(prog, nullptr) << err;
  const CookieKey key{1, 2};
  ASSERT_TRUE(prog->applyConfig(config, key, err)) << err;
  XskOptions xo;
  xo.interface = "xa";
  xo.frames = 256;
  auto io = XskIo::open(xo, err);
  ASSERT_NE(io, nullptr) << err;
  EXPECT_FALSE(io->zeroCopy());  // veth offers copy mode only
  ASSERT_TRUE(prog->setXsk(0, io->fd(), err)) << err;
  auto attach = XdpAttachment::attach("xa", prog->progFd(), XdpMode::kNative, err, note);
  ASSERT_NE(attach, nullptr) << err;
  EXPECT_TRUE(io->accounting().balanced());

  Worker worker(0, 1, config, *io, nullptr, key, 7);
  worker.publish(
      Snapshot::fromConfig(config, *MacAddr::parse(testing::kLbMac), testing::backendMac));

  // A packet socket on the peer: injects frames into xa and sees what xa transmits.
  const int ps = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL));
  ASSERT_GE(ps, 0);
  sockaddr_ll ll{};
  ll.sll_family = AF_PACKET;
  ll.sll_protocol = htons(ETH_P_ALL);
  ll.sll_ifindex = static_cast<int>(if_nametoindex("xb"));
  ASSERT_EQ(bind(ps, reinterpret_cast<sockaddr*>(&ll), sizeof ll), 0);
  // Room for every frame xa sends back (SYNs and their retransmissions) until they are read.
  const int rcvbuf = 8 << 20;
  ASSERT_EQ(setsockopt(ps, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf), 0);

  // 600 frames: 200 SYNs (new connections: transmitted to the backend), 200 stray ACKs (engine
  // drops), 200 to port 22 (XDP drops, never reach the socket). More than the UMEM holds, so
  // frames must come back to be reused.
  int sent = 0;
  for (int i = 0; i < 600; ++i) {
    PacketSpec s;
    s.dstMac = testing::kLbMac;
    s.sport = static_cast<std::uint16_t>(20000 + i);
    s.flags = i % 3 == 0 ? 0x02 : 0x10;
    s.dport = i % 3 == 2 ? 22 : 80;
    const Bytes f = testing::buildPacket(s);
    if (send(ps, f.data(), f.size(), 0) == static_cast<ssize_t>(f.size())) ++sent;
    if (i % 16 == 15) {
      for (int k = 0; k < 4; ++k) worker.step(monotonicNow());
    }
  }
  ASSERT_EQ(sent, 600);
  for (int k = 0; k < 200; ++k) {
    worker.step(monotonicNow());
    usleep(1000);
  }
  // What came back out of xa: only the rewritten SYNs, addressed to the backend's MAC; the
  // backend is not there, so xlb also sends some of them again on its own timer.
  int toBackend = 0;
  std::set<std::uint16_t> distinct;
  std::uint8_t buf[2048];
  for (;;) {
    const ssize_t n = recv(ps, buf, sizeof buf, MSG_DONTWAIT);
    if (n <= 0) break;
    const MacAddr want = testing::backendMac(testing::A("10.0.0.11"));
    if (!std::equal(buf, buf + 6, want.bytes.begin())) continue;
    ++toBackend;
    distinct.insert(testing::parseInfo(buf, static_cast<std::size_t>(n)).sport);
  }
  close(ps);
  const auto xdp = prog->stats();
  const WorkerCounters& c = worker.pipeline().counters();
  EXPECT_EQ(xdp[static_cast<std::size_t>(Reason::kRedirect)].packets, 400u);
  EXPECT_EQ(xdp[static_cast<std::size_t>(Reason::kPortFilter)].packets, 200u);
  EXPECT_EQ(c.of(Reason::kTxToBackend), 200u);
  EXPECT_EQ(c.of(Reason::kNoConntrack), 200u);
  EXPECT_EQ(distinct.size(), 200u);
  EXPECT_EQ(io->counters().rxFrames, 400u);
  // Out of xa came exactly what the socket transmitted. Retransmissions that fall due together
  // wait for room in the TX ring (BatchIo::txRoom) instead of overflowing it; whatever else
  // could not go out is a counted drop, never a lost frame.
  worker.publishNow();
  const std::uint64_t lost = io->counters().txRingFull + worker.stats().sendDrops;
  EXPECT_EQ(static_cast<std::uint64_t>(toBackend), io->counters().txFrames);
  EXPECT_EQ(io->counters().txFrames + lost, 200u + c.synRetransmits)
      << io->counters().txRingFull << " TX ring full, " << worker.stats().sendDrops
      << " without a frame";
  EXPECT_LE(lost, c.synRetransmits);  // the 200 forwarded SYNs always go out
  const FrameAccounting a = io->accounting();
  EXPECT_TRUE(a.balanced()) << a.free << " free, " << a.fill << " fill, " << a.inApp << " app, "
                            << a.inTx << " tx of " << a.total;
  EXPECT_EQ(a.inApp, 0u);
  EXPECT_EQ(a.inTx, 0u);  // every transmitted frame completed and came back
  EXPECT_EQ(a.free + a.fill, a.total);
  const XskKernelStats k = io->kernelStats();
  EXPECT_EQ(k.rxDropped + k.fillRingEmpty, 0u);
}

}  // namespace
}  // namespace xlb
