// SPDX-License-Identifier: Apache-2.0
// The connection (NAT) table: preallocated entries found from both directions, a TCP state
// machine per entry, and a timer wheel that expires entries with bounded work per call.
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string_view>
#include <vector>

#include "xlb/addr.h"
#include "xlb/enum_names.h"
#include "xlb/flow_journal.h"
#include "xlb/snat.h"

namespace xlb {

enum class TcpState : std::uint8_t {
  kFree = 0,     // on the free list
  kSynSent,      // client SYN forwarded to the backend
  kSynReceived,  // backend SYN-ACK seen
  kEstablished,  // client ACK after the SYN-ACK
  kFinWait,      // one side sent FIN (half-close: the other side may still send data)
  kClosing,      // both sides sent FIN, not both acknowledged yet
  kTimeWait,     // both FINs acknowledged
  kClosed,       // RST seen: kept for a short grace so retransmitted RSTs still pass
  kKilled,       // killed by the operator: the next segment from either side is answered with
                 // resets to both; removed after the RST grace
  // UDP flows (no handshake: the first datagram creates the entry).
  kUdpSingle,  // at most one exchange so far (a query and its answers): the short timer
  kUdp,        // the client sent again after an answer: the UDP idle timer
  kCount
};
inline constexpr std::size_t kTcpStateCount = static_cast<std::size_t>(TcpState::kCount);
XLB_ENUM_NAMES(TcpState, {TcpState::kFree, "free"}, {TcpState::kSynSent, "syn_sent"},
               {TcpState::kSynReceived, "syn_received"}, {TcpState::kEstablished, "established"},
               {TcpState::kFinWait, "fin_wait"}, {TcpState::kClosing, "closing"},
               {TcpState::kTimeWait, "time_wait"}, {TcpState::kClosed, "closed"},
               {TcpState::kKilled, "killed"}, {TcpState::kUdpSingle, "udp_single"},
               {TcpState::kUdp, "udp"});

enum class CloseReason : std::uint8_t { kFin = 0, kRst, kTimeout, kEvicted, kKilled, kCount };
inline constexpr std::size_t kCloseReasonCount = static_cast<std::size_t>(CloseReason::kCount);
XLB_ENUM_NAMES(CloseReason, {CloseReason::kFin, "fin"}, {CloseReason::kRst, "rst"},
               {CloseReason::kTimeout, "timeout"}, {CloseReason::kEvicted, "evicted"},
               {CloseReason::kKilled, "killed"});

struct Timeouts {
  TimeNs syn = 5 * kNsPerSec;            // kSynSent, kSynReceived
  TimeNs established = 300 * kNsPerSec;  // kEstablished (idle)
  TimeNs fin = 10 * kNsPerSec;           // kFinWait, kClosing (idle)
  TimeNs timeWait = 2 * kNsPerSec;       // kTimeWait
  TimeNs rst = 1 * kNsPerSec;            // kClosed
  TimeNs udp = 30 * kNsPerSec;           // kUdp (idle)
  TimeNs udpSingle = 5 * kNsPerSec;      // kUdpSingle (idle): a DNS query's flow leaves soon

