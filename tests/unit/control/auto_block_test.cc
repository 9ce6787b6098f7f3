// SPDX-License-Identifier: Apache-2.0
// Automatic blocking: AutoBlocker's decisions (allowlist, observe, block, folding), and the
// Controller turning the XDP program's crossings into blocklist entries the API, the stats, the
// metrics and state_dir show, with PATCH /api/v1/config changing the settings.
#include "xlb/auto_block.h"

#include <gtest/gtest.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "control_fakes.h"
#include "xlb/api_routes.h"
#include "xlb/controller.h"
#include "xlb/metrics.h"

namespace xlb {
namespace {

using testing::ControlFixture;
using Act = AutoBlockDecision::Act;

// A second Controller on the fixture's state_dir, with maps of its own: what a restart reads.
struct Restarted {
  explicit Restarted(const ControlFixture& f) {
    ControllerDeps deps;
    deps.prog = &maps;
    deps.workers = {&worker};
    const std::int64_t now = f.now;
    controller = std::make_unique<Controller>(f.config, std::move(deps),
                                              std::make_unique<StateStore>(f.config.stateDir),
                                              [now] { return now; });
    started = controller->start(error);
  }
  testing::FakeMaps maps;
  testing::FakeWorker worker;
  std::unique_ptr<Controller> controller;
  std::string error;
  bool started = false;
};

SourceEvent event(const char* source, SourceKind kind = SourceKind::kSyn, std::uint32_t n = 5000) {
  return SourceEvent{*Address::parse(source), kind, n};
}

AutoBlockConfig blocking() {
  AutoBlockConfig c;
  c.mode = AutoBlockMode::kBlock;
  c.foldSources = 3;
  c.allow = {*Prefix::parse("192.0.2.0/28")};
  return c;
}

auto nothingBlocked = [](const Prefix&) { return false; };

TEST(AutoBlocker, OffObserveAllowAndBlock) {
  AutoBlockConfig c = blocking();
  c.mode = AutoBlockMode::kOff;
  AutoBlocker off(c);
  EXPECT_EQ(off.judge(event("198.51.100.7"), 100, nothingBlocked).act, Act::kNone);

  c.mode = AutoBlockMode::kObserve;
  AutoBlocker observe(c);
  EXPECT_EQ(observe.judge(event("198.51.100.7"), 100, nothingBlocked).act, Act::kObserve);
  EXPECT_EQ(observe.figures().observed[0], 1u);
  EXPECT_EQ(observe.figures().blocked[0], 0u);

  AutoBlocker block(blocking());
  const AutoBlockDecision d = block.judge(event("198.51.100.7"), 100, nothingBlocked);
  EXPECT_EQ(d.act, Act::kBlock);
  EXPECT_EQ(d.prefix.toString(), "198.51.100.7/32");
  EXPECT_TRUE(d.replaced.empty());
  EXPECT_EQ(block.judge(event("192.0.2.9", SourceKind::kFiltered), 100, nothingBlocked).act,
            Act::kAllowed);
  EXPECT_EQ(block.figures().allowed[static_cast<std::size_t>(SourceKind::kFiltered)], 1u);
  // Already blocked (two CPUs crossing together, or a source inside a folded prefix): nothing.
  EXPECT_EQ(block.judge(event("198.51.100.7"), 100, [](const Prefix&) { return true; }).act,
            Act::kNone);
}

// Observe mode reports a source once for as long as block mode would have blocked it (the TTL),
// not once per window while it keeps crossing.
TEST(AutoBlocker, ObserveModeReportsASourceOncePerTtl) {
  AutoBlockConfig c = blocking();
  c.mode = AutoBlockMode::kObserve;
  c.ttl = 60 * kNsPerSec;
  AutoBlocker a(c);
  EXPECT_EQ(a.judge(event("198.51.100.7"), 100, nothingBlocked).act, Act::kObserve);
  EXPECT_EQ(a.judge(event("198.51.100.7"), 101, nothingBlocked).act, Act::kNone);
  EXPECT_EQ(a.judge(event("198.51.100.7", SourceKind::kPackets), 159, nothingBlocked).act,
            Act::kNone);
  EXPECT_EQ(a.judge(event("198.51.100.8"), 101, nothingBlocked).act, Act::kObserve);
  EXPECT_EQ(a.judge(event("198.51.100.7"), 160, nothingBlocked).act, Act::kObserve);
  EXPECT_EQ(a.figures().observed[0], 3u);
  EXPECT_EQ(a.figures().observed[static_cast<std::size_t>(SourceKind::kPackets)], 0u);
  EXPECT_EQ(a.figures().repeated[0], 1u);  // judged, not reported again
  EXPECT_EQ(a.figures().repeated[static_cast<std::size_t>(SourceKind::kPackets)], 1u);
  // New settings report afresh; a TTL of 0 (block for good) reports once for good.
  c.ttl = 0;
  a.configure(c);
  EXPECT_EQ(a.judge(event("198.51.100.7"), 161, nothingBlocked).act, Act::kObserve);
  EXPECT_EQ(a.judge(event("198.51.100.7"), 1'000'000, nothingBlocked).act, Act::kNone);
}

// An allowlisted source above a limit crosses it in every window: each crossing counts, the log
// hears of it once per TTL.
TEST(AutoBlocker, AnAllowlistedSourceIsReportedOncePerTtlAndCountedEveryTime) {
  AutoBlockConfig c = blocking();
  c.ttl = 60 * kNsPerSec;
  AutoBlocker a(c);
  const auto filtered = static_cast<std::size_t>(SourceKind::kFiltered);
  EXPECT_EQ(a.judge(event("192.0.2.9", SourceKind::kFiltered), 100, nothingBlocked).act,
            Act::kAllowed);
  EXPECT_EQ(a.judge(event("192.0.2.9", SourceKind::kFiltered), 101, nothingBlocked).act,
            Act::kNone);
  EXPECT_EQ(a.judge(event("192.0.2.9"), 159, nothingBlocked).act, Act::kNone);
  EXPECT_EQ(a.judge(event("192.0.2.10"), 101, nothingBlocked).act, Act::kAllowed);
  EXPECT_EQ(a.judge(event("192.0.2.9", SourceKind::kFiltered), 160, nothingBlocked).act,
            Act::kAllowed);
  EXPECT_EQ(a.figures().allowed[filtered], 3u);
  EXPECT_EQ(a.figures().allowed[0], 2u);
  EXPECT_EQ(a.figures().blocked[0] + a.figures().blocked[filtered], 0u);
}

TEST(AutoBlocker, ObserveModeRemembersABoundedNumberOfSources) {
  AutoBlockConfig c = blocking();
  c.mode = AutoBlockMode::kObserve;
  c.ttl = 60 * kNsPerSec;
  AutoBlocker a(c);
  for (std::uint32_t i = 0; i < AutoBlocker::kReportedMax; ++i) {
    const std::string src = "10.0." + std::to_string(i >> 8) + "." + std::to_string(i & 255);
    ASSERT_EQ(a.judge(event(src.c_str()), 100, nothingBlocked).act, Act::kObserve);
  }
  // Full and nothing expired: a new source is reported every time, not remembered.
  EXPECT_EQ(a.judge(event("198.51.100.7"), 101, nothingBlocked).act, Act::kObserve);
  EXPECT_EQ(a.judge(event("198.51.100.7"), 102, nothingBlocked).act, Act::kObserve);
  // Once the first ones expire, the room they leave is used again.
  EXPECT_EQ(a.judge(event("198.51.100.7"), 160, nothingBlocked).act, Act::kObserve);
  EXPECT_EQ(a.judge(event("198.51.100.7"), 161, nothingBlocked).act, Act::kNone);
  EXPECT_EQ(a.figures().observed[0], AutoBlocker::kReportedMax + 3);
}

TEST(AutoBlocker, SourcesInsideOnePrefixFoldIntoIt) {
  AutoBlocker b(blocking());
  EXPECT_EQ(b.judge(event("203.0.113.1"), 100, nothingBlocked).prefix.toString(), "203.0.113.1/32");
  EXPECT_EQ(b.judge(event("203.0.114.1"), 100, nothingBlocked).prefix.toString(),
            "203.0.114.1/32");  // another /24: counted apart
  EXPECT_EQ(b.judge(event("203.0.113.2"), 100, nothingBlocked).prefix.toString(), "203.0.113.2/32");
  const AutoBlockDecision d = b.judge(event("203.0.113.3"), 100, nothingBlocked);
  EXPECT_EQ(d.prefix.toString(), "203.0.113.0/24");
  ASSERT_EQ(d.replaced.size(), 2u);
  EXPECT_EQ(d.replaced[0].toString(), "203.0.113.1/32");
  EXPECT_EQ(b.figures().folds, 1u);
  // IPv6 folds at /64; an entry that expired or was removed no longer counts.
  b.judge(event("2001:db8:1:2::1"), 100, nothingBlocked);
  b.judge(event("2001:db8:1:2::2"), 100, nothingBlocked);
  b.forget(*Prefix::parse("2001:db8:1:2::2/128"));
  EXPECT_EQ(b.judge(event("2001:db8:1:2::3"), 100, nothingBlocked).prefix.length, 128);
  EXPECT_EQ(b.judge(event("2001:db8:1:2::4"), 100, nothingBlocked).prefix.toString(),
            "2001:db8:1:2::/64");
}

TEST(AutoBlocker, APrefixHoldingAllowlistedAddressesIsNeverFolded) {
  AutoBlocker b(blocking());
  for (const char* s : {"192.0.2.100", "192.0.2.101", "192.0.2.102", "192.0.2.103"}) {
    const AutoBlockDecision d = b.judge(event(s), 100, nothingBlocked);
    EXPECT_EQ(d.act, Act::kBlock);
    EXPECT_EQ(d.prefix.length, 32) << s;
  }
}

void enable(ControlFixture& f, const char* mode) {
  const ApiReply r = f.call(HttpMethod::kPatch, "/api/v1/config",
                            std::string(R"({"auto_block":{"mode":")") + mode +
                                R"(","ttl_s":60,"fold":{"sources":2},"allow":["10.9.0.0/16"]}})");
  ASSERT_EQ(r.status, 200) << r.body;
}

