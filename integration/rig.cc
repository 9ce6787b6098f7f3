// SPDX-License-Identifier: Apache-2.0
#include "rig.h"

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <regex>
#include <sstream>
#include <thread>

#ifndef XLB_SOURCE_DIR
#error "XLB_SOURCE_DIR must be defined"
#endif
#ifndef XLB_BIN_DIR
#error "XLB_BIN_DIR must be defined"
#endif

namespace xlb::rig {
namespace {

std::string quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) {
    if (c == '\'') {
      q += "'\\''";
    } else {
      q += c;
    }
  }
  return q + "'";
}

}  // namespace

CmdResult sh(const std::string& cmd, int timeoutSec) {
  CmdResult r;
  const std::string full =
      "timeout -s KILL " + std::to_string(timeoutSec) + " bash -c " + quote(cmd) + " 2>&1";
  FILE* p = popen(full.c_str(), "r");
  if (p == nullptr) return r;
  char buf[4096];
  std::size_t n = 0;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  const int st = pclose(p);
  if (WIFEXITED(st)) r.status = WEXITSTATUS(st);
  if (r.status == 137) r.status = -1;  // killed by the time limit
  return r;
}

WrkResult parseWrk(const std::string& out) {
  WrkResult w;
  std::smatch m;
  if (std::regex_search(out, m, std::regex(R"((\d+) requests in)"))) w.requests = std::stol(m[1]);
  if (std::regex_search(out, m,
                        std::regex(R"(connect (\d+), read (\d+), write (\d+), timeout (\d+))"))) {
    w.connectErrors = std::stol(m[1]);
    w.readErrors = std::stol(m[2]);
    w.writeErrors = std::stol(m[3]);
    w.timeouts = std::stol(m[4]);
  }
  if (std::regex_search(out, m, std::regex(R"(Non-2xx or 3xx responses: (\d+))"))) {
    w.non2xx = std::stol(m[1]);
  }
  return w;
}

std::string Rig::binDir() {
  return XLB_BIN_DIR;
}

std::string Rig::defaultConfig() {
  return sh(binDir() + "/xlbd --print-default-config").out;
}

std::string Rig::libCall(const std::string& fn) const {
  return "export RIG_BIN=" + quote(binDir()) + " && . " +
         quote(std::string(XLB_SOURCE_DIR) + "/scripts/netns/lib.sh") + " && rig_attach " +
         prefix_ + " && " + fn;
}

Rig::Rig(const std::string& name, int clients, int backends, int lbQueues) {
  prefix_ = "xlb-" + name + "-" + std::to_string(getpid());
  dir_ = "/tmp/" + prefix_ + "-test";
  mkdir(dir_.c_str(), 0755);
  sh(libCall("rig_sweep"));
  const CmdResult r = sh(libCall("rig_up " + std::to_string(clients) + " " +
                                 std::to_string(backends) + " " + std::to_string(lbQueues)),
                         60);
  setupLog_ = r.out;
  ok_ = r.status == 0;
}

std::string readFile(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::string tail(const std::string& log, std::size_t lines) {
  // A trailing newline does not count as a line of its own.
  std::size_t pos = log.size() > 0 && log.back() == '\n' ? log.size() - 1 : log.size();
  for (std::size_t n = 0; n < lines; ++n) {
    if (pos == 0) return log;
    pos = log.rfind('\n', pos - 1);
    if (pos == std::string::npos) return log;
  }
  return log.substr(pos);
}

Rig::~Rig() {
  if (xlbd_ > 0) stopXlbd(SIGKILL);
  sh(libCall("rig_down"), 60);
  sh("rm -rf " + quote(dir_));
}

CmdResult Rig::exec(const std::string& shortName, const std::string& cmd, int timeoutSec) const {
  return sh("ip netns exec " + ns(shortName) + " sh -c " + quote(cmd), timeoutSec);
}

std::map<std::string, int> Rig::curlBodies(int client, int n, const std::string& url) const {
  const std::string cmd = "for i in $(seq " + std::to_string(n) + "); do curl -s -m 2 " + url +
                          " || echo FAIL; echo; done";
  const CmdResult r = exec("c" + std::to_string(client), cmd, 10 + n / 5);
  std::map<std::string, int> out;
  std::istringstream in(r.out);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) ++out[line];
  }
  return out;
}

