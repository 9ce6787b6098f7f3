// SPDX-License-Identifier: Apache-2.0
// Fakes of what the Controller drives (XdpMaps, WorkerControl) and a Controller built on them,
// with state_dir in a temporary directory: the control plane's rules without root.
#pragma once

#include <unistd.h>

#include <filesystem>
#include <functional>
#include <memory>
#include <set>
#include <string>

#include "fixtures.h"
#include "xlb/api_routes.h"
#include "xlb/controller.h"

namespace xlb::testing {

class FakeMaps final : public XdpMaps {
 public:
  bool apply(const Config& config, std::span<const std::uint16_t> ids, const CookieKey&,
             std::string& error) override {
    if (refuseOnce == 0 || failApply || refuseFrom == 0) {
      refuseOnce = -1;
      error = "fake: map write refused";
      return false;
    }
    if (refuseOnce > 0) --refuseOnce;
    if (refuseFrom > 0) --refuseFrom;
    applied = config;
    appliedIds.assign(ids.begin(), ids.end());
    ++applies;
    return true;
  }
  bool blockAdd(const Prefix& p, std::string& error, bool* exists) override {
    if (exists) *exists = blocked.count(p.toString()) > 0;
    if (blocked.count(p.toString()) || blocked.size() >= capacity) {
      error = "fake: full or present";
      return false;
    }
    blocked.insert(p.toString());
    return true;
  }
  bool blockRemove(const Prefix& p) override { return blocked.erase(p.toString()) > 0; }
  std::optional<BlockHits> blockHits(const Prefix& p) const override {
    if (!blocked.count(p.toString())) return std::nullopt;
    return BlockHits{7, 0};
  }
  std::array<ReasonStat, kReasonCount> stats() const override { return {}; }
  SynState synState(std::uint16_t) const override { return {}; }
  void setSynPressure(bool on) override { pressure = on; }
  void takeSourceEvents(std::vector<SourceEvent>& out) override {
    out.insert(out.end(), events.begin(), events.end());
    events.clear();
  }

  std::set<std::string> blocked;
  std::size_t capacity = 1000;
  bool failApply = false;
  int refuseOnce = -1;  // refuse one write, after this many more succeed (-1: none)
  int refuseFrom = -1;  // refuse every write once this many more succeeded (-1: never)
  bool pressure = false;
  std::vector<SourceEvent> events;  // what the next takeSourceEvents hands out
  int applies = 0;
  Config applied;
  std::vector<std::uint16_t> appliedIds;
};

class FakeWorker final : public WorkerControl {
 public:
  void publish(std::shared_ptr<const Snapshot> s) override { snapshot = std::move(s); }
  WorkerStats stats() const override { return figures; }
  std::optional<ConnPage> listConnections(const ConnFilter&, std::uint32_t, std::uint32_t,
                                          std::uint32_t, std::chrono::milliseconds) override {
    return ConnPage{};
  }
  std::optional<std::size_t> kill(const ConnFilter&, std::chrono::milliseconds) override {
    return 0;
  }
  void takeSourceEvents(std::vector<SourceEvent>& out) override {
    out.insert(out.end(), events.begin(), events.end());
    events.clear();
  }
  std::shared_ptr<const Snapshot> snapshot;
  WorkerStats figures;
  std::vector<SourceEvent> events;  // what the next takeSourceEvents hands out
};

struct ControlFixture {
  explicit ControlFixture(const std::function<void(Config&)>& adjust = nullptr,
                          std::uint32_t maglevSize = kDefaultMaglevSize) {
    dir = std::filesystem::temp_directory_path() /
          ("xlb-controller-test-" + std::to_string(::getpid()) + "-" + std::to_string(++serial));
    std::filesystem::remove_all(dir);
    config = testing::testConfig(4096, 20000, 29999);
    config.stateDir = dir.string();
    config.healthCheck.enabled = false;
    if (adjust) adjust(config);
    ControllerDeps deps;
    deps.prog = &maps;
    deps.workers = {&worker};
    deps.localMac = *MacAddr::parse(testing::kLbMac);
    deps.maglevSize = maglevSize;
    deps.resolve = [](const Address& a) -> std::optional<MacAddr> {
      return testing::backendMac(a);
    };
    fileConfig = config;
    deps.loadConfig = [this] { return fileConfig; };
    deps.attached = [this] { return xdpAttached; };
    controller = std::make_unique<Controller>(config, std::move(deps),
                                              std::make_unique<StateStore>(config.stateDir),
                                              [this] { return now; });
    std::string error;
    started = controller->start(error);
    EXPECT_TRUE(started) << error;
  }
  ~ControlFixture() { std::filesystem::remove_all(dir); }

  ApiReply call(HttpMethod m, const std::string& path, const std::string& body = "") {
    ApiRequest r;
    r.method = m;
    r.resource = path.substr(0, path.find('?'));
    // "?a=1&b=2" as the HTTP layer hands it over: names and raw values.
    for (std::size_t i = path.find('?'); i != std::string::npos && i < path.size();) {
      const std::size_t end = std::min(path.find('&', i + 1), path.size());
      const std::string item = path.substr(i + 1, end - i - 1);
      const std::size_t eq = item.find('=');
      r.query.emplace_back(item.substr(0, eq), eq == std::string::npos ? "" : item.substr(eq + 1));
      i = end;
    }
    r.body = body;
    r.authorization = "Bearer t";
    return dispatch(apiRoutes(), ApiLimits{"t", 1 << 20}, controller.get(), r);
  }
  nlohmann::json json(const ApiReply& r) { return nlohmann::json::parse(r.body); }

  static inline int serial = 0;
  std::filesystem::path dir;
  Config config;
  std::variant<Config, std::string> fileConfig;  // what a reload reads
  bool xdpAttached = true;                       // what the kernel says of the attachment
  FakeMaps maps;
  FakeWorker worker;
  std::int64_t now = 1'800'000'000;
  std::unique_ptr<Controller> controller;
  bool started = false;
};

}  // namespace xlb::testing
