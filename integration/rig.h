// SPDX-License-Identifier: Apache-2.0
// The netns rig from C++: brings scripts/netns/lib.sh's one-arm topology up under a prefix owned
// by this process, runs commands in its namespaces with time limits, starts and stops xlbd, and
// talks to its REST API. The destructor tears everything down; a killed test process leaves
// a rig the next run's sweep removes (its pid is in the prefix).
#pragma once

#include <sys/types.h>
#include <unistd.h>

#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

namespace xlb::rig {

struct CmdResult {
  int status = -1;  // exit code, or -1 when it could not run / was killed by the time limit
  std::string out;  // stdout and stderr
};

// Runs `cmd` with bash, killed after timeoutSec.
CmdResult sh(const std::string& cmd, int timeoutSec = 30);

struct WrkResult {
  long requests = 0;
  long connectErrors = 0, readErrors = 0, writeErrors = 0, timeouts = 0, non2xx = 0;
  long errors() const { return connectErrors + readErrors + writeErrors + timeouts + non2xx; }
};
WrkResult parseWrk(const std::string& out);

// The whole text of a file ("" when it cannot be read).
std::string readFile(const std::string& path);

// The last `lines` lines of a log (for failure messages).
std::string tail(const std::string& log, std::size_t lines = 20);

class Rig {
 public:
  Rig(const std::string& name, int clients, int backends, int lbQueues = 1);
  ~Rig();
  Rig(const Rig&) = delete;
  Rig& operator=(const Rig&) = delete;

  bool ok() const { return ok_; }
  const std::string& setupLog() const { return setupLog_; }
  std::string ns(const std::string& shortName) const { return prefix_ + "-" + shortName; }
  // Runs a command in a namespace (lb, br, c1.., b1..).
  CmdResult exec(const std::string& shortName, const std::string& cmd, int timeoutSec = 30) const;
  bool startNginx(int backend);
  // dnsmasq in backend <backend> (lib.sh rig_backend_dns): which.xlb.test TXT "backend N".
  bool startDns(int backend);
  // ngtcp2's gtlsserver in backend <backend> (lib.sh rig_backend_quic): HTTP/3 on UDP 443.
  bool startQuic(int backend);
  // A sink in namespace <ns> (lib.sh rig_sink): frames to 10.99.0.9 die on a veth there.
  bool addSink(const std::string& ns);
  // Backend <backend> set up for direct server return (lib.sh rig_backend_dsr).
  bool setupDsr(int backend, bool ipip);
  // n requests with curl from client c<client>, a new connection each: response body -> count,
  // "FAIL" for a failed request. `url` may carry curl options first (e.g. "-k https://...").
  std::map<std::string, int> curlBodies(int client, int n, const std::string& url) const;

  // Starts xlbd in the LB namespace with this configuration; waits until it logs that it
  // started (or exits). False with the log in `log` on failure. The configuration's state_dir
  // is replaced by one inside the rig's directory (kept across restarts of the same rig).
  bool startXlbd(const std::string& yaml, std::string& log);
  // The same with another binary, started through `launcher` (a command prefix such as
  // "env A=B setpriv ..."; empty for none): how a test runs xlbd as a service manager would.
  bool startXlbdWith(const std::string& launcher, const std::string& binary,
                     const std::string& yaml, std::string& log);
  // Writes the configuration file xlbd runs with (state_dir replaced as above), as an operator
  // edits it before a reload.
  void writeConfig(const std::string& yaml) const;
  // Starts `binary` with --takeover next to the running xlbd (same configuration and log) and
  // waits until it serves and the old process has exited. `log` gets the log written meanwhile.
  bool takeoverXlbd(const std::string& binary, std::string& log);
  // xlbd --detach: removes the program a stopped xlbd left attached and the stored connections
  // (between tests, so that each starts from nothing). Returns its exit status.
  int detachXlbd() const;
  std::string dir() const { return dir_; }
  // Sends `sig` and waits up to 10 s; returns the exit status (128+signal when killed).
  int stopXlbd(int sig);
  bool xlbdRunning() const;
  std::string xlbdLog() const;
  // GET /api/v1/stats from inside the LB namespace (after the workers' next publication).
  nlohmann::json stats() const;
  // A request to xlbd's API from inside the LB namespace, with the token. `status` is the HTTP
  // status (0 when unreachable).
  struct ApiReply {
    int status = 0;
    nlohmann::json body;
    std::string raw;
  };
  ApiReply api(const std::string& method, const std::string& path,
               const std::string& body = "") const;
  std::string stateDir() const { return dir_ + "/state"; }
  pid_t xlbdPid() const { return xlbd_; }
  // Polls GET /api/v1/vips/<listing> (e.g. "10.100.0.100/backends?protocol=udp") every 100 ms
  // for up to timeoutSec until done(items) holds; returns the last items.
  template <typename Done>
  nlohmann::json waitBackends(const std::string& listing, Done done, int timeoutSec) const {
    nlohmann::json items;
    for (int i = 0; i < timeoutSec * 10; ++i) {
      items = api("GET", "/api/v1/vips/" + listing).body["items"];
      if (done(items)) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return items;
  }
  // A listing that is not empty and whose every backend is up.
  static bool allUp(const nlohmann::json& items);
  // A listing that is not empty and whose every backend has a health verdict (up or down).
  static bool allChecked(const nlohmann::json& items);
  // Waits up to timeoutSec for pred(stats) to hold; returns the last stats.
  template <typename Pred>
  nlohmann::json waitStats(Pred pred, int timeoutSec) const {
    nlohmann::json s;
    for (int i = 0; i < timeoutSec * 4; ++i) {
      s = stats();
      if (!s.is_null() && pred(s)) return s;
      usleep(250000);
    }
    return s;
  }

  static std::string defaultConfig();  // xlbd --print-default-config
  // A shell command that runs a lib.sh function on this rig.
  static std::string libCallFor(const Rig& r, const std::string& fn) { return r.libCall(fn); }
  static std::string binDir();

 private:
  // A listing that is not empty and whose every backend's health satisfies pred.
  static bool allHealth(const nlohmann::json& items,
                        const std::function<bool(const nlohmann::json&)>& pred);
  std::string libCall(const std::string& fn) const;
  pid_t spawnXlbd(const std::string& binary, const std::string& flags,
                  const std::string& launcher = "") const;
  std::string prefix_;
  std::string dir_;
  bool ok_ = false;
  std::string setupLog_;
  pid_t xlbd_ = -1;
};

// scripts/netns/longlived.py run from a client namespace on its own thread: `n` keep-alive
// connections to the VIP, a request each every `interval` seconds for `seconds`. result() waits
// for it and returns its JSON report (null when it printed none; its output goes to stderr).
class LongLived {
 public:
  LongLived(const Rig& rig, const std::string& client, int n, double interval, int seconds,
            int slowMs = 200);
  ~LongLived();
  LongLived(const LongLived&) = delete;
  LongLived& operator=(const LongLived&) = delete;
  const nlohmann::json& result();

 private:
  std::thread thread_;
  nlohmann::json result_;
};

}  // namespace xlb::rig
