// SPDX-License-Identifier: Apache-2.0
// One client connection through the VIP for the pipeline's tests: each side's segments built,
// run, and the transmitted packet compared byte for byte with the one the rewrite should
// produce.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "harness.h"

namespace xlb::testing {

// One client connection through the VIP. Every transmitted packet is compared byte for byte with
// the packet the rewrite should produce, built from scratch with full checksums.
struct Flow {
  Harness& h;
  std::string client;
  std::uint16_t cport;
  std::string vip;
  std::uint16_t vport;
  std::string backend;
  std::string snatAddr;
  std::vector<std::uint16_t> vlans;
  std::uint16_t snatPort = 0;  // learned from the first SYN's rewrite
  std::uint16_t bport = 0;     // the backend's port; 0: the VIP's

  explicit Flow(Harness& harness, std::string c = "10.0.0.1", std::uint16_t cp = 40000,
                std::string v = "10.0.0.100", std::uint16_t vp = 80, std::string b = "10.0.0.11",
                std::string sn = "10.0.0.2")
      : h(harness),
        client(std::move(c)),
        cport(cp),
        vip(std::move(v)),
        vport(vp),
        backend(std::move(b)),
        snatAddr(std::move(sn)) {}

  PacketSpec base(std::uint8_t flags, std::uint32_t seq, std::uint32_t ack, Bytes payload) const {
    PacketSpec s;
    s.flags = flags;
    s.seq = seq;
    s.ack = ack;
    s.payload = std::move(payload);
    s.vlanTpids = vlans;
    return s;
  }

  Reason c(std::uint8_t flags, std::uint32_t seq, std::uint32_t ack, TimeNs now,
           Bytes payload = {}) {
    PacketSpec in = base(flags, seq, ack, payload);
    in.src = client;
    in.sport = cport;
    in.dst = vip;
    in.dport = vport;
    in.srcMac = kClientMac;
    in.dstMac = kLbMac;
    Bytes f = buildPacket(in);
    Reason r = h.run(f, now);
    if (r != Reason::kTxToBackend) return r;
    if (snatPort == 0) snatPort = parseInfo(f).sport;
    PacketSpec out = in;
    out.src = snatAddr;
    out.sport = snatPort;
    out.dport = bport != 0 ? bport : vport;
    out.dst = backend;
    out.srcMac = kLbMac;
    out.dstMac = backendMac(A(backend.c_str())).toString();
    Bytes want = buildPacket(out);
    EXPECT_EQ(f, want) << "client->backend rewrite\ngot:\n"
                       << hexDump(f) << "want:\n"
                       << hexDump(want);
    return r;
  }

  Reason s(std::uint8_t flags, std::uint32_t seq, std::uint32_t ack, TimeNs now,
           Bytes payload = {}) {
    PacketSpec in = base(flags, seq, ack, payload);
    in.src = backend;
    in.sport = bport != 0 ? bport : vport;
    in.dst = snatAddr;
    in.dport = snatPort;
    in.srcMac = backendMac(A(backend.c_str())).toString();
    in.dstMac = kLbMac;
    Bytes f = buildPacket(in);
    Reason r = h.run(f, now);
    if (r != Reason::kTxToClient) return r;
    PacketSpec out = in;
    out.src = vip;
    out.sport = vport;
    out.dst = client;
    out.dport = cport;
    out.srcMac = kLbMac;
    out.dstMac = kClientMac;
    Bytes want = buildPacket(out);
    EXPECT_EQ(f, want) << "backend->client rewrite\ngot:\n"
                       << hexDump(f) << "want:\n"
                       << hexDump(want);
    return r;
  }

  // Three-way handshake at `t`.
  void open(TimeNs t) {
    ASSERT_EQ(c(kTcpSyn, 100, 0, t), Reason::kTxToBackend);
    ASSERT_EQ(s(kTcpSyn | kTcpAck, 500, 101, t), Reason::kTxToClient);
    ASSERT_EQ(c(kTcpAck, 101, 501, t), Reason::kTxToBackend);
  }
};

}  // namespace xlb::testing
