// SPDX-License-Identifier: Apache-2.0
// The packet pipeline: a batch in, one verdict per packet out. Pure: no syscalls, no allocation,
// no logging, time passed in. Deterministic given (snapshot, table state, packets, now).
#pragma once

#include <array>
#include <cstdint>
#include <limits>
#include <span>
#include <vector>

#include "xlb/conn_table.h"
#include "xlb/figures.h"
#include "xlb/packet.h"
#include "xlb/parse.h"
#include "xlb/quic.h"
#include "xlb/reason.h"
#include "xlb/rewrite.h"
#include "xlb/snapshot.h"
#include "xlb/source_meter.h"
#include "xlb/syn_retransmit.h"
#include "xlb/syncookie.h"

namespace xlb {

// Plain per-worker counters; folded into metrics by whoever reads them, never atomics.
// Verdicts by reason, and the scalar figures of XLB_PIPELINE_FIGURES (figures.h).
struct WorkerCounters {
  std::array<std::uint64_t, kReasonCount> reasons{};
  XLB_PIPELINE_FIGURES(XLB_FIGURE_MEMBER)

  std::uint64_t of(Reason r) const noexcept { return reasons[static_cast<std::size_t>(r)]; }
  std::uint64_t ofAction(Action a) const noexcept {
    return actionCounts(reasons)[static_cast<std::size_t>(a)];
  }
  WorkerCounters& operator+=(const WorkerCounters& o) noexcept;
};

inline constexpr auto kPipelineFigures = XLB_FIGURE_TABLE(WorkerCounters, XLB_PIPELINE_FIGURES);

inline WorkerCounters& WorkerCounters::operator+=(const WorkerCounters& o) noexcept {
  for (std::size_t i = 0; i < kReasonCount; ++i) reasons[i] += o.reasons[i];
  addFigures(*this, o, kPipelineFigures);
  return *this;
}

// Per backend id (ConnEntry::backendId); plain counters like WorkerCounters. Live connections
// per backend come from ConnTable::activeForBackend.
struct BackendCounters {
  std::uint64_t created = 0;
  std::uint64_t bytesToBackend = 0;  // client -> backend frames as sent
  std::uint64_t bytesToClient = 0;   // backend -> client frames as sent
  BackendCounters& operator+=(const BackendCounters& o) noexcept {
    created += o.created;
    bytesToBackend += o.bytesToBackend;
    bytesToClient += o.bytesToClient;
    return *this;
  }
};

// A frame the pipeline produced besides the batch itself (SYN proxy: client data held during the
// backend handshake). Valid until the next process() call; the worker copies it to a TX frame.
struct Emitted {
  const std::uint8_t* data;
  std::uint32_t len;
};

class Pipeline {
 public:
  // Client segments held per worker while backend handshakes complete, each up to kHoldBytes.
  static constexpr std::size_t kHoldSlots = 256;
  static constexpr std::size_t kHoldBytes = 2048;

  // Work units of timer expiry done after each batch (see ConnTable::expire).
  static constexpr std::size_t kDefaultExpireBudget = 256;
  // Live entries above which the chain-follower prefetch pass runs. It hides DRAM latency, so it
  // pays only once the entries outgrow the cache; below that it costs more than it hides
  // (measured on a 32 MiB L3: -8 % at 100k flows, +26 % at 1M). 200k entries ~ 20 MiB.
  static constexpr std::uint64_t kDefaultChainPrefetchMinActive = 200'000;

  // The table and the pool must outlive the pipeline; a worker owns all three.
  // Allocates the hold pool here, never on the packet path.
  Pipeline(ConnTable& table, SnatPool& snat);

  // Called between batches; the snapshot must stay alive until the next call. nullptr: every
  // packet is passed to the kernel.
  void setSnapshot(const Snapshot* snapshot) noexcept { snap_ = snapshot; }
  void setExpireBudget(std::size_t budget) noexcept { expireBudget_ = budget; }
  // The SYN-cookie key the XDP program answers with (see bpf/xlb_cookie.h).
  // It also seeds the invalid-ACK meter's hash: a secret the sources cannot aim at.
  void setCookieKey(const CookieKey& key) noexcept {
    cookieKey_ = key;
    invalidAcks_.reseed(key[0] ^ key[1]);
  }
  // The clock a forwarded SYN's TSval is set from: (now + base) in kTsTick units. xlbd sets the
  // base to CLOCK_REALTIME - CLOCK_MONOTONIC, so the clock keeps rising across restarts; the
  // simulator leaves it 0 (deterministic).
  void setTimestampBase(TimeNs base) noexcept { tsBase_ = base; }
  // Whether SYNs to backends are kept and sent again on xlb's timer (default on; open-loop
  // replay turns it off: nothing there would ever answer).
  void setSynRetransmit(bool on) noexcept { synRetransmitOn_ = on; }
  // The I/O's transmit room for the next process() (BatchIo::txRoom). The batch's own kTx
  // verdicts and emitted frames come first; SYN retransmissions past the room stay due.
  void setTxRoom(std::size_t frames) noexcept { txRoom_ = frames; }
  // 2 kHz: faster than the 1 kHz clocks of Linux and most stacks, so a SYN's TSval is newer than
  // the last TSval of any earlier connection on the same tuple (RFC 6191).
  static constexpr TimeNs kTsTick = 500'000;

