// SPDX-License-Identifier: Apache-2.0
// Strict reads from JSON that came from outside (state files): a value must have the expected
// type and range, or the read throws a JsonReadError naming the key. No silent conversion: a
// float, a string or an out-of-range integer where an integer is expected is an error, never
// UB or a wrapped value.
#pragma once

#include <algorithm>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <utility>

#include "xlb/text.h"

namespace xlb {

struct JsonReadError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

inline const nlohmann::json& jsonField(const nlohmann::json& obj, const std::string& key) {
  if (!obj.is_object()) throw JsonReadError("expected an object holding \"" + key + "\"");
  auto it = obj.find(key);
  if (it == obj.end()) throw JsonReadError("\"" + key + "\" is missing");
  return *it;
}

// An integer in [lo, hi]; `key` names it in the error.
template <typename T>
T jsonInt(const nlohmann::json& v, const std::string& key, T lo = std::numeric_limits<T>::min(),
          T hi = std::numeric_limits<T>::max()) {
  static_assert(std::is_integral_v<T> && sizeof(T) <= 8);
  const std::string range =
      " (expected an integer " + std::to_string(lo) + ".." + std::to_string(hi) + ")";
  if (!v.is_number_integer()) throw JsonReadError("\"" + key + "\" is not an integer" + range);
  auto fits = [&](auto x) {
    return std::in_range<T>(x) && !std::cmp_less(x, lo) && !std::cmp_greater(x, hi);
  };
  if (v.is_number_unsigned()) {
    const auto u = v.get<std::uint64_t>();
    if (!fits(u)) throw JsonReadError("\"" + key + "\" is out of range" + range);
    return static_cast<T>(u);
  }
  const auto i = v.get<std::int64_t>();
  if (!fits(i)) throw JsonReadError("\"" + key + "\" is out of range" + range);
  return static_cast<T>(i);
}

template <typename T>
T fieldInt(const nlohmann::json& obj, const char* key, T lo, T hi) {
  return jsonInt<T>(jsonField(obj, key), key, lo, hi);
}

// A string of at most `maxBytes` bytes of valid UTF-8.
inline std::string jsonString(const nlohmann::json& v, const std::string& key,
                              std::size_t maxBytes = 4096) {
  if (!v.is_string()) throw JsonReadError("\"" + key + "\" is not a string");
  std::string s = v.get<std::string>();
  if (s.size() > maxBytes) {
    throw JsonReadError("\"" + key + "\" is longer than " + std::to_string(maxBytes) + " bytes");
  }
  if (!validUtf8(s)) throw JsonReadError("\"" + key + "\" is not valid UTF-8");
  return s;
}

inline std::string fieldString(const nlohmann::json& obj, const char* key,
                               std::size_t maxBytes = 4096) {
  return jsonString(jsonField(obj, key), key, maxBytes);
}

inline const nlohmann::json& fieldArray(const nlohmann::json& obj, const char* key) {
  const nlohmann::json& v = jsonField(obj, key);
  if (!v.is_array()) throw JsonReadError("\"" + std::string(key) + "\" is not an array");
  return v;
}

// An object holding no key but `known`; `in` prefixes the key in the error ("fold.ipv5").
inline void onlyFields(const nlohmann::json& obj, std::initializer_list<const char*> known,
                       const std::string& in = "") {
  if (!obj.is_object())
    throw JsonReadError(in.empty() ? "expected an object" : "\"" + in + "\" is not an object");
  for (const auto& item : obj.items()) {
    const std::string& k = item.key();
    if (std::none_of(known.begin(), known.end(), [&](const char* n) { return k == n; })) {
      throw JsonReadError("unknown field \"" + (in.empty() ? k : in + "." + k) + "\"");
    }
  }
}

}  // namespace xlb
