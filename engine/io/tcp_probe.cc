// SPDX-License-Identifier: Apache-2.0
#include "xlb/tcp_probe.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "xlb/host_addr.h"

namespace xlb {

std::vector<bool> probeTcp(const std::vector<ProbeTarget>& targets,
                           std::chrono::nanoseconds timeout, const std::atomic<bool>& stop) {
  std::vector<bool> ok(targets.size(), false);
  std::vector<pollfd> fds(targets.size(), pollfd{-1, POLLOUT, 0});
  for (std::size_t i = 0; i < targets.size(); ++i) {
    const auto& t = targets[i];
    const bool v4 = t.backend.family == Family::kV4;
    const int fd = ::socket(v4 ? AF_INET : AF_INET6, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) continue;
    // From the SNAT address, never from what source selection would pick (a VIP, for IPv6).
    if (t.source && !bindSource(fd, *t.source)) {
      ::close(fd);
      continue;
    }
    sockaddr_storage ss{};
    const socklen_t len = toSockaddr(t.backend, t.port, ss);
    const int r = ::connect(fd, reinterpret_cast<sockaddr*>(&ss), len);
    if (r == 0) {
      ok[i] = true;
      ::close(fd);
      continue;
    }
    if (errno != EINPROGRESS) {
      ::close(fd);
      continue;
    }
    fds[i].fd = fd;
  }
  using Clock = std::chrono::steady_clock;
  const auto deadline = Clock::now() + timeout;
  std::size_t pending = 0;
  for (const pollfd& p : fds) pending += p.fd >= 0 ? 1 : 0;
  while (pending > 0 && !stop) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) break;
    const int n = ::poll(fds.data(), fds.size(), static_cast<int>(left.count()));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    for (std::size_t i = 0; i < fds.size(); ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      int err = 0;
      socklen_t el = sizeof err;
      ::getsockopt(fds[i].fd, SOL_SOCKET, SO_ERROR, &err, &el);
      ok[i] = err == 0 && (fds[i].revents & POLLOUT) != 0;
      ::close(fds[i].fd);
      fds[i].fd = -1;  // poll ignores negative descriptors
      --pending;
    }
  }
  for (pollfd& p : fds) {
    if (p.fd >= 0) ::close(p.fd);
  }
  return ok;
}

}  // namespace xlb
