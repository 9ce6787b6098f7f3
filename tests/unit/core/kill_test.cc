// SPDX-License-Identifier: Apache-2.0
// Operator kill in the pipeline: the probes each end gets, the resets their answers turn into
// (sequence numbers exact, as RFC 5961 demands), the entry's end, and per-backend counters.
#include <gtest/gtest.h>

#include "frame_checks.h"
#include "harness.h"
#include "xlb/checksum.h"

namespace xlb {
namespace {

using testing::A;
using testing::buildPacket;
using testing::Bytes;
using testing::expectValidChecksums;
using testing::Harness;
using testing::PacketSpec;
using testing::parseInfo;
using testing::sec;

constexpr TimeNs kT0 = 100 * kNsPerSec;

ConnFilter clientFilter(std::uint16_t port) {
  ConnFilter f;
  f.client = A("10.0.0.1");
  f.clientPort = port;
  return f;
}

struct Established {
  Harness h;
  std::uint16_t snatPort = 0;
  Established() {
    PacketSpec syn;  // 10.0.0.1:40000 -> VIP 10.0.0.100:80, seq 1000
    Bytes f = buildPacket(syn);
    EXPECT_EQ(h.run(f, kT0), Reason::kTxToBackend);
    snatPort = parseInfo(f).sport;
    Bytes sa = fromBackend(kTcpSyn | kTcpAck, 5000, 1001, {});
    EXPECT_EQ(h.run(sa, kT0), Reason::kTxToClient);
    Bytes ack = fromClient(kTcpAck, 1001, 5001, {'h', 'i'});
    EXPECT_EQ(h.run(ack, kT0), Reason::kTxToBackend);
  }
  Bytes fromClient(std::uint8_t flags, std::uint32_t seq, std::uint32_t ack, Bytes payload) {
    PacketSpec p;
    p.flags = flags;
    p.seq = seq;
    p.ack = ack;
    p.payload = std::move(payload);
    return buildPacket(p);
  }
  Bytes fromBackend(std::uint8_t flags, std::uint32_t seq, std::uint32_t ack, Bytes payload) {
    PacketSpec p;
    p.src = "10.0.0.11";
    p.dst = "10.0.0.2";
    p.sport = 80;
    p.dport = snatPort;
    p.flags = flags;
    p.seq = seq;
    p.ack = ack;
    p.payload = std::move(payload);
    return buildPacket(p);
  }
};

TEST(Kill, BackendCountersFollowTheConnection) {
  Established c;
  const std::uint16_t id = c.h.snap->vips()[0].backends[0].id;
  EXPECT_EQ(c.h.table->activeForBackend(id), 1u);
  EXPECT_EQ(c.h.pipe->backendCounters(id).created, 1u);
  // Frames as sent: SYN and ACK with two bytes of data to the backend, the SYN-ACK back.
  EXPECT_EQ(c.h.pipe->backendCounters(id).bytesToBackend, 54u + 56u);
  EXPECT_EQ(c.h.pipe->backendCounters(id).bytesToClient, 54u);
  Bytes rst = c.fromClient(kTcpRst | kTcpAck, 1003, 5001, {});
  EXPECT_EQ(c.h.run(rst, kT0), Reason::kTxToBackend);
  c.h.tick(kT0 + sec(2));
  EXPECT_EQ(c.h.table->activeForBackend(id), 0u);
  EXPECT_EQ(c.h.pipe->backendCounters(id).created, 1u);
}

TEST(Kill, ProbesBothEndsThenResetsEachAtItsExactSequence) {
  Established c;
  EXPECT_EQ(c.h.pipe->kill(clientFilter(40001), kT0), 0u);
  ASSERT_EQ(c.h.pipe->kill(clientFilter(40000), kT0), 1u);
  EXPECT_EQ(c.h.table->activeIn(TcpState::kKilled), 1u);
  ASSERT_EQ(c.h.pipe->emitted().size(), 2u);
  std::vector<Bytes> probes;
  for (const Emitted& e : c.h.pipe->emitted()) probes.emplace_back(e.data, e.data + e.len);
  for (const Bytes& p : probes) expectValidChecksums(p);
  const PacketInfo toClient = parseInfo(probes[0]);
  EXPECT_EQ(toClient.src, A("10.0.0.100").ip);
  EXPECT_EQ(toClient.dst, A("10.0.0.1").ip);
  EXPECT_EQ(toClient.sport, 80);
  EXPECT_EQ(toClient.dport, 40000);
  EXPECT_EQ(toClient.tcpFlags, kTcpAck);
  EXPECT_EQ(MacAddr::parse("02:00:00:00:00:01")->bytes[5], probes[0][5]);  // the client's MAC
  // Far outside the client's window around 5001.
  EXPECT_GT(static_cast<std::uint32_t>(toClient.seq - 5001), 1u << 24);
  const PacketInfo toBackend = parseInfo(probes[1]);
  EXPECT_EQ(toBackend.src, A("10.0.0.2").ip);
  EXPECT_EQ(toBackend.dst, A("10.0.0.11").ip);
  EXPECT_EQ(toBackend.sport, c.snatPort);
  EXPECT_EQ(toBackend.dport, 80);
  EXPECT_EQ(Bytes(probes[1].begin(), probes[1].begin() + 6), (Bytes{0x02, 0xbb, 10, 0, 0, 11}));

  // The client answers the probe with its numbers: SND.NXT 1003, RCV.NXT 5001.
  Bytes dup = c.fromClient(kTcpAck, 1003, 5001, {});
  EXPECT_EQ(c.h.run(dup, kT0 + sec(0.01)), Reason::kTxKillRst);
  expectValidChecksums(dup);
  const PacketInfo onward = parseInfo(dup);
  EXPECT_EQ(onward.dst, A("10.0.0.11").ip);
  EXPECT_EQ(onward.dport, 80);
  EXPECT_EQ(onward.sport, c.snatPort);
  EXPECT_EQ(onward.tcpFlags, kTcpRst);
  EXPECT_EQ(onward.seq, 1003u);
  ASSERT_EQ(c.h.emitted.size(), 1u);
  expectValidChecksums(c.h.emitted[0]);
  const PacketInfo back = parseInfo(c.h.emitted[0]);
  EXPECT_EQ(back.src, A("10.0.0.100").ip);
  EXPECT_EQ(back.dst, A("10.0.0.1").ip);
  EXPECT_EQ(back.dport, 40000);
  EXPECT_EQ(back.tcpFlags, kTcpRst);
  EXPECT_EQ(back.seq, 5001u);

  // The backend's answer does the same the other way.
  Bytes fromB = c.fromBackend(kTcpAck, 5001, 1003, {});
  EXPECT_EQ(c.h.run(fromB, kT0 + sec(0.02)), Reason::kTxKillRst);
  const PacketInfo toC = parseInfo(fromB);
  EXPECT_EQ(toC.dst, A("10.0.0.1").ip);
  EXPECT_EQ(toC.seq, 5001u);
  EXPECT_EQ(toC.tcpFlags, kTcpRst);
  ASSERT_EQ(c.h.emitted.size(), 1u);
  EXPECT_EQ(parseInfo(c.h.emitted[0]).seq, 1003u);
  EXPECT_EQ(parseInfo(c.h.emitted[0]).dst, A("10.0.0.11").ip);

  // A reset from an end is the end of it; the entry leaves after the RST grace, counted killed.
  Bytes rst = c.fromClient(kTcpRst, 1003, 0, {});
  EXPECT_EQ(c.h.run(rst, kT0 + sec(0.03)), Reason::kNoConntrack);
  EXPECT_EQ(c.h.pipe->kill(clientFilter(40000), kT0), 0u);  // once
  c.h.tick(kT0 + sec(1.5));
  EXPECT_EQ(c.h.table->active(), 0u);
  EXPECT_EQ(c.h.table->closed(CloseReason::kKilled), 1u);
  EXPECT_EQ(c.h.snat->portsInUse(), 0u);
}

}  // namespace
}  // namespace xlb
