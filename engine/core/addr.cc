// SPDX-License-Identifier: Apache-2.0
// Text forms of addresses, prefixes and MACs. Control-plane code: never called per packet.
#include "xlb/addr.h"

#include <algorithm>
#include <charconv>
#include <cstdio>

namespace xlb {
namespace {

std::optional<std::uint32_t> parseDecimal(std::string_view s, std::uint32_t max) {
  if (s.empty() || s.size() > 10) return std::nullopt;
  if (s.size() > 1 && s[0] == '0') return std::nullopt;  // no octal-looking leading zeros
  std::uint32_t v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || ptr != s.data() + s.size() || v > max) return std::nullopt;
  return v;
}

bool parseV4(std::string_view s, std::uint8_t* out) {
  for (int i = 0; i < 4; ++i) {
    std::size_t dot = s.find('.');
    std::string_view part = (i < 3) ? s.substr(0, dot) : s;
    if (i < 3 && dot == std::string_view::npos) return false;
    auto v = parseDecimal(part, 255);
    if (!v) return false;
    out[i] = static_cast<std::uint8_t>(*v);
    if (i < 3) s.remove_prefix(dot + 1);
  }
  return true;
}

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool parseV6(std::string_view s, std::uint8_t* out) {
  std::array<std::uint16_t, 8> groups{};
  int count = 0;
  int gap = -1;  // index in groups where "::" sits
  if (s.size() < 2) return false;
  if (s.substr(0, 2) == "::") {
    gap = 0;
    s.remove_prefix(2);
  } else if (s[0] == ':') {
    return false;
  }
  while (!s.empty()) {
    if (count >= 8) return false;
    std::size_t colon = s.find(':');
    std::string_view part = s.substr(0, colon);
    if (part.find('.') != std::string_view::npos) {
      // Embedded IPv4 must be the last thing and occupy two groups.
      if (colon != std::string_view::npos || count > 6) return false;
      std::uint8_t v4[4];
      if (!parseV4(part, v4)) return false;
      groups[static_cast<std::size_t>(count++)] = static_cast<std::uint16_t>(v4[0] << 8 | v4[1]);
      groups[static_cast<std::size_t>(count++)] = static_cast<std::uint16_t>(v4[2] << 8 | v4[3]);
      s = {};
      break;
    }
    if (part.empty() || part.size() > 4) return false;
    std::uint32_t v = 0;
    for (char c : part) {
      int h = hexValue(c);
      if (h < 0) return false;
      v = v << 4 | static_cast<std::uint32_t>(h);
    }
    groups[static_cast<std::size_t>(count++)] = static_cast<std::uint16_t>(v);
    if (colon == std::string_view::npos) {
      s = {};
      break;
    }
    s.remove_prefix(colon + 1);
    if (!s.empty() && s[0] == ':') {
      if (gap >= 0) return false;  // only one "::"
      gap = count;
      s.remove_prefix(1);
    } else if (s.empty()) {
      return false;  // trailing single colon
    }
  }
  if (gap < 0 && count != 8) return false;
  if (gap >= 0 && count > 7) return false;
  std::array<std::uint16_t, 8> full{};
  if (gap < 0) {
    full = groups;
  } else {
    const auto g = static_cast<std::size_t>(gap);
    const auto tail = static_cast<std::size_t>(count) - g;
    for (std::size_t i = 0; i < g; ++i) full[i] = groups[i];
    for (std::size_t i = 0; i < tail; ++i) full[8 - tail + i] = groups[g + i];
  }
  for (std::size_t i = 0; i < 8; ++i) {
    out[2 * i] = static_cast<std::uint8_t>(full[i] >> 8);
    out[2 * i + 1] = static_cast<std::uint8_t>(full[i]);
  }
  return true;
}

}  // namespace

std::optional<Address> Address::parse(std::string_view text) {
  Address a;
  if (text.find(':') != std::string_view::npos) {
    if (!parseV6(text, a.ip.bytes.data())) return std::nullopt;
    a.family = Family::kV6;
  } else {
    if (!parseV4(text, a.ip.bytes.data())) return std::nullopt;
    a.family = Family::kV4;
  }
  return a;
}