  // Processes batch.pkts[0, batch.count) in place and writes verdicts[0, batch.count). A packet
  // may change length (SYN proxy) within its capacity. Precondition: verdicts.size() >=
  // batch.count.
  void process(PacketBatch& batch, std::span<Verdict> verdicts, TimeNs now) noexcept;
  // Frames to transmit after this batch, in order (see Emitted).
  std::span<const Emitted> emitted() const noexcept { return {emitted_.data(), emittedCount_}; }
  std::size_t heldCount() const noexcept;

  // Operator kill of every connection the filter matches. Each entry turns kKilled
  // and each side gets an ACK probe with an out-of-window sequence number: a TCP stack answers
  // it with an ACK carrying its exact sequence numbers, and that answer (or any segment from
  // either side) is turned into resets to both ends (RFC 5961 accepts a reset only at the
  // exact sequence number, which the table does not keep). Probes are in emitted(), valid until
  // the next process() or killClient() call. Returns the number of entries killed.
  std::size_t kill(const ConnFilter& filter, TimeNs now) noexcept;

  const BackendCounters& backendCounters(std::uint16_t id) const noexcept {
    return backendCounters_[id];
  }

  const WorkerCounters& counters() const noexcept { return counters_; }
  // Automatic blocking's invalid ACKs (the snapshot's limit): sources that crossed it since the
  // worker last cleared them.
  SourceMeter& invalidAcks() noexcept { return invalidAcks_; }
  ConnTable& table() noexcept { return table_; }
  const ConnTable& table() const noexcept { return table_; }

 private:
  enum class Kind : std::uint8_t { kDone, kForward, kReverse, kDsr };
  struct Slot {
    PacketInfo info;
    FlowKey key;
    std::uint64_t hash;
    const VipEntry* vip;
    Reason reason;
    Kind kind;
  };

  Reason classify(const PacketRef& pkt, Slot& s) noexcept;
  Reason forward(PacketRef& pkt, Slot& s, TimeNs now) noexcept;
  // Direct server return (pipeline_dsr.cc): Maglev over a hash every instance computes alike, the
  // frame to the backend's MAC (l2) or inside an outer IP header to its address (ipip).
  Reason dsrForward(PacketRef& pkt, const Slot& s) noexcept;
  bool encapsulate(PacketRef& pkt, const PacketInfo& in, const Address& backend) noexcept;
  // UDP and QUIC (pipeline_udp.cc).
  Reason forwardUdp(PacketRef& pkt, Slot& s, TimeNs now) noexcept;
  Reason reverseUdp(PacketRef& pkt, const PacketInfo& in, std::uint32_t idx, TimeNs now) noexcept;
  // A QUIC VIP's datagram from a tuple no flow holds: the flow its short header's connection ID
  // names (the client's address or port changed), moved to the new tuple; kNil when none.
  std::uint32_t quicRebind(const PacketRef& pkt, const Slot& s) noexcept;
  static std::uint32_t quicTag(const ConnEntry& e) noexcept {
    return static_cast<std::uint32_t>(e.snatPort) << 16 | e.vipId;
  }
  Reason reverse(PacketRef& pkt, Slot& s, TimeNs now) noexcept;
  // A segment of an established connection: a reset is judged (ConnTable::rstFit) before the
  // state machine sees it. kTrack: track it as always; kPassOnly: send it on, state untouched
  // (a reset ahead of the expected number: the endpoint judges it); kRefuse: drop it.
  enum class ResetCheck : std::uint8_t { kTrack, kPassOnly, kRefuse };
  ResetCheck screenReset(std::uint32_t idx, bool fromClient, std::uint8_t flags,
                         std::uint32_t seq) noexcept;
  Reason newConnection(PacketRef& pkt, Slot& s, TimeNs now) noexcept;
  void countInvalidAck(const PacketInfo& in, TimeNs now) noexcept {
    invalidAcks_.count(Address{in.family, in.src}, snap_->invalidAcks(), now);
  }
  Reason createEntry(const PacketRef& pkt, Slot& s, TimeNs now, std::uint32_t& idx) noexcept;
  void toBackend(std::uint8_t* frame, const PacketInfo& info, const ConnEntry& e) noexcept;

