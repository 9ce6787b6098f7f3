// SPDX-License-Identifier: Apache-2.0
#include "xlb/handover.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace xlb {
namespace {

constexpr std::size_t kMaxFds = 64;           // 2 per queue
constexpr std::uint32_t kMaxBody = 4u << 20;  // a free list of 64k frames per queue, and more
constexpr std::uint32_t kMaxType = static_cast<std::uint32_t>(HandoverMsg::kAbort);

bool addressOf(const std::string& path, sockaddr_un& a) {
  a = sockaddr_un{};
  a.sun_family = AF_UNIX;
  if (path.size() >= sizeof a.sun_path) return false;
  std::memcpy(a.sun_path, path.c_str(), path.size() + 1);
  return true;
}

}  // namespace

HandoverChannel::~HandoverChannel() {
  if (fd_ >= 0) close(fd_);
}

std::unique_ptr<HandoverChannel> HandoverChannel::connect(const std::string& path) {
  sockaddr_un a{};
  if (!addressOf(path, a)) return nullptr;
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return nullptr;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    close(fd);
    return nullptr;
  }
  return std::make_unique<HandoverChannel>(fd);
}

bool HandoverChannel::send(HandoverMsg type, const std::vector<std::uint8_t>& body,
                           const std::vector<int>& fds) {
  if (fds.size() > kMaxFds) return false;
  const std::uint32_t head[2] = {static_cast<std::uint32_t>(type),
                                 static_cast<std::uint32_t>(body.size())};
  iovec iov{const_cast<std::uint32_t*>(head), sizeof head};
  msghdr m{};
  m.msg_iov = &iov;
  m.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(kMaxFds * sizeof(int))] = {};
  if (!fds.empty()) {
    m.msg_control = control;
    m.msg_controllen = CMSG_SPACE(fds.size() * sizeof(int));
    cmsghdr* c = CMSG_FIRSTHDR(&m);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(fds.size() * sizeof(int));
    std::memcpy(CMSG_DATA(c), fds.data(), fds.size() * sizeof(int));
  }
  if (sendmsg(fd_, &m, MSG_NOSIGNAL) != static_cast<ssize_t>(sizeof head)) return false;
  std::size_t sent = 0;
  while (sent < body.size()) {
    const ssize_t n = ::send(fd_, body.data() + sent, body.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    sent += static_cast<std::size_t>(n);
  }
  return true;
}

bool HandoverChannel::readAll(std::uint8_t* p, std::size_t n,
                              std::chrono::steady_clock::time_point deadline,
                              std::vector<int>* fds) {
  std::size_t got = 0;
  while (got < n) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    pollfd pf{fd_, POLLIN, 0};
    if (left.count() <= 0 || poll(&pf, 1, static_cast<int>(left.count())) <= 0) return false;
    iovec iov{p + got, n - got};
    msghdr m{};
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    alignas(cmsghdr) char control[CMSG_SPACE(kMaxFds * sizeof(int))] = {};
    if (fds != nullptr) {
      m.msg_control = control;
      m.msg_controllen = sizeof control;
    }
    const ssize_t r = recvmsg(fd_, &m, MSG_CMSG_CLOEXEC);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    if (fds != nullptr) {
      for (cmsghdr* c = CMSG_FIRSTHDR(&m); c != nullptr; c = CMSG_NXTHDR(&m, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
        const std::size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (std::size_t i = 0; i < count; ++i) {
          int fd = -1;
          std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
          fds->push_back(fd);
        }
      }
    }
    got += static_cast<std::size_t>(r);
  }
  return true;
}

bool HandoverChannel::receive(HandoverFrame& frame, std::chrono::milliseconds timeout,
                              std::string& error) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::uint32_t head[2] = {0, 0};
  frame.fds.clear();
  if (!readAll(reinterpret_cast<std::uint8_t*>(head), sizeof head, deadline, &frame.fds)) {
    error = "the other xlbd did not answer (closed, or no message within " +
            std::to_string(timeout.count()) + " ms)";
    return false;
  }
  if (head[0] == 0 || head[0] > kMaxType || head[1] > kMaxBody) {
    error = "a malformed hand-over message";
    return false;
  }
  frame.type = static_cast<HandoverMsg>(head[0]);
  frame.body.assign(head[1], 0);
  if (!readAll(frame.body.data(), frame.body.size(), deadline, nullptr)) {
    error = "the hand-over message was cut short";
    return false;
  }
  return true;
}

std::unique_ptr<HandoverListener> HandoverListener::listen(const std::string& path,
                                                           std::string& error) {
  sockaddr_un a{};
  if (!addressOf(path, a)) {
    error = "hand-over socket path too long: " + path;
    return nullptr;
  }
  std::unique_ptr<HandoverListener> l(new HandoverListener());
  l->fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (l->fd_ < 0) {
    error = "cannot create the hand-over socket: " + std::string(std::strerror(errno));
    return nullptr;
  }
  ::unlink(path.c_str());  // a previous process's (the flow file's lock says none runs)
  if (bind(l->fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(l->fd_, 2) != 0) {
    error = "cannot listen on " + path + ": " + std::strerror(errno);
    return nullptr;
  }
  chmod(path.c_str(), 0600);
  l->path_ = path;
  return l;
}

HandoverListener::~HandoverListener() {
  if (fd_ >= 0) close(fd_);
}

std::unique_ptr<HandoverChannel> HandoverListener::accept() {
  const int fd = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
  if (fd < 0) return nullptr;
  // Blocking from here on: receive() polls with its own deadline.
  return std::make_unique<HandoverChannel>(fd);
}

}  // namespace xlb
