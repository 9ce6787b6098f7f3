// SPDX-License-Identifier: Apache-2.0
#include "xlb/boundary.h"

#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <stdexcept>

namespace xlb {
namespace {

struct Slot {
  std::atomic<std::uint64_t> errors{0};
  std::atomic<bool> armed{false};
  std::atomic<std::int64_t> lastLogSecond{-1};
  std::atomic<std::uint32_t> loggedThisSecond{0};
};

std::array<Slot, kBoundaryCount>& slots() noexcept {
  static std::array<Slot, kBoundaryCount> s;
  return s;
}

Slot& slot(Boundary b) noexcept {
  return slots()[static_cast<std::size_t>(b)];
}

// A boundary that throws on every request must not flood the log: five lines a second each.
bool mayLog(Slot& s) noexcept {
  const std::int64_t sec = std::chrono::duration_cast<std::chrono::seconds>(
                               std::chrono::steady_clock::now().time_since_epoch())
                               .count();
  if (s.lastLogSecond.exchange(sec, std::memory_order_relaxed) != sec) {
    s.loggedThisSecond.store(0, std::memory_order_relaxed);
  }
  return s.loggedThisSecond.fetch_add(1, std::memory_order_relaxed) < 5;
}

}  // namespace

std::uint64_t boundaryErrors(Boundary b) noexcept {
  return slot(b).errors.load(std::memory_order_relaxed);
}

void recordBoundaryError(Boundary b, std::string_view what) noexcept {
  Slot& s = slot(b);
  const std::uint64_t n = s.errors.fetch_add(1, std::memory_order_relaxed) + 1;
  if (!mayLog(s)) return;
  try {
    spdlog::error("internal error caught at the {} boundary ({} so far): {}; still serving",
                  kBoundaryNames[static_cast<std::size_t>(b)], n, what);
  } catch (...) {
    // Logging itself failed (out of memory): the count above is what remains.
  }
}

void armFault(Boundary b) noexcept {
  slot(b).armed.store(true, std::memory_order_release);
}

void faultPoint(Boundary b) {
  Slot& s = slot(b);
  if (s.armed.load(std::memory_order_relaxed) && s.armed.exchange(false)) {
    throw std::runtime_error("injected fault at the " +
                             std::string(kBoundaryNames[static_cast<std::size_t>(b)]) +
                             " boundary");
  }
}

}  // namespace xlb
