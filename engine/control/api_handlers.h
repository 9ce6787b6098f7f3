// SPDX-License-Identifier: Apache-2.0
// The API's handlers, one file per area. Each parses and validates its request (ApiCall's strict
// parsers), calls the Controller with valid arguments only, and renders the reply.
#pragma once

#include "xlb/api_routes.h"

namespace xlb::handlers {

// api_handlers_status.cc
ApiReply healthz(ApiCall& call);
ApiReply readyz(ApiCall& call);
ApiReply metrics(ApiCall& call);
// The status page (api_handlers_ui.cc).
ApiReply uiPage(ApiCall& call);
ApiReply uiAsset(ApiCall& call);
ApiReply stats(ApiCall& call);
ApiReply getConfig(ApiCall& call);
ApiReply patchConfig(ApiCall& call);
ApiReply reloadConfig(ApiCall& call);

// api_handlers_blocklist.cc
ApiReply listBlocklist(ApiCall& call);
ApiReply addBlock(ApiCall& call);
ApiReply importBlocklist(ApiCall& call);
ApiReply removeBlock(ApiCall& call);

// api_handlers_vips.cc
ApiReply listVips(ApiCall& call);
ApiReply addVip(ApiCall& call);
ApiReply removeVip(ApiCall& call);
ApiReply listBackends(ApiCall& call);
ApiReply addBackend(ApiCall& call);
ApiReply setBackend(ApiCall& call);
ApiReply removeBackend(ApiCall& call);

// api_handlers_connections.cc
ApiReply listConnections(ApiCall& call);
ApiReply killConnections(ApiCall& call);

// api_handlers_cluster.cc
ApiReply getCluster(ApiCall& call);
ApiReply startDrain(ApiCall& call);
ApiReply stopDrain(ApiCall& call);

}  // namespace xlb::handlers