  bool operator==(const Timeouts&) const = default;
};

// Entry flags.
inline constexpr std::uint8_t kFlagFinClient = 0x01;
inline constexpr std::uint8_t kFlagFinServer = 0x02;
inline constexpr std::uint8_t kFlagFinClientAcked = 0x04;
inline constexpr std::uint8_t kFlagFinServerAcked = 0x08;
// SYN proxy: the client's handshake was answered with a cookie. Client->backend acks (and SACK
// blocks) gain seqDelta, backend->client sequence numbers lose it; client->backend sequence
// numbers gain ConnTable::clientSeqDelta, backend->client acks (and SACK blocks) lose it.
inline constexpr std::uint8_t kFlagSynProxy = 0x10;
// SYN proxy: the SYN to the backend is out, its SYN-ACK not seen yet.
inline constexpr std::uint8_t kFlagAwaitSynAck = 0x20;
// SYN proxy: backend windows are rescaled for the client (the backend's window scale differs
// from the one our SYN-ACK advertised). Shifts are in ConnEntry::winShifts.
inline constexpr std::uint8_t kFlagRescaleToClient = 0x40;
// SYN proxy: the backend declined window scaling the client uses: client windows are rescaled.
inline constexpr std::uint8_t kFlagRescaleToBackend = 0x80;
// UDP: the backend has answered (the FIN bits mean nothing to a UDP entry).
inline constexpr std::uint8_t kFlagUdpAnswered = 0x02;
// UDP: a QUIC VIP's flow; the server's connection IDs find it (CidTable).
inline constexpr std::uint8_t kFlagQuic = 0x04;

// One connection: the fields a packet touches. 96 bytes at 32-byte alignment, so an entry always
// spans exactly two cache lines. With the FIN sequence side array (8 bytes) and both bucket arrays
// the table costs ~121 bytes per connection at the default capacity
// (ConnTable::bytesPerConnection()). Ports are host order.
struct alignas(32) ConnEntry {
  IpAddr client;
  IpAddr vip;
  IpAddr backend;
  std::uint16_t clientPort;
  std::uint16_t vipPort;
  std::uint16_t backendPort;
  std::uint16_t snatPort;
  std::uint32_t nextFwd;    // forward-index chain (client -> VIP tuple)
  std::uint32_t nextRev;    // reverse-index chain (backend -> SNAT tuple); free-list link
  std::uint32_t timerPrev;  // timer wheel slot list
  std::uint32_t timerNext;
  std::uint32_t deadlineMs;  // wrapping milliseconds; extended per packet, re-slotted lazily
  std::uint32_t seqDelta;    // SYN proxy: backend ISN - our cookie ISN (during the backend
                             // handshake: the client's raw window). Without the proxy: the
                             // TSval shift towards the backend (Pipeline::newConnection), 0: none
  std::uint16_t vipId;
  std::uint16_t backendId;
  std::uint8_t proto;
  Family family;
  TcpState state;
  std::uint8_t flags;
  std::array<std::uint8_t, 6> clientMac;  // previous hop of the client's packets
  std::uint8_t snatIdx;
  std::uint8_t winShifts;  // SYN proxy: client shift << 4 | backend shift (kFlagRescale*)
};
static_assert(sizeof(ConnEntry) == 96, "ConnEntry layout is part of the memory budget");

// Sequence numbers beside each entry, in a side array instead of widening every entry to a third
// cache line. Once a side sent its FIN, its slot holds the number just past that FIN. While the
// connection is established and neither side has sent one, each slot holds the last
// acknowledgement that side sent (the next number it expects from the other; 0: none seen yet),
// which judges resets (ConnTable::rstFit). While a SYN-proxied connection waits for the
// backend's SYN-ACK they hold our ISN towards the backend and the cookie we answered the client
// with.
struct FinSeqs {
  std::uint32_t client;
  std::uint32_t server;
};

// Which connections a listing or a kill wants; unset fields match everything.
struct ConnFilter {
  std::optional<Address> client;
  std::optional<std::uint16_t> clientPort;
  std::optional<Address> backend;
  std::optional<Address> vip;
  std::optional<std::uint8_t> protocol;
  std::optional<TcpState> state;
  bool matches(const ConnEntry& e) const noexcept;
};

// A lookup key: (a, aPort) -> (b, bPort). Forward keys are client -> VIP, reverse keys are
// backend -> SNAT address.
struct FlowKey {
  IpAddr a;
  IpAddr b;
  std::uint16_t aPort;
  std::uint16_t bPort;
  std::uint8_t proto;
  Family family;
};

// Where a table's per-connection arrays live when the caller provides them (xlbd: a file mapping
// that outlives the process, so that the next process adopts the connections; flow_store.h).
// Each array has the table's capacity.
struct ConnStorage {
  ConnEntry* entries = nullptr;
  FinSeqs* finSeqs = nullptr;
  std::uint32_t* clientSeqDeltas = nullptr;
  // How many entries from index 0 have ever been handed out: adoption looks no further, so a
  // restart costs the peak number of connections, not the capacity.
  std::uint32_t* highWater = nullptr;
};

// What adopting a table's contents kept and refused (ConnTable::adopt).
struct AdoptCounts {
  std::uint64_t adopted = 0;
  std::uint64_t invalid = 0;     // a field out of range, or refused by the EntryCheck
  std::uint64_t duplicates = 0;  // a forward key or SNAT port another adopted entry holds
  std::uint64_t dropped() const noexcept { return invalid + duplicates; }
};

// Adoption's view of the running configuration: may rewrite an entry's ids (vipId, backendId,
// snatIdx) to this process's numbering, or refuse the entry (its VIP or backend is gone).
class EntryCheck {
 public:
  virtual ~EntryCheck() = default;
  virtual bool keep(ConnEntry& e) const noexcept = 0;
};

// Not thread-safe: each worker owns its table (and the SnatPool it releases ports to).
class ConnTable {
 public:
  static constexpr std::uint32_t kNil = 0xffffffffu;
  static constexpr TimeNs kSlotMs = 10;                // wheel granularity
  static constexpr std::uint32_t kWheelSlots = 16384;  // 163.84 s per revolution
  static constexpr std::uint32_t kEvictScanEntries = 128;
  static constexpr std::uint32_t kEvictScanSlots = 1024;

