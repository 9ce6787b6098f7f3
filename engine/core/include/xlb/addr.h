// SPDX-License-Identifier: Apache-2.0
// Address types shared by the data path and the control plane: IPv4/IPv6 addresses, prefixes, MACs.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace xlb {

// Time is always passed in, never read: nanoseconds on whatever clock the caller runs.
using TimeNs = std::uint64_t;
inline constexpr TimeNs kNsPerMs = 1'000'000;
inline constexpr TimeNs kNsPerSec = 1'000'000'000;

enum class Family : std::uint8_t { kNone = 0, kV4 = 4, kV6 = 6 };

// An IPv4 or IPv6 address in network byte order. IPv4 lives in the first four bytes and the rest
// is zero, so keys compare and hash the same way for both families (the family is kept apart).
struct IpAddr {
  std::array<std::uint8_t, 16> bytes{};

  static IpAddr v4(std::uint32_t hostOrder) noexcept {
    IpAddr a;
    a.bytes[0] = static_cast<std::uint8_t>(hostOrder >> 24);
    a.bytes[1] = static_cast<std::uint8_t>(hostOrder >> 16);
    a.bytes[2] = static_cast<std::uint8_t>(hostOrder >> 8);
    a.bytes[3] = static_cast<std::uint8_t>(hostOrder);
    return a;
  }
  static IpAddr fromV4Bytes(const std::uint8_t* p) noexcept {
    // Written as two whole 8-byte words so that the 8-byte reads of hashing and comparing are
    // forwarded from the store instead of stalling on a 4-byte write inside a zeroed block.
    std::uint32_t v;
    std::memcpy(&v, p, 4);
    const std::uint64_t words[2] = {v, 0};
    IpAddr a;
    std::memcpy(a.bytes.data(), words, 16);
    return a;
  }
  static IpAddr fromV6Bytes(const std::uint8_t* p) noexcept {
    IpAddr a;
    std::memcpy(a.bytes.data(), p, 16);
    return a;
  }
  // Two 8-byte compares: this sits on the per-packet lookup path, where a memcmp call shows.
  // Byte order: a total order for ordered containers keyed by address.
  friend std::strong_ordering operator<=>(const IpAddr& x, const IpAddr& y) noexcept {
    return x.bytes <=> y.bytes;
  }
  friend bool operator==(const IpAddr& x, const IpAddr& y) noexcept {
    std::uint64_t a[2], b[2];
    std::memcpy(a, x.bytes.data(), 16);
    std::memcpy(b, y.bytes.data(), 16);
    return ((a[0] ^ b[0]) | (a[1] ^ b[1])) == 0;
  }
  // A fast, unkeyed mix of the address (for small control-built indexes, not for flow tables).
  std::uint64_t mix() const noexcept {
    std::uint64_t a[2];
    std::memcpy(a, bytes.data(), 16);
    std::uint64_t h = (a[0] ^ 0x9e3779b97f4a7c15ull) * 0xbf58476d1ce4e5b9ull;
    h ^= (a[1] + (h >> 29)) * 0x94d049bb133111ebull;
    return h ^ (h >> 32);
  }
};

// A typed address: the family travels with the bytes.
struct Address {
  Family family = Family::kNone;
  IpAddr ip;

  // Strict text forms: dotted quad (no leading zeros, each octet <= 255) or RFC 4291 IPv6
  // (with "::" compression and an embedded dotted quad). Anything else is nullopt.
  static std::optional<Address> parse(std::string_view text);
  std::string toString() const;
  std::uint32_t bitLength() const noexcept { return family == Family::kV4 ? 32 : 128; }
  friend bool operator==(const Address&, const Address&) = default;
  // Written out: clang-tidy reads a defaulted <=> as comparing with a literal 0.
  friend std::strong_ordering operator<=>(const Address& x, const Address& y) noexcept {
    const std::strong_ordering f = x.family <=> y.family;
    return std::is_neq(f) ? f : x.ip <=> y.ip;
  }
};

// An address prefix (CIDR). parse() accepts "ADDR" (a host route) and "ADDR/LEN"; host bits
// below LEN are cleared so the same network always has one spelling.
struct Prefix {
  Address addr;
  std::uint8_t length = 0;

  static std::optional<Prefix> parse(std::string_view text);
  // The prefix of `length` bits (at most the family's) holding `a`, host bits cleared.
  static Prefix of(const Address& a, unsigned length) noexcept;
  std::string toString() const;
  bool contains(const Address& a) const noexcept;
  friend bool operator==(const Prefix&, const Prefix&) = default;
  friend std::strong_ordering operator<=>(const Prefix& x, const Prefix& y) noexcept {
    const std::strong_ordering a = x.addr <=> y.addr;
    return std::is_neq(a) ? a : x.length <=> y.length;
  }
};

// "ADDR:PORT" for IPv4, "[ADDR]:PORT" for IPv6; the port 1-65535, parsed whole. The control
// API's client parameter and the configuration's control.listen.
bool parseAddrPort(std::string_view text, Address& addr, std::uint16_t& port);

// The first address of `family` in `candidates`, if any.
std::optional<Address> firstOfFamily(const std::vector<Address>& candidates, Family family);

struct MacAddr {
  std::array<std::uint8_t, 6> bytes{};
  static std::optional<MacAddr> parse(std::string_view text);
  std::string toString() const;
  friend bool operator==(const MacAddr&, const MacAddr&) = default;
};

}  // namespace xlb
