// SPDX-License-Identifier: Apache-2.0
// One way to name an enum's values, for every enum that is shown or parsed as text (API, config,
// metrics, logs): the enum's header specialises EnumNames<E> with one table, and enumName() and
// parseEnum() read it. A value missing from the table renders as "?" and never parses, so the
// table is the only place a name is written.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace xlb {

template <typename E>
struct EnumNames;  // specialise: static constexpr std::array<std::pair<E, std::string_view>, N>
                   // kTable

template <typename E>
constexpr std::string_view enumName(E e) noexcept {
  for (const auto& [value, name] : EnumNames<E>::kTable) {
    if (value == e) return name;
  }
  return "?";
}

template <typename E>
constexpr std::optional<E> parseEnum(std::string_view s) noexcept {
  for (const auto& [value, name] : EnumNames<E>::kTable) {
    if (name == s) return value;
  }
  return std::nullopt;
}

// Every name, in table order (command-line choices).
template <typename E>
std::vector<std::string> enumNameList() {
  std::vector<std::string> out;
  out.reserve(EnumNames<E>::kTable.size());
  for (const auto& [value, name] : EnumNames<E>::kTable) out.emplace_back(name);
  return out;
}

// "a, b, c": the accepted names, for error messages.
template <typename E>
std::string enumChoices() {
  std::string out;
  for (const auto& [value, name] : EnumNames<E>::kTable) {
    if (!out.empty()) out += ", ";
    out += name;
  }
  return out;
}

}  // namespace xlb

// Specialises EnumNames<E> in namespace xlb: XLB_ENUM_NAMES(TcpState, {TcpState::kFree, "free"},
// ...). Use at namespace scope in xlb.
#define XLB_ENUM_NAMES(E, ...)                                        \
  template <>                                                         \
  struct EnumNames<E> {                                               \
    static constexpr std::array kTable =                              \
        std::to_array<std::pair<E, std::string_view>>({__VA_ARGS__}); \
  }