  // Allocates everything the table will ever use. capacity >= 1.
  ConnTable(std::uint32_t capacity, const Timeouts& timeouts, SnatPool& snat, std::uint64_t seed);
  // The same over arrays the caller provides and keeps alive. Their contents are not trusted:
  // until adopt() has run the table holds no entry and has none free.
  ConnTable(std::uint32_t capacity, const Timeouts& timeouts, SnatPool& snat, std::uint64_t seed,
            const ConnStorage& storage);

  // Takes the connections the storage holds (a previous process's): each entry whose fields
  // are in range, that `check` keeps, and whose forward key and SNAT port no other adopted entry
  // holds is linked into the indexes and the wheel (its deadline kept) and its SNAT port claimed
  // from the pool, which must not have handed out any port yet; every other slot is freed.
  // Zero-filled storage adopts nothing. Call once, before the first packet.
  AdoptCounts adopt(TimeNs now, const EntryCheck& check) noexcept;

  // Seeded multiply-mix over the whole key. Inline: it runs once per packet and keeping the key
  // in registers matters more than code size.
  std::uint64_t hash(const FlowKey& k) const noexcept {
    std::uint64_t a[2], b[2];
    std::memcpy(a, k.a.bytes.data(), 16);
    std::memcpy(b, k.b.bytes.data(), 16);
    const std::uint64_t x =
        static_cast<std::uint64_t>(k.aPort) << 32 | static_cast<std::uint64_t>(k.bPort) << 16 |
        static_cast<std::uint64_t>(k.proto) << 8 | static_cast<std::uint8_t>(k.family);
    const std::uint64_t h =
        mum(a[0] ^ seed_[0], a[1] ^ seed_[1]) ^ mum(b[0] ^ seed_[2], b[1] ^ seed_[3]);
    return mum(h ^ x, seed_[0] ^ 0xa0761d6478bd642full);
  }
  void prefetchFwd(std::uint64_t h) const noexcept { __builtin_prefetch(&fwdHeads_[h & mask_]); }
  void prefetchRev(std::uint64_t h) const noexcept { __builtin_prefetch(&revHeads_[h & mask_]); }
  // An entry spans two cache lines; both are fetched.
  void prefetchEntryFwd(std::uint64_t h) const noexcept;
  void prefetchEntryRev(std::uint64_t h) const noexcept;
  // Once the first entry of the chain has arrived: if it is not the flow, fetch the second.
  void prefetchNextFwd(const FlowKey& k, std::uint64_t h) const noexcept;
  void prefetchNextRev(const FlowKey& k, std::uint64_t h) const noexcept;

  // Index of the entry with this forward (client -> VIP) key, or kNil.
  std::uint32_t findForward(const FlowKey& k, std::uint64_t h) const noexcept;
  // Index of the entry with this reverse (backend -> SNAT address/port) key, or kNil.
  std::uint32_t findReverse(const FlowKey& k, std::uint64_t h) const noexcept;

