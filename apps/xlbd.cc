// SPDX-License-Identifier: Apache-2.0
// xlbd: the load balancer daemon. Loads the XDP program, fills its maps from the configuration,
// opens one AF_XDP socket and worker per queue, attaches XDP, and runs until SIGTERM/SIGINT.
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/random.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "xlb/config_yaml.h"
#include "xlb/neighbors.h"
#include "xlb/snapshot.h"
#include "xlb/worker.h"
#include "xlb/xdp_attach.h"
#include "xlb/xdp_program.h"
#include "xlb/xsk_io.h"

namespace xlb {
namespace {

// The built-in default: the one-arm rig of scripts/netns (and `make demo`). The LB namespace
// names its interface eth0 and owns 10.100.0.2 (SNAT) and 10.100.0.100 (VIP); the demo's third
// client, 10.100.0.23, is on the blocklist.
constexpr const char* kDefaultConfig = R"(interface: eth0
xdp_mode: auto
workers: 1
snat: {addresses: [10.100.0.2], ports: 20000-29999}
vips:
  - address: 10.100.0.100
    ports: [80, 443]
    syn_flood: {mode: auto, threshold_pps: 2000}
    backends:
      - {address: 10.100.0.11}
      - {address: 10.100.0.12}
      - {address: 10.100.0.13}
blocklist: [10.100.0.23/32]
conntrack:
  capacity: 100000
  timeouts: {syn: 5s, established: 300s, fin: 10s, time_wait: 2s, rst: 1s}
state_dir: /var/lib/xlb
)";

constexpr int kExitConfig = 2;
constexpr int kExitRuntime = 1;

// The kernel's ephemeral port range on this host (the namespace's, inside a netns).
bool ephemeralRange(std::uint32_t& lo, std::uint32_t& hi) {
  std::ifstream f("/proc/sys/net/ipv4/ip_local_port_range");
  return static_cast<bool>(f >> lo >> hi);
}

CookieKey randomKey() {
  CookieKey k{};
  if (getrandom(k.data(), sizeof k, 0) != static_cast<ssize_t>(sizeof k)) {
    k[0] = static_cast<std::uint64_t>(monotonicNow()) * 0x9e3779b97f4a7c15ull;
    k[1] = static_cast<std::uint64_t>(static_cast<std::uint32_t>(getpid())) ^ (k[0] >> 7);
  }
  return k;
}

void writeStats(const std::string& path, const XdpProgram& prog,
                const std::vector<std::unique_ptr<Worker>>& workers,
                const std::vector<std::unique_ptr<XskIo>>& sockets, const Config& config) {
  nlohmann::json j;
  nlohmann::json afxdp = nlohmann::json::array();
  for (const auto& s : sockets) {
    const XskKernelStats k = s->kernelStats();
    afxdp.push_back({{"queue", s->queue()},
                     {"rx_dropped", k.rxDropped},
                     {"rx_ring_full", k.rxRingFull},
                     {"fill_ring_empty", k.fillRingEmpty},
                     {"rx_invalid", k.rxInvalid},
                     {"tx_invalid", k.txInvalid}});
  }
  j["afxdp"] = afxdp;
  nlohmann::json xdp = nlohmann::json::object();
  const auto x = prog.stats();
  for (std::size_t i = 0; i < kReasonCount; ++i) {
    if (x[i].packets != 0) xdp[std::string(kReasonNames[i])] = x[i].packets;
  }
  j["xdp"] = xdp;
  nlohmann::json engine = nlohmann::json::object();
  std::array<std::uint64_t, kReasonCount> reasons{};
  std::array<std::uint64_t, kTcpStateCount> byState{};
  std::array<std::uint64_t, kCloseReasonCount> closed{};
  std::uint64_t active = 0, created = 0, snat = 0, validated = 0, released = 0, handed = 0;
  std::uint64_t capacity = 0, sendDrops = 0, handoffDrops = 0;
  for (const auto& w : workers) {
    const WorkerStats s = w->stats();
    for (std::size_t i = 0; i < kReasonCount; ++i) reasons[i] += s.counters.reasons[i];
    for (std::size_t i = 0; i < kTcpStateCount; ++i) byState[i] += s.byState[i];
    for (std::size_t i = 0; i < kCloseReasonCount; ++i) closed[i] += s.closed[i];
    active += s.active;
    created += s.created;
    snat += s.snatInUse;
    validated += s.counters.cookiesValidated;
    released += s.counters.heldReleased;
    handed += s.handedOff;
    capacity += s.capacity;
    sendDrops += s.sendDrops;
    handoffDrops += s.handoffDrops;
  }
  for (std::size_t i = 0; i < kReasonCount; ++i) {
    if (reasons[i] != 0) engine[std::string(kReasonNames[i])] = reasons[i];
  }
  j["engine"] = engine;
  nlohmann::json states = nlohmann::json::object();
  for (std::size_t i = 1; i < kTcpStateCount; ++i) {
    states[std::string(tcpStateName(static_cast<TcpState>(i)))] = byState[i];
  }
  nlohmann::json closes = nlohmann::json::object();
  for (std::size_t i = 0; i < kCloseReasonCount; ++i) {
    closes[std::string(closeReasonName(static_cast<CloseReason>(i)))] = closed[i];
  }
  j["conntrack"] = {{"active", active},   {"capacity", capacity}, {"created", created},
                    {"by_state", states}, {"closed", closes}};
  j["snat"] = {{"ports_in_use", snat}};
  j["syncookies"] = {{"sent", x[static_cast<std::size_t>(Reason::kTxSyncookie)].packets},
                     {"validated", validated},
                     {"invalid", reasons[static_cast<std::size_t>(Reason::kSyncookieInvalid)]},
                     {"held_released", released}};
  j["workers"] = {{"count", workers.size()},
                  {"handed_off", handed},
                  {"handoff_drops", handoffDrops},
                  {"send_drops", sendDrops}};
  nlohmann::json cookieState = nlohmann::json::array();
  for (std::size_t i = 0; i < config.vips.size(); ++i) {
    const SynState st = prog.synState(static_cast<std::uint16_t>(i));
    cookieState.push_back({{"vip", config.vips[i].address.toString()},
                           {"cookies_on", st.cookies},
                           {"switches", st.switches}});
  }
  j["syn_flood"] = cookieState;
  const std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::trunc);
    f << j.dump(2) << "\n";
    if (!f) return;
  }
  std::filesystem::rename(tmp, path);
}

