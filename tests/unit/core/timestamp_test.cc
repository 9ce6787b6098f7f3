// SPDX-License-Identifier: Apache-2.0
// SNAT port reuse against backends' TIME_WAIT: a forwarded SYN's TSval comes from the LB's own
// clock, so a backend sees every new connection on a reused (SNAT address, port) as newer than
// the last (RFC 6191); the shift is kept both ways for the connection's life. Checked on the
// bytes: values, checksums, and the counters that show the pressure.
#include <gtest/gtest.h>

#include "frame_checks.h"
#include "harness.h"

namespace xlb {
namespace {

using testing::Bytes;
using testing::Harness;
using testing::PacketSpec;
using testing::sec;

struct Ends {
  Harness& h;
  std::string client = "10.0.0.1";
  std::uint16_t cport = 40000;
  std::uint16_t snatPort = 0;

  // Client -> VIP with a timestamp option (none when `ts` is false); returns the frame as sent.
  Bytes fromClient(std::uint8_t flags, std::uint32_t tsval, std::uint32_t tsecr, TimeNs now,
                   Reason want = Reason::kTxToBackend, Bytes options = {}, bool ts = true) {
    PacketSpec p;
    p.src = client;
    p.sport = cport;
    p.dst = "10.0.0.100";
    p.dport = 80;
    p.flags = flags;
    p.srcMac = testing::kClientMac;
    p.dstMac = testing::kLbMac;
    p.tcpOptions = options.empty() && ts ? testing::optTimestamp(tsval, tsecr) : options;
    Bytes f = testing::buildPacket(p);
    EXPECT_EQ(h.run(f, now), want);
    if (want == Reason::kTxToBackend) {
      testing::expectValidChecksums(f);
      snatPort = testing::parseInfo(f).sport;
    }
    return f;
  }
  Bytes fromBackend(std::uint8_t flags, std::uint32_t tsval, std::uint32_t tsecr, TimeNs now) {
    PacketSpec p;
    p.src = "10.0.0.11";
    p.sport = 80;
    p.dst = "10.0.0.2";
    p.dport = snatPort;
    p.flags = flags;
    p.srcMac = testing::backendMac(testing::A("10.0.0.11")).toString();
    p.dstMac = testing::kLbMac;
    p.tcpOptions = testing::optTimestamp(tsval, tsecr);
    Bytes f = testing::buildPacket(p);
    EXPECT_EQ(h.run(f, now), Reason::kTxToClient);
    testing::expectValidChecksums(f);
    return f;
  }
};

std::uint32_t tsval(const Bytes& f) {
  return testing::parseInfo(f).tcp.tsVal;
}
std::uint32_t tsecr(const Bytes& f) {
  return testing::parseInfo(f).tcp.tsEcr;
}
// The LB clock at `t` (base 0 in tests).
std::uint32_t lbClock(TimeNs t) {
  return static_cast<std::uint32_t>(t / Pipeline::kTsTick);
}

TEST(Timestamps, SynTakesTheLbClockAndTheShiftHoldsBothWays) {
  Harness h(testing::testConfig(1024, 20000, 20000));  // one SNAT port: every connection reuses it
  Ends a{h};
  const Bytes syn = a.fromClient(kTcpSyn, 1'000'000, 0, sec(1));
  EXPECT_EQ(tsval(syn), lbClock(sec(1)));
  const std::uint32_t shift = lbClock(sec(1)) - 1'000'000;
  const Bytes synAck = a.fromBackend(kTcpSyn | kTcpAck, 77, tsval(syn), sec(1));
  EXPECT_EQ(tsecr(synAck), 1'000'000u);  // the client sees its own TSval echoed
  EXPECT_EQ(tsval(synAck), 77u);         // the backend's clock passes untouched
  const Bytes ack = a.fromClient(kTcpAck, 1'000'003, 77, sec(1.003));
  EXPECT_EQ(tsval(ack), 1'000'003 + shift);
  EXPECT_EQ(tsecr(ack), 77u);
  a.fromClient(kTcpRst | kTcpAck, 1'000'004, 77, sec(1.004));
  h.tick(sec(3));  // the entry leaves after the RST grace; the port goes back to the pool

  // Another client whose clock started far lower: a backend comparing raw TSvals on the reused
  // (SNAT address, port) would refuse it. Through xlb its SYN is newer than anything before.
  Ends b{h};
  b.client = "10.0.0.9";
  const Bytes syn2 = b.fromClient(kTcpSyn, 5, 0, sec(3));
  ASSERT_EQ(b.snatPort, a.snatPort);
  EXPECT_GT(static_cast<std::int32_t>(tsval(syn2) - tsval(ack)), 0);
  EXPECT_EQ(h.pipe->counters().synTimestamped, 2u);
  EXPECT_EQ(h.pipe->counters().twCollisions, 0u);
}

TEST(Timestamps, OptionAtAnOddOffsetKeepsTheChecksumRight) {
  Harness h;
  Ends a{h};
  // NOP, then the timestamp option: TSval starts at an odd offset of the TCP header.
  Bytes opts = {1};
  const Bytes ts = testing::optTimestamp(0x01020304, 0);
  opts.insert(opts.end(), ts.begin(), ts.end());
  opts.push_back(1);
  const Bytes syn = a.fromClient(kTcpSyn, 0, 0, sec(2), Reason::kTxToBackend, opts);
  ASSERT_EQ((testing::parseInfo(syn).tcp.tsOffset - testing::parseInfo(syn).l4Offset) % 2, 1);
  EXPECT_EQ(tsval(syn), lbClock(sec(2)));
  const Bytes back = a.fromBackend(kTcpSyn | kTcpAck, 9, tsval(syn), sec(2));
  EXPECT_EQ(tsecr(back), 0x01020304u);
}

TEST(Timestamps, SynWithoutTimestampsAndRefusedReuseAreCounted) {
  Harness h;
  Ends a{h};
  const Bytes syn = a.fromClient(kTcpSyn, 0, 0, sec(1), Reason::kTxToBackend, {}, false);
  EXPECT_FALSE(testing::parseInfo(syn).tcp.hasTimestamp);
  ASSERT_EQ(syn.size(), 54u);  // frames stay as long as the pipeline left them
  EXPECT_EQ(h.pipe->counters().synNoTimestamp, 1u);
  // The backend's TIME_WAIT answers the SYN with a plain ACK: xlb resets the TIME_WAIT at the
  // number it acknowledged and sends the kept SYN again at once; the client sees nothing.
  PacketSpec p;
  p.src = "10.0.0.11";
  p.sport = 80;
  p.dst = "10.0.0.2";
  p.dport = a.snatPort;
  p.flags = kTcpAck;
  p.seq = 777;
  p.ack = 0x5000;
  Bytes challenge = testing::buildPacket(p);
  EXPECT_EQ(h.run(challenge, sec(1.001)), Reason::kTxTimewaitReset);
  testing::expectValidChecksums(challenge);
  const PacketInfo rst = testing::parseInfo(challenge);
  EXPECT_EQ(rst.tcpFlags, kTcpRst);
  EXPECT_EQ(rst.seq, 0x5000u);
  EXPECT_EQ(rst.dst, testing::A("10.0.0.11").ip);
  EXPECT_EQ(rst.sport, a.snatPort);
  ASSERT_EQ(h.emitted.size(), 1u);
  EXPECT_EQ(h.emitted[0], syn);
  EXPECT_EQ(h.pipe->counters().twCollisions, 1u);
  EXPECT_EQ(h.table->active(), 1u);  // still waiting for the backend
}

// A backend that does not answer gets the SYN again from xlb at 200, 600 and 1400 ms (not only
// when the client retries after a second); once it answers, nothing more goes out.
TEST(SynRetransmit, SilentBackendGetsTheSynAgainOnXlbsTimer) {
  Harness h;
  Ends a{h};
  const Bytes syn = a.fromClient(kTcpSyn, 5, 0, sec(1));
  std::vector<TimeNs> sentAt;
  for (TimeNs t = sec(1); t <= sec(3); t += sec(0.05)) {
    h.tick(t);
    for (const Emitted& e : h.pipe->emitted()) {
      EXPECT_EQ(Bytes(e.data, e.data + e.len), syn);
      sentAt.push_back(t);
    }
  }
  EXPECT_EQ(sentAt, (std::vector<TimeNs>{sec(1.2), sec(1.6), sec(2.4)}));
  EXPECT_EQ(h.pipe->counters().synRetransmits, 3u);

  // Answered: nothing more.
  Ends b{h};
  b.client = "10.0.0.8";
  b.fromClient(kTcpSyn, 5, 0, sec(4));
  b.fromBackend(kTcpSyn | kTcpAck, 1, 2, sec(4.1));
  for (TimeNs t = sec(4.1); t <= sec(6); t += sec(0.05)) {
    h.tick(t);
    EXPECT_TRUE(h.pipe->emitted().empty());
  }
}

}  // namespace
}  // namespace xlb