  // Takes a free entry. When none is free, reclaims expired entries, then evicts one that is
  // half-open, closing, in TIME_WAIT/closed or a UDP flow of a single exchange; never an
  // established or half-closed TCP connection, nor a UDP flow past its first exchange. Returns
  // kNil when nothing can be reclaimed. The caller fills the entry, then calls insert().
  std::uint32_t allocate(TimeNs now) noexcept;
  // The same for a new UDP flow: at the share (udpLimit()) or with the table full, only a UDP flow
  // of a single exchange is evicted for it, never a TCP entry of any state; kNil when none is
  // evictable. A flood of UDP from random sources thus never takes more than its share.
  std::uint32_t allocateUdp(TimeNs now) noexcept;
  // At most this share of the capacity holds UDP flows (default 100 %; at least one entry).
  void setUdpShare(std::uint32_t percent) noexcept {
    const std::uint64_t n = std::uint64_t{capacity_} * percent / 100;
    udpLimit_ = n == 0 ? 1 : static_cast<std::uint32_t>(n);
  }
  std::uint32_t udpLimit() const noexcept { return udpLimit_; }
  std::uint64_t udpActive() const noexcept {
    return activeIn(TcpState::kUdpSingle) + activeIn(TcpState::kUdp);
  }
  // A cluster: every flow opened (inserted, adopted, moved to a new client tuple) and removed
  // is recorded here for the other instances (nullptr: none; the default).
  void setJournal(FlowJournal* journal) noexcept { journal_ = journal; }
  // Links a filled entry into both indexes and the wheel: kSynSent for TCP, kUdpSingle for UDP.
  void insert(std::uint32_t idx, TimeNs now) noexcept;
  // Returns an allocated but never inserted entry to the free list.
  void abandon(std::uint32_t idx) noexcept;
  // Unlinks, releases the SNAT port, counts the close reason.
  void remove(std::uint32_t idx, CloseReason why) noexcept;

  // Operator kill: the entry turns kKilled for the RST grace (see TcpState::kKilled). False when
  // it is free or already killed.
  bool kill(std::uint32_t idx, TimeNs now) noexcept;

  // Feeds one datagram of an existing UDP flow: an answer marks it, the client sending after an
  // answer moves it to kUdp; every datagram extends its idle timer.
  void trackUdp(std::uint32_t idx, bool fromClient, TimeNs now) noexcept;
  // The client's address or port changed (a QUIC client after NAT rebinding): the entry is found
  // under the new forward key from now on; its backend and SNAT tuple stay.
  void moveClient(std::uint32_t idx, const IpAddr& client, std::uint16_t port,
                  const std::uint8_t* mac) noexcept;
  // Feeds one TCP packet of an existing connection to the state machine.
  void track(std::uint32_t idx, bool fromClient, std::uint8_t tcpFlags, std::uint32_t seq,
             std::uint32_t ack, std::uint32_t payloadLen, TimeNs now) noexcept;

  // Removes entries whose deadline passed, doing at most `budget` units of work (one per entry
  // looked at or slot passed). Returns the number removed.
  std::size_t expire(TimeNs now, std::size_t budget) noexcept;

  ConnEntry& entry(std::uint32_t idx) noexcept { return entries_[idx]; }
  FinSeqs& sideSeqs(std::uint32_t idx) noexcept { return finSeqs_[idx]; }

  // How a reset from one side fits what the other side last acknowledged (RFC 5961, 3.2, for a
  // box in the middle): the expected number ends the connection; a number up to kRstWindow
  // ahead is passed on for the endpoint to judge (it answers a challenge ACK) without ending it
  // here; anything else is a blind reset, refused. Judged only while the connection is
  // established (so no FIN is out) and the receiving side has acknowledged something; otherwise
  // kUnknown, and a reset ends the connection as it always has.
  enum class RstFit : std::uint8_t { kUnknown, kExact, kInWindow, kOutside };
  static constexpr std::uint32_t kRstWindow = 1u << 24;
  RstFit rstFit(std::uint32_t idx, bool fromClient, std::uint32_t seq) const noexcept {
    const ConnEntry& e = entries_[idx];
    if (e.state != TcpState::kEstablished || (e.flags & (kFlagFinClient | kFlagFinServer))) {
      return RstFit::kUnknown;
    }
    const std::uint32_t expected = fromClient ? finSeqs_[idx].server : finSeqs_[idx].client;
    if (expected == 0) return RstFit::kUnknown;
    const std::uint32_t ahead = seq - expected;
    if (ahead == 0) return RstFit::kExact;
    return ahead < kRstWindow ? RstFit::kInWindow : RstFit::kOutside;
  }
  // SYN proxy: our ISN towards the backend minus the client's ISN (set when the proxy creates
  // the entry, read only for proxied entries). Beside the entry, not in it: the entry has no
  // room left, and only proxied connections read it.
  std::uint32_t& clientSeqDelta(std::uint32_t idx) noexcept { return clientSeqDeltas_[idx]; }
  const ConnEntry& entry(std::uint32_t idx) const noexcept { return entries_[idx]; }