bool Rig::startNginx(int backend) {
  return sh(libCall("rig_backend_nginx " + std::to_string(backend)), 20).status == 0;
}

bool Rig::startDns(int backend) {
  return sh(libCall("rig_backend_dns " + std::to_string(backend) + " log"), 20).status == 0;
}

bool Rig::addSink(const std::string& ns) {
  return sh(libCall("rig_sink " + ns), 20).status == 0;
}

bool Rig::startQuic(int backend) {
  return sh(libCall("rig_backend_quic " + std::to_string(backend)), 20).status == 0;
}

bool Rig::setupDsr(int backend, bool ipip) {
  return sh(libCall("rig_backend_dsr " + std::to_string(backend) + (ipip ? " ipip" : "")), 20)
             .status == 0;
}

void Rig::writeConfig(const std::string& yaml) const {
  std::string conf;
  std::istringstream in(yaml);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("state_dir:", 0) != 0 && line.rfind("runtime_dir:", 0) != 0) {
      conf += line + "\n";
    }
  }
  conf += "state_dir: " + stateDir() + "\nruntime_dir: " + dir_ + "/run\n";
  std::ofstream(dir_ + "/xlbd.yaml") << conf;
}

pid_t Rig::spawnXlbd(const std::string& binary, const std::string& flags,
                     const std::string& launcher) const {
  const std::string cmd = "mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf; exec " +
                          (launcher.empty() ? "" : launcher + " ") + binary + " --config " + dir_ +
                          "/xlbd.yaml " + flags + " >>" + dir_ + "/xlbd.log 2>&1";
  const pid_t pid = fork();
  if (pid == 0) {
    const std::string netns = ns("lb");
    execlp("ip", "ip", "netns", "exec", netns.c_str(), "sh", "-c", cmd.c_str(),
           static_cast<char*>(nullptr));
    _exit(127);
  }
  return pid;
}

bool Rig::startXlbd(const std::string& yaml, std::string& log) {
  return startXlbdWith("", binDir() + "/xlbd", yaml, log);
}

