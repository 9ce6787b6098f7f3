// SPDX-License-Identifier: Apache-2.0
// The connection tables' file: adopted by the next process when it fits, refused with a reason
// and a count when it does not, never shared by two processes at once.
#include "xlb/flow_store.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "xlb/snat.h"

namespace xlb {
namespace {

Address addr(const char* s) {
  return *Address::parse(s);
}

class FlowStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/xlb-flowstore-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/run/flows";
    layout_.workers = 2;
    layout_.capacityPerWorker = 100;
    layout_.portLo = 20000;
    layout_.portHi = 29999;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // Opens, writes one live entry per worker, claims for `snat`, closes (a process that ends).
  void runOnce(const std::vector<Address>& snat) {
    std::string err;
    FlowStoreOpen r;
    auto s = FlowStore::open(path_, layout_, err, r);
    ASSERT_NE(s, nullptr) << err;
    for (std::uint32_t w = 0; w < layout_.workers; ++w) {
      s->storage(w).entries[5].state = TcpState::kEstablished;
    }
    s->claim(snat);
  }

  std::string dir_, path_;
  FlowLayout layout_;
};

TEST_F(FlowStoreTest, AFreshFileHasNothingToAdoptAndTheNextProcessAdoptsIt) {
  std::string err;
  FlowStoreOpen r;
  {
    auto s = FlowStore::open(path_, layout_, err, r);
    ASSERT_NE(s, nullptr) << err;
    EXPECT_FALSE(r.adopting);
    EXPECT_TRUE(r.refused.empty());
    EXPECT_EQ(s->storage(1).entries[0].state, TcpState::kFree);
  }
  runOnce({addr("10.0.0.2"), addr("10.0.0.3")});
  FlowStoreOpen again;
  auto s = FlowStore::open(path_, layout_, err, again);
  ASSERT_NE(s, nullptr) << err;
  EXPECT_TRUE(again.adopting) << again.refused;
  EXPECT_EQ(again.previousPid, getpid());
  EXPECT_EQ(again.generation, 1u);  // the first open claimed nothing; runOnce's process did
  ASSERT_EQ(s->storedSnat().size(), 2u);
  EXPECT_EQ(s->storedSnat()[1], addr("10.0.0.3"));
  EXPECT_EQ(s->storage(0).entries[5].state, TcpState::kEstablished);
  EXPECT_EQ(s->storage(1).entries[5].state, TcpState::kEstablished);
}

TEST_F(FlowStoreTest, AnotherLayoutIsRefusedWithItsReasonAndTheFlowsItHeld) {
  runOnce({addr("10.0.0.2")});
  std::string err;
  struct Case {
    FlowLayout layout;
    const char* reason;
  };
  FlowLayout capacity = layout_, workers = layout_, ports = layout_;
  capacity.capacityPerWorker = 200;
  workers.workers = 1;
  ports.portHi = 30999;
  for (const Case& c :
       {Case{capacity, "capacity"}, Case{workers, "worker"}, Case{ports, "SNAT port range"}}) {
    runOnce({addr("10.0.0.2")});  // the file as layout_ wrote it
    FlowStoreOpen r;
    auto s = FlowStore::open(path_, c.layout, err, r);
    ASSERT_NE(s, nullptr) << err;
    EXPECT_FALSE(r.adopting);
    EXPECT_NE(r.refused.find(c.reason), std::string::npos) << r.refused;
    EXPECT_EQ(r.refusedFlows, 2u) << r.refused;
    // Started from zeros.
    EXPECT_EQ(s->storage(0).entries[5].state, TcpState::kFree);
  }
}

TEST_F(FlowStoreTest, ACorruptHeaderOrAnOlderVersionIsNeverAdopted) {
  runOnce({addr("10.0.0.2")});
  {
    std::fstream f(path_, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(40);
    f.put('\x7f');  // inside the header: the checksum no longer matches
  }
  std::string err;
  FlowStoreOpen r;
  auto s = FlowStore::open(path_, layout_, err, r);
  ASSERT_NE(s, nullptr) << err;
  EXPECT_FALSE(r.adopting);
  EXPECT_NE(r.refused.find("corrupt"), std::string::npos) << r.refused;
  s.reset();
  {
    std::ofstream f(path_, std::ios::trunc | std::ios::binary);
    f << "not a flow file at all, but long enough to be read as a header........................";
  }
  FlowStoreOpen r2;
  s = FlowStore::open(path_, layout_, err, r2);
  ASSERT_NE(s, nullptr) << err;
  EXPECT_FALSE(r2.adopting);
  EXPECT_NE(r2.refused.find("not an xlb flow file"), std::string::npos) << r2.refused;
}

TEST_F(FlowStoreTest, ASecondProcessIsRefusedUntilTheFirstLetsGo) {
  std::string err;
  FlowStoreOpen r;
  auto first = FlowStore::open(path_, layout_, err, r);
  ASSERT_NE(first, nullptr) << err;
  first->claim({addr("10.0.0.2")});
  // flock is per open file description: a second open in this process conflicts as another
  // process's would.
  FlowStoreOpen r2;
  EXPECT_EQ(FlowStore::open(path_, layout_, err, r2), nullptr);
  EXPECT_NE(err.find("--takeover"), std::string::npos) << err;
  EXPECT_NE(err.find(std::to_string(getpid())), std::string::npos) << err;
  EXPECT_EQ(FlowStore::heldBy(path_), getpid());
  first->unlock();  // a hand-over
  EXPECT_EQ(FlowStore::heldBy(path_), 0);
  err.clear();
  auto second = FlowStore::open(path_, layout_, err, r2);
  ASSERT_NE(second, nullptr) << err;
  EXPECT_TRUE(r2.adopting);
}

TEST(FlowRemap, MapsIdsAndSnatIndexesByAddressAndRefusesWhatIsGone) {
  SnatPool pool({*Address::parse("10.0.0.3"), *Address::parse("10.0.0.2")}, 1000, 2000);
  // The previous process had 10.0.0.2 first and a third address this one lacks.
  const std::vector<Address> stored = {*Address::parse("10.0.0.2"), *Address::parse("10.0.0.3"),
                                       *Address::parse("10.0.0.9")};
  const std::vector<FlowTarget> targets = {
      {*Address::parse("10.0.0.100"), 4, *Address::parse("10.0.0.11"), 17}};
  const FlowRemap remap(targets, stored, pool);
  ConnEntry e{};
  e.family = Family::kV4;
  e.proto = 6;  // TCP
  e.vip = Address::parse("10.0.0.100")->ip;
  e.backend = Address::parse("10.0.0.11")->ip;
  e.snatIdx = 0;
  ASSERT_TRUE(remap.keep(e));
  EXPECT_EQ(e.snatIdx, 1);  // 10.0.0.2 is second here
  EXPECT_EQ(e.vipId, 4);
  EXPECT_EQ(e.backendId, 17);
  e.snatIdx = 2;  // 10.0.0.9: gone
  EXPECT_FALSE(remap.keep(e));
  e.snatIdx = 1;
  e.backend = Address::parse("10.0.0.12")->ip;  // a backend this process does not have
  EXPECT_FALSE(remap.keep(e));
}

}  // namespace
}  // namespace xlb