struct Daemon {
  Config config;
  std::unique_ptr<XdpProgram> prog;
  std::unique_ptr<NeighborTable> neighbors;
  std::vector<std::unique_ptr<XskIo>> sockets;
  std::unique_ptr<Handoff> handoff;
  std::vector<std::unique_ptr<Worker>> workers;
  std::vector<std::thread> threads;
  std::unique_ptr<XdpAttachment> attachment;
  std::atomic<bool> stop{false};
  int ifindex = 0;
  MacAddr localMac;
  std::vector<std::optional<MacAddr>> lastMacs;

  // Builds a snapshot with the next hops the kernel knows now. Returns true if any MAC changed.
  bool resolve(std::shared_ptr<const Snapshot>& out) {
    std::vector<std::optional<MacAddr>> macs;
    for (const VipConfig& v : config.vips) {
      for (const BackendConfig& b : v.backends) macs.push_back(neighbors->lookup(b.address, ifindex));
    }
    const bool changed = macs != lastMacs;
    std::size_t i = 0;
    out = Snapshot::fromConfig(config, localMac, [&](const Address&) {
      const std::optional<MacAddr>& m = macs[i++];
      // Unknown yet: broadcast, so the first packets are not lost to a wrong address; the next
      // refresh (1 s) narrows it to the neighbour's MAC.
      return m ? *m : MacAddr{{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}};
    });
    lastMacs = std::move(macs);
    return changed;
  }

  void publish(const std::shared_ptr<const Snapshot>& s) {
    for (auto& w : workers) w->publish(s);
  }