bool Rig::startXlbdWith(const std::string& launcher, const std::string& binary,
                        const std::string& yaml, std::string& log) {
  const std::string logPath = dir_ + "/xlbd.log";
  writeConfig(yaml);
  std::remove(logPath.c_str());
  const pid_t pid = spawnXlbd(binary, "", launcher);
  xlbd_ = pid;
  for (int i = 0; i < 100; ++i) {
    log = readFile(logPath);
    if (log.find("xlbd started") != std::string::npos) return true;
    int st = 0;
    if (waitpid(pid, &st, WNOHANG) == pid) {
      xlbd_ = -1;
      log = readFile(logPath);
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  log = readFile(logPath);
  return false;
}

bool Rig::takeoverXlbd(const std::string& binary, std::string& log) {
  const std::string logPath = dir_ + "/xlbd.log";
  const std::size_t from = readFile(logPath).size();
  const pid_t old = xlbd_;
  const pid_t pid = spawnXlbd(binary, "--takeover");
  // Done when the new process serves and the old one has exited.
  bool started = false, oldGone = old <= 0;
  for (int i = 0; i < 750 && !(started && oldGone); ++i) {  // 15 s
    const std::string all = readFile(logPath);
    log = all.size() > from ? all.substr(from) : "";
    started = log.find("xlbd started") != std::string::npos;
    int st = 0;
    if (!oldGone && waitpid(old, &st, WNOHANG) == old) oldGone = true;
    if (waitpid(pid, &st, WNOHANG) == pid) {
      xlbd_ = -1;
      return false;
    }
    if (!(started && oldGone)) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (!started) return false;
  xlbd_ = pid;
  return oldGone;
}

int Rig::detachXlbd() const {
  return exec("lb", binDir() + "/xlbd --config " + dir_ + "/xlbd.yaml --detach").status;
}

int Rig::stopXlbd(int sig) {
  if (xlbd_ <= 0) return -1;
  kill(xlbd_, sig);
  int st = 0;
  for (int i = 0; i < 100; ++i) {
    if (waitpid(xlbd_, &st, WNOHANG) == xlbd_) {
      xlbd_ = -1;
      return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  kill(xlbd_, SIGKILL);
  waitpid(xlbd_, &st, 0);
  xlbd_ = -1;
  return -1;
}

bool Rig::xlbdRunning() const {
  return xlbd_ > 0 && kill(xlbd_, 0) == 0;
}

bool Rig::allHealth(const nlohmann::json& items,
                    const std::function<bool(const nlohmann::json&)>& pred) {
  bool all = items.is_array() && !items.empty();
  for (const auto& b : items) all = all && pred(b["health"]);
  return all;
}

bool Rig::allUp(const nlohmann::json& items) {
  return allHealth(items, [](const nlohmann::json& h) { return h == "up"; });
}

bool Rig::allChecked(const nlohmann::json& items) {
  return allHealth(items, [](const nlohmann::json& h) { return h != "unknown"; });
}

std::string Rig::xlbdLog() const {
  return readFile(dir_ + "/xlbd.log");
}

nlohmann::json Rig::stats() const {
  // Workers publish their counters every 100 ms.
  std::this_thread::sleep_for(std::chrono::milliseconds(250));
  const ApiReply r = api("GET", "/api/v1/stats");
  return r.status == 200 ? r.body : nlohmann::json(nullptr);
}

Rig::ApiReply Rig::api(const std::string& method, const std::string& path,
                       const std::string& body) const {
  const std::string token = readFile(stateDir() + "/api-token");
  const std::string bodyFile = dir_ + "/api-body";
  std::ofstream(bodyFile) << body;
  std::string cmd = "curl -s -m 20 -o " + dir_ + "/api-out -w '%{http_code}' -X " + method +
                    " -H " + quote("Authorization: Bearer " + token.substr(0, token.find('\n')));
  if (!body.empty()) cmd += " --data-binary @" + bodyFile;
  cmd += " " + quote("http://127.0.0.1:9180" + path);
  const CmdResult c = exec("lb", cmd, 30);
  ApiReply r;
  r.status = std::atoi(c.out.c_str());
  r.raw = readFile(dir_ + "/api-out");
  r.body = nlohmann::json::parse(r.raw, nullptr, false);
  return r;
}

LongLived::LongLived(const Rig& rig, const std::string& client, int n, double interval, int seconds,
                     int slowMs) {
  const std::string cmd = "/usr/bin/python3 " + std::string(XLB_SOURCE_DIR) +
                          "/scripts/netns/longlived.py 10.100.0.100 80 " + std::to_string(n) + " " +
                          std::to_string(interval) + " " + std::to_string(seconds) + " " +
                          std::to_string(slowMs);
  thread_ = std::thread([this, &rig, client, cmd, seconds] {
    const CmdResult r = rig.exec(client, cmd, seconds + 48);
    result_ = nlohmann::json::parse(r.out, nullptr, false);
    if (result_.is_discarded()) {
      std::cerr << "long-lived client output:\n" << r.out << "\n";
      result_ = nullptr;
    }
  });
}

LongLived::~LongLived() {
  if (thread_.joinable()) thread_.join();
}

const nlohmann::json& LongLived::result() {
  if (thread_.joinable()) thread_.join();
  return result_;
}

}  // namespace xlb::rig
