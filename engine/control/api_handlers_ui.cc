// SPDX-License-Identifier: Apache-2.0
// GET /ui and /ui/{asset}: the read-only status page. Its script reads the API's GET routes, so
// it needs no token and can change nothing.
#include <nlohmann/json.hpp>

#include "api_handlers.h"
#include "ui_assets.h"
#include "xlb/reason.h"

namespace xlb::handlers {

namespace {

// The page is told which verdict reasons are drops from the one list of reasons (xlb_common.h),
// not from a copy in its script.
std::string dropReasonsJson() {
  nlohmann::json names = nlohmann::json::array();
  for (std::size_t i = 0; i < kReasonCount; ++i) {
    if (kReasonActions[i] == Action::kDrop) names.push_back(std::string(kReasonNames[i]));
  }
  return names.dump();
}

ApiReply assetReply(const ui::Asset& a) {
  ApiReply r(200, std::string(a.body));
  r.contentType = std::string(a.contentType);
  return r;
}

}  // namespace

ApiReply uiPage(ApiCall&) {
  static const std::string page = [] {
    std::string html;
    for (const ui::Asset& a : ui::assets()) {
      if (a.name == "index.html") html = std::string(a.body);
    }
    constexpr std::string_view kMarker = "@XLB_DROP_REASONS@";
    if (const auto at = html.find(kMarker); at != std::string::npos) {
      html.replace(at, kMarker.size(), dropReasonsJson());
    }
    return html;
  }();
  ApiReply r(200, page);
  r.contentType = "text/html; charset=utf-8";
  // Only the page's own script and style sheet, reads of this origin (its icon is an empty
  // data: URL), no frames around it: a value that reached the page as markup could run nothing.
  r.contentSecurityPolicy =
      "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
      "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";
  return r;
}

ApiReply uiAsset(ApiCall& call) {
  const std::string& name = call.capture(0);
  if (name == "index.html") return uiPage(call);
  for (const ui::Asset& a : ui::assets()) {
    if (a.name == name) return assetReply(a);
  }
  return errorReply(404, "not_found", "no such file of the status page: " + name);
}

}  // namespace xlb::handlers