  void shutdown() {
    // Detach first: from then on the kernel sees the traffic instead of dead sockets.
    if (attachment) attachment->detach();
    stop = true;
    for (auto& t : threads) t.join();
    threads.clear();
    for (std::uint32_t q = 0; q < sockets.size(); ++q) prog->clearXsk(q);
  }
};

int run(const Config& config, const std::string& statsFile) {
  Daemon d;
  d.config = config;
  std::string err, note;
  std::uint32_t eLo = 0, eHi = 0;
  if (ephemeralRange(eLo, eHi) && config.snat.portLo <= eHi && config.snat.portHi >= eLo) {
    spdlog::error(
        "SNAT ports {}-{} overlap the kernel's ephemeral ports {}-{} "
        "(net.ipv4.ip_local_port_range): the host's own connections from the SNAT address "
        "would collide with xlb's; choose a SNAT range outside it",
        config.snat.portLo, config.snat.portHi, eLo, eHi);
    return kExitConfig;
  }
  d.ifindex = XdpAttachment::ifindexOf(config.interface, err);
  if (d.ifindex == 0) {
    spdlog::error("{}", err);
    return kExitRuntime;
  }
  const unsigned queues = interfaceRxQueues(config.interface);
  if (queues != 0 && queues < config.workers) {
    spdlog::error("{} has {} receive queue(s); workers: {} needs one per worker", config.interface,
                  queues, config.workers);
    return kExitConfig;
  }
  auto mac = interfaceMac(config.interface);
  if (!mac) {
    spdlog::error("cannot read the MAC address of {}", config.interface);
    return kExitRuntime;
  }
  d.localMac = *mac;

  XdpOptions xo;
  xo.failOpen = config.failOpen;
  xo.blocklistCapacity = config.blocklistCapacity;
  d.prog = XdpProgram::load(xo, err);
  if (!d.prog) {
    spdlog::error("{}", err);
    return kExitRuntime;
  }
  const CookieKey key = randomKey();
  if (!d.prog->applyConfig(config, key, err)) {
    spdlog::error("{}", err);
    return kExitRuntime;
  }
  for (const Prefix& p : config.blocklist) {
    bool exists = false;
    if (!d.prog->blockAdd(p, err, &exists) && !exists) {
      spdlog::error("blocklist {}: {}", p.toString(), err);
      return kExitRuntime;
    }
  }
  d.neighbors = NeighborTable::open(err);
  if (!d.neighbors) {
    spdlog::error("{}", err);
    return kExitRuntime;
  }

  // Workers and sockets.
  if (config.workers > 1) d.handoff = std::make_unique<Handoff>(config.workers);
  for (std::uint32_t q = 0; q < config.workers; ++q) {
    XskOptions o;
    o.interface = config.interface;
    o.queue = q;
    o.frames = config.framesPerQueue;
    auto s = XskIo::open(o, err);
    if (!s) {
      spdlog::error("{}", err);
      return kExitRuntime;
    }
    if (!d.prog->setXsk(q, s->fd(), err)) {
      spdlog::error("{}", err);
      return kExitRuntime;
    }
    d.sockets.push_back(std::move(s));
  }
  std::uint64_t seed = 0;
  getrandom(&seed, sizeof seed, 0);
  for (std::uint32_t q = 0; q < config.workers; ++q) {
    d.workers.push_back(std::make_unique<Worker>(q, config.workers, config, *d.sockets[q],
                                                 d.handoff.get(), key, seed));
  }
  // Next hops: ask the kernel, give it a moment to resolve what it does not know yet.
  std::shared_ptr<const Snapshot> snap;
  d.resolve(snap);
  for (int i = 0; i < 20 && std::any_of(d.lastMacs.begin(), d.lastMacs.end(),
                                        [](const auto& m) { return !m.has_value(); });
       ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    d.neighbors->refresh();
    d.resolve(snap);
  }
  d.publish(snap);

  d.attachment = XdpAttachment::attach(config.interface, d.prog->progFd(), config.xdpMode, err, note);
  if (!d.attachment) {
    spdlog::error("{}", err);
    return kExitRuntime;
  }
  if (!note.empty()) spdlog::warn("{}", note);
  for (auto& w : d.workers) {
    Worker* wp = w.get();
    d.threads.emplace_back([wp, &d] { wp->run(d.stop); });
  }

  std::size_t backends = 0;
  std::string vips;
  for (const VipConfig& v : config.vips) {
    backends += v.backends.size();
    vips += (vips.empty() ? "" : ", ") + v.address.toString() + " (" +
            std::string(synFloodModeName(v.synFlood.mode)) + ")";
  }
  std::size_t resolved = static_cast<std::size_t>(
      std::count_if(d.lastMacs.begin(), d.lastMacs.end(), [](const auto& m) { return m.has_value(); }));
  spdlog::info(
      "xlbd started: interface {} (ifindex {}), XDP {} mode, AF_XDP {} mode, {} queue(s), {} "
      "worker(s), VIPs: {}, backends: {} ({} next hops resolved), SNAT {} ports {}-{}, "
      "fail-{}",
      config.interface, d.ifindex, d.attachment->native() ? "native" : "generic",
      d.sockets[0]->zeroCopy() ? "zero-copy" : "copy", config.workers, config.workers, vips,
      backends, resolved, config.snat.addresses[0].toString(), config.snat.portLo,
      config.snat.portHi, config.failOpen ? "open" : "closed");

  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  int sig = 0;
  for (;;) {
    timespec ts{1, 0};
    sig = sigtimedwait(&set, nullptr, &ts);
    if (sig == SIGINT || sig == SIGTERM) break;
    // Once a second: next hops (the kernel's neighbour table changes), published statistics.
    d.neighbors->refresh();
    std::shared_ptr<const Snapshot> s;
    if (d.resolve(s)) {
      spdlog::info("next hops changed; publishing a new snapshot");
      d.publish(s);
    }
    if (!statsFile.empty()) writeStats(statsFile, *d.prog, d.workers, d.sockets, config);
  }
  spdlog::info("{} received: detaching XDP and stopping workers", sig == SIGINT ? "SIGINT" : "SIGTERM");
  d.shutdown();
  if (!statsFile.empty()) writeStats(statsFile, *d.prog, d.workers, d.sockets, config);
  std::uint64_t active = 0;
  for (auto& w : d.workers) active += w->stats().active;
  spdlog::info("xlbd stopped ({} connection entries dropped with the process)", active);
  return 0;
}

}  // namespace
}  // namespace xlb

