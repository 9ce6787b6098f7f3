// SPDX-License-Identifier: Apache-2.0
#include "xlb/cluster_agent.h"

#include <netinet/in.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

#include "xlb/host_addr.h"

namespace xlb {

namespace {

constexpr int kStepMs = 5;
// Room for a peer's full dump arriving faster than one step drains it.
constexpr int kReceiveBuffer = 8 << 20;

std::optional<Address> fromSockaddr(const sockaddr_storage& ss) {
  Address a;
  if (ss.ss_family == AF_INET) {
    const auto* s = reinterpret_cast<const sockaddr_in*>(&ss);
    a.family = Family::kV4;
    std::memcpy(a.ip.bytes.data(), &s->sin_addr, 4);
    return a;
  }
  if (ss.ss_family == AF_INET6) {
    const auto* s = reinterpret_cast<const sockaddr_in6*>(&ss);
    a.family = Family::kV6;
    std::memcpy(a.ip.bytes.data(), &s->sin6_addr, 16);
    return a;
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::size_t> clusterSelf(const ClusterConfig& c,
                                       const std::function<bool(const Address&)>& isLocal,
                                       std::string& error) {
  std::optional<std::size_t> found;
  for (std::size_t i = 0; i < c.members.size(); ++i) {
    if (!c.self.empty() ? c.members[i].name == c.self : isLocal(c.members[i].address)) {
      if (found) {
        error = "cluster: members " + c.members[*found].name + " and " + c.members[i].name +
                " both have an address on this host; say which one this is with cluster.self";
        return std::nullopt;
      }
      found = i;
    }
  }
  if (!found) {
    error = c.self.empty() ? "cluster: no member's address is on this host (set cluster.self, "
                             "or add this instance's address to cluster.members)"
                           : "cluster.self: no member is named " + c.self;
  }
  return found;
}

ClusterAgent::ClusterAgent(ClusterAgentOptions options, DirectorySink& sink)
    : options_(std::move(options)),
      state_(options_.config, options_.self, options_.incarnation, options_.clock(), sink) {
  batch_.resize(4096);
}

std::unique_ptr<ClusterAgent> ClusterAgent::open(ClusterAgentOptions options, DirectorySink& sink,
                                                 std::string& error) {
  std::unique_ptr<ClusterAgent> a(new ClusterAgent(std::move(options), sink));
  const ClusterConfig& c = a->options_.config;
  const Address& me = c.members[a->options_.self].address;
  a->fd_ = socket(me.family == Family::kV4 ? AF_INET : AF_INET6,
                  SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  sockaddr_storage ss{};
  const socklen_t len = toSockaddr(me, c.port, ss);
  if (a->fd_ < 0 || bind(a->fd_, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
    error = "cluster: cannot bind UDP " + me.toString() + " port " + std::to_string(c.port) + ": " +
            std::strerror(errno);
    return nullptr;
  }
  // Above net.core.rmem_max where CAP_NET_ADMIN allows it (xlbd has it), else the default.
  if (setsockopt(a->fd_, SOL_SOCKET, SO_RCVBUFFORCE, &kReceiveBuffer, sizeof kReceiveBuffer) != 0) {
    setsockopt(a->fd_, SOL_SOCKET, SO_RCVBUF, &kReceiveBuffer, sizeof kReceiveBuffer);
  }
  if (c.announceTable != 0) {
    a->announcer_ = Announcer::open(c.announceDevice, c.announceTable, error);
    if (!a->announcer_) return nullptr;
  }
  return a;
}

ClusterAgent::~ClusterAgent() {
  stop();
  if (fd_ >= 0) close(fd_);
}

void ClusterAgent::start() {
  stop_.store(false);
  thread_ = std::thread([this] { run(); });
}

void ClusterAgent::stop() {
  stop_.store(true);
  if (thread_.joinable()) thread_.join();
  std::lock_guard lock(mu_);
  if (announcer_) announcer_->withdraw();
}

void ClusterAgent::run() {
  while (!stop_.load()) {
    pollfd p{fd_, POLLIN, 0};
    poll(&p, 1, kStepMs);
    step();
  }
}

void ClusterAgent::step() {
  const TimeNs now = options_.clock();
  std::lock_guard lock(mu_);
  // Our own openings first: a peer's claim on a tuple a worker has just opened here must find it
  // held here, or the XDP program would send the new connection's packets to that peer.
  std::uint64_t overflows = 0;
  for (FlowJournal* j : options_.journals) {
    overflows += j->overflows();
    for (;;) {
      const std::size_t n = j->drain(batch_);
      if (n == 0) break;
      state_.local(std::span<const FlowRecord>(batch_.data(), n));
    }
  }
  state_.countOverflows(overflows);
  receiveAll(now);
  state_.tick(now);
  sendAll();
  announce(now);
}

void ClusterAgent::receiveAll(TimeNs now) {
  std::array<std::uint8_t, 2048> buf;
  const ClusterConfig& c = options_.config;
  for (int i = 0; i < 4096; ++i) {
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    const ssize_t n =
        recvfrom(fd_, buf.data(), buf.size(), 0, reinterpret_cast<sockaddr*>(&ss), &len);
    if (n < 0) break;
    const std::optional<Address> src = fromSockaddr(ss);
    std::string why;
    auto m = decodeWire(std::span<const std::uint8_t>(buf.data(), static_cast<std::size_t>(n)),
                        c.members.size(), why);
    // Only a member speaks for itself: the sender's address must be the one its index names.
    if (!m || !src || c.members[m->header.member].address != *src) {
      state_.countBad();
      continue;
    }
    state_.receive(m->header.member, *m, now);
  }
}

void ClusterAgent::sendAll() {
  const ClusterConfig& c = options_.config;
  for (const Outgoing& o : state_.takeOutgoing()) {
    sockaddr_storage ss{};
    const socklen_t len = toSockaddr(c.members[o.to].address, c.port, ss);
    // A peer that is gone answers nothing; a full socket buffer loses the datagram, which the
    // receiver's sequence check turns into a dump.
    sendto(fd_, o.bytes.data(), o.bytes.size(), MSG_DONTWAIT, reinterpret_cast<sockaddr*>(&ss),
           len);
  }
}

void ClusterAgent::announce(TimeNs now) {
  if (!announcer_) return;
  const bool want = serving_.load() && state_.ready(now) && !state_.draining();
  if (want == announcer_->announced()) return;
  if (!want) {
    announcer_->withdraw();
    spdlog::info("cluster: VIP routes withdrawn from table {} ({})", options_.config.announceTable,
                 state_.draining() ? "draining" : "not ready");
    return;
  }
  std::string err;
  if (announcer_->announce(options_.vips, err)) {
    announceFailed_ = false;
    spdlog::info("cluster: VIP routes announced in table {} through {}",
                 options_.config.announceTable, announcer_->device());
  } else if (!announceFailed_) {
    announceFailed_ = true;  // said once; retried every step
    spdlog::error("cluster: {}", err);
  }
}

void ClusterAgent::refreshMacs(
    const std::function<std::optional<MacAddr>(const Address&)>& resolve) {
  std::vector<std::pair<std::size_t, Address>> want;
  {
    std::lock_guard lock(mu_);
    for (std::size_t i = 0; i < options_.config.members.size(); ++i) {
      if (i != options_.self) want.emplace_back(i, options_.config.members[i].address);
    }
  }
  std::vector<std::optional<MacAddr>> macs;
  for (const auto& w : want) macs.push_back(resolve(w.second));
  std::lock_guard lock(mu_);
  for (std::size_t k = 0; k < want.size(); ++k) state_.setMac(want[k].first, macs[k]);
}

ClusterView ClusterAgent::view() const {
  std::lock_guard lock(mu_);
  return state_.view(options_.clock(), announcer_ && announcer_->announced());
}

void ClusterAgent::setDraining(bool on) {
  std::lock_guard lock(mu_);
  if (on != state_.draining()) {
    spdlog::info("cluster: {} ({} flow(s) held here)", on ? "draining" : "back in service",
                 state_.localFlows());
  }
  state_.setDraining(on, options_.clock());
}

}  // namespace xlb
