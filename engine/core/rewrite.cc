// SPDX-License-Identifier: Apache-2.0
#include "xlb/rewrite.h"

#include "xlb/checksum.h"

namespace xlb {

void natRewrite(std::uint8_t* frame, const PacketInfo& info, const IpAddr& src, const IpAddr& dst,
                std::uint16_t sport, std::uint16_t dport) noexcept {
  std::uint8_t* ip = frame + info.l3Offset;
  std::uint8_t* l4 = frame + info.l4Offset;
  const bool v4 = info.family == Family::kV4;
  const std::size_t alen = v4 ? 4 : 16;
  std::uint8_t* srcField = ip + (v4 ? 12 : 8);
  std::uint8_t* dstField = ip + (v4 ? 16 : 24);

  // The address change is shared by the IPv4 header and the L4 pseudo-header.
  std::uint64_t addrDelta = csumDeltaWords32(srcField, src.bytes.data(), alen, 0);
  addrDelta = csumDeltaWords32(dstField, dst.bytes.data(), alen, addrDelta);
  if (v4) store16(ip + 10, csumApply(load16(ip + 10), addrDelta));

  std::uint64_t l4Delta = csumDelta16(load16(l4), sport, addrDelta);
  l4Delta = csumDelta16(load16(l4 + 2), dport, l4Delta);
  if (info.proto == kProtoTcp) {
    store16(l4 + 16, csumApply(load16(l4 + 16), l4Delta));
  } else if (info.proto == kProtoUdp) {
    std::uint16_t c = load16(l4 + 6);
    if (!(v4 && c == 0)) {
      c = csumApply(c, l4Delta);
      store16(l4 + 6, c == 0 ? 0xffff : c);
    }
  }
  std::memcpy(srcField, src.bytes.data(), alen);
  std::memcpy(dstField, dst.bytes.data(), alen);
  store16(l4, sport);
  store16(l4 + 2, dport);
}

}  // namespace xlb
