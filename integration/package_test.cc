// SPDX-License-Identifier: Apache-2.0
// The packaged xlbd on the netns rig, run as its systemd unit runs it: from the extracted .deb,
// with the packaged default configuration adapted to the rig's addresses, under the unit's
// capability bounding set, LimitMEMLOCK and NoNewPrivileges, and with a NOTIFY_SOCKET the test
// reads: READY=1 must come only once the API answers and XDP is attached, a SIGHUP reload is
// framed by RELOADING=1 and READY=1, and a stop says STOPPING=1. A restart under the same set
// replaces the program the stopped run left attached, and the same restart without
// CAP_SYS_ADMIN cannot: why the unit keeps it.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <csignal>
#include <fstream>
#include <sstream>

#include "rig_suite.h"

namespace xlb::rig {
namespace {

std::string replaceAll(std::string s, const std::string& from, const std::string& to) {
  for (auto at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size())) {
    s.replace(at, from.size(), to);
  }
  return s;
}

// The value of `key=` in the unit (the first line that sets it).
std::string unitValue(const std::string& unit, const std::string& key) {
  std::istringstream in(unit);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(key + "=", 0) == 0) return line.substr(key.size() + 1);
  }
  return "";
}

// "CAP_NET_ADMIN CAP_BPF" -> "-all,+net_admin,+bpf" (setpriv's syntax), leaving out the
// capabilities `drop` names (space-separated).
std::string setprivCaps(const std::string& unitCaps, const std::string& drop = "") {
  std::string out = "-all";
  std::istringstream in(unitCaps);
  for (std::string cap; in >> cap;) {
    if ((" " + drop + " ").find(" " + cap + " ") != std::string::npos) continue;
    std::string name = cap.substr(4);
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    out += ",+" + name;
  }
  return out;
}

// A datagram socket standing in for systemd's notification socket.
class NotifySocket {
 public:
  explicit NotifySocket(std::string path) : path_(std::move(path)) {
    std::remove(path_.c_str());
    fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    path_.copy(a.sun_path, sizeof a.sun_path - 1);
    bound_ = bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    timeval tv{1, 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  ~NotifySocket() {
    close(fd_);
    std::remove(path_.c_str());
  }
  NotifySocket(const NotifySocket&) = delete;
  NotifySocket& operator=(const NotifySocket&) = delete;
  bool bound() const { return bound_; }
  const std::string& path() const { return path_; }
  // The next message containing `what` within timeoutSec ("" when none came).
  std::string waitFor(const std::string& what, int timeoutSec) {
    for (int i = 0; i < timeoutSec; ++i) {
      char buf[4096];
      const ssize_t n = recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) continue;
      std::string m(buf, static_cast<std::size_t>(n));
      seen_ += m + "|";
      if (m.find(what) != std::string::npos) return m;
    }
    return "";
  }
  const std::string& seen() const { return seen_; }

 private:
  std::string path_;
  int fd_ = -1;
  bool bound_ = false;
  std::string seen_;
};

class PackageRig : public RigSuite<PackageRig> {
 public:
  static constexpr RigShape kShape{"pkg", 1, 2};

 protected:
  void SetUp() override {
    RigSuite::SetUp();
    if (HasFatalFailure()) return;
    root_ = rig_->dir() + "/pkgroot";
    const CmdResult x = sh("rm -rf " + root_ + " && mkdir -p " + root_ + " && dpkg-deb -x " +
                           XLB_PACKAGE_DIR "/xlb_*.deb " + root_);
    ASSERT_EQ(x.status, 0) << "no package to extract (the package_build test makes it): " << x.out;
    unit_ = readFile(root_ + "/lib/systemd/system/xlbd.service");
    ASSERT_FALSE(unit_.empty());
    // The packaged default configuration with the rig's addresses for its examples.
    config_ = readFile(root_ + "/etc/xlb/xlb.yaml");
    for (const auto& [from, to] :
         {std::pair<std::string, std::string>{"192.0.2.100", "10.100.0.100"},
          {"192.0.2.2", "10.100.0.2"},
          {"198.51.100.11", "10.100.0.11"},
          {"198.51.100.12", "10.100.0.12"}}) {
      ASSERT_NE(config_.find(from), std::string::npos) << from << " not in the packaged config";
      config_ = replaceAll(config_, from, to);
    }
  }

  // How the unit starts xlbd: its bounding set (less `drop`), no new privileges, and the
  // notification socket.
  std::string launcher(const NotifySocket& n, const std::string& drop = "") const {
    const std::string caps = setprivCaps(unitValue(unit_, "CapabilityBoundingSet"), drop);
    return "env NOTIFY_SOCKET=" + n.path() + " setpriv --no-new-privs --bounding-set " + caps +
           " --inh-caps " + caps + " --ambient-caps " + caps + " --";
  }

