// SPDX-License-Identifier: Apache-2.0
// Files under state_dir, written so that a crash at any moment leaves either the old or the new
// content: a temporary file in the same directory, fsync, rename over the old one, fsync of the
// directory (so the rename itself is durable).
#pragma once

#include <optional>
#include <string>

namespace xlb {

class StateStore {
 public:
  explicit StateStore(std::string dir) : dir_(std::move(dir)) {}
  // Creates the directory (mode 0700) if needed. False with `error` set.
  bool open(std::string& error);
  bool save(const std::string& name, const std::string& content, std::string& error);
  // nullopt when the file does not exist; a read failure sets `error`.
  std::optional<std::string> load(const std::string& name, std::string& error) const;
  // Moves an unreadable file aside (name.corrupt-<unix time>) so the next save does not lose it.
  void quarantine(const std::string& name) const;
  const std::string& dir() const noexcept { return dir_; }

 private:
  std::string dir_;
};

}  // namespace xlb