namespace xlb {
namespace {

// A SYN with a bad TCP checksum costs no entry; one holding only the pseudo-header sum (a veth
// sender with TX checksum offload on) gets a reason of its own, which xlbd's hint looks for.
TEST(SynChecksum, BadAndPartialChecksumsAreDroppedAndNamed) {
  Harness h;
  PacketSpec p;
  p.dst = "10.0.0.100";
  p.flags = kTcpSyn;
  Bytes bad = testing::buildPacket(p);
  const PacketInfo in = testing::parseInfo(bad);
  bad[in.l4Offset + 16] ^= 0x5a;
  EXPECT_EQ(h.run(bad, sec(1)), Reason::kBadChecksum);
  Bytes partial = testing::buildPacket(p);
  // What Linux writes before handing the segment to a device that finishes checksums.
  std::uint64_t pseudo = csumAdd(in.src.bytes.data(), 4, 0);
  pseudo = csumAdd(in.dst.bytes.data(), 4, pseudo);
  pseudo += kProtoTcp + in.l4Len;
  store16(partial.data() + in.l4Offset + 16, csumFold(pseudo));
  EXPECT_EQ(h.run(partial, sec(1)), Reason::kPartialChecksum);
  EXPECT_EQ(h.table->active(), 0u);
  EXPECT_EQ(h.snat->portsInUse(), 0u);
  Bytes good = testing::buildPacket(p);
  EXPECT_EQ(h.run(good, sec(1)), Reason::kTxToBackend);
}

// The worker gives the pipeline its TX ring's room (BatchIo::txRoom): retransmissions that do not
// fit stay due and go out in later steps, none lost; the batch's own frames come first.
TEST(SynRetransmit, WhatDoesNotFitTheTxRoomStaysDue) {
  Harness h;
  for (int i = 0; i < 5; ++i) {
    Ends e{h};
    e.client = "10.0.0." + std::to_string(20 + i);
    e.fromClient(kTcpSyn, 5, 0, sec(1));
  }
  std::vector<std::size_t> perStep;
  for (const std::size_t room : {std::size_t{2}, std::size_t{0}, std::size_t{2}, std::size_t{9}}) {
    h.pipe->setTxRoom(room);
    h.tick(sec(1.25));
    perStep.push_back(h.pipe->emitted().size());
  }
  EXPECT_EQ(perStep, (std::vector<std::size_t>{2, 0, 2, 1}));
  EXPECT_EQ(h.pipe->counters().synRetransmits, 5u);

  // A batch's own kTx verdict takes room first: one SYN forwarded, room 1, no retransmission.
  h.pipe->setTxRoom(1);
  Ends late{h};
  late.client = "10.0.0.40";
  late.fromClient(kTcpSyn, 5, 0, sec(1.7));  // the five are due again at 1.65 s
  EXPECT_TRUE(h.emitted.empty());
  h.pipe->setTxRoom(9);
  h.tick(sec(1.7));
  EXPECT_EQ(h.pipe->emitted().size(), 5u);
}

}  // namespace
}  // namespace xlb
