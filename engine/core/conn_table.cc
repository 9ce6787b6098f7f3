// SPDX-License-Identifier: Apache-2.0
// Connection table: chained hash indexes for both directions, TCP state machine, timer wheel.
#include "xlb/conn_table.h"

#include <bit>
#include <cstring>
#include <stdexcept>

#include "xlb/parse.h"
#include "xlb/splitmix.h"

namespace xlb {
namespace {

// A wheel list head is marked in timerPrev with this bit and the slot number.
constexpr std::uint32_t kHeadBit = 0x80000000u;

inline bool seqAtOrAfter(std::uint32_t a, std::uint32_t b) noexcept {
  return static_cast<std::int32_t>(a - b) >= 0;
}

}  // namespace

ConnTable::ConnTable(std::uint32_t capacity, const Timeouts& timeouts, SnatPool& snat,
                     std::uint64_t seed)
    : capacity_(capacity), udpLimit_(capacity), freeHead_(kNil), snat_(snat), timeouts_(timeouts) {
  if (capacity == 0 || capacity >= kHeadBit) throw std::invalid_argument("conntrack capacity");
  ownEntries_.assign(capacity, ConnEntry{});  // state 0: kFree
  ownFinSeqs_.assign(capacity, FinSeqs{});
  ownClientSeqDeltas_.assign(capacity, 0);
  entries_ = ownEntries_.data();
  finSeqs_ = ownFinSeqs_.data();
  clientSeqDeltas_ = ownClientSeqDeltas_.data();
  initCommon(timeouts, seed);
}

ConnTable::ConnTable(std::uint32_t capacity, const Timeouts& timeouts, SnatPool& snat,
                     std::uint64_t seed, const ConnStorage& storage)
    : capacity_(capacity), udpLimit_(capacity), freeHead_(kNil), snat_(snat), timeouts_(timeouts) {
  if (capacity == 0 || capacity >= kHeadBit) throw std::invalid_argument("conntrack capacity");
  if (storage.entries == nullptr || storage.finSeqs == nullptr ||
      storage.clientSeqDeltas == nullptr) {
    throw std::invalid_argument("conntrack storage");
  }
  entries_ = storage.entries;
  finSeqs_ = storage.finSeqs;
  clientSeqDeltas_ = storage.clientSeqDeltas;
  highWater_ = storage.highWater;
  fresh_ = capacity;  // nothing to hand out until adopt()
  initCommon(timeouts, seed);
}

void ConnTable::initCommon(const Timeouts& timeouts, std::uint64_t seed) {
  // Twice as many buckets as entries (load <= 0.5): chains stay short, and each extra chain
  // element is a cache miss the batch prefetch cannot hide. Budget: 16 bytes per connection.
  const std::uint64_t buckets = 2 * std::bit_ceil(static_cast<std::uint64_t>(capacity_));
  mask_ = buckets - 1;
  fwdHeads_.assign(buckets, kNil);
  revHeads_.assign(buckets, kNil);
  wheel_.assign(kWheelSlots, kNil);
  backendActive_.assign(std::size_t{1} << 16, 0);
  auto ms = [](TimeNs t) { return static_cast<std::uint32_t>(t / kNsPerMs); };
  timeoutMs_[static_cast<std::size_t>(TcpState::kSynSent)] = ms(timeouts.syn);
  timeoutMs_[static_cast<std::size_t>(TcpState::kSynReceived)] = ms(timeouts.syn);
  timeoutMs_[static_cast<std::size_t>(TcpState::kEstablished)] = ms(timeouts.established);
  timeoutMs_[static_cast<std::size_t>(TcpState::kFinWait)] = ms(timeouts.fin);
  timeoutMs_[static_cast<std::size_t>(TcpState::kClosing)] = ms(timeouts.fin);
  timeoutMs_[static_cast<std::size_t>(TcpState::kTimeWait)] = ms(timeouts.timeWait);
  timeoutMs_[static_cast<std::size_t>(TcpState::kClosed)] = ms(timeouts.rst);
  timeoutMs_[static_cast<std::size_t>(TcpState::kKilled)] = ms(timeouts.rst);
  timeoutMs_[static_cast<std::size_t>(TcpState::kUdpSingle)] = ms(timeouts.udpSingle);
  timeoutMs_[static_cast<std::size_t>(TcpState::kUdp)] = ms(timeouts.udp);
  std::uint64_t s = seed;
  for (auto& k : seed_) k = splitmix64(s);
}

bool ConnTable::adoptable(const ConnEntry& e) const noexcept {
  // Every field a packet or the wheel trusts is checked: a process killed mid-write may have
  // left any of them torn.
  const auto state = static_cast<std::uint8_t>(e.state);
  if (state == 0 || state >= static_cast<std::uint8_t>(TcpState::kCount)) return false;
  if (e.family != Family::kV4 && e.family != Family::kV6) return false;
  const bool udpState = e.state == TcpState::kUdpSingle || e.state == TcpState::kUdp;
  if (e.proto != (udpState ? kProtoUdp : kProtoTcp)) return false;
  if (e.snatIdx >= snat_.addressCount() || !snat_.inRange(e.snatPort)) return false;
  if (snat_.familyOf(e.snatIdx) != e.family) return false;
  return e.clientPort != 0 && e.vipPort != 0 && e.backendPort != 0;
}

AdoptCounts ConnTable::adopt(TimeNs now, const EntryCheck& check) noexcept {
  AdoptCounts counts;
  const std::uint64_t nowMs = now / kNsPerMs;
  cursorSet_ = false;
  freeHead_ = kNil;
  // Only what was ever handed out can hold a connection. A high-water mark out of range (a torn
  // write) makes the whole table count.
  std::uint32_t used = capacity_;
  if (highWater_ != nullptr && *highWater_ <= capacity_) used = *highWater_;
  fresh_ = used;
  // Highest index first, so that the free list hands out the lowest indexes first.
  for (std::uint32_t i = used; i-- > 0;) {
    ConnEntry& e = entries_[i];
    if (e.state == TcpState::kFree) {
      // Only the link: allocate()'s caller fills every field, as after a remove().
      e.nextRev = freeHead_;
      freeHead_ = i;
      continue;
    }
    // Checked again after the check rewrote the ids (the SNAT index among them).
    bool ok = adoptable(e) && check.keep(e) && adoptable(e);
    if (!ok) {
      ++counts.invalid;
    } else if (findForward(forwardKey(e), hash(forwardKey(e))) != kNil ||
               !snat_.claim(e.snatIdx, e.snatPort)) {
      ++counts.duplicates;
      ok = false;
    }
    if (!ok) {
      e = ConnEntry{};
      e.nextRev = freeHead_;
      freeHead_ = i;
      continue;
    }
    // A deadline further away than the state's timeout (the timeouts changed, or the field was
    // torn) starts the timeout afresh; a passed one expires at the next expire().
    const auto left = static_cast<std::int32_t>(e.deadlineMs - static_cast<std::uint32_t>(nowMs));
    if (left > static_cast<std::int64_t>(timeoutMs(e.state))) {
      e.deadlineMs = static_cast<std::uint32_t>(nowMs) + timeoutMs(e.state);
    }
    linkIndexes(i);
    wheelInsert(i, nowMs);
    record(e, true);
    ++byState_[static_cast<std::size_t>(e.state)];
    ++active_;
    ++backendActive_[e.backendId];
    ++counts.adopted;
  }
  snat_.rebuildFree();
  return counts;
}

namespace {
inline void prefetchEntry(const ConnEntry* e) noexcept {
  // 96 bytes at 32-byte alignment: exactly two cache lines, the first and the last byte's.
  static_assert(sizeof(ConnEntry) <= 128 && alignof(ConnEntry) >= 32);
  const char* p = reinterpret_cast<const char*>(e);
  __builtin_prefetch(p);
  __builtin_prefetch(p + sizeof(ConnEntry) - 1);
}
}  // namespace

void ConnTable::prefetchEntryFwd(std::uint64_t h) const noexcept {
  std::uint32_t i = fwdHeads_[h & mask_];
  if (i != kNil) prefetchEntry(&entries_[i]);
}
void ConnTable::prefetchEntryRev(std::uint64_t h) const noexcept {
  std::uint32_t i = revHeads_[h & mask_];
  if (i != kNil) prefetchEntry(&entries_[i]);
}

bool ConnTable::matchFwd(const ConnEntry& e, const FlowKey& k) const noexcept {
  return e.clientPort == k.aPort && e.vipPort == k.bPort && e.proto == k.proto &&
         e.family == k.family && e.client == k.a && e.vip == k.b;
}
bool ConnTable::matchRev(const ConnEntry& e, const FlowKey& k) const noexcept {
  return e.snatPort == k.bPort && e.backendPort == k.aPort && e.proto == k.proto &&
         e.family == k.family && e.backend == k.a && snat_.address(e.snatIdx) == k.b;
}

void ConnTable::prefetchNextFwd(const FlowKey& k, std::uint64_t h) const noexcept {
  const std::uint32_t i = fwdHeads_[h & mask_];
  if (i != kNil && !matchFwd(entries_[i], k) && entries_[i].nextFwd != kNil) {
    prefetchEntry(&entries_[entries_[i].nextFwd]);
  }
}
void ConnTable::prefetchNextRev(const FlowKey& k, std::uint64_t h) const noexcept {
  const std::uint32_t i = revHeads_[h & mask_];
  if (i != kNil && !matchRev(entries_[i], k) && entries_[i].nextRev != kNil) {
    prefetchEntry(&entries_[entries_[i].nextRev]);
  }
}

std::uint32_t ConnTable::findForward(const FlowKey& k, std::uint64_t h) const noexcept {
  for (std::uint32_t i = fwdHeads_[h & mask_]; i != kNil; i = entries_[i].nextFwd) {
    if (matchFwd(entries_[i], k)) return i;
  }
  return kNil;
}

std::uint32_t ConnTable::findReverse(const FlowKey& k, std::uint64_t h) const noexcept {
  for (std::uint32_t i = revHeads_[h & mask_]; i != kNil; i = entries_[i].nextRev) {
    if (matchRev(entries_[i], k)) return i;
  }
  return kNil;
}

FlowKey ConnTable::forwardKey(const ConnEntry& e) const noexcept {
  return FlowKey{e.client, e.vip, e.clientPort, e.vipPort, e.proto, e.family};
}
FlowKey ConnTable::reverseKey(const ConnEntry& e) const noexcept {
  return FlowKey{e.backend, snat_.address(e.snatIdx), e.backendPort, e.snatPort, e.proto, e.family};
}

std::uint32_t ConnTable::allocate(TimeNs now) noexcept {
  if (freeHead_ == kNil && fresh_ < capacity_) {
    // The mark is stored before the entry is written, so a crash never leaves a written entry
    // beyond it.
    const std::uint32_t idx = fresh_++;
    if (highWater_ != nullptr) *highWater_ = fresh_;
    return idx;
  }
  if (freeHead_ == kNil) expire(now, kEvictScanEntries);
  if (freeHead_ == kNil) evictOne();
  if (freeHead_ == kNil) return kNil;
  std::uint32_t idx = freeHead_;
  freeHead_ = entries_[idx].nextRev;
  return idx;
}

void ConnTable::abandon(std::uint32_t idx) noexcept {
  entries_[idx].state = TcpState::kFree;
  entries_[idx].nextRev = freeHead_;
  freeHead_ = idx;
}

void ConnTable::insert(std::uint32_t idx, TimeNs now) noexcept {
  ConnEntry& e = entries_[idx];
  const std::uint64_t nowMs = now / kNsPerMs;
  e.state = e.proto == kProtoUdp ? TcpState::kUdpSingle : TcpState::kSynSent;
  e.flags = 0;
  finSeqs_[idx] = FinSeqs{};
  ++byState_[static_cast<std::size_t>(e.state)];
  ++active_;
  ++created_;
  ++backendActive_[e.backendId];
  linkIndexes(idx);
  e.deadlineMs = static_cast<std::uint32_t>(nowMs) + timeoutMs(e.state);
  wheelInsert(idx, nowMs);
  record(e, true);
}

void ConnTable::linkIndexes(std::uint32_t idx) noexcept {
  ConnEntry& e = entries_[idx];
  const std::uint64_t hf = hash(forwardKey(e)) & mask_;
  e.nextFwd = fwdHeads_[hf];
  fwdHeads_[hf] = idx;
  const std::uint64_t hr = hash(reverseKey(e)) & mask_;
  e.nextRev = revHeads_[hr];
  revHeads_[hr] = idx;
}

void ConnTable::unlinkChain(std::vector<std::uint32_t>& heads, std::uint32_t ConnEntry::*next,
                            std::uint64_t h, std::uint32_t idx) noexcept {
  std::uint32_t* link = &heads[h & mask_];
  while (*link != kNil) {
    if (*link == idx) {
      *link = entries_[idx].*next;
      return;
    }
    link = &(entries_[*link].*next);
  }
}

void ConnTable::remove(std::uint32_t idx, CloseReason why) noexcept {
  ConnEntry& e = entries_[idx];
  if (e.state == TcpState::kFree) return;
  wheelUnlink(idx);
  unlinkChain(fwdHeads_, &ConnEntry::nextFwd, hash(forwardKey(e)), idx);
  unlinkChain(revHeads_, &ConnEntry::nextRev, hash(reverseKey(e)), idx);
  // The backend holds the tuple in TIME_WAIT when the client's FIN reached it and no RST ended
  // the connection; where its sequence space ended lets a proxied SYN reuse the port after it.
  // A UDP flow leaves nothing behind at the backend.
  if (e.proto == kProtoTcp) {
    std::optional<std::uint32_t> endSeq;
    if ((e.flags & kFlagFinClient) && e.state != TcpState::kClosed &&
        e.state != TcpState::kKilled) {
      endSeq = finSeqs_[idx].client;  // the backend's numbering (proxied: tracked translated)
    }
    snat_.noteEnd(e.snatIdx, e.snatPort, e.backendId, e.backendPort, endSeq);
  }
  snat_.release(e.snatIdx, e.snatPort);
  record(e, false);
  --byState_[static_cast<std::size_t>(e.state)];
  --active_;
  --backendActive_[e.backendId];
  ++closed_[static_cast<std::size_t>(why)];
  e.state = TcpState::kFree;
  e.nextRev = freeHead_;
  freeHead_ = idx;
}

bool ConnFilter::matches(const ConnEntry& e) const noexcept {
  if (e.state == TcpState::kFree) return false;
  if (client && (client->family != e.family || client->ip != e.client)) return false;
  if (clientPort && *clientPort != e.clientPort) return false;
  if (backend && (backend->family != e.family || backend->ip != e.backend)) return false;
  if (vip && (vip->family != e.family || vip->ip != e.vip)) return false;
  if (protocol && *protocol != e.proto) return false;
  return !state || *state == e.state;
}

bool ConnTable::kill(std::uint32_t idx, TimeNs now) noexcept {
  ConnEntry& e = entries_[idx];
  if (e.state == TcpState::kFree || e.state == TcpState::kKilled) return false;
  const std::uint64_t nowMs = now / kNsPerMs;
  setState(e, TcpState::kKilled);
  e.deadlineMs = static_cast<std::uint32_t>(nowMs) + timeoutMs(TcpState::kKilled);
  wheelUnlink(idx);
  wheelInsert(idx, nowMs);
  return true;
}

void ConnTable::setState(ConnEntry& e, TcpState s) noexcept {
  --byState_[static_cast<std::size_t>(e.state)];
  ++byState_[static_cast<std::size_t>(s)];
  e.state = s;
}

void ConnTable::enterState(std::uint32_t idx, TcpState next, std::uint64_t nowMs) noexcept {
  ConnEntry& e = entries_[idx];
  setState(e, next);
  e.deadlineMs = static_cast<std::uint32_t>(nowMs) + timeoutMs(next);
  wheelUnlink(idx);
  wheelInsert(idx, nowMs);
}

void ConnTable::track(std::uint32_t idx, bool fromClient, std::uint8_t tcpFlags, std::uint32_t seq,
                      std::uint32_t ack, std::uint32_t payloadLen, TimeNs now) noexcept {
  ConnEntry& e = entries_[idx];
  const TcpState old = e.state;
  const std::uint64_t nowMs = now / kNsPerMs;
  TcpState next = old;
  if (old == TcpState::kKilled) return;  // only expiry ends it (the pipeline sends the resets)
  if (tcpFlags & kTcpRst) {              // RST from either side ends the connection
    next = TcpState::kClosed;
  } else if (old != TcpState::kClosed) {
    const bool fin = tcpFlags & kTcpFin, syn = tcpFlags & kTcpSyn, ackf = tcpFlags & kTcpAck;
    // Established, no FIN yet: each side's slot is its latest acknowledgement (rstFit).
    if (old == TcpState::kEstablished && ackf && !fin &&
        !(e.flags & (kFlagFinClient | kFlagFinServer))) {
      (fromClient ? finSeqs_[idx].client : finSeqs_[idx].server) = ack;
    }
    if (fromClient) {
      if (fin && !(e.flags & kFlagFinClient)) {
        e.flags |= kFlagFinClient;
        finSeqs_[idx].client = seq + payloadLen + 1;
      }
      if (ackf && (e.flags & kFlagFinServer) && seqAtOrAfter(ack, finSeqs_[idx].server)) {
        e.flags |= kFlagFinServerAcked;
      }
      if (old == TcpState::kSynReceived && ackf && !syn) next = TcpState::kEstablished;
    } else {
      if (syn && ackf && old == TcpState::kSynSent) next = TcpState::kSynReceived;
      if (fin && !(e.flags & kFlagFinServer)) {
        e.flags |= kFlagFinServer;
        finSeqs_[idx].server = seq + payloadLen + 1;
      }
      if (ackf && (e.flags & kFlagFinClient) && seqAtOrAfter(ack, finSeqs_[idx].client)) {
        e.flags |= kFlagFinClientAcked;
      }
    }
    const bool finC = e.flags & kFlagFinClient, finS = e.flags & kFlagFinServer;
    if (finC && finS) {
      const bool acked = (e.flags & kFlagFinClientAcked) && (e.flags & kFlagFinServerAcked);
      next = acked ? TcpState::kTimeWait : TcpState::kClosing;
    } else if (finC || finS) {
      next = TcpState::kFinWait;
    }
  }
  if (next != old) {
    enterState(idx, next, nowMs);
  } else if (old != TcpState::kTimeWait && old != TcpState::kClosed) {
    // Activity extends the deadline; the wheel notices lazily when the old slot comes due.
    // TIME_WAIT and the post-RST grace run from entering the state and are never extended.
    e.deadlineMs = static_cast<std::uint32_t>(nowMs) + timeoutMs(old);
  }
}

void ConnTable::wheelInsert(std::uint32_t idx, std::uint64_t nowMs) noexcept {
  ConnEntry& e = entries_[idx];
  if (!cursorSet_) {
    cursorMs_ = nowMs - nowMs % kSlotMs;
    cursorSet_ = true;
  }
  auto left = static_cast<std::int32_t>(e.deadlineMs - static_cast<std::uint32_t>(nowMs));
  std::int64_t d = static_cast<std::int64_t>(nowMs) + left;
  const auto lo = static_cast<std::int64_t>(cursorMs_);
  const auto hi = lo + static_cast<std::int64_t>((kWheelSlots - 1) * kSlotMs);
  if (d < lo) d = lo;
  if (d > hi) d = hi;  // beyond one revolution: parked in the last slot, re-slotted when due
  auto slot =
      static_cast<std::uint32_t>((static_cast<std::uint64_t>(d) / kSlotMs) & (kWheelSlots - 1));
  e.timerPrev = kHeadBit | slot;
  e.timerNext = wheel_[slot];
  if (e.timerNext != kNil) entries_[e.timerNext].timerPrev = idx;
  wheel_[slot] = idx;
}

void ConnTable::wheelUnlink(std::uint32_t idx) noexcept {
  ConnEntry& e = entries_[idx];
  if (e.timerPrev & kHeadBit) {
    wheel_[e.timerPrev & ~kHeadBit] = e.timerNext;
  } else {
    entries_[e.timerPrev].timerNext = e.timerNext;
  }
  if (e.timerNext != kNil) entries_[e.timerNext].timerPrev = e.timerPrev;
}

std::size_t ConnTable::expire(TimeNs now, std::size_t budget) noexcept {
  const std::uint64_t nowMs = now / kNsPerMs;
  if (!cursorSet_ || active_ == 0) {
    // Nothing is scheduled: jump the cursor instead of walking empty slots.
    std::uint64_t slotStart = nowMs - nowMs % kSlotMs;
    if (!cursorSet_ || slotStart > cursorMs_) cursorMs_ = slotStart;
    cursorSet_ = true;
    return 0;
  }
  std::size_t removed = 0;
  std::size_t work = 0;
  while (work < budget && cursorMs_ + kSlotMs <= nowMs) {
    ++work;
    const auto slot = static_cast<std::uint32_t>((cursorMs_ / kSlotMs) & (kWheelSlots - 1));
    const std::uint32_t idx = wheel_[slot];
    if (idx == kNil) {
      cursorMs_ += kSlotMs;
      continue;
    }
    ConnEntry& e = entries_[idx];
    if (static_cast<std::int32_t>(e.deadlineMs - static_cast<std::uint32_t>(nowMs)) <= 0) {
      CloseReason why = CloseReason::kTimeout;
      if (e.state == TcpState::kTimeWait || e.state == TcpState::kClosing) why = CloseReason::kFin;
      if (e.state == TcpState::kClosed) why = CloseReason::kRst;
      if (e.state == TcpState::kKilled) why = CloseReason::kKilled;
      remove(idx, why);
      ++removed;
    } else {
      wheelUnlink(idx);
      wheelInsert(idx, nowMs);
    }
  }
  return removed;
}

void ConnTable::evictOne(bool udpOnly) noexcept {
  std::uint32_t seen = 0;
  for (std::uint32_t s = 0; s < kEvictScanSlots && seen < kEvictScanEntries; ++s) {
    const auto slot = static_cast<std::uint32_t>(((cursorMs_ / kSlotMs) + s) & (kWheelSlots - 1));
    for (std::uint32_t i = wheel_[slot]; i != kNil && seen < kEvictScanEntries;
         i = entries_[i].timerNext, ++seen) {
      if (udpOnly && entries_[i].state != TcpState::kUdpSingle) continue;
      switch (entries_[i].state) {
        case TcpState::kUdpSingle:
        case TcpState::kSynSent:
        case TcpState::kSynReceived:
        case TcpState::kClosing:
        case TcpState::kTimeWait:
        case TcpState::kClosed:
        case TcpState::kKilled:
          remove(i, CloseReason::kEvicted);
          return;
        default:
          break;  // established and half-closed connections (and UDP flows past their first
                  // exchange) are never disturbed
      }
    }
  }
}

std::uint64_t ConnTable::closedTotal() const noexcept {
  std::uint64_t t = 0;
  for (auto c : closed_) t += c;
  return t;
}

double ConnTable::bytesPerConnection() const noexcept {
  // The wheel and the per-backend counts are fixed costs, not per connection.
  const std::size_t fixed = (wheel_.size() + backendActive_.size()) * sizeof(std::uint32_t);
  return static_cast<double>(bytesAllocated() - fixed) / static_cast<double>(capacity_);
}

std::size_t ConnTable::bytesAllocated() const noexcept {
  return std::size_t{capacity_} * (sizeof(ConnEntry) + sizeof(FinSeqs) + sizeof(std::uint32_t)) +
         fwdHeads_.size() * sizeof(std::uint32_t) + revHeads_.size() * sizeof(std::uint32_t) +
         wheel_.size() * sizeof(std::uint32_t) + backendActive_.size() * sizeof(std::uint32_t);
}

}  // namespace xlb