std::string Address::toString() const {
  char buf[64];
  const auto& b = ip.bytes;
  if (family == Family::kV4) {
    std::snprintf(buf, sizeof buf, "%u.%u.%u.%u", b[0], b[1], b[2], b[3]);
    return buf;
  }
  if (family != Family::kV6) return "none";
  // RFC 5952: compress the longest run (>= 2) of zero groups, lower-case hex.
  std::array<unsigned, 8> g{};
  for (std::size_t i = 0; i < 8; ++i) g[i] = static_cast<unsigned>(b[2 * i] << 8 | b[2 * i + 1]);
  int bestStart = -1, bestLen = 0;
  for (int i = 0; i < 8;) {
    if (g[static_cast<std::size_t>(i)] != 0) {
      ++i;
      continue;
    }
    int j = i;
    while (j < 8 && g[static_cast<std::size_t>(j)] == 0) ++j;
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  std::string out;
  for (int i = 0; i < 8; ++i) {
    if (i == bestStart) {
      out += "::";
      i += bestLen - 1;
      continue;
    }
    if (!out.empty() && out.back() != ':') out += ':';
    std::snprintf(buf, sizeof buf, "%x", g[static_cast<std::size_t>(i)]);
    out += buf;
  }
  return out;
}

std::optional<Prefix> Prefix::parse(std::string_view text) {
  std::size_t slash = text.find('/');
  auto addr = Address::parse(text.substr(0, slash));
  if (!addr) return std::nullopt;
  Prefix p;
  p.addr = *addr;
  p.length = static_cast<std::uint8_t>(addr->bitLength());
  if (slash != std::string_view::npos) {
    auto len = parseDecimal(text.substr(slash + 1), addr->bitLength());
    if (!len) return std::nullopt;
    p.length = static_cast<std::uint8_t>(*len);
  }
  return of(p.addr, p.length);
}

Prefix Prefix::of(const Address& a, unsigned length) noexcept {
  Prefix p{a, static_cast<std::uint8_t>(std::min(length, a.bitLength()))};
  for (unsigned bit = p.length; bit < 128; ++bit) {
    p.addr.ip.bytes[bit / 8] =
        static_cast<std::uint8_t>(p.addr.ip.bytes[bit / 8] & ~(0x80u >> (bit % 8)));
  }
  return p;
}

std::string Prefix::toString() const {
  return addr.toString() + "/" + std::to_string(length);
}

bool Prefix::contains(const Address& a) const noexcept {
  if (a.family != addr.family) return false;
  unsigned full = length / 8u, rest = length % 8u;
  if (std::memcmp(a.ip.bytes.data(), addr.ip.bytes.data(), full) != 0) return false;
  if (rest == 0) return true;
  auto mask = static_cast<std::uint8_t>(0xffu << (8 - rest));
  return (a.ip.bytes[full] & mask) == (addr.ip.bytes[full] & mask);
}

std::optional<MacAddr> MacAddr::parse(std::string_view text) {
  MacAddr m;
  if (text.size() != 17) return std::nullopt;
  for (std::size_t i = 0; i < 6; ++i) {
    int hi = hexValue(text[3 * i]), lo = hexValue(text[3 * i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    if (i < 5 && text[3 * i + 2] != ':') return std::nullopt;
    m.bytes[i] = static_cast<std::uint8_t>(hi << 4 | lo);
  }
  return m;
}

std::string MacAddr::toString() const {
  char buf[18];
  std::snprintf(buf, sizeof buf, "%02x:%02x:%02x:%02x:%02x:%02x", bytes[0], bytes[1], bytes[2],
                bytes[3], bytes[4], bytes[5]);
  return buf;
}

bool parseAddrPort(std::string_view text, Address& addr, std::uint16_t& port) {
  std::string_view host, portText;
  if (!text.empty() && text[0] == '[') {
    const auto close = text.find("]:");
    if (close == std::string_view::npos) return false;
    host = text.substr(1, close - 1);
    portText = text.substr(close + 2);
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos || text.find(':') != colon) return false;
    host = text.substr(0, colon);
    portText = text.substr(colon + 1);
  }
  const std::optional<Address> a = Address::parse(host);
  // IPv6 only in brackets, IPv4 never.
  if (!a || (a->family == Family::kV6) != (text[0] == '[')) return false;
  unsigned p = 0;
  const auto [end, ec] = std::from_chars(portText.data(), portText.data() + portText.size(), p);
  if (portText.empty() || ec != std::errc() || end != portText.data() + portText.size() || p == 0 ||
      p > 65535) {
    return false;
  }
  addr = *a;
  port = static_cast<std::uint16_t>(p);
  return true;
}

std::optional<Address> firstOfFamily(const std::vector<Address>& candidates, Family family) {
  for (const Address& a : candidates) {
    if (a.family == family) return a;
  }
  return std::nullopt;
}

}  // namespace xlb
