// SPDX-License-Identifier: Apache-2.0
// The status page's files (engine/control/ui/), built into the binary (cmake/EmbedUi.cmake) so
// that xlbd serves /ui/ with nothing to install beside it.
#pragma once

#include <span>
#include <string_view>

namespace xlb::ui {

struct Asset {
  std::string_view name;  // index.html, app.js, style.css
  std::string_view contentType;
  std::string_view body;
};

std::span<const Asset> assets();

}  // namespace xlb::ui
