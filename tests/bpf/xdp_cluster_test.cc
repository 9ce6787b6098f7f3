// SPDX-License-Identifier: Apache-2.0
// The XDP program's cluster stage (bpf/lib/cluster.h), in the kernel and as its native build: a
// flow a peer holds leaves by XDP_TX towards that peer with only its Ethernet addresses changed;
// everything else goes on as for a single instance.
#include <gtest/gtest.h>
#include <linux/bpf.h>
#include <sched.h>

#include <functional>

#include "fixtures.h"
#include "privileges.h"
#include "xdp_fixture.h"
#include "xlb/xdp_directory.h"
#include "xlb/xdp_program.h"

namespace xlb {
namespace {

using testing::A;
using testing::buildPacket;
using testing::Bytes;
using testing::PacketSpec;

const MacAddr kPeerMac{{0x02, 0xaa, 0, 0, 0, 0x03}};

Config clusterConfig(bool cluster, SynFloodMode mode = SynFloodMode::kOff) {
  Config c = testing::udpTestConfig();
  for (VipConfig& v : c.vips) v.synFlood.mode = v.protocol == kVipTcp ? mode : SynFloodMode::kOff;
  if (cluster) {
    c.cluster.members = {{"lb1", A("10.0.0.2")}, {"lb2", A("10.0.0.3")}};
  }
  return c;
}

// An ACK from the client: `change` edits the default spec.
PacketSpec spec(const std::function<void(PacketSpec&)>& change = nullptr) {
  PacketSpec s;
  s.flags = 0x10;
  if (change) change(s);
  return s;
}

FlowRecord flowOf(const PacketSpec& s) {
  FlowRecord f;
  const Address client = A(s.src.c_str());
  f.family = client.family;
  f.client = client.ip;
  f.vip = A(s.dst.c_str()).ip;
  f.clientPort = s.sport;
  f.vipPort = s.dport;
  f.proto = s.proto;
  f.open = true;
  return f;
}

class XdpCluster : public ::testing::TestWithParam<XdpRuntimeKind> {
 protected:
  void SetUp() override {
    if (GetParam() == XdpRuntimeKind::kKernel) XLB_REQUIRE_ROOT();
    ASSERT_TRUE(testing::pinToFirstCpu());
    XdpOptions o;
    o.runtime = GetParam();
    o.simRedirect = true;  // what would reach the engine shows as XDP_REDIRECT
    std::string err;
    prog_ = XdpProgram::load(o, err);
    ASSERT_NE(prog_, nullptr) << err;
    apply(clusterConfig(true));
    prog_->setFixedNow(1000 * kNsPerSec);
    dir_ = std::make_unique<XdpDirectory>(prog_->runtime());
    PeerSlot peers[2];
    peers[1].mac = kPeerMac;
    peers[1].up = true;
    dir_->setPeers(peers);
  }
  void apply(const Config& c) {
    std::string err;
    ASSERT_TRUE(prog_->applyConfig(c, CookieKey{1, 2}, err)) << err;
  }
  Reason run(Bytes& frame, int& action) {
    const auto before = prog_->stats();
    action = prog_->run(frame).action;
    const auto after = prog_->stats();
    for (std::size_t i = 0; i < kReasonCount; ++i) {
      if (after[i].packets != before[i].packets) return static_cast<Reason>(i);
    }
    ADD_FAILURE() << "no reason counted";
    return Reason::kPassNotIp;
  }
  std::unique_ptr<XdpProgram> prog_;
  std::unique_ptr<XdpDirectory> dir_;
};

TEST_P(XdpCluster, APeersFlowIsSentToItWithOnlyTheEthernetAddressesChanged) {
  for (PacketSpec s : {spec(), spec([](PacketSpec& p) {
                         p.src = "2001:db8::1";
                         p.dst = "2001:db8::100";
                       }),
                       spec([](PacketSpec& p) {
                         p.proto = 17;
                         p.dport = 53;
                       })}) {
    SCOPED_TRACE(s.src + " proto " + std::to_string(s.proto));
    s.payload = Bytes(64, 0x5a);
    ASSERT_TRUE(dir_->put(flowOf(s), 1));
    const Bytes in = buildPacket(s);
    Bytes frame = in;
    int action = -1;
    EXPECT_EQ(run(frame, action), Reason::kTxToPeer);
    EXPECT_EQ(action, XDP_TX);
    ASSERT_EQ(frame.size(), in.size());
    EXPECT_TRUE(std::equal(frame.begin(), frame.begin() + 6, kPeerMac.bytes.begin()));
    EXPECT_TRUE(std::equal(frame.begin() + 6, frame.begin() + 12, in.begin()));  // our own MAC
    EXPECT_TRUE(std::equal(frame.begin() + 12, frame.end(), in.begin() + 12));
  }
}

TEST_P(XdpCluster, OtherFlowsAndOtherClientsGoToTheEngine) {
  const PacketSpec s = spec();
  ASSERT_TRUE(dir_->put(flowOf(s), 1));
  for (const PacketSpec& other : {spec([](PacketSpec& p) { p.sport = 40001; }),
                                  spec([](PacketSpec& p) { p.src = "10.0.0.9"; }),
                                  spec([](PacketSpec& p) { p.dport = 443; })}) {
    Bytes frame = buildPacket(other);
    int action = -1;
    EXPECT_EQ(run(frame, action), Reason::kRedirect);
    EXPECT_EQ(action, XDP_REDIRECT);
  }
}

TEST_P(XdpCluster, AFrameFromAPeerIsNeverSentOnAgain) {
  PacketSpec s;
  s.flags = 0x10;
  s.srcMac = kPeerMac.toString();
  ASSERT_TRUE(dir_->put(flowOf(s), 1));
  Bytes frame = buildPacket(s);
  int action = -1;
  EXPECT_EQ(run(frame, action), Reason::kPeerLoop);
  EXPECT_EQ(action, XDP_REDIRECT);
}

TEST_P(XdpCluster, APeerThatIsNotUpOrASingleInstanceKeepsTheFlow) {
  PacketSpec s;
  s.flags = 0x10;
  ASSERT_TRUE(dir_->put(flowOf(s), 1));
  PeerSlot down[2];
  dir_->setPeers(down);
  Bytes frame = buildPacket(s);
  int action = -1;
  EXPECT_EQ(run(frame, action), Reason::kRedirect);
  PeerSlot up[2];
  up[1] = {kPeerMac, true};
  dir_->setPeers(up);
  apply(clusterConfig(false));  // the directory is not asked without cluster:
  frame = buildPacket(s);
  EXPECT_EQ(run(frame, action), Reason::kRedirect);
}

// A SYN opens a new connection where the router sent it: not forwarded, and the peer's claim on
// the tuple (an earlier connection it holds) is dropped so the rest of the handshake stays here.
TEST_P(XdpCluster, ASynOfAPeersTupleOpensItHere) {
  PacketSpec s = spec();
  s.flags = 0x02;
  ASSERT_TRUE(dir_->put(flowOf(s), 1));
  Bytes frame = buildPacket(s);
  int action = -1;
  EXPECT_EQ(run(frame, action), Reason::kRedirect);
  PacketSpec ack = spec();
  frame = buildPacket(ack);
  EXPECT_EQ(run(frame, action), Reason::kRedirect);  // no longer the peer's
  // In cookie mode the SYN is answered here as any other.
  apply(clusterConfig(true, SynFloodMode::kAlways));
  ASSERT_TRUE(dir_->put(flowOf(s), 1));
  frame = buildPacket(s);
  EXPECT_EQ(run(frame, action), Reason::kTxSyncookie);
  frame = buildPacket(ack);
  EXPECT_EQ(run(frame, action), Reason::kRedirect);
}

INSTANTIATE_TEST_SUITE_P(Runtimes, XdpCluster,
                         ::testing::Values(XdpRuntimeKind::kKernel, XdpRuntimeKind::kNative),
                         [](const auto& i) {
                           return std::string(i.param == XdpRuntimeKind::kKernel ? "Kernel"
                                                                                 : "Native");
                         });

}  // namespace
}  // namespace xlb