TEST(AutoBlock, ACrossingBecomesAnAutoEntryShownEverywhereAndExpires) {
  ControlFixture f;
  enable(f, "block");
  EXPECT_EQ(f.maps.applied.autoBlock.mode, AutoBlockMode::kBlock);
  EXPECT_EQ(f.maps.applied.autoBlock.ttl, 60 * kNsPerSec);
  f.maps.events = {event("198.51.100.7"), event("10.9.1.1", SourceKind::kFiltered)};
  f.controller->tick();
  EXPECT_TRUE(f.maps.blocked.count("198.51.100.7/32"));
  EXPECT_FALSE(f.maps.blocked.count("10.9.1.1/32"));  // allowlisted
  const nlohmann::json page = f.json(f.call(HttpMethod::kGet, "/api/v1/blocklist"));
  ASSERT_EQ(page["items"].size(), 1u);
  EXPECT_EQ(page["items"][0]["source"], "auto");
  EXPECT_EQ(page["items"][0]["reason"], "syn_without_handshake");
  EXPECT_EQ(page["items"][0]["expires_at"].is_string(), true);
  const nlohmann::json stats = f.json(f.call(HttpMethod::kGet, "/api/v1/stats"));
  EXPECT_EQ(stats["auto_block"]["mode"], "block");
  EXPECT_EQ(stats["auto_block"]["blocked"]["syn_without_handshake"], 1);
  EXPECT_EQ(stats["auto_block"]["allowed"]["filtered_port"], 1);
  const std::string metrics = renderMetrics(f.controller->statsView());
  EXPECT_NE(
      metrics.find(R"(xlb_auto_block_total{reason="syn_without_handshake",action="blocked"} 1)"),
      std::string::npos);
  // The entry survives in state_dir with its reason, and goes when its TTL passes.
  std::ifstream in(f.dir / "blocklist.json");
  const nlohmann::json saved = nlohmann::json::parse(in);
  EXPECT_EQ(saved["entries"][0]["auto_reason"], "syn_without_handshake");
  f.now += 61;
  f.controller->tick();
  EXPECT_FALSE(f.maps.blocked.count("198.51.100.7/32"));
}

