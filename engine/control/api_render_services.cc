// SPDX-License-Identifier: Apache-2.0
// VIPs, backends and the running configuration rendered from the Controller's views.
#include "api_render.h"
#include "xlb/auto_block_json.h"

namespace xlb::render {

using nlohmann::json;

json backend(const BackendView& b) {
  return json{{"address", b.address.toString()},
              {"weight", b.weight},
              {"state", enumName(b.state)},
              {"health", enumName(b.health)},
              {"in_rotation", b.inRotation},
              {"active_connections", b.stats.active},
              {"connections_total", b.stats.counters.created},
              {"bytes_to_backend", b.stats.counters.bytesToBackend},
              {"bytes_to_client", b.stats.counters.bytesToClient},
              {"source", b.fromConfig ? "config" : "api"}};
}

json vipSummary(const VipView& v) {
  std::uint64_t active = 0;
  std::size_t inRotation = 0;
  for (const BackendView& b : v.backends) {
    active += b.stats.active;
    inRotation += b.inRotation ? 1u : 0u;
  }
  return {{"address", v.config.address.toString()},
          {"protocol", protocolName(v.config.protocol)},
          {"quic", v.config.quic},
          {"forwarding", enumName(v.config.forwarding)},
          {"encapsulation", enumName(v.config.encapsulation)},
          {"state", v.draining ? "draining" : "active"},
          {"ports", v.config.ports},
          {"backend_ports", backendPortsToJson(v.config.backendPorts)},
          {"syn_flood",
           {{"mode", enumName(v.config.synFlood.mode)},
            {"threshold_pps", v.config.synFlood.thresholdPps},
            {"active", v.synFloodActive}}},
          {"backends", v.backends.size()},
          {"backends_in_rotation", inRotation},
          {"active_connections", active}};
}

json backends(const VipView& v) {
  json items = json::array();
  for (const BackendView& b : v.backends) items.push_back(backend(b));
  return {{"vip", v.config.address.toString()},
          {"protocol", protocolName(v.config.protocol)},
          {"items", items}};
}

json config(const Config& c) {
  json vips = json::array();
  for (const VipConfig& v : c.vips) {
    vips.push_back(
        {{"address", v.address.toString()},
         {"protocol", protocolName(v.protocol)},
         {"quic", v.quic},
         {"forwarding", enumName(v.forwarding)},
         {"encapsulation", enumName(v.encapsulation)},
         {"ports", v.ports},
         {"backend_ports", backendPortsToJson(v.backendPorts)},
         {"syn_flood",
          {{"mode", enumName(v.synFlood.mode)}, {"threshold_pps", v.synFlood.thresholdPps}}}});
  }
  json snat = json::array();
  for (const Address& a : c.snat.addresses) snat.push_back(a.toString());
  return {{"interface", c.interface},
          {"xdp_mode", enumName(c.xdpMode)},
          {"workers", c.workers},
          {"fail_open", c.failOpen},
          {"snat", {{"addresses", snat}, {"port_lo", c.snat.portLo}, {"port_hi", c.snat.portHi}}},
          {"conntrack",
           {{"capacity", c.conntrack.capacity},
            {"udp_share", c.conntrack.udpSharePercent},
            {"timeouts_ms",
             {{"udp", c.conntrack.timeouts.udp / kNsPerMs},
              {"udp_single", c.conntrack.timeouts.udpSingle / kNsPerMs}}}}},
          {"blocklist_capacity", c.blocklistCapacity},
          {"health_check",
           {{"enabled", c.healthCheck.enabled},
            {"port", c.healthCheck.port},
            {"interval_ms", c.healthCheck.interval / kNsPerMs},
            {"timeout_ms", c.healthCheck.timeout / kNsPerMs},
            {"rise", c.healthCheck.rise},
            {"fall", c.healthCheck.fall},
            {"reset_on_down", c.healthCheck.resetOnDown}}},
          {"state_dir", c.stateDir},
          {"runtime_dir", c.runtimeDir},
          {"auto_block", autoBlockToJson(c.autoBlock)},
          {"vips", vips}};
}

json reload(const ReloadOutcome& r) {
  return {{"changed", r.changed}, {"restart_required", r.restartRequired}};
}

}  // namespace xlb::render
