// SPDX-License-Identifier: Apache-2.0
// A worker's engine in a box: config -> snapshot, SNAT pool, connection table, pipeline. Used by
// the unit tests and the benchmarks.
#pragma once

#include <algorithm>
#include <memory>

#include "test_frames.h"
#include "xlb/config.h"
#include "xlb/pipeline.h"

namespace xlb::testing {

inline constexpr const char* kLbMac = "02:00:00:00:00:aa";
inline constexpr const char* kClientMac = "02:00:00:00:00:01";

// Backends' next-hop MACs in tests: the simulator's rule (frames::hostMac).
inline MacAddr backendMac(const Address& a) {
  return frames::hostMac(a);
}

inline Address A(const char* s) {
  return *Address::parse(s);
}
inline constexpr TimeNs sec(double s) {
  return static_cast<TimeNs>(s * 1e9);
}

// VIP 10.0.0.100 (ports 80, 443) -> backend 10.0.0.11; VIP 2001:db8::100 -> 2001:db8::11;
// SNAT 10.0.0.2 and 2001:db8::2. SYN-flood protection off (the SYN proxy tests turn it on).
inline Config testConfig(std::uint32_t capacity = 1024, std::uint16_t portLo = 10000,
                         std::uint16_t portHi = 10999) {
  Config c;
  c.snat.addresses = {A("10.0.0.2"), A("2001:db8::2")};
  c.snat.portLo = portLo;
  c.snat.portHi = portHi;
  VipConfig v4;
  v4.address = A("10.0.0.100");
  v4.backends = {{A("10.0.0.11"), 1}};
  VipConfig v6;
  v6.address = A("2001:db8::100");
  v6.backends = {{A("2001:db8::11"), 1}};
  v4.synFlood.mode = SynFloodMode::kOff;
  v6.synFlood.mode = SynFloodMode::kOff;
  c.vips = {v4, v6};
  c.conntrack.capacity = capacity;
  return c;
}

// testConfig() with a UDP service (DNS and QUIC ports) beside the IPv4 VIP's TCP services, on the
// same address: what the fixture table and the XDP tests run against.
inline Config udpTestConfig(std::uint32_t capacity = 1024) {
  Config c = testConfig(capacity);
  VipConfig udp4;
  udp4.address = A("10.0.0.100");
  udp4.protocol = kVipUdp;
  udp4.ports = {53, 443};
  udp4.synFlood.mode = SynFloodMode::kOff;
  udp4.backends = {{A("10.0.0.11"), 1}};
  c.vips.push_back(udp4);
  return c;
}

struct Harness {
  Config config;
  std::shared_ptr<const Snapshot> snap;
  std::unique_ptr<SnatPool> snat;
  std::unique_ptr<ConnTable> table;
  std::unique_ptr<Pipeline> pipe;

  explicit Harness(Config c = testConfig(), std::uint64_t seed = 42) : config(std::move(c)) {
    snap = Snapshot::fromConfig(config, *MacAddr::parse(kLbMac), backendMac);
    snat =
        std::make_unique<SnatPool>(config.snat.addresses, config.snat.portLo, config.snat.portHi);
    table = std::make_unique<ConnTable>(config.conntrack.capacity, config.conntrack.timeouts, *snat,
                                        seed);
    table->setUdpShare(config.conntrack.udpSharePercent);
    pipe = std::make_unique<Pipeline>(*table, *snat);
    pipe->setSnapshot(snap.get());
    pipe->setExpireBudget(1u << 24);  // tests jump time freely; benchmarks use the default
  }

  // Runs one frame through the pipeline in place, in a buffer with an AF_XDP frame's room to
  // grow; the frame takes the length the pipeline leaves it. Frames the pipeline emitted besides
  // it (SYN proxy) are copied to `emitted`.
  static constexpr std::uint32_t kFrameCapacity = 2048;
  std::vector<Bytes> emitted;
  Reason run(Bytes& frame, TimeNs now) {
    const auto len = static_cast<std::uint32_t>(frame.size());
    frame.resize(std::max<std::size_t>(frame.size(), kFrameCapacity));
    PacketBatch b;
    b.push(PacketRef{frame.data(), len, static_cast<std::uint32_t>(frame.size()), 0});
    Verdict v[1];
    pipe->process(b, v, now);
    frame.resize(b.pkts[0].len);
    emitted.clear();
    for (const Emitted& e : pipe->emitted()) emitted.emplace_back(e.data, e.data + e.len);
    return v[0].reason;
  }
  // An empty batch: only the timers run.
  void tick(TimeNs now) {
    PacketBatch b;
    Verdict v[1];
    pipe->process(b, std::span<Verdict>(v, 0), now);
  }
};

}  // namespace xlb::testing
