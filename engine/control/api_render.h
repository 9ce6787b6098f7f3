// SPDX-License-Identifier: Apache-2.0
// The API's replies rendered from the Controller's plain results (the handlers' side of the
// layering: the Controller answers with data, these functions decide its JSON).
#pragma once

#include <nlohmann/json.hpp>
#include <variant>

#include "xlb/api_routes.h"
#include "xlb/controller.h"
#include "xlb/stats_view.h"

namespace xlb::render {

// GET /api/v1/stats (api_render_stats.cc).
nlohmann::json stats(const StatsView& v);

// api_render_services.cc
nlohmann::json backend(const BackendView& b);
nlohmann::json vipSummary(const VipView& v);    // one item of GET /api/v1/vips
nlohmann::json backends(const VipView& v);      // GET /api/v1/vips/{vip}/backends
nlohmann::json config(const Config& c);         // GET and PATCH /api/v1/config
nlohmann::json reload(const ReloadOutcome& r);  // POST /api/v1/config/reload

// api_render_blocklist.cc
nlohmann::json blockAdded(const BlockEntry& e);  // POST /api/v1/blocklist
nlohmann::json blockPage(const BlockPage& p);    // GET /api/v1/blocklist

// api_render_cluster.cc: GET /api/v1/cluster, the drain replies.
nlohmann::json cluster(const ClusterView& v);

// A plain result rendered with `render` under `status`, or the Controller's failure.
template <typename T, typename Render>
ApiReply replyOf(const std::variant<T, ControlError>& r, int status, Render render) {
  if (const auto* e = std::get_if<ControlError>(&r)) return failureReply(*e);
  return jsonReply(status, render(std::get<T>(r)));
}

}  // namespace xlb::render
