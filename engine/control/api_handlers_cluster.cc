// SPDX-License-Identifier: Apache-2.0
// A cluster member's state and its drain. A single instance answers 404 not_a_cluster.
#include "api_handlers.h"
#include "api_render.h"
#include "xlb/controller.h"

namespace xlb::handlers {

namespace {

ApiReply notACluster() {
  return errorReply(404, "not_a_cluster",
                    "this xlbd is a single instance (no cluster: section in its configuration)");
}

ApiReply drain(ApiCall& call, bool on) {
  if (!call.onlyParams({})) return call.error;
  const auto v = call.controller().setClusterDraining(on);
  if (!v) return notACluster();
  return jsonReply(200, render::cluster(*v));
}

}  // namespace

ApiReply getCluster(ApiCall& call) {
  if (!call.onlyParams({})) return call.error;
  const auto v = call.controller().clusterView();
  if (!v) return notACluster();
  return jsonReply(200, render::cluster(*v));
}

ApiReply startDrain(ApiCall& call) {
  return drain(call, true);
}

ApiReply stopDrain(ApiCall& call) {
  return drain(call, false);
}

}  // namespace xlb::handlers
