// SPDX-License-Identifier: Apache-2.0
// Full checksum computation (the reference the incremental updates are tested against).
#include "xlb/checksum.h"

namespace xlb {

std::uint16_t ipv4HeaderChecksum(const std::uint8_t* ip, std::size_t ihlBytes) noexcept {
  std::uint64_t sum = csumAdd(ip, 10, 0);
  sum = csumAdd(ip + 12, ihlBytes - 12, sum);  // skip the checksum field itself
  return static_cast<std::uint16_t>(~csumFold(sum));
}

namespace {
std::uint64_t pseudoHeader(Family fam, std::uint8_t proto, const IpAddr& src, const IpAddr& dst,
                           std::size_t l4Len) noexcept {
  std::size_t alen = fam == Family::kV4 ? 4 : 16;
  std::uint64_t sum = csumAdd(src.bytes.data(), alen, 0);
  sum = csumAdd(dst.bytes.data(), alen, sum);
  sum += proto;
  sum += static_cast<std::uint64_t>(l4Len);
  return sum;
}
}  // namespace

std::uint16_t l4Checksum(Family fam, std::uint8_t proto, const IpAddr& src, const IpAddr& dst,
                         const std::uint8_t* l4, std::size_t l4Len,
                         std::size_t csumOffset) noexcept {
  std::uint64_t sum = proto == 1 ? 0 : pseudoHeader(fam, proto, src, dst, l4Len);
  sum = csumAdd(l4, csumOffset, sum);
  sum = csumAdd(l4 + csumOffset + 2, l4Len - csumOffset - 2, sum);
  // csumOffset is even for every protocol, so skipping two bytes keeps word alignment.
  auto c = static_cast<std::uint16_t>(~csumFold(sum));
  if (proto == 17 && c == 0) c = 0xffff;  // UDP: 0 means "no checksum", so send all-ones
  return c;
}

bool l4ChecksumPartial(Family fam, std::uint8_t proto, const IpAddr& src, const IpAddr& dst,
                       const std::uint8_t* l4, std::size_t l4Len) noexcept {
  const std::size_t field = proto == 17 ? 6 : 16;
  if (proto == 1 || l4Len < field + 2) return false;
  return load16(l4 + field) == csumFold(pseudoHeader(fam, proto, src, dst, l4Len));
}

bool l4ChecksumValid(Family fam, std::uint8_t proto, const IpAddr& src, const IpAddr& dst,
                     const std::uint8_t* l4, std::size_t l4Len) noexcept {
  // UDP over IPv4 may go without a checksum (zero); over IPv6 it may not (RFC 8200 8.1).
  if (proto == 17 && fam == Family::kV4 && l4Len >= 8 && l4[6] == 0 && l4[7] == 0) return true;
  std::uint64_t sum = proto == 1 ? 0 : pseudoHeader(fam, proto, src, dst, l4Len);
  sum = csumAdd(l4, l4Len, sum);
  return csumFold(sum) == 0xffff;
}

}  // namespace xlb
