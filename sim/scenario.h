// SPDX-License-Identifier: Apache-2.0
// A closed-loop scenario (docs/SIM.md) as loaded from its YAML file: the LB's configuration, the
// simulated services and clients, floods, raw frames, API events and expectations. Loading
// checks every field; a malformed scenario is a ScenarioError naming the field.
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <string>
#include <vector>

#include "xlb/addr.h"
#include "xlb/config.h"

namespace xlb::sim {

struct ScenarioError {
  std::string message;
};

[[noreturn]] void bad(const std::string& m);

// Strict field readers: a missing required field or a malformed value is a ScenarioError.
TimeNs duration(const YAML::Node& n, const std::string& what);
template <typename T>
T num(const YAML::Node& n, const std::string& what, T dflt) {
  if (!n) return dflt;
  try {
    return n.as<T>();
  } catch (...) {
    bad(what + ": \"" + n.as<std::string>("?") + "\" is not a number");
  }
}
std::string str(const YAML::Node& n, const std::string& what, const std::string& dflt = "");
Address addressOf(const std::string& s, const std::string& what);
// The i-th host address inside a prefix (skipping the network address).
Address nthInPrefix(const Prefix& p, std::uint64_t i);

enum class ClientClose { kFirst, kAfterServer, kAt, kRst, kHalfClose, kIdle, kLostFinalAck };
enum class ServerClose { kAfterClient, kFirst, kAt, kRst, kHalfClose };

struct Service {
  std::uint16_t port = 80;
  // udp: each datagram to the port is answered with one datagram of `response` bytes (at most
  // 1400), after `delay`. The port answers TCP as well (health checks), as DNS servers do.
  std::uint8_t protocol = kVipTcp;
  // udp: speak QUIC's headers: answer a long header with the server's own connection ID, a short
  // header only for a connection ID it issued and from the tuple that connection started from
  // (a server that sees the client's tuple change stops answering: the session fails).
  bool quic = false;
  std::uint64_t response = 1000;
  ServerClose close = ServerClose::kAfterClient;
  TimeNs closeAfter = 0;
  TimeNs delay = 0;  // slowness: the response waits this long
};

struct ClientGroup {
  std::string name;
  Prefix sources;
  std::uint32_t hosts = 50;
  Address vip;
  std::uint16_t port = 80;
  std::uint64_t sessions = 1;
  TimeNs start = 0;
  double rate = 100;  // sessions per second
  std::uint64_t request = 100;
  std::uint64_t response = 1000;
  ClientClose close = ClientClose::kFirst;
  TimeNs closeAfter = 0;
  // udp: a session is `exchanges` request/answer pairs from one socket, `think` apart; it fails
  // when an answer does not come within a second.
  std::uint8_t protocol = kVipTcp;
  std::uint32_t exchanges = 1;
  TimeNs think = 0;
  // udp: QUIC headers (a long header first, then short headers to the server's connection ID);
  // after `rebind_after` exchanges (0: never) the socket moves to a new port (NAT rebinding).
  bool quic = false;
  std::uint32_t rebindAfter = 0;
  // Outcomes.
  std::uint64_t started = 0, completed = 0, reset = 0, failed = 0;
  // Handshakes: the longest (first SYN to established), and those that needed their SYN sent
  // again (took at least the initial retransmission timeout).
  TimeNs connectMax = 0;
  std::uint64_t slowConnects = 0;
};

struct Flood {
  Address vip;
  std::uint16_t port = 80;
  std::uint8_t protocol = kVipTcp;  // tcp: spoofed SYNs (or `flags`); udp: spoofed datagrams
  // TCP: the flags each frame carries (syn, rst or ack), with a random sequence number; and
  // whose tuples: `random` sources from `sources`, or `live`: the tuple of a client's
  // established connection to the VIP, picked at random (a blind attacker who knows the tuple).
  std::uint8_t flags = 0x02;
  bool live = false;
  TimeNs start = 0, length = 0;
  double rate = 1000;
  Prefix sources;
};

struct Raw {
  TimeNs at = 0;
  std::string kind;
  std::uint32_t count = 1;
  Address vip;
  std::uint16_t port = 80;
  std::string src = "10.200.0.1";
};

struct Event {
  TimeNs at = 0;
  std::string method, path, body;
  long status = 0;
  std::string backend, set;  // host changes
  // A cluster member's change: add (start it), drain, undrain, kill, restart.
  std::string cluster, member;
};

struct Expectation {
  TimeNs at = 0;
  bool atEnd = false;
  YAML::Node node;
  std::string text;
};

struct Scenario {
  std::string name;
  std::uint64_t seed = 1;
  TimeNs length = 10 * kNsPerSec;
  TimeNs latency = 100'000;
  Config config;
  std::vector<Service> services;
  std::vector<ClientGroup> groups;
  std::vector<Flood> floods;
  std::vector<Raw> raws;
  std::vector<Event> events;
  std::vector<Expectation> expects;
  // A cluster (config has cluster:): the members running from the start (default: all) and how
  // long the router takes to follow an announcement or a withdrawal (BGP, BFD).
  std::vector<std::string> clusterStart;
  TimeNs routeDelay = 300 * kNsPerMs;
};

Scenario loadScenario(const std::string& path);

}  // namespace xlb::sim

namespace xlb {
XLB_ENUM_NAMES(sim::ClientClose, {sim::ClientClose::kFirst, "first"},
               {sim::ClientClose::kAfterServer, "after_server"}, {sim::ClientClose::kAt, "at"},
               {sim::ClientClose::kRst, "rst"}, {sim::ClientClose::kHalfClose, "half_close"},
               {sim::ClientClose::kIdle, "idle"},
               {sim::ClientClose::kLostFinalAck, "lost_final_ack"});
XLB_ENUM_NAMES(sim::ServerClose, {sim::ServerClose::kAfterClient, "after_client"},
               {sim::ServerClose::kFirst, "first"}, {sim::ServerClose::kAt, "at"},
               {sim::ServerClose::kRst, "rst"}, {sim::ServerClose::kHalfClose, "half_close"});
}  // namespace xlb
