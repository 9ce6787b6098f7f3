// SPDX-License-Identifier: Apache-2.0
// GET /api/v1/cluster and the drain replies.
#include <cmath>

#include "api_render.h"

namespace xlb::render {

using nlohmann::json;

json cluster(const ClusterView& v) {
  json members = json::array();
  for (const ClusterMemberView& m : v.members) {
    members.push_back({{"name", m.name},
                       {"address", m.address.toString()},
                       {"state", m.state},
                       {"ready", m.ready},
                       {"draining", m.draining},
                       {"mac_known", m.self || m.macKnown},
                       {"flows", m.flows},
                       {"ups", m.ups},
                       {"downs", m.downs},
                       {"last_heard_ms", m.lastHeardMs},
                       {"incarnation", m.incarnation}});
  }
  json j = {{"self", v.self},
            {"ready", v.ready},
            {"draining", v.draining},
            {"announced", v.announced},
            {"members", members}};
  if (v.draining) {
    j["drain"] = {{"seconds", std::round(v.drainSeconds * 10) / 10},
                  {"remaining_flows", v.localFlows},
                  {"done", v.localFlows == 0},
                  {"timed_out", v.drainTimedOut}};
  }
  for (const Figure<ClusterView>& f : kClusterFigures) j[std::string(f.key)] = v.*f.member;
  return j;
}

}  // namespace xlb::render
