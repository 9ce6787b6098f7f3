// SPDX-License-Identifier: Apache-2.0
#include "xlb/syncookie.h"

#include <cstring>

#include "xlb_cookie.h"

namespace xlb {
namespace {

// Addresses and ports as the XDP program reads them: bytes in packet order, loaded as native
// words.
std::uint32_t cookieOf(const CookieKey& key, const std::uint8_t* frame, const PacketInfo& p,
                       std::uint32_t isn, std::uint64_t tick, std::uint32_t meta) noexcept {
  const __u64 k[2] = {key[0], key[1]};
  std::uint32_t ports;
  std::memcpy(&ports, frame + p.l4Offset, 4);
  if (p.family == Family::kV4) {
    std::uint32_t s, d;
    std::memcpy(&s, p.src.bytes.data(), 4);
    std::memcpy(&d, p.dst.bytes.data(), 4);
    return xlb_cookie4(k, s, d, ports, isn, tick, meta);
  }
  __u32 s[4], d[4];
  std::memcpy(s, p.src.bytes.data(), 16);
  std::memcpy(d, p.dst.bytes.data(), 16);
  return xlb_cookie6(k, s, d, ports, isn, tick, meta);
}

void decode(std::uint32_t meta, CookieOptions& o) noexcept {
  o.mss = xlb_cookie_mss((meta >> 1) & 3);
  const std::uint32_t ws = (meta >> 3) & 0xf;
  o.wscale = ws == XLB_COOKIE_NO_WSCALE ? kNoWscale : static_cast<std::uint8_t>(ws);
  o.sackPermitted = (meta >> 7) & 1;
}

}  // namespace

std::uint32_t makeCookie(const CookieKey& key, const std::uint8_t* frame, const PacketInfo& syn,
                         TimeNs now, std::uint16_t mssCap, CookieOptions& opts) noexcept {
  const std::uint32_t idx = xlb_cookie_mss_idx_capped(syn.tcp.mss, mssCap);
  const std::uint64_t tick = now >> XLB_COOKIE_TICK_SHIFT;
  const std::uint32_t meta =
      xlb_cookie_meta(tick, idx, syn.tcp.wscale, syn.tcp.sackPermitted ? 1 : 0);
  decode(meta, opts);
  return cookieOf(key, frame, syn, syn.seq, tick, meta);
}

std::uint32_t tupleIsn(const CookieKey& key, const IpAddr& src, const IpAddr& dst,
                       std::uint16_t sport, std::uint16_t dport, TimeNs now) noexcept {
  const __u64 k[2] = {key[0], key[1]};
  __u32 s[4], d[4];
  std::memcpy(s, src.bytes.data(), 16);
  std::memcpy(d, dst.bytes.data(), 16);
  // The cookie's keyed hash, with a tick no cookie reaches (cookie ticks count 68 s periods)
  // so that the two uses of the key never hash the same words.
  constexpr __u64 kIsnDomain = ~0ull >> 8;
  const __u32 secret =
      xlb_cookie6(k, s, d, static_cast<__u32>(sport) << 16 | dport, 0, kIsnDomain, 0);
  return secret + static_cast<std::uint32_t>(now >> 6);
}

CookieOptions cookieOptions(std::uint32_t cookie) noexcept {
  CookieOptions o;
  decode(cookie & 0xff, o);
  return o;
}

bool checkCookie(const CookieKey& key, const std::uint8_t* frame, const PacketInfo& ack, TimeNs now,
                 CookieOptions& opts) noexcept {
  const std::uint32_t cookie = ack.ack - 1;
  const std::uint32_t meta = cookie & 0xff;
  const std::uint64_t tick = xlb_cookie_tick_of(meta, now >> XLB_COOKIE_TICK_SHIFT);
  if (cookieOf(key, frame, ack, ack.seq - 1, tick, meta) != cookie) return false;
  decode(meta, opts);
  return true;
}

}  // namespace xlb