  std::uint32_t capacity() const noexcept { return capacity_; }
  std::uint64_t active() const noexcept { return active_; }
  std::uint64_t activeIn(TcpState s) const noexcept {
    return byState_[static_cast<std::size_t>(s)];
  }
  std::uint64_t created() const noexcept { return created_; }
  std::uint64_t closed(CloseReason r) const noexcept {
    return closed_[static_cast<std::size_t>(r)];
  }
  std::uint64_t closedTotal() const noexcept;
  // Live entries per backend id (ConnEntry::backendId), maintained on insert and remove.
  std::uint32_t activeForBackend(std::uint16_t id) const noexcept { return backendActive_[id]; }
  const Timeouts& timeouts() const noexcept { return timeouts_; }
  // Memory the table holds per connection slot: the entry plus both bucket arrays.
  double bytesPerConnection() const noexcept;
  std::size_t bytesAllocated() const noexcept;

 private:
  static std::uint64_t mum(std::uint64_t a, std::uint64_t b) noexcept {
    __extension__ using U128 = unsigned __int128;
    const U128 r = static_cast<U128>(a) * b;
    return static_cast<std::uint64_t>(r >> 64) ^ static_cast<std::uint64_t>(r);
  }
  std::uint32_t timeoutMs(TcpState s) const noexcept {
    return timeoutMs_[static_cast<std::size_t>(s)];
  }
  void setState(ConnEntry& e, TcpState s) noexcept;
  void linkIndexes(std::uint32_t idx) noexcept;  // at the head of both chains
  void wheelInsert(std::uint32_t idx, std::uint64_t nowMs) noexcept;
  void wheelUnlink(std::uint32_t idx) noexcept;
  void unlinkChain(std::vector<std::uint32_t>& heads, std::uint32_t ConnEntry::*next,
                   std::uint64_t h, std::uint32_t idx) noexcept;
  // Puts an evicted entry on the free list: any evictable one, or (udpOnly) a single-exchange
  // UDP flow.
  void evictOne(bool udpOnly = false) noexcept;
  // Moves an entry to `next` with that state's full timeout.
  void enterState(std::uint32_t idx, TcpState next, std::uint64_t nowMs) noexcept;
  bool matchFwd(const ConnEntry& e, const FlowKey& k) const noexcept;
  bool matchRev(const ConnEntry& e, const FlowKey& k) const noexcept;
  FlowKey forwardKey(const ConnEntry& e) const noexcept;
  FlowKey reverseKey(const ConnEntry& e) const noexcept;

  void initCommon(const Timeouts& timeouts, std::uint64_t seed);
  bool adoptable(const ConnEntry& e) const noexcept;

  // Owned arrays (empty when the caller provides storage); the pointers below are what is used.
  std::vector<ConnEntry> ownEntries_;
  std::vector<FinSeqs> ownFinSeqs_;
  std::vector<std::uint32_t> ownClientSeqDeltas_;
  ConnEntry* entries_ = nullptr;
  FinSeqs* finSeqs_ = nullptr;                // parallel to entries_
  std::uint32_t* clientSeqDeltas_ = nullptr;  // parallel to entries_
  // Entries [0, fresh_) have been handed out at least once; beyond it none has, so the free list
  // need not hold them (allocate() takes the next one when the list is empty).
  std::uint32_t fresh_ = 0;
  std::uint32_t* highWater_ = nullptr;  // the storage's copy of fresh_, or nullptr
  std::vector<std::uint32_t> fwdHeads_;
  std::vector<std::uint32_t> revHeads_;
  std::vector<std::uint32_t> wheel_;
  std::uint64_t mask_;
  std::uint32_t capacity_;
  std::uint32_t udpLimit_;
  std::uint32_t freeHead_;
  SnatPool& snat_;
  FlowJournal* journal_ = nullptr;
  void record(const ConnEntry& e, bool open) noexcept {
    if (journal_ != nullptr) {
      journal_->push(FlowRecord{e.client, e.vip, e.clientPort, e.vipPort, e.proto, e.family, open});
    }
  }
  Timeouts timeouts_;
  std::array<std::uint32_t, kTcpStateCount> timeoutMs_{};
  std::array<std::uint64_t, 4> seed_{};
  std::uint64_t cursorMs_ = 0;  // start of the next wheel slot to process
  bool cursorSet_ = false;
  std::uint64_t active_ = 0;
  std::uint64_t created_ = 0;
  std::array<std::uint64_t, kTcpStateCount> byState_{};
  std::array<std::uint64_t, kCloseReasonCount> closed_{};
  std::vector<std::uint32_t> backendActive_;  // 65536 ids (ids are 16-bit)
};

}  // namespace xlb
