// SPDX-License-Identifier: Apache-2.0
// The DSR backends' decapsulation program (bpf/xlb_decap.bpf.c) through BPF_PROG_TEST_RUN: what
// the pipeline encapsulates for a DSR VIP (encapsulation: ipip) comes out as the client's own
// packet, IPv4 and IPv6; other traffic passes untouched; broken encapsulations are counted drops.
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <gtest/gtest.h>
#include <linux/bpf.h>

#include <vector>

#include "harness.h"
#include "privileges.h"
#include "xlb_decap.skel.h"

namespace xlb {
namespace {

using testing::Bytes;
using testing::Harness;
using testing::PacketSpec;
using testing::sec;

class Decap : public ::testing::Test {
 protected:
  void SetUp() override {
    XLB_REQUIRE_ROOT();
    skel_ = xlb_decap__open_and_load();
    ASSERT_NE(skel_, nullptr) << "cannot load xlb_decap.bpf.o";
  }
  void TearDown() override {
    if (skel_ != nullptr) xlb_decap__destroy(skel_);
  }
  // Runs one frame; returns the action and leaves the output in `out`.
  int run(const Bytes& in, Bytes& out) {
    out.assign(in.size() + 256, 0);
    bpf_test_run_opts o{};  // by hand: LIBBPF_OPTS is a GNU statement expression
    o.sz = sizeof o;
    o.data_in = in.data();
    o.data_out = out.data();
    o.data_size_in = static_cast<__u32>(in.size());
    o.data_size_out = static_cast<__u32>(out.size());
    o.repeat = 1;
    EXPECT_EQ(bpf_prog_test_run_opts(bpf_program__fd(skel_->progs.xlb_decap), &o), 0);
    out.resize(o.data_size_out);
    return static_cast<int>(o.retval);
  }
  std::uint64_t counted(std::uint32_t what) {
    const int n = libbpf_num_possible_cpus();
    std::vector<xlb_stat> v(static_cast<std::size_t>(n));
    EXPECT_EQ(bpf_map_lookup_elem(bpf_map__fd(skel_->maps.xlb_decap_stats), &what, v.data()), 0);
    std::uint64_t total = 0;
    for (const xlb_stat& s : v) total += s.packets;
    return total;
  }
  xlb_decap* skel_ = nullptr;
};

// The frame the pipeline sends a DSR backend for `client` (a DSR VIP, ipip), and what the
// backend's stack must receive: the client's packet with the LB's and backend's MACs.
struct Encapsulated {
  Bytes frame;
  Bytes inner;
};

Encapsulated throughPipeline(const PacketSpec& client, const char* vip) {
  Config c = testing::testConfig();
  for (VipConfig& v : c.vips) {
    if (v.address.toString() == vip) {
      v.forwarding = Forwarding::kDsr;
      v.encapsulation = DsrEncap::kIpip;
    }
  }
  Harness h(c);
  Encapsulated e;
  e.frame = testing::buildPacket(client);
  EXPECT_EQ(h.run(e.frame, sec(1)), Reason::kTxToBackend);
  PacketSpec inner = client;
  inner.srcMac = testing::kLbMac;
  const std::string backend = std::string(vip) == "10.0.0.100" ? "10.0.0.11" : "2001:db8::11";
  inner.dstMac = testing::backendMac(testing::A(backend.c_str())).toString();
  e.inner = testing::buildPacket(inner);
  return e;
}

TEST_F(Decap, WhatTheLbEncapsulatesArrivesAsTheClientsOwnPacket) {
  PacketSpec syn;
  syn.flags = kTcpSyn;
  syn.payload.assign(100, 'x');
  const Encapsulated v4 = throughPipeline(syn, "10.0.0.100");
  ASSERT_EQ(v4.frame.size(), v4.inner.size() + 20);
  Bytes out;
  EXPECT_EQ(run(v4.frame, out), XDP_PASS);
  EXPECT_EQ(out, v4.inner) << testing::hexDump(out);
  PacketSpec syn6 = syn;
  syn6.src = "2001:db8::1";
  syn6.dst = "2001:db8::100";
  const Encapsulated v6 = throughPipeline(syn6, "2001:db8::100");
  ASSERT_EQ(v6.frame.size(), v6.inner.size() + 40);
  EXPECT_EQ(run(v6.frame, out), XDP_PASS);
  EXPECT_EQ(out, v6.inner) << testing::hexDump(out);
  EXPECT_EQ(counted(XLB_DECAP_DONE), 2u);
}

TEST_F(Decap, OtherTrafficPassesUntouchedAndBrokenEncapsulationsAreDropped) {
  const Bytes plain = testing::buildPacket(PacketSpec{});
  Bytes out;
  EXPECT_EQ(run(plain, out), XDP_PASS);
  EXPECT_EQ(out, plain);
  PacketSpec syn;
  syn.flags = kTcpSyn;
  Encapsulated e = throughPipeline(syn, "10.0.0.100");
  Bytes cut = e.frame;
  cut.resize(14 + 20 + 10);  // the inner header cut short
  EXPECT_EQ(run(cut, out), XDP_DROP);
  Bytes lying = e.frame;
  lying[14 + 3] = static_cast<std::uint8_t>(lying[14 + 3] + 4);  // outer length disagrees
  EXPECT_EQ(run(lying, out), XDP_DROP);
  EXPECT_EQ(counted(XLB_DECAP_PASS), 1u);
  EXPECT_EQ(counted(XLB_DECAP_MALFORMED), 2u);
  EXPECT_EQ(counted(XLB_DECAP_DONE), 0u);
}

}  // namespace
}  // namespace xlb
