// SPDX-License-Identifier: Apache-2.0
#include "xlb/state_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace xlb {
namespace {

std::string errnoText(int e) {
  return std::strerror(e);
}

bool writeAll(int fd, const std::string& s) {
  std::size_t off = 0;
  while (off < s.size()) {
    const ssize_t n = ::write(fd, s.data() + off, s.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    off += static_cast<std::size_t>(n);
  }
  return true;
}

}  // namespace

bool StateStore::open(std::string& error) {
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  if (ec) {
    error = "cannot create state_dir " + dir_ + ": " + ec.message();
    return false;
  }
  ::chmod(dir_.c_str(), 0700);
  // Temporary files of writes a crash interrupted: the renamed-over files are intact.
  for (const auto& f : std::filesystem::directory_iterator(dir_, ec)) {
    if (f.path().filename().string().find(".tmp.") != std::string::npos) {
      std::filesystem::remove(f.path(), ec);
    }
  }
  if (::access(dir_.c_str(), W_OK) != 0) {
    error = "state_dir " + dir_ + " is not writable: " + errnoText(errno);
    return false;
  }
  return true;
}

bool StateStore::save(const std::string& name, const std::string& content, std::string& error) {
  const std::string path = dir_ + "/" + name;
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    error = "cannot write " + tmp + ": " + errnoText(errno);
    return false;
  }
  const bool ok = writeAll(fd, content) && ::fsync(fd) == 0;
  const int saved = errno;
  ::close(fd);
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
    error = "cannot write " + path + ": " + errnoText(ok ? errno : saved);
    ::unlink(tmp.c_str());
    return false;
  }
  const int dfd = ::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return true;
}

std::optional<std::string> StateStore::load(const std::string& name, std::string& error) const {
  const std::string path = dir_ + "/" + name;
  std::ifstream f(path, std::ios::binary);
  if (!f) {
    if (errno != ENOENT) error = "cannot read " + path + ": " + errnoText(errno);
    return std::nullopt;
  }
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

void StateStore::quarantine(const std::string& name) const {
  const std::string path = dir_ + "/" + name;
  const std::string aside = path + ".corrupt-" + std::to_string(std::time(nullptr));
  ::rename(path.c_str(), aside.c_str());
}

}  // namespace xlb
