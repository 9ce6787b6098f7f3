// SPDX-License-Identifier: Apache-2.0
// A worker's record of the flows it opens and closes, for the cluster agent (engine/cluster):
// a single-producer single-consumer ring the worker writes without a lock or a system call and
// the agent drains every few milliseconds to announce the flows to the other instances. Sized
// once at construction; a full ring drops the record and counts it (an instance then misses a
// flow, and that flow breaks only if the router moves it before it ends).
#pragma once

#include <atomic>
#include <cstdint>
#include <span>
#include <vector>

#include "xlb/addr.h"

namespace xlb {

// A flow by its client side (client -> VIP); ports host order.
struct FlowRecord {
  IpAddr client;
  IpAddr vip;
  std::uint16_t clientPort = 0;
  std::uint16_t vipPort = 0;
  std::uint8_t proto = 0;
  Family family = Family::kV4;
  bool open = false;  // false: closed
  bool operator==(const FlowRecord&) const = default;
};

// The padding the analyser counts is the point: the producer's and the consumer's indexes sit
// on cache lines of their own, so neither core's writes evict the other's.
class FlowJournal {  // NOLINT(clang-analyzer-optin.performance.Padding)
 public:
  explicit FlowJournal(std::uint32_t capacity);  // rounded up to a power of two, at least 2
  FlowJournal(const FlowJournal&) = delete;
  FlowJournal& operator=(const FlowJournal&) = delete;

  // Producer (the worker).
  void push(const FlowRecord& r) noexcept;
  // Consumer (the agent): moves up to out.size() records out, oldest first; returns how many.
  std::size_t drain(std::span<FlowRecord> out) noexcept;
  std::uint64_t overflows() const noexcept { return overflows_.load(std::memory_order_relaxed); }
  std::uint32_t capacity() const noexcept { return mask_ + 1; }

 private:
  std::vector<FlowRecord> ring_;
  std::uint32_t mask_;
  alignas(64) std::atomic<std::uint64_t> head_{0};  // next to write (producer)
  alignas(64) std::atomic<std::uint64_t> tail_{0};  // next to read (consumer)
  std::atomic<std::uint64_t> overflows_{0};
};

}  // namespace xlb
