// SPDX-License-Identifier: Apache-2.0
// The engine's side of xlb's SYN cookie (bpf/xlb_cookie.h, shared with the XDP program): make
// the cookie for a SYN, and check the cookie an ACK returns and decode the client's options.
#pragma once

#include <array>
#include <cstdint>

#include "xlb/parse.h"

namespace xlb {

using CookieKey = std::array<std::uint64_t, 2>;

struct CookieOptions {
  std::uint16_t mss = 536;
  std::uint8_t wscale = kNoWscale;  // the client's shift, or none
  bool sackPermitted = false;
};

// The cookie for a parsed SYN (frame holds its L4 header at info.l4Offset). mssCap: the largest
// MSS to advertise (0: no cap). `opts` receives what the cookie encodes.
std::uint32_t makeCookie(const CookieKey& key, const std::uint8_t* frame, const PacketInfo& syn,
                         TimeNs now, std::uint16_t mssCap, CookieOptions& opts) noexcept;

// Checks the ACK completing a cookie handshake: ack - 1 must be the cookie of (tuple, seq - 1)
// made in this tick or the previous one. On success fills `opts`.
bool checkCookie(const CookieKey& key, const std::uint8_t* frame, const PacketInfo& ack, TimeNs now,
                 CookieOptions& opts) noexcept;

// An ISN for a connection we open ourselves (the SYN proxy's SYN to a backend), as RFC 6528
// makes one: a 64 ns clock (Linux's rate: it wraps in 274 s, past any TIME_WAIT) plus a keyed
// hash of the tuple. The same tuple's ISNs grow with time, so a backend still holding the
// tuple's previous connection in TIME_WAIT sees a sequence number after it and accepts the
// reuse; other tuples' ISNs cannot be predicted from it.
std::uint32_t tupleIsn(const CookieKey& key, const IpAddr& src, const IpAddr& dst,
                       std::uint16_t sport, std::uint16_t dport, TimeNs now) noexcept;

// What a cookie encodes (its low byte), without checking it.
CookieOptions cookieOptions(std::uint32_t cookie) noexcept;

}  // namespace xlb