int main(int argc, char** argv) {
  CLI::App app{"xlbd: XDP/AF_XDP L4 load balancer"};
  std::string configPath, checkPath, statsFile, level = "info";
  bool printDefault = false;
  app.add_option("--config", configPath, "configuration file (default: the built-in one)");
  app.add_option("--check-config", checkPath, "validate a configuration file and exit");
  app.add_option("--stats-file", statsFile, "write a JSON statistics summary here every second");
  app.add_option("--log-level", level, "trace, debug, info, warn, error")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error"}));
  app.add_flag("--print-default-config", printDefault, "print the built-in configuration");
  CLI11_PARSE(app, argc, argv);
  spdlog::set_level(spdlog::level::from_str(level));
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");

  if (printDefault) {
    std::fputs(xlb::kDefaultConfig, stdout);
    return 0;
  }
  const bool check = !checkPath.empty();
  const std::string path = check ? checkPath : configPath;
  xlb::ConfigResult r =
      path.empty() ? xlb::loadConfigString(xlb::kDefaultConfig) : xlb::loadConfigFile(path);
  if (auto* e = std::get_if<xlb::ConfigError>(&r)) {
    std::fprintf(stderr, "xlbd: %s: %s\n", path.empty() ? "built-in config" : path.c_str(),
                 e->message.c_str());
    return xlb::kExitConfig;
  }
  if (check) {
    std::printf("%s: OK\n", path.c_str());
    return 0;
  }
  if (path.empty()) spdlog::info("no --config given: using the built-in default configuration");
  // Signals are taken synchronously by the main thread; workers inherit the blocked mask.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);
  return xlb::run(std::get<xlb::Config>(r), statsFile);
}
