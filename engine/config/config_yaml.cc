// SPDX-License-Identifier: Apache-2.0
// YAML -> Config. Strict: unknown keys, wrong types and out-of-range values are errors that
// name the key path and the value.
#include "xlb/config_yaml.h"

#include <yaml-cpp/yaml.h>

#include <charconv>
#include <fstream>
#include <initializer_list>
#include <limits>
#include <set>
#include <sstream>

#include "xlb/text.h"

namespace xlb {
namespace {

struct Fail {
  std::string message;
};

[[noreturn]] void fail(const std::string& path, const std::string& what) {
  throw Fail{path + ": " + what};
}

std::string quoted(const YAML::Node& n) {
  if (n.IsScalar()) return "\"" + n.Scalar() + "\"";
  if (n.IsSequence()) return "a list";
  if (n.IsMap()) return "a map";
  return "nothing";
}

void onlyKeys(const YAML::Node& map, const std::string& path,
              std::initializer_list<std::string_view> allowed) {
  if (!map.IsMap()) fail(path, "expected a map, got " + quoted(map));
  for (const auto& kv : map) {
    const std::string key = kv.first.as<std::string>();
    bool ok = false;
    for (auto a : allowed) ok = ok || key == a;
    if (!ok) {
      std::string list;
      for (auto a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
      fail(path.empty() ? key : path + "." + key, "unknown key (expected one of: " + list + ")");
    }
  }
}

std::string join(const std::string& path, const std::string& key) {
  return path.empty() ? key : path + "." + key;
}

std::string scalar(const YAML::Node& n, const std::string& path) {
  if (!n.IsScalar()) fail(path, "expected a value, got " + quoted(n));
  return n.Scalar();
}

std::uint64_t integer(const YAML::Node& n, const std::string& path, std::uint64_t lo,
                      std::uint64_t hi, const char* what) {
  const std::string s = scalar(n, path);
  std::uint64_t v = 0;
  if (!parseUint(s, hi, v) || v < lo) {
    fail(path, "\"" + s + "\" is not " + what + " (" + std::to_string(lo) + "-" +
                   std::to_string(hi) + ")");
  }
  return v;
}

Address address(const YAML::Node& n, const std::string& path) {
  const std::string s = scalar(n, path);
  auto a = Address::parse(s);
  if (!a) fail(path, "\"" + s + "\" is not an IPv4 or IPv6 address");
  return *a;
}

TimeNs duration(const YAML::Node& n, const std::string& path, TimeNs min) {
  const std::string s = scalar(n, path);
  auto d = parseDuration(s);
  if (!d) {
    fail(path, "\"" + s + "\" is not a duration (e.g. 500ms, 5s, 2m, 1h) or is out of range");
  }
  if (*d < min || *d > kMaxTimeout) {
    fail(path, "\"" + s + "\" is out of range (" + std::to_string(min / kNsPerMs) + "ms-24h)");
  }
  return *d;
}

template <typename Fn>
void eachItem(const YAML::Node& n, const std::string& path, Fn fn) {
  if (!n.IsSequence()) fail(path, "expected a list, got " + quoted(n));
  for (std::size_t i = 0; i < n.size(); ++i) fn(n[i], path + "[" + std::to_string(i) + "]");
}

void loadSnat(const YAML::Node& n, SnatConfig& out) {
  onlyKeys(n, "snat", {"addresses", "ports", "sustained_rate"});
  if (n["sustained_rate"]) {
    out.sustainedRate = static_cast<std::uint32_t>(
        integer(n["sustained_rate"], "snat.sustained_rate", 1, 100'000'000, "a rate"));
  }
  if (n["addresses"]) {
    eachItem(n["addresses"], "snat.addresses", [&](const YAML::Node& a, const std::string& p) {
      out.addresses.push_back(address(a, p));
    });
  }
  if (out.addresses.empty()) fail("snat.addresses", "at least one SNAT address is required");
  if (out.addresses.size() > SnatPool::kMaxAddresses)
    fail("snat.addresses", "more than " + std::to_string(SnatPool::kMaxAddresses) + " addresses");
  if (n["ports"]) {
    const std::string s = scalar(n["ports"], "snat.ports");
    std::size_t dash = s.find('-');
    std::uint64_t lo = 0, hi = 0;
    auto num = [](std::string_view t, std::uint64_t& v) { return parseUint(t, 65535, v); };
    if (dash == std::string::npos || !num(std::string_view(s).substr(0, dash), lo) ||
        !num(std::string_view(s).substr(dash + 1), hi) || lo < 1 || hi > 65535 || lo > hi) {
      fail("snat.ports", "\"" + s + "\" is not a port range LOW-HIGH within 1-65535");
    }
    out.portLo = static_cast<std::uint16_t>(lo);
    out.portHi = static_cast<std::uint16_t>(hi);
  }
}

bool boolean(const YAML::Node& n, const std::string& key) {
  const std::string b = scalar(n, key);
  if (b != "true" && b != "false") fail(key, "\"" + b + "\" is not true or false");
  return b == "true";
}

void loadVip(const YAML::Node& n, const std::string& path, VipConfig& v) {
  onlyKeys(n, path,
           {"address", "protocol", "quic", "forwarding", "encapsulation", "ports", "backend_ports",
            "syn_flood", "backends"});
  if (!n["address"]) fail(join(path, "address"), "required");
  v.address = address(n["address"], join(path, "address"));
  if (n["protocol"]) {
    const std::string p = scalar(n["protocol"], join(path, "protocol"));
    const std::optional<std::uint8_t> proto = protocolNumber(p);
    if (!proto) fail(join(path, "protocol"), "\"" + p + "\" is not one of tcp, udp");
    v.protocol = *proto;
  }
  if (n["quic"]) {
    v.quic = boolean(n["quic"], join(path, "quic"));
    if (v.quic && v.protocol != kVipUdp) fail(join(path, "quic"), "only a UDP VIP carries QUIC");
  }
  if (n["forwarding"]) {
    const std::string f = scalar(n["forwarding"], join(path, "forwarding"));
    const std::optional<Forwarding> fw = parseEnum<Forwarding>(f);
    if (!fw)
      fail(join(path, "forwarding"), "\"" + f + "\" is not one of " + enumChoices<Forwarding>());
    v.forwarding = *fw;
    if (v.forwarding == Forwarding::kDsr && !n["syn_flood"]) v.synFlood.mode = SynFloodMode::kOff;
  }
  if (n["encapsulation"]) {
    const std::string e = scalar(n["encapsulation"], join(path, "encapsulation"));
    const std::optional<DsrEncap> enc = parseEnum<DsrEncap>(e);
    if (!enc)
      fail(join(path, "encapsulation"), "\"" + e + "\" is not one of " + enumChoices<DsrEncap>());
    if (v.forwarding != Forwarding::kDsr)
      fail(join(path, "encapsulation"), "only with forwarding: dsr");
    v.encapsulation = *enc;
  }
  if (v.protocol == kVipUdp) {
    if (n["syn_flood"]) fail(join(path, "syn_flood"), "applies to TCP VIPs only");
    v.synFlood.mode = SynFloodMode::kOff;
  }
  if (n["ports"]) {
    v.ports.clear();
    std::set<std::uint64_t> seen;
    eachItem(n["ports"], join(path, "ports"), [&](const YAML::Node& p, const std::string& pp) {
      auto port = integer(p, pp, 1, 65535, "a port");
      if (!seen.insert(port).second) fail(pp, "duplicate port " + std::to_string(port));
      v.ports.push_back(static_cast<std::uint16_t>(port));
    });
    if (v.ports.empty()) fail(join(path, "ports"), "at least one port is required");
  }
  if (n["backend_ports"]) {  // {443: 8443}: the port a served port reaches its backends on
    const std::string bp = join(path, "backend_ports");
    if (!n["backend_ports"].IsMap())
      fail(bp, "expected a map of port: port, got " + quoted(n["backend_ports"]));
    for (const auto& kv : n["backend_ports"]) {
      const auto from = integer(kv.first, bp, 1, 65535, "a port");
      v.backendPorts[static_cast<std::uint16_t>(from)] = static_cast<std::uint16_t>(
          integer(kv.second, bp + "." + std::to_string(from), 1, 65535, "a port"));
    }
  }
  if (n["syn_flood"]) {
    const std::string sp = join(path, "syn_flood");
    const YAML::Node& s = n["syn_flood"];
    onlyKeys(s, sp, {"mode", "threshold_pps"});
    if (s["mode"]) {
      const std::string m = scalar(s["mode"], sp + ".mode");
      const std::optional<SynFloodMode> mode = parseEnum<SynFloodMode>(m);
      if (!mode) fail(sp + ".mode", "\"" + m + "\" is not one of " + enumChoices<SynFloodMode>());
      v.synFlood.mode = *mode;
    }
    if (s["threshold_pps"]) {
      v.synFlood.thresholdPps = static_cast<std::uint32_t>(
          integer(s["threshold_pps"], sp + ".threshold_pps", 1, 1'000'000'000, "a rate"));
    }
  }
  if (n["backends"]) {
    eachItem(n["backends"], join(path, "backends"),
             [&](const YAML::Node& b, const std::string& bp) {
               onlyKeys(b, bp, {"address", "weight"});
               BackendConfig bc;
               if (!b["address"]) fail(bp + ".address", "required");
               bc.address = address(b["address"], bp + ".address");
               if (b["weight"]) {
                 bc.weight = static_cast<std::uint32_t>(
                     integer(b["weight"], bp + ".weight", 0, kMaxWeight, "a weight"));
               }
               v.backends.push_back(bc);
             });
    if (v.backends.size() > kMaxBackendsPerVip) fail(join(path, "backends"), "too many backends");
  }
}

void loadConntrack(const YAML::Node& n, ConntrackConfig& c) {
  onlyKeys(n, "conntrack", {"capacity", "udp_share", "timeouts"});
  if (n["capacity"]) {
    c.capacity = static_cast<std::uint32_t>(
        integer(n["capacity"], "conntrack.capacity", 1, kMaxConntrackCapacity, "a capacity"));
  }
  if (n["udp_share"]) {
    c.udpSharePercent = static_cast<std::uint32_t>(
        integer(n["udp_share"], "conntrack.udp_share", 1, 100, "a percentage"));
  }
  if (const YAML::Node& t = n["timeouts"]) {
    onlyKeys(t, "conntrack.timeouts",
             {"syn", "established", "fin", "time_wait", "rst", "udp", "udp_single"});
    const TimeNs min = 10 * kNsPerMs;  // the timer wheel's granularity
    if (t["syn"]) c.timeouts.syn = duration(t["syn"], "conntrack.timeouts.syn", min);
    if (t["established"])
      c.timeouts.established = duration(t["established"], "conntrack.timeouts.established", min);
    if (t["fin"]) c.timeouts.fin = duration(t["fin"], "conntrack.timeouts.fin", min);
    if (t["time_wait"])
      c.timeouts.timeWait = duration(t["time_wait"], "conntrack.timeouts.time_wait", min);
    if (t["rst"]) c.timeouts.rst = duration(t["rst"], "conntrack.timeouts.rst", min);
    if (t["udp"]) c.timeouts.udp = duration(t["udp"], "conntrack.timeouts.udp", min);
    if (t["udp_single"])
      c.timeouts.udpSingle = duration(t["udp_single"], "conntrack.timeouts.udp_single", min);
  }
}

void loadControl(const YAML::Node& n, ControlConfig& c) {
  onlyKeys(n, "control", {"listen", "token_file"});
  if (n["listen"]) {
    const std::string s = scalar(n["listen"], "control.listen");
    Address a;
    std::uint16_t port = 0;
    if (!parseAddrPort(s, a, port)) {
      fail("control.listen", "\"" + s + "\" is not ADDRESS:PORT (e.g. 127.0.0.1:9180, [::1]:9180)");
    }
    c.listenHost = a.toString();
    c.listenPort = port;
  }
  if (n["token_file"]) c.tokenFile = scalar(n["token_file"], "control.token_file");
}

void loadHealth(const YAML::Node& n, HealthCheckConfig& h) {
  onlyKeys(n, "health_check",
           {"enabled", "port", "reset_on_down", "interval", "timeout", "rise", "fall"});
  if (n["enabled"]) h.enabled = boolean(n["enabled"], "health_check.enabled");
  if (n["reset_on_down"]) h.resetOnDown = boolean(n["reset_on_down"], "health_check.reset_on_down");
  if (n["port"])
    h.port =
        static_cast<std::uint16_t>(integer(n["port"], "health_check.port", 0, 65535, "a port"));
  if (n["interval"]) h.interval = duration(n["interval"], "health_check.interval", 10 * kNsPerMs);
  if (n["timeout"]) h.timeout = duration(n["timeout"], "health_check.timeout", kNsPerMs);
  if (n["rise"])
    h.rise = static_cast<std::uint32_t>(integer(n["rise"], "health_check.rise", 1, 100, "a count"));
  if (n["fall"])
    h.fall = static_cast<std::uint32_t>(integer(n["fall"], "health_check.fall", 1, 100, "a count"));
  if (h.timeout > h.interval) {
    fail("health_check.timeout", "must not be longer than health_check.interval");
  }
}

void loadCluster(const YAML::Node& n, ClusterConfig& c) {
  onlyKeys(n, "cluster",
           {"members", "self", "port", "heartbeat", "dead_after", "drain_timeout", "announce"});
  if (!n["members"]) fail("cluster.members", "required (each instance's name and address)");
  eachItem(n["members"], "cluster.members", [&](const YAML::Node& m, const std::string& p) {
    onlyKeys(m, p, {"name", "address"});
    if (!m["name"] || !m["address"]) fail(p, "needs name and address");
    ClusterMember member;
    member.name = scalar(m["name"], join(p, "name"));
    if (member.name.empty() || member.name.size() > 32) {
      fail(join(p, "name"), "\"" + member.name + "\" is not a name (1-32 characters)");
    }
    const std::string a = scalar(m["address"], join(p, "address"));
    auto addr = Address::parse(a);
    if (!addr) fail(join(p, "address"), "\"" + a + "\" is not an IP address");
    member.address = *addr;
    c.members.push_back(member);
  });
  if (n["self"]) c.self = scalar(n["self"], "cluster.self");
  if (n["port"]) {
    c.port = static_cast<std::uint16_t>(integer(n["port"], "cluster.port", 1, 65535, "a port"));
  }
  if (n["heartbeat"]) c.heartbeat = duration(n["heartbeat"], "cluster.heartbeat", 10 * kNsPerMs);
  if (n["dead_after"]) c.deadAfter = duration(n["dead_after"], "cluster.dead_after", 50 * kNsPerMs);
  if (n["drain_timeout"]) {
    c.drainTimeout = duration(n["drain_timeout"], "cluster.drain_timeout", kNsPerSec);
  }
  if (n["announce"]) {
    const YAML::Node& a = n["announce"];
    onlyKeys(a, "cluster.announce", {"table", "device"});
    if (!a["table"]) fail("cluster.announce.table", "required (the kernel table BIRD imports)");
    c.announceTable = static_cast<std::uint32_t>(
        integer(a["table"], "cluster.announce.table", 1, 0xfffffffe, "a routing table id"));
    if (c.announceTable == 253 || c.announceTable == 254 || c.announceTable == 255) {
      fail("cluster.announce.table", "must not be the kernel's default, main or local table");
    }
    if (a["device"]) {
      c.announceDevice = scalar(a["device"], "cluster.announce.device");
      if (c.announceDevice.empty() || c.announceDevice.size() > 15) {
        fail("cluster.announce.device", "\"" + c.announceDevice + "\" is not a device name");
      }
    }
  }
}

void loadAutoBlock(const YAML::Node& n, AutoBlockConfig& a) {
  onlyKeys(n, "auto_block", {"mode", "window", "limits", "ttl", "fold", "allow"});
  if (n["mode"]) {
    const std::string m = scalar(n["mode"], "auto_block.mode");
    const std::optional<AutoBlockMode> mode = parseEnum<AutoBlockMode>(m);
    if (!mode)
      fail("auto_block.mode", "\"" + m + "\" is not one of " + enumChoices<AutoBlockMode>());
    a.mode = *mode;
  }
  if (n["window"]) {
    a.window = duration(n["window"], "auto_block.window", kMinAutoBlockWindow);
    if (a.window > kMaxAutoBlockWindow) fail("auto_block.window", "longer than 60s");
  }
  if (n["limits"]) {
    const YAML::Node& l = n["limits"];
    if (!l.IsMap()) fail("auto_block.limits", "expected a map of kind: count");
    for (const auto& kv : l) {
      const std::string k = kv.first.Scalar();
      const std::optional<SourceKind> kind = sourceKindByName(k);
      if (!kind) {
        std::string kinds;
        for (const char* name : kSourceKindNames)
          kinds += (kinds.empty() ? "" : ", ") + std::string(name);
        fail("auto_block.limits." + k, "unknown kind (" + kinds + ")");
      }
      a.limits[static_cast<std::size_t>(*kind)] = static_cast<std::uint32_t>(
          integer(kv.second, "auto_block.limits." + k, 0, kMaxAutoBlockLimit, "a count"));
    }
  }
  if (n["ttl"]) a.ttl = duration(n["ttl"], "auto_block.ttl", kNsPerSec);
  if (n["fold"]) {
    const YAML::Node& f = n["fold"];
    onlyKeys(f, "auto_block.fold", {"ipv4", "ipv6", "sources"});
    if (f["ipv4"])
      a.foldV4 = static_cast<std::uint8_t>(
          integer(f["ipv4"], "auto_block.fold.ipv4", 8, 32, "a prefix length"));
    if (f["ipv6"])
      a.foldV6 = static_cast<std::uint8_t>(
          integer(f["ipv6"], "auto_block.fold.ipv6", 16, 128, "a prefix length"));
    if (f["sources"])
      a.foldSources = static_cast<std::uint32_t>(
          integer(f["sources"], "auto_block.fold.sources", 0, kMaxAutoBlockFoldSources, "a count"));
  }
  if (n["allow"]) {
    eachItem(n["allow"], "auto_block.allow", [&](const YAML::Node& b, const std::string& p) {
      const std::string s = scalar(b, p);
      auto pfx = Prefix::parse(s);
      if (!pfx) fail(p, "\"" + s + "\" is not an address or CIDR prefix");
      a.allow.push_back(*pfx);
    });
    if (a.allow.size() > kMaxAutoBlockAllow) fail("auto_block.allow", "more than 1024 prefixes");
  }
}

Config loadRoot(const YAML::Node& root) {
  Config c;
  if (!root || root.IsNull()) fail("(document)", "the configuration is empty");
  onlyKeys(root, "",
           {"interface", "xdp_mode", "workers", "fail_open", "frames_per_queue",
            "blocklist_capacity", "snat", "vips", "blocklist", "conntrack", "control", "state_dir",
            "runtime_dir", "health_check", "cluster", "auto_block"});
  if (root["interface"]) {
    c.interface = scalar(root["interface"], "interface");
    if (c.interface.empty() || c.interface.size() > 15 ||
        c.interface.find_first_of("/ \t") != std::string::npos) {
      fail("interface", "\"" + c.interface + "\" is not an interface name (1-15 characters)");
    }
  }
  if (root["xdp_mode"]) {
    const std::string m = scalar(root["xdp_mode"], "xdp_mode");
    const std::optional<XdpMode> mode = parseEnum<XdpMode>(m);
    if (!mode) fail("xdp_mode", "\"" + m + "\" is not one of " + enumChoices<XdpMode>());
    c.xdpMode = *mode;
  }
  if (root["workers"]) {
    c.workers = static_cast<std::uint32_t>(
        integer(root["workers"], "workers", 1, kMaxWorkers, "a worker count"));
  }
  if (root["fail_open"]) {
    c.failOpen = boolean(root["fail_open"], "fail_open");
  }
  if (root["frames_per_queue"]) {
    c.framesPerQueue = static_cast<std::uint32_t>(
        integer(root["frames_per_queue"], "frames_per_queue", 256, 1u << 20, "a frame count"));
    if ((c.framesPerQueue & (c.framesPerQueue - 1)) != 0) {
      fail("frames_per_queue",
           "\"" + std::to_string(c.framesPerQueue) + "\" is not a power of two");
    }
  }
  if (root["blocklist_capacity"]) {
    c.blocklistCapacity = static_cast<std::uint32_t>(
        integer(root["blocklist_capacity"], "blocklist_capacity", 1000, 100'000'000, "a capacity"));
  }
  if (!root["snat"]) fail("snat", "required (addresses and ports)");
  loadSnat(root["snat"], c.snat);
  if (!root["vips"]) fail("vips", "required");
  eachItem(root["vips"], "vips", [&](const YAML::Node& v, const std::string& p) {
    c.vips.emplace_back();
    loadVip(v, p, c.vips.back());
  });
  if (c.vips.size() > kMaxVips) fail("vips", "more than " + std::to_string(kMaxVips) + " VIPs");
  if (root["blocklist"]) {
    eachItem(root["blocklist"], "blocklist", [&](const YAML::Node& b, const std::string& p) {
      const std::string s = scalar(b, p);
      auto pfx = Prefix::parse(s);
      if (!pfx) fail(p, "\"" + s + "\" is not an address or CIDR prefix");
      c.blocklist.push_back(*pfx);
    });
  }
  if (root["conntrack"]) loadConntrack(root["conntrack"], c.conntrack);
  if (root["control"]) loadControl(root["control"], c.control);
  if (root["state_dir"]) {
    c.stateDir = scalar(root["state_dir"], "state_dir");
    if (c.stateDir.empty()) fail("state_dir", "must not be empty");
  }
  if (root["runtime_dir"]) {
    c.runtimeDir = scalar(root["runtime_dir"], "runtime_dir");
    if (c.runtimeDir.empty()) fail("runtime_dir", "must not be empty");
  }
  if (root["health_check"]) loadHealth(root["health_check"], c.healthCheck);
  if (root["cluster"]) loadCluster(root["cluster"], c.cluster);
  if (root["auto_block"]) loadAutoBlock(root["auto_block"], c.autoBlock);
  if (std::string err = checkConfig(c); !err.empty()) throw Fail{err};
  return c;
}

}  // namespace

ConfigResult loadConfigString(std::string_view yaml) {
  try {
    return loadRoot(YAML::Load(std::string(yaml)));
  } catch (const Fail& f) {
    return ConfigError{f.message};
  } catch (const YAML::Exception& e) {
    return ConfigError{"YAML syntax error at line " + std::to_string(e.mark.line + 1) +
                       ", column " + std::to_string(e.mark.column + 1) + ": " + e.msg};
  }
}

ConfigResult loadConfigFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return ConfigError{path + ": cannot open configuration file"};
  std::stringstream ss;
  ss << in.rdbuf();
  auto r = loadConfigString(ss.str());
  if (auto* e = std::get_if<ConfigError>(&r)) e->message = path + ": " + e->message;
  return r;
}

}  // namespace xlb