  bool startPackaged(const NotifySocket& n, std::string& log, const std::string& drop = "") {
    return rig_->startXlbdWith(launcher(n, drop), root_ + "/usr/sbin/xlbd", config_, log);
  }

  std::string root_, unit_, config_;
};

TEST_F(PackageRig, ThePackagedXlbdServesUnderItsUnitsCapabilitiesAndTellsSystemdWhenReady) {
  NotifySocket notify(rig_->dir() + "/notify.sock");
  ASSERT_TRUE(notify.bound());
  std::string log;
  ASSERT_TRUE(startPackaged(notify, log)) << log;
  ASSERT_NE(notify.waitFor("READY=1", 20), "") << notify.seen() << "\n" << rig_->xlbdLog();
  // Ready means ready: the API answers and the program is on the interface at that moment.
  const Rig::ApiReply stats = rig_->api("GET", "/api/v1/stats");
  EXPECT_EQ(stats.status, 200) << stats.raw;
  EXPECT_EQ(stats.body.value("xdp_attached", false), true) << stats.raw;
  EXPECT_NE(rig_->exec("lb", "ip link show eth0").out.find("xdp"), std::string::npos);
  const auto bodies = rig_->curlBodies(1, 20, "http://10.100.0.100/");
  EXPECT_EQ(bodies.count("FAIL"), 0U);
  EXPECT_EQ(bodies.size(), 2U) << "both backends of the packaged example serve";

  // systemctl reload: SIGHUP, framed by RELOADING=1 and READY=1, and the edit applied.
  rig_->writeConfig(replaceAll(config_, "      - {address: 10.100.0.12}\n", ""));
  kill(rig_->xlbdPid(), SIGHUP);
  EXPECT_NE(notify.waitFor("RELOADING=1", 10), "") << notify.seen();
  EXPECT_NE(notify.waitFor("READY=1", 10), "") << notify.seen();
  const Rig::ApiReply backends = rig_->api("GET", "/api/v1/vips/10.100.0.100/backends");
  EXPECT_EQ(backends.body.dump().find("10.100.0.12"), std::string::npos) << backends.raw;

  EXPECT_EQ(rig_->stopXlbd(SIGTERM), 0);
  EXPECT_NE(notify.waitFor("STOPPING=1", 5), "") << notify.seen();
}

TEST_F(PackageRig, ARestartReplacesTheProgramItLeftOnlyWithSysAdmin) {
  NotifySocket notify(rig_->dir() + "/notify.sock");
  ASSERT_TRUE(notify.bound());
  std::string log;
  ASSERT_TRUE(startPackaged(notify, log)) << log;
  ASSERT_NE(notify.waitFor("READY=1", 20), "") << notify.seen();
  ASSERT_EQ(rig_->stopXlbd(SIGTERM), 0);  // the program stays attached for the next start

  // Without CAP_SYS_ADMIN the kernel will not open a program by its id (BPF_PROG_GET_FD_BY_ID),
  // so the program left attached cannot be recognised as xlb's, and xlbd refuses to replace it.
  EXPECT_FALSE(startPackaged(notify, log, "CAP_SYS_ADMIN")) << log;
  EXPECT_NE(log.find("already has an XDP program"), std::string::npos) << log;

  ASSERT_TRUE(startPackaged(notify, log)) << log;
  EXPECT_NE(notify.waitFor("READY=1", 20), "") << notify.seen();
  EXPECT_NE(rig_->xlbdLog().find("replaced the xlb program a previous run left attached"),
            std::string::npos)
      << rig_->xlbdLog();
  EXPECT_EQ(rig_->curlBodies(1, 10, "http://10.100.0.100/").count("FAIL"), 0U);
}

// The set is the least that serves: a fresh start without any one of the others fails, each with
// the error that names what the kernel refused.
TEST_F(PackageRig, AFreshStartFailsWithoutAnyOtherCapabilityOfTheSet) {
  NotifySocket notify(rig_->dir() + "/notify.sock");
  ASSERT_TRUE(notify.bound());
  std::istringstream caps(unitValue(unit_, "CapabilityBoundingSet"));
  int tried = 0;
  for (std::string cap; caps >> cap;) {
    if (cap == "CAP_SYS_ADMIN") continue;  // needed at a restart (the test above)
    ++tried;
    std::string log;
    // CAP_SYS_ADMIN would stand in for CAP_BPF and CAP_PERFMON (the kernel's bpf_capable() and
    // perfmon_capable() accept it): each is tried without it too.
    const bool started = startPackaged(notify, log, cap + " CAP_SYS_ADMIN");
    EXPECT_FALSE(started) << "xlbd started without " << cap << ":\n" << log;
    if (started) rig_->stopXlbd(SIGTERM);
    std::cerr << "without " << cap << ": " << tail(log, 2) << "\n";
    rig_->detachXlbd();
  }
  EXPECT_GE(tried, 5);
}

}  // namespace
}  // namespace xlb::rig