  // SYN proxy (pipeline_synproxy.cc).
  Reason cookieAck(PacketRef& pkt, Slot& s, TimeNs now) noexcept;
  Reason proxyForward(PacketRef& pkt, Slot& s, std::uint32_t idx, TimeNs now) noexcept;
  Reason proxyReverse(PacketRef& pkt, Slot& s, std::uint32_t idx, TimeNs now) noexcept;
  Reason completeProxy(PacketRef& pkt, const PacketInfo& in, std::uint32_t idx,
                       TimeNs now) noexcept;
  Reason sendBackendSyn(PacketRef& pkt, const PacketInfo& in, const ConnEntry& e, std::uint32_t isn,
                        const CookieOptions& o) noexcept;
  // Rewrites the frame as `seg` to the connection's backend (SYN proxy's own segments).
  Reason sendToBackend(PacketRef& pkt, const PacketInfo& in, const ConnEntry& e,
                       const TcpSegment& seg) noexcept;
  Reason sendBackendAck(PacketRef& pkt, const PacketInfo& in, const ConnEntry& e, std::uint32_t seq,
                        std::uint32_t ack, std::uint16_t window) noexcept;
  // Replaces the frame by `seg` (link-layer header and VLAN tags kept, MACs set); false when
  // the frame cannot hold it.
  // A backend's TIME_WAIT answered our SYN with an ACK: the frame becomes a reset at the number
  // it acknowledged (which ends the TIME_WAIT), and the kept SYN goes out again at once.
  Reason resetTimeWait(PacketRef& pkt, const PacketInfo& in, std::uint32_t idx) noexcept;
  // Sends again the kept SYNs whose backends have not answered (end of each batch).
  void retransmitSyns(TimeNs now) noexcept;
  static std::uint32_t synTag(const ConnEntry& e) noexcept {
    return static_cast<std::uint32_t>(e.snatPort) << 16 | e.clientPort;
  }
  bool rewriteAs(PacketRef& pkt, const PacketInfo& in, const TcpSegment& seg,
                 const std::array<std::uint8_t, 6>& dstMac) noexcept;
  // clientDelta: ConnTable::clientSeqDelta of the entry.
  void translateToBackend(std::uint8_t* frame, const PacketInfo& in, const ConnEntry& e,
                          std::uint32_t clientDelta) noexcept;
  void translateToClient(std::uint8_t* frame, const PacketInfo& in, const ConnEntry& e,
                         std::uint32_t clientDelta) noexcept;
  Reason killReply(PacketRef& pkt, const PacketInfo& in, std::uint32_t idx,
                   bool fromClient) noexcept;
  // A free hold-pool slot for a frame built here, marked emitted; nullptr when none is free.
  std::uint8_t* emitBuffer() noexcept;
  void emit(const std::uint8_t* frame, std::uint32_t len) noexcept;
  void resetEmitted() noexcept;
  bool hold(const PacketRef& pkt, const PacketInfo& in, std::uint32_t idx, TimeNs now) noexcept;
  bool isHeld(std::uint32_t idx, const ConnEntry& e, std::uint32_t seq) const noexcept;
  void releaseHeld(std::uint32_t idx, TimeNs now) noexcept;

  struct HeldFrame {
    enum class State : std::uint8_t { kFree, kHeld, kEmitted };
    State state = State::kFree;
    std::uint16_t clientPort = 0;
    std::uint32_t idx = 0;
    std::uint32_t seq = 0;
    std::uint32_t len = 0;
    std::uint64_t order = 0;
    TimeNs heldAt = 0;
    IpAddr client;
  };
  bool heldMatches(const HeldFrame& h, std::uint32_t idx, const ConnEntry& e) const noexcept;

  ConnTable& table_;
  SnatPool& snat_;
  const Snapshot* snap_ = nullptr;
  std::size_t expireBudget_ = kDefaultExpireBudget;
  std::uint64_t chainPrefetchMinActive_ = kDefaultChainPrefetchMinActive;
  WorkerCounters counters_;
  CookieKey cookieKey_{};
  TimeNs tsBase_ = 0;
  SynRetransmit synRetx_;
  bool synRetransmitOn_ = true;
  std::array<Slot, kMaxBatch> slots_{};
  std::vector<HeldFrame> held_;
  std::vector<std::uint8_t> holdBuf_;
  std::vector<Emitted> emitted_;
  std::size_t emittedCount_ = 0;
  std::size_t txRoom_ = std::numeric_limits<std::size_t>::max();
  std::size_t txVerdicts_ = 0;  // this batch's kTx verdicts
  std::uint64_t holdOrder_ = 0;
  std::vector<BackendCounters> backendCounters_;
  CidTable cids_;
  std::uint64_t cidSeq_ = 0;
  SourceMeter invalidAcks_{SourceKind::kInvalidAck};
};

}  // namespace xlb
