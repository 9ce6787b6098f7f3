// SPDX-License-Identifier: Apache-2.0
// Verdict reasons and actions, generated from the X-macro list in bpf/xlb_common.h.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

#include "xlb/enum_names.h"
#include "xlb_common.h"

namespace xlb {

enum class Action : std::uint8_t {
  kDrop = XLB_ACT_DROP,
  kTx = XLB_ACT_TX,
  kPass = XLB_ACT_PASS,
  kRedirect = XLB_ACT_REDIRECT,  // XDP only: handed to the AF_XDP worker
  kHold = XLB_ACT_HOLD,          // engine only: payload copied, held for the backend
};

enum class Reason : std::uint16_t {
#define XLB_CXX_REASON(e, c, l, a) k##c = XLB_REASON_##e,
  XLB_REASONS(XLB_CXX_REASON)
#undef XLB_CXX_REASON
};

inline constexpr std::size_t kReasonCount = XLB_REASON_COUNT;

inline constexpr std::array<std::string_view, kReasonCount> kReasonNames = {
#define XLB_CXX_NAME(e, c, l, a) #l,
    XLB_REASONS(XLB_CXX_NAME)
#undef XLB_CXX_NAME
};

inline constexpr std::array<Action, kReasonCount> kReasonActions = {
#define XLB_CXX_ACT(e, c, l, a) static_cast<Action>(a),
    XLB_REASONS(XLB_CXX_ACT)
#undef XLB_CXX_ACT
};

constexpr std::string_view reasonName(Reason r) noexcept {
  return kReasonNames[static_cast<std::size_t>(r)];
}
constexpr Action actionOf(Reason r) noexcept {
  return kReasonActions[static_cast<std::size_t>(r)];
}
XLB_ENUM_NAMES(Action, {Action::kDrop, "drop"}, {Action::kTx, "tx"}, {Action::kPass, "pass"},
               {Action::kRedirect, "redirect"}, {Action::kHold, "hold"});

inline constexpr std::size_t kActionCount = 8;  // room for every XLB_ACT_* value

// Counts per reason summed into counts per action (the reason list says each one's action).
constexpr std::array<std::uint64_t, kActionCount> actionCounts(
    const std::array<std::uint64_t, kReasonCount>& byReason) noexcept {
  std::array<std::uint64_t, kActionCount> out{};
  for (std::size_t i = 0; i < kReasonCount; ++i) {
    out[static_cast<std::size_t>(kReasonActions[i])] += byReason[i];
  }
  return out;
}

// A verdict is its reason; the action (transmit, drop, pass to kernel, ...) follows from the list.
struct Verdict {
  Reason reason = Reason::kPassNotIp;
  constexpr Action action() const noexcept { return actionOf(reason); }
  friend constexpr bool operator==(Verdict, Verdict) = default;
};

}  // namespace xlb
