// SPDX-License-Identifier: Apache-2.0
// xlbd: the load balancer daemon. Loads the XDP program, opens one AF_XDP socket and worker per
// queue, restores state_dir and fills the maps (the Controller), attaches XDP, serves the REST API
// and runs health checks until SIGTERM/SIGINT.
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

#include "cli_doc.h"
#include "xlb/api_server.h"
#include "xlb/assembly.h"
#include "xlb/config_yaml.h"
#include "xlb/controller.h"
#include "xlb/health.h"
#include "xlb/host_addr.h"
#include "xlb/neighbors.h"
#include "xlb/snapshot.h"
#include "xlb/tcp_probe.h"
#include "xlb/worker.h"
#include "xlb/xdp_attach.h"
#include "xlb/xdp_program.h"
#include "xlb/xsk_io.h"
#include "xlbd_cluster.h"
#include "xlbd_default_config.h"
#include "xlbd_handover.h"
#include "xlbd_host.h"
#include "xlbd_notify.h"
#include "xlbd_restart.h"

namespace xlb {
namespace {

constexpr int kExitConfig = 2;
constexpr int kExitRuntime = 1;

struct Daemon {
  Config config;
  // Reads the configuration file again (SIGHUP, POST /api/v1/config/reload), with the same
  // command-line overrides; unset when xlbd runs on the built-in configuration.
  std::function<std::variant<Config, std::string>()> reread;
  std::string token;
  int ifindex = 0;
  MacAddr mac;
  std::unique_ptr<NeighborTable> neighbors;
  std::unique_ptr<Assembly> lb;  // program, sockets, workers, controller
  ClusterRole cluster;           // cluster: configured (else empty)
  std::unique_ptr<XdpAttachment> attachment;
  std::unique_ptr<ApiServer> api;
  std::unique_ptr<HealthChecker> health;
  bool wantTakeover = false;                           // --takeover
  std::unique_ptr<Takeover> takeover;                  // the running xlbd this one replaces
  std::unique_ptr<HandoverListener> handoverListener;  // for the next one
  FlowStoreOpen flowsOpened;                           // what the tables' file held at start
  RestartInfo restart;  // what this start took over (stats "restart")

