// SPDX-License-Identifier: Apache-2.0
// The hand-over between a running xlbd and the one replacing it (xlbd --takeover): a Unix stream
// socket in runtime_dir carrying framed messages and file descriptors (SCM_RIGHTS). The running
// process hands over its AF_XDP sockets and UMEMs as they are, rings and frames in flight
// included, so no frame is lost between the two; the connection tables change hands through
// their file (flow_store.h).
//
//   new -> old   kHello     the new process's pid
//   old -> new   kWelcome   pid, workers, frames per queue (the new one refuses a mismatch)
//   new -> old   kQuiesce   once the new program is loaded: stop the workers and hand over
//   old -> new   kState     per queue: XskHandover (fds: socket, UMEM)
//   new -> old   kDone      the new process serves: the old one exits
//   new -> old   kAbort     the new process failed before it touched the tables: the old one
//                           takes its sockets and tables back and serves on
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace xlb {

enum class HandoverMsg : std::uint32_t { kHello = 1, kWelcome, kQuiesce, kState, kDone, kAbort };

inline constexpr std::uint32_t kHandoverVersion = 1;

// One framed message: type, bytes and the descriptors that came with it (owned by the receiver).
struct HandoverFrame {
  HandoverMsg type = HandoverMsg::kHello;
  std::vector<std::uint8_t> body;
  std::vector<int> fds;
};

class HandoverChannel {
 public:
  explicit HandoverChannel(int fd) : fd_(fd) {}
  ~HandoverChannel();
  HandoverChannel(const HandoverChannel&) = delete;
  HandoverChannel& operator=(const HandoverChannel&) = delete;

  // Connects to a running xlbd's socket; nullptr when none listens there.
  static std::unique_ptr<HandoverChannel> connect(const std::string& path);

  bool send(HandoverMsg type, const std::vector<std::uint8_t>& body,
            const std::vector<int>& fds = {});
  // False on timeout, a closed peer or a malformed frame (`error` says which).
  bool receive(HandoverFrame& frame, std::chrono::milliseconds timeout, std::string& error);

 private:
  bool readAll(std::uint8_t* p, std::size_t n, std::chrono::steady_clock::time_point deadline,
               std::vector<int>* fds);
  int fd_;
};

// The running process's end: a listening socket polled from the main loop.
class HandoverListener {
 public:
  // Listens on `path` (replacing a stale socket file). nullptr with `error` on failure.
  static std::unique_ptr<HandoverListener> listen(const std::string& path, std::string& error);
  ~HandoverListener();
  HandoverListener(const HandoverListener&) = delete;
  HandoverListener& operator=(const HandoverListener&) = delete;
  // A connection waiting, or nullptr (never blocks).
  std::unique_ptr<HandoverChannel> accept();

 private:
  HandoverListener() = default;
  int fd_ = -1;
  std::string path_;
};

// Little-endian-agnostic (same host) packing of plain values into a message body.
class HandoverWriter {
 public:
  template <typename T>
  HandoverWriter& put(const T& v) {
    const auto* p = reinterpret_cast<const std::uint8_t*>(&v);
    bytes_.insert(bytes_.end(), p, p + sizeof(T));
    return *this;
  }
  const std::vector<std::uint8_t>& bytes() const noexcept { return bytes_; }

 private:
  std::vector<std::uint8_t> bytes_;
};

class HandoverReader {
 public:
  explicit HandoverReader(const std::vector<std::uint8_t>& b) : b_(b) {}
  // False (and nothing read) when the body is too short.
  template <typename T>
  bool get(T& v) {
    if (at_ + sizeof(T) > b_.size()) return false;
    std::copy(b_.begin() + static_cast<std::ptrdiff_t>(at_),
              b_.begin() + static_cast<std::ptrdiff_t>(at_ + sizeof(T)),
              reinterpret_cast<std::uint8_t*>(&v));
    at_ += sizeof(T);
    return true;
  }

 private:
  const std::vector<std::uint8_t>& b_;
  std::size_t at_ = 0;
};

}  // namespace xlb
