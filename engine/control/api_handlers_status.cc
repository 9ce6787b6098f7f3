// SPDX-License-Identifier: Apache-2.0
// Liveness, readiness, metrics, statistics and the running configuration.
#include "api_handlers.h"
#include "xlb/controller.h"
#include "xlb/metrics.h"

namespace xlb::handlers {

ApiReply healthz(ApiCall&) {
  return ApiReply{200, "{\"status\":\"ok\"}\n"};
}

ApiReply readyz(ApiCall& call) {
  std::string why;
  if (!call.controller().ready(why)) return errorReply(503, "not_ready", why);
  return ApiReply{200, "{\"status\":\"ready\"}\n"};
}

ApiReply metrics(ApiCall& call) {
  ApiReply r{200, call.controller().metrics()};
  r.contentType = kMetricsContentType;
  return r;
}

ApiReply stats(ApiCall& call) {
  return jsonReply(call.controller().stats());
}

ApiReply getConfig(ApiCall& call) {
  return jsonReply(call.controller().getConfig());
}

ApiReply patchConfig(ApiCall& call) {
  nlohmann::json j;
  if (!call.body(j)) return call.error;
  return jsonReply(call.controller().patchConfig(j));
}

}  // namespace xlb::handlers