// Invalid ACKs are counted by the workers (the snapshot carries their limit); their crossings
// are judged like the XDP program's.
TEST(AutoBlock, TheWorkersInvalidAckCrossingsAreBlockedToo) {
  ControlFixture f;
  ASSERT_FALSE(f.worker.snapshot->invalidAcks().on());
  enable(f, "block");
  EXPECT_EQ(f.worker.snapshot->invalidAcks(), (SourceLimit{kNsPerSec, 1000}));
  f.worker.events = {event("198.51.100.8", SourceKind::kInvalidAck, 1000)};
  f.controller->tick();
  EXPECT_TRUE(f.maps.blocked.count("198.51.100.8/32"));
  const nlohmann::json page = f.json(f.call(HttpMethod::kGet, "/api/v1/blocklist"));
  ASSERT_EQ(page["items"].size(), 1u);
  EXPECT_EQ(page["items"][0]["reason"], "invalid_ack");
  const ApiReply r = f.call(HttpMethod::kPatch, "/api/v1/config",
                            R"({"auto_block":{"limits":{"invalid_ack":0}}})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_FALSE(f.worker.snapshot->invalidAcks().on());
}

TEST(AutoBlock, ObserveModeOnlyReports) {
  ControlFixture f;
  enable(f, "observe");
  f.maps.events = {event("198.51.100.7", SourceKind::kPackets)};
  f.controller->tick();
  EXPECT_TRUE(f.maps.blocked.empty());
  EXPECT_EQ(f.json(f.call(HttpMethod::kGet, "/api/v1/stats"))["auto_block"]["observed"]["packets"],
            1);
  // Still crossing in the next windows: reported again only after the TTL (60 s) a block had.
  f.now += 1;
  f.maps.events = {event("198.51.100.7", SourceKind::kPackets)};
  f.controller->tick();
  const nlohmann::json again = f.json(f.call(HttpMethod::kGet, "/api/v1/stats"))["auto_block"];
  EXPECT_EQ(again["observed"]["packets"], 1);
  EXPECT_EQ(again["repeated"]["packets"], 1);  // judged and not reported again
  EXPECT_NE(f.call(HttpMethod::kGet, "/metrics")
                .body.find(R"(xlb_auto_block_total{reason="packets",action="repeated"} 1)"),
            std::string::npos);
  f.now += 60;
  f.maps.events = {event("198.51.100.7", SourceKind::kPackets)};
  f.controller->tick();
  EXPECT_TRUE(f.maps.blocked.empty());
  EXPECT_EQ(f.json(f.call(HttpMethod::kGet, "/api/v1/stats"))["auto_block"]["observed"]["packets"],
            2);
}

TEST(AutoBlock, NeighboursFoldIntoTheirPrefix) {
  ControlFixture f;
  enable(f, "block");
  f.maps.events = {event("198.51.100.7")};
  f.controller->tick();
  f.maps.events = {event("198.51.100.9")};
  f.controller->tick();
  EXPECT_TRUE(f.maps.blocked.count("198.51.100.0/24"));
  EXPECT_FALSE(f.maps.blocked.count("198.51.100.7/32"));
  const nlohmann::json page = f.json(f.call(HttpMethod::kGet, "/api/v1/blocklist"));
  ASSERT_EQ(page["items"].size(), 1u);
  EXPECT_EQ(page["items"][0]["cidr"], "198.51.100.0/24");
  EXPECT_EQ(page["items"][0]["source"], "auto");
}

// A fold takes the single sources' entries out of blocklist.json in the same save that puts the
// prefix in: one rename onto the file (seen with inotify), whose content is the prefix alone.
TEST(AutoBlock, AFoldIsOneSaveOfTheBlocklist) {
  ControlFixture f;
  enable(f, "block");
  f.maps.events = {event("198.51.100.7")};
  f.controller->tick();
  const int in = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  ASSERT_GE(in, 0);
  // Creations too: inotify merges an event into an identical one queued just before it, and
  // each save creates its temporary file between two renames.
  ASSERT_GE(inotify_add_watch(in, f.dir.c_str(), IN_CREATE | IN_MOVED_TO), 0);
  f.maps.events = {event("198.51.100.9")};
  f.controller->tick();
  int saves = 0;
  alignas(inotify_event) char buf[4096];
  for (ssize_t n; (n = read(in, buf, sizeof buf)) > 0;) {
    for (char* p = buf; p < buf + n;) {
      const auto* ev = reinterpret_cast<const inotify_event*>(p);
      if ((ev->mask & IN_MOVED_TO) && ev->len > 0 && std::string(ev->name) == "blocklist.json") {
        ++saves;
      }
      p += sizeof(inotify_event) + ev->len;
    }
  }
  close(in);
  EXPECT_EQ(saves, 1);
  EXPECT_EQ(f.maps.blocked, (std::set<std::string>{"198.51.100.0/24"}));
  std::ifstream file(f.dir / "blocklist.json");
  const nlohmann::json saved = nlohmann::json::parse(file);
  ASSERT_TRUE(saved.contains("entries")) << saved.dump();
  ASSERT_EQ(saved["entries"].size(), 1u) << saved.dump();
  EXPECT_EQ(saved["entries"][0]["cidr"], "198.51.100.0/24");
}

// PATCH changes only the fields it names, on the running settings at the time (the Controller
// merges under its lock), and a PATCH whose VIP part fails changes nothing.
TEST(AutoBlock, PatchesMergeFieldByFieldAndFailTogether) {
  ControlFixture f;
  ASSERT_EQ(
      f.call(HttpMethod::kPatch, "/api/v1/config", R"({"auto_block":{"mode":"observe"}})").status,
      200);
  ASSERT_EQ(f.call(HttpMethod::kPatch, "/api/v1/config",
                   R"({"auto_block":{"limits":{"udp_packets":7000}}})")
                .status,
            200);
  nlohmann::json c = f.json(f.call(HttpMethod::kGet, "/api/v1/config"))["auto_block"];
  EXPECT_EQ(c["mode"], "observe");
  EXPECT_EQ(c["limits"]["udp_packets"], 7000);
  EXPECT_EQ(c["limits"]["invalid_ack"], 1000);
  const ApiReply r =
      f.call(HttpMethod::kPatch, "/api/v1/config",
             R"({"vips":[{"address":"192.0.2.250","ports":[80]}],"auto_block":{"mode":"block"}})");
  EXPECT_EQ(r.status, 404) << r.body;
  c = f.json(f.call(HttpMethod::kGet, "/api/v1/config"))["auto_block"];
  EXPECT_EQ(c["mode"], "observe");
}

// The VIP part fails only when its maps refuse it, after automatic blocking was applied: both
// parts are undone, in the maps, in the answer and in the saved settings a restart reads.
TEST(AutoBlock, APatchWhoseVipWriteIsRefusedTakesItsAutoBlockBack) {
  ControlFixture f;
  ASSERT_EQ(
      f.call(HttpMethod::kPatch, "/api/v1/config", R"({"auto_block":{"mode":"observe"}})").status,
      200);
  f.maps.refuseOnce = 1;  // the auto_block write passes, the VIP commit's is refused
  const ApiReply r =
      f.call(HttpMethod::kPatch, "/api/v1/config",
             R"({"vips":[{"address":"10.0.0.100","ports":[80]}],"auto_block":{"mode":"block"}})");
  EXPECT_EQ(r.status, 500) << r.body;
  const nlohmann::json c = f.json(f.call(HttpMethod::kGet, "/api/v1/config"));
  EXPECT_EQ(c["auto_block"]["mode"], "observe");
  EXPECT_EQ(c["vips"][0]["ports"], nlohmann::json::array({80, 443}));
  EXPECT_EQ(f.maps.applied.autoBlock.mode, AutoBlockMode::kObserve);

  Restarted again(f);
  ASSERT_TRUE(again.started) << again.error;
  EXPECT_EQ(again.controller->runningConfig().autoBlock.mode, AutoBlockMode::kObserve);
}

// When the VIP write and then taking automatic blocking back are both refused, the settings stay
// as requested in memory, in XDP and in state_dir alike, and the answer says so.
TEST(AutoBlock, APatchWhoseRollbackIsRefusedTooSaysTheAutoBlockSettingsStayed) {
  ControlFixture f;
  ASSERT_EQ(
      f.call(HttpMethod::kPatch, "/api/v1/config", R"({"auto_block":{"mode":"observe"}})").status,
      200);
  f.maps.refuseFrom = 1;  // the auto_block write passes; every write after it is refused
  const ApiReply r =
      f.call(HttpMethod::kPatch, "/api/v1/config",
             R"({"vips":[{"address":"10.0.0.100","ports":[80]}],"auto_block":{"mode":"block"}})");
  EXPECT_EQ(r.status, 500) << r.body;
  EXPECT_NE(r.body.find("stay as requested"), std::string::npos) << r.body;
  f.maps.refuseFrom = -1;
  const nlohmann::json c = f.json(f.call(HttpMethod::kGet, "/api/v1/config"));
  EXPECT_EQ(c["auto_block"]["mode"], "block");
  EXPECT_EQ(f.maps.applied.autoBlock.mode, AutoBlockMode::kBlock);
  EXPECT_EQ(c["vips"][0]["ports"], nlohmann::json::array({80, 443}));

  Restarted again(f);
  ASSERT_TRUE(again.started) << again.error;
  EXPECT_EQ(again.controller->runningConfig().autoBlock.mode, AutoBlockMode::kBlock);
}

TEST(AutoBlock, PatchIsCheckedAndPersistsAcrossARestart) {
  ControlFixture f;
  for (const char* body :
       {R"({"auto_block":{"mode":"sometimes"}})", R"({"auto_block":{"window_ms":1}})",
        R"({"auto_block":{"limits":{"syn":5}}})", R"({"auto_block":{"fold":{"ipv4":4}}})",
        R"({"auto_block":{"allow":["not a prefix"]}})", R"({"auto_block":{"ttl":60}})",
        R"({"other":1})"}) {
    EXPECT_EQ(f.call(HttpMethod::kPatch, "/api/v1/config", body).status, 400) << body;
  }
  EXPECT_EQ(f.json(f.call(HttpMethod::kGet, "/api/v1/config"))["auto_block"]["mode"], "off");
  const ApiReply r = f.call(HttpMethod::kPatch, "/api/v1/config",
                            R"({"auto_block":{"mode":"block","limits":{"packets":90000}}})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(f.json(r)["auto_block"]["limits"]["packets"], 90000);
  EXPECT_EQ(f.json(r)["auto_block"]["limits"]["syn_without_handshake"], 1000);  // kept
  EXPECT_EQ(f.maps.applied.autoBlock.limits[2], 90000u);

  // A second Controller on the same state_dir (a restart) runs with the PATCHed settings.
  Restarted again(f);
  ASSERT_TRUE(again.started) << again.error;
  EXPECT_EQ(again.controller->runningConfig().autoBlock.mode, AutoBlockMode::kBlock);
  EXPECT_EQ(again.maps.applied.autoBlock.limits[2], 90000u);
}

}  // namespace
}  // namespace xlb
