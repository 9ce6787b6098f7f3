// SPDX-License-Identifier: Apache-2.0
// libFuzzer target: the files xlbd reads back at start. Byte 0 picks the file, the rest is its
// content:
//   0  state_dir/backends.json, the runtime service changes (ServiceModel::applyOverlay)
//   1  state_dir/blocklist.json, the runtime blocklist (Blocklist::applyOverlay)
//   2  runtime_dir/flows, the connection tables' file (FlowStore::open, then adoption into a
//      table as xlbd does it)
// An overlay is taken or refused with a message, never half applied. An adopted flow file
// leaves a table whose every entry, once the clock passes every timeout, is gone with its SNAT
// port: corrupt entries are refused, not adopted into a table they break.
//
// With XLB_FUZZ_SEEDS=<dir> the target writes its seeds there first: the overlays xlbd writes
// and a flow file written by the real table holding connections in several states.
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "fuzz_support.h"
#include "harness.h"
#include "xlb/blocklist.h"
#include "xlb/flow_store.h"
#include "xlb/service_model.h"

namespace {

using namespace xlb;
constexpr const char* kHarness = "state-fuzz";

const Config& config() {
  static const Config c = [] {
    Config c = testing::udpTestConfig(8);
    c.snat.portLo = 10000;
    c.snat.portHi = 10015;
    return c;
  }();
  return c;
}

FlowLayout layout() {
  return FlowLayout{1, config().conntrack.capacity, config().snat.portLo, config().snat.portHi};
}

std::vector<FlowTarget> targets() {
  std::vector<FlowTarget> t;
  std::uint16_t vipId = 0, backendId = 0;
  for (const VipConfig& v : config().vips) {
    for (const BackendConfig& b : v.backends) {
      t.push_back(FlowTarget{v.address, vipId, b.address, backendId++, v.protocol});
    }
    ++vipId;
  }
  return t;
}

// Adopts whatever the file holds, then runs the clock past every timeout: nothing may remain.
void adoptAndDrain(FlowStore& store) {
  const Config& c = config();
  SnatPool snat(c.snat.addresses, c.snat.portLo, c.snat.portHi);
  ConnTable table(c.conntrack.capacity, c.conntrack.timeouts, snat, 7, store.storage(0));
  const FlowRemap remap(targets(), store.storedSnat(), snat);
  TimeNs now = 5000 * kNsPerSec;
  table.adopt(now, remap);
  now += 2 * kMaxTimeout;
  for (int i = 0; i < 64 && table.active() != 0; ++i, now += kNsPerSec) table.expire(now, 1u << 20);
  if (table.active() != 0) fuzz::finding(kHarness, "adopted entries outlived every timeout");
  if (snat.portsInUse() != 0) fuzz::finding(kHarness, "adopted SNAT ports outlived their entries");
}

void flowFile(fuzz::Frame bytes) {
  static fuzz::ScratchFile file("xlb-state-fuzz-flows");
  std::filesystem::remove(file.path());
  file.write(bytes);
  std::string err;
  FlowStoreOpen r;
  auto store = FlowStore::open(file.path(), layout(), err, r);
  if (store && r.adopting) adoptAndDrain(*store);
}

void writeFile(const std::string& path, std::uint8_t kind, const std::string& body) {
  std::ofstream f(path, std::ios::binary);
  f.put(static_cast<char>(kind));
  f << body;
}

// A flow file as a process leaves it: connections opened through the real pipeline, some
// closed, the process gone.
std::string liveFlowFile(const std::string& dir) {
  const std::string path = dir + "/flows.tmp";
  std::filesystem::remove(path);
  std::string err;
  FlowStoreOpen r;
  {
    auto store = FlowStore::open(path, layout(), err, r);
    if (!store) return {};
    testing::Harness h(config());
    SnatPool snat(config().snat.addresses, config().snat.portLo, config().snat.portHi);
    ConnTable table(config().conntrack.capacity, config().conntrack.timeouts, snat, 7,
                    store->storage(0));
    table.adopt(0, FlowRemap({}, {}, snat));
    Pipeline pipe(table, snat);
    pipe.setSnapshot(h.snap.get());
    for (std::uint16_t port = 40000; port < 40005; ++port) {
      testing::PacketSpec s;
      s.sport = port;
      testing::Bytes f = testing::buildPacket(s);
      const auto len = static_cast<std::uint32_t>(f.size());
      f.resize(2048);
      PacketBatch b;
      b.push(PacketRef{f.data(), len, 2048, 0});
      Verdict v[1];
      pipe.process(b, v, kNsPerSec);
    }
    store->claim(config().snat.addresses);
  }
  std::ifstream in(path, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::filesystem::remove(path);
  return bytes;
}

void writeSeeds(const std::string& dir) {
  std::filesystem::create_directories(dir);
  ServiceModel m(config());
  const VipKey vip = config().vips[0].key();
  m.addBackend(vip, *Address::parse("10.0.0.12"), 3);
  m.removeBackend(vip, *Address::parse("10.0.0.11"));
  VipConfig extra = config().vips[1];
  extra.address = *Address::parse("2001:db8::200");
  m.addVip(extra);
  writeFile(dir + "/backends", 0, m.overlayJson());
  Blocklist b(config().blocklist, 1'800'000'000);
  b.add(BlockEntry{*Prefix::parse("192.0.2.0/24"), "scanner", 1'800'000'000, 1'900'000'000});
  b.add(BlockEntry{*Prefix::parse("2001:db8:bad::/48"), "", 1'800'000'000, 0});
  writeFile(dir + "/blocklist", 1, b.overlayJson());
  writeFile(dir + "/flows", 2, liveFlowFile(dir));
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  if (const char* dir = std::getenv("XLB_FUZZ_SEEDS")) writeSeeds(dir);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const std::string text(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 3) {
    case 0: {
      ServiceModel m(config());
      const std::string before = m.overlayJson();
      if (m.applyOverlay(text) && m.overlayJson() != before) {
        fuzz::finding(kHarness, "a refused backends overlay changed the model");
      }
      break;
    }
    case 1: {
      Blocklist b(config().blocklist, 1'800'000'000);
      const std::string before = b.overlayJson();
      if (b.applyOverlay(text, 1'800'000'000) && b.overlayJson() != before) {
        fuzz::finding(kHarness, "a refused blocklist overlay changed the blocklist");
      }
      break;
    }
    default:
      flowFile(xlb::fuzz::Frame(data + 1, size - 1));
      break;
  }
  return 0;
}