  // Stops serving. The XDP program stays attached and the connection tables stay in their file:
  // the next start adopts both. Until then the program answers what it answers alone (cookies,
  // blocklist, host traffic) and drops what needs the engine (fail_open: passes it).
  void shutdown() {
    // Routes first: the router stops sending here before anything stops serving.
    stopClusterMember(cluster, lb.get());
    if (health) health->stop();
    if (api) api->stop();
    if (!lb) return;
    lb->stopWorkers();
    for (std::uint32_t q = 0; q < lb->queues(); ++q) lb->program().clearXsk(q);
  }
};

// Checks of the host before anything is loaded: ports, token, interface, queues, MAC. 0, or the
// exit code (the reason logged).
int preflight(Daemon& d) {
  const Config& config = d.config;
  std::string err;
  std::uint32_t eLo = 0, eHi = 0;
  if (ephemeralRange(eLo, eHi) && config.snat.portLo <= eHi && config.snat.portHi >= eLo) {
    spdlog::error(
        "SNAT ports {}-{} overlap the kernel's ephemeral ports {}-{} "
        "(net.ipv4.ip_local_port_range): the host's own connections from the SNAT address "
        "would collide with xlb's; choose a SNAT range outside it",
        config.snat.portLo, config.snat.portHi, eLo, eHi);
    return kExitConfig;
  }
  if (!loadToken(config, d.token, err)) {
    spdlog::error("{}", err);
    return kExitConfig;
  }
  // Another xlbd on the same runtime_dir holds the queues and the tables: say so before binding
  // a queue it holds fails less clearly.
  if (config.cluster.enabled() && d.wantTakeover) {
    spdlog::error(
        "--takeover is not supported for a cluster member yet: its UDP port and route device "
        "belong to the running xlbd; drain it (xlbctl cluster drain), stop it, then start");
    return kExitConfig;
  }
  if (const int pid = FlowStore::heldBy(flowFilePath(config)); pid != 0 && !d.wantTakeover) {
    spdlog::error(
        "an xlbd{} already runs on {}: stop it, or start this one with --takeover to "
        "replace it without a gap",
        pid > 0 ? " (pid " + std::to_string(pid) + ")" : "", config.runtimeDir);
    return kExitRuntime;
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
  const auto mac = interfaceMac(config.interface);
  if (!mac) {
    spdlog::error("cannot read the MAC address of {}", config.interface);
    return kExitRuntime;
  }
  d.mac = *mac;
  d.neighbors = NeighborTable::open(err);
  if (!d.neighbors) {
    spdlog::error("{}", err);
    return kExitRuntime;
  }
  d.neighbors->setSources(config.snat.addresses);
  warnAboutHostAddresses(config);
  for (const std::string& w : snatSizing(config)) spdlog::warn("{}", w);
  return 0;
}

// The connections the previous process left in the tables' file, taken over and reported.
void adoptFlows(Daemon& d) {
  if (d.takeover) d.takeover->tablesTouched();  // from here on the old process cannot resume
  // A cluster member that stopped without a hand-over has been written off: its peers forgot its
  // flows after dead_after and the router moved them; their clients have moved on, and entries
  // revived now would be announced again and collide with the tuples those clients reuse.
  const bool keep = !d.config.cluster.enabled() || d.takeover != nullptr;
  const AdoptCounts adopted = d.lb->adoptFlows(monotonicNow(), keep);
  if (!keep && adopted.invalid > 0) {
    spdlog::info(
        "cluster member: the previous process's {} connection(s) are not adopted (its "
        "peers wrote them off when it stopped)",
        adopted.invalid);
  }
  RestartInfo& info = d.restart;
  info.generation = d.flowsOpened.generation;
  info.adopted = adopted.adopted;
  info.dropped = adopted.dropped() + d.flowsOpened.refusedFlows;
  info.refused = d.flowsOpened.refused;
  info.previousPid = d.flowsOpened.previousPid;
  info.handover = d.takeover != nullptr;
  d.lb->controller().setRestartInfo(info);
  if (adopted.adopted + adopted.dropped() > 0) {
    spdlog::info(
        "adopted {} connection(s) from {}; dropped {} ({} no longer valid: a field out "
        "of range, or a VIP, backend or SNAT address this configuration lacks; {} "
        "duplicates)",
        adopted.adopted, flowFilePath(d.config), adopted.dropped(), adopted.invalid,
        adopted.duplicates);
  }
}

// The shared assembly on AF_XDP sockets, the kernel's neighbour table and state_dir.
bool assemble(Daemon& d, std::string& err) {
  const Config& config = d.config;
  if (d.wantTakeover) {
    d.takeover = Takeover::begin(config, err);
    if (!err.empty()) return false;
    if (!d.takeover)
      spdlog::info("--takeover: no xlbd runs on {}; starting normally", config.runtimeDir);
  }
  // The sockets: new ones, or (taking over) the running xlbd's, asked for once this process's
  // program is loaded so that the old one serves until then.
  Takeover* tk = d.takeover.get();
  OpenQueue open = [&config, tk](std::uint32_t q, XdpProgram& prog,
                                 std::string& e) -> std::unique_ptr<BatchIo> {
    XskOptions o;
    o.interface = config.interface;
    o.queue = q;
    o.frames = config.framesPerQueue;
    std::unique_ptr<XskIo> s;
    if (tk != nullptr) {
      if (!tk->quiesce(e)) return nullptr;
      auto h = tk->take(q);
      if (!h) {
        e = "the running xlbd handed over no socket for queue " + std::to_string(q);
        return nullptr;
      }
      s = XskIo::adopt(o, std::move(*h), e);
    } else {
      s = XskIo::open(o, e);
    }
    if (!s || !prog.setXsk(q, s->fd(), e)) return nullptr;
    return s;
  };
  AssemblyHooks h;
  const auto key = loadCookieKey(config, err);
  if (!key) return false;
  h.cookieKey = *key;
  h.openFlows = [&config, &d](std::string& e) { return openFlowStore(config, e, d.flowsOpened); };
  h.adoptMapsFrom = XdpAttachment::attachedXlbProgram(d.ifindex);
  if (getrandom(&h.tableSeed, sizeof h.tableSeed, 0) != sizeof h.tableSeed) {
    err = "getrandom: no random seed for the connection table";
    return false;
  }
  h.localMac = d.mac;
  h.checkDstMac = true;
  NeighborTable* nt = d.neighbors.get();
  const int ifindex = d.ifindex;
  h.resolve = [nt, ifindex](const Address& a) { return nt->lookup(a, ifindex); };
  h.refreshNextHops = [nt] { nt->refresh(); };
  h.attached = [&d] { return d.attachment != nullptr && d.attachment->inPlace(); };
  h.running = [&d] { return d.lb && d.lb->workersRunning(); };
  h.store = std::make_unique<StateStore>(config.stateDir);
  h.loadConfig = d.reread;
  d.lb = Assembly::build(config, open, std::move(h), err);
  if (!d.lb || !d.lb->start(err)) return false;
  if (!d.lb->program().adoptedMaps().empty()) {
    spdlog::info("took over the previous program's maps: {}",
                 fmt::join(d.lb->program().adoptedMaps(), ", "));
  }
  if (!startClusterMember(config, *d.lb, d.cluster, err)) return false;
  adoptFlows(d);
  // Next hops: give the kernel a moment to resolve what it does not know yet.
  for (int i = 0; i < 20 && d.lb->controller().unresolvedNextHops() > 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    d.lb->controller().refreshNextHops();
  }
  return true;
}

// The API and the health checks (at start, and again when a hand-over was abandoned).
bool serveControl(Daemon& d, std::string& err) {
  const Config& config = d.config;
  ApiServerOptions ao;
  ao.host = config.control.listenHost;
  ao.port = config.control.listenPort;
  ao.token = d.token;
  d.api = std::make_unique<ApiServer>(d.lb->controller(), ao);
  if (!d.api->start(err)) return false;
  if (config.healthCheck.enabled) {
    d.health = std::make_unique<HealthChecker>(d.lb->controller(), config.healthCheck, probeTcp);
    d.health->start();
  }
  return true;
}

// Starts the workers, attaches XDP, starts the API and the health checks.
bool serve(Daemon& d, std::string& err) {
  const Config& config = d.config;
  // Workers first: taking over, the old program still redirects into the same sockets, so the
  // pause ends here and not after the attach.
  d.lb->runWorkers();
  if (d.takeover) {
    const double paused = d.takeover->pausedMs();
    d.restart.pauseMs = paused;
    d.lb->controller().setRestartInfo(d.restart);
    spdlog::info("took over from xlbd pid {}: its queues were paused for {:.1f} ms",
                 d.takeover->previousPid(), paused);
  }
  std::string note;
  d.attachment =
      XdpAttachment::attach(config.interface, d.lb->program().progFd(), config.xdpMode, err, note);
  if (!d.attachment) return false;
  if (!note.empty()) {
    if (d.attachment->replacedPrevious()) {
      spdlog::info("{}", note);
    } else {
      spdlog::warn("{}", note);
    }
  }
  if (!serveControl(d, err)) return false;
  d.handoverListener = HandoverListener::listen(handoverSocketPath(config), err);
  if (!d.handoverListener) return false;
  if (d.takeover) d.takeover->done();
  if (d.cluster.agent) d.cluster.agent->setServing(true);
  return true;
}

// What this process hands to an xlbd that takes over (xlbd_handover.h).
HandoverSource handoverSource(Daemon& d) {
  HandoverSource src;
  src.workers = d.config.workers;
  src.frames = d.config.framesPerQueue;
  src.stopControl = [&d] {
    if (d.api) d.api->stop();
    if (d.health) d.health->stop();
  };
  src.stopWorkers = [&d] { d.lb->stopWorkers(); };
  src.sockets = [&d] {
    std::vector<XskHandover> out;
    for (std::uint32_t q = 0; q < d.lb->queues(); ++q) {
      if (auto* x = dynamic_cast<XskIo*>(&d.lb->io(q))) out.push_back(x->handover());
    }
    return out;
  };
  src.releaseFlows = [&d] {
    if (d.lb->flows() != nullptr) d.lb->flows()->unlock();
  };
  src.resume = [&d] {
    if (d.lb->flows() != nullptr && !d.lb->flows()->relock()) {
      spdlog::error("hand-over abandoned, but the tables' file stays locked by another process");
    }
    d.lb->runWorkers();
    std::string err;
    if (!serveControl(d, err)) spdlog::error("hand-over abandoned: {}", err);
  };
  return src;
}

void logStarted(const Daemon& d) {
  const Config& config = d.config;
  std::size_t backends = 0;
  std::string vips;
  for (const VipConfig& v : config.vips) {
    backends += v.backends.size();
    vips += (vips.empty() ? "" : ", ") + v.key().toString();
    if (v.protocol == kVipTcp) vips += " (" + std::string(enumName(v.synFlood.mode)) + ")";
  }
  auto* zc = dynamic_cast<SocketInfo*>(&d.lb->io(0));
  spdlog::info(
      "xlbd started: interface {} (ifindex {}), XDP {} mode, AF_XDP {} mode, {} queue(s), {} "
      "worker(s), VIPs: {}, backends: {} ({} next hops unresolved), SNAT {} ports {}-{}, "
      "fail-{}, API http://{}:{} , health checks {}",
      config.interface, d.ifindex, d.attachment->native() ? "native" : "generic",
      zc != nullptr && zc->zeroCopy() ? "zero-copy" : "copy", config.workers, config.workers, vips,
      backends, d.lb->controller().unresolvedNextHops(), config.snat.addresses[0].toString(),
      config.snat.portLo, config.snat.portHi, config.failOpen ? "open" : "closed",
      config.control.listenHost, d.api->port(), config.healthCheck.enabled ? "on" : "off");
}

constexpr int kHandedOver = 0;

// Housekeeping every 100 ms until SIGINT or SIGTERM (returns the signal) or a hand-over to a new
// xlbd (returns kHandedOver). SIGHUP reloads the configuration file (the Controller logs what
// changed, or why nothing did).
int waitForSignal(Daemon& d) {
  Controller& controller = d.lb->controller();
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  for (;;) {
    timespec ts{0, 100'000'000};
    const int sig = sigtimedwait(&set, nullptr, &ts);
    if (sig == SIGINT || sig == SIGTERM) return sig;
    if (sig == SIGHUP) {
      spdlog::info("SIGHUP received: reloading the configuration file");
      notify::reloading();
      const auto outcome = controller.reload();  // logs each change itself
      if (const auto* e = std::get_if<ControlError>(&outcome))
        spdlog::error("reload: {}", e->message);
      notify::ready("serving (configuration reloaded)");
    }
    if (auto ch = d.handoverListener->accept()) {
      if (handOver(*ch, handoverSource(d))) return kHandedOver;
    }
    controller.tick();  // blocklist expiry, next hops, half-open pressure
    refreshClusterMacs(d.cluster, *d.neighbors, d.ifindex);
  }
}

int run(const Config& config, std::function<std::variant<Config, std::string>()> reread,
        bool takeover) {
  Daemon d;
  d.wantTakeover = takeover;
  d.config = config;
  d.reread = std::move(reread);
  if (const int code = preflight(d)) return code;
  std::string err;
  if (!assemble(d, err) || !serve(d, err)) {
    spdlog::error("{}", err);
    d.shutdown();
    if (d.takeover) {
      d.lb.reset();  // its copies of the sockets and its lock go first
      d.takeover->abandon();
    }
    return kExitRuntime;
  }
  logStarted(d);
  // serve() returned with the API listening and XDP attached: what readiness means.
  notify::ready("serving " + config.interface);
  const int sig = waitForSignal(d);
  if (sig == kHandedOver) return 0;  // everything stays as the new process found it
  spdlog::info("{} received: stopping workers", sig == SIGINT ? "SIGINT" : "SIGTERM");
  notify::stopping();
  d.shutdown();
  std::uint64_t active = 0;
  for (std::uint32_t q = 0; q < d.lb->queues(); ++q) active += d.lb->worker(q).stats().active;
  spdlog::info(
      "xlbd stopped: {} connection(s) kept in {} for the next start; the XDP program "
      "stays attached (traffic for the engine is {} until then; xlbd --detach removes "
      "it)",
      active, flowFilePath(config), config.failOpen ? "passed" : "dropped");
  return 0;
}

}  // namespace
}  // namespace xlb

namespace {

int daemonMain(int argc, char** argv) {
  CLI::App app{"xlbd: XDP/AF_XDP L4 load balancer"};
  std::string configPath, checkPath, stateDir, level = "info";
  std::string runtimeDir;
  bool printDefault = false, detach = false, takeover = false;
  app.add_option("--config", configPath, "configuration file (default: the built-in one)");
  app.add_option("--check-config", checkPath, "validate a configuration file and exit");
  app.add_option("--state-dir", stateDir, "override state_dir (runtime changes, API token)");
  app.add_option("--runtime-dir", runtimeDir,
                 "override runtime_dir (the connection tables kept across restarts)");
  app.add_flag("--takeover", takeover,
               "replace the xlbd running on the same runtime_dir without a gap: its sockets, "
               "connections and program are taken over (an upgrade or a restart)");
  app.add_flag("--detach", detach,
               "remove the XDP program a stopped xlbd left attached, forget its connections, "
               "and exit");
  app.add_option("--log-level", level, "trace, debug, info, warn, error")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error"}));
  app.add_flag("--print-default-config", printDefault, "print the built-in configuration");
  if (xlb::clidoc::printIfAsked(argc, argv, app, xlb::clidoc::xlbdPage())) return 0;
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
  if (!stateDir.empty()) std::get<xlb::Config>(r).stateDir = stateDir;
  if (!runtimeDir.empty()) std::get<xlb::Config>(r).runtimeDir = runtimeDir;
  if (detach) return xlb::detachCommand(std::get<xlb::Config>(r));
  // Signals are taken synchronously by the main thread; workers inherit the blocked mask.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);
  std::function<std::variant<xlb::Config, std::string>()> reread;
  if (!path.empty()) {
    reread = [path, stateDir, runtimeDir]() -> std::variant<xlb::Config, std::string> {
      xlb::ConfigResult c = xlb::loadConfigFile(path);
      if (auto* e = std::get_if<xlb::ConfigError>(&c)) return path + ": " + e->message;
      xlb::Config cfg = std::get<xlb::Config>(std::move(c));
      if (!stateDir.empty()) cfg.stateDir = stateDir;
      if (!runtimeDir.empty()) cfg.runtimeDir = runtimeDir;
      return cfg;
    };
  }
  return xlb::run(std::get<xlb::Config>(r), std::move(reread), takeover);
}

}  // namespace

// The outermost boundary: anything thrown before the daemon's own boundaries catch it (the
// command line, loading the configuration) ends the process with a message, not an abort.
int main(int argc, char** argv) {
  try {
    return daemonMain(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "xlbd: %s\n", e.what());
  } catch (...) {
    std::fprintf(stderr, "xlbd: unknown error\n");
  }
  return xlb::kExitRuntime;
}
