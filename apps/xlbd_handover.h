// SPDX-License-Identifier: Apache-2.0
// xlbd --takeover: a new xlbd (the same binary, or an upgrade) replaces a running one without a
// gap. The new process loads its program while the old one serves, then asks it to stop; the old
// one stops its API, health checks and workers between two batches and hands over its AF_XDP
// sockets and UMEMs (handover.h) and the lock of the connection tables' file (flow_store.h). The
// new one adopts the tables, replaces the XDP program in one step and runs its workers on the
// same sockets: frames that arrived meanwhile wait in the rings.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "xlb/config.h"
#include "xlb/handover.h"
#include "xlb/xsk_io.h"

namespace xlb {

// The new process's side.
class Takeover {
 public:
  // Connects to the xlbd running on config.runtimeDir and checks it can be taken over. nullptr
  // with `error` empty when none runs there (a normal start), with `error` set when one runs but
  // cannot be taken over (another worker count or UMEM size: that needs a stop and a start).
  static std::unique_ptr<Takeover> begin(const Config& config, std::string& error);
  // Asks the old process to stop and receives its sockets. Once: later calls return the result.
  bool quiesce(std::string& error);
  // Queue q's socket (after quiesce()); nullopt when the old process sent none for it.
  std::optional<XskHandover> take(std::uint32_t q);
  // Tells the old process this one serves; it exits.
  void done();
  // From now on this process changes the tables' file: the old one can no longer resume.
  void tablesTouched() noexcept { touched_ = true; }
  // This process failed: the old one resumes if this one never touched the tables (else it
  // exits, and the connections wait in the file for the next start).
  void abandon();
  int previousPid() const noexcept { return pid_; }
  // Milliseconds since the old process began to stop its workers (the pause so far).
  double pausedMs() const;

 private:
  explicit Takeover(std::unique_ptr<HandoverChannel> ch) : channel_(std::move(ch)) {}
  std::unique_ptr<HandoverChannel> channel_;
  int pid_ = 0;
  bool quiesced_ = false;
  bool ok_ = false;
  bool touched_ = false;
  std::vector<std::optional<XskHandover>> queues_;
  std::uint64_t stoppedAtNs_ = 0;  // CLOCK_MONOTONIC, the old process's stop
};

// The running process's side.
struct HandoverSource {
  std::uint32_t workers = 1;
  std::uint32_t frames = 0;
  // Stops the API and the health checks, then (the pause begins) the workers.
  std::function<void()> stopControl;
  std::function<void()> stopWorkers;
  // Each queue's socket, once the workers are stopped.
  std::function<std::vector<XskHandover>()> sockets;
  // Lets the new process open the connection tables' file.
  std::function<void()> releaseFlows;
  // Serves again after the new process abandoned the hand-over before touching the tables.
  std::function<void()> resume;
};

// Serves one hand-over request. True when this process handed over (it must exit without
// touching the program, the sockets' XSKMAP slots or the tables' file); false when the
// requester went away before anything stopped, or abandoned the hand-over before touching the
// tables (this process has resumed and keeps serving).
bool handOver(HandoverChannel& channel, const HandoverSource& source);

std::string handoverSocketPath(const Config& config);

}  // namespace xlb
