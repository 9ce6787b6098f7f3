// SPDX-License-Identifier: Apache-2.0
// Liveness, readiness, metrics, statistics and the running configuration.
#include "api_handlers.h"
#include "api_render.h"
#include "xlb/auto_block_json.h"
#include "xlb/controller.h"
#include "xlb/json_read.h"
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
  ApiReply r{200, renderMetrics(call.controller().statsView())};
  r.contentType = kMetricsContentType;
  return r;
}

ApiReply stats(ApiCall& call) {
  return jsonReply(200, render::stats(call.controller().statsView()));
}

ApiReply getConfig(ApiCall& call) {
  return jsonReply(200, render::config(call.controller().runningConfig()));
}

namespace {

// {"syn_flood": {"mode": M, "threshold_pps": N}} of one VIP entry.
bool parseSynFloodPatch(ApiCall& call, const nlohmann::json& sf, VipPatch& out) {
  if (!sf.is_object()) return call.badRequest("syn_flood must be an object");
  for (const auto& [k, val] : sf.items()) {
    if (k == "mode") {
      out.mode = val.is_string() ? parseEnum<SynFloodMode>(val.get<std::string>()) : std::nullopt;
      if (!out.mode) return call.badRequest("mode must be one of " + enumChoices<SynFloodMode>());
    } else if (k == "threshold_pps") {
      // The range is the model's rule (ServiceModel::setSynFlood), shared with the state file.
      if (!val.is_number_unsigned() || val.get<std::uint64_t>() > 0xffffffffu) {
        return call.badRequest("threshold_pps must be a positive integer");
      }
      out.thresholdPps = static_cast<std::uint32_t>(val.get<std::uint64_t>());
    } else {
      return call.badRequest("unknown field syn_flood." + k);
    }
  }
  return true;
}

// One entry of "vips": {"address": A, "ports": [...], "syn_flood": {...}}.
bool parseVipPatch(ApiCall& call, const nlohmann::json& jv, VipPatch& out) {
  if (!jv.is_object() || !jv.contains("address") || !jv["address"].is_string()) {
    return call.badRequest("each VIP needs an \"address\" string");
  }
  for (const auto& [k, _] : jv.items()) {
    if (k != "address" && k != "protocol" && k != "ports" && k != "backend_ports" &&
        k != "syn_flood") {
      return call.badRequest("unknown or read-only field \"" + k + "\"");
    }
  }
  if (!call.address(jv["address"].get<std::string>(), out.address.address, "VIP")) return false;
  if (jv.contains("protocol")) {
    const std::optional<std::uint8_t> p = jv["protocol"].is_string()
                                              ? protocolNumber(jv["protocol"].get<std::string>())
                                              : std::nullopt;
    if (!p) return call.badRequest("protocol must be tcp or udp");
    out.address.protocol = *p;
  }
  if (jv.contains("ports")) {
    const nlohmann::json& jp = jv["ports"];
    if (!jp.is_array()) return call.badRequest("ports must be an array");
    out.ports.emplace();
    for (const nlohmann::json& p : jp) {
      if (!p.is_number_unsigned() || p.get<std::uint64_t>() < 1 || p.get<std::uint64_t>() > 65535) {
        return call.badRequest("ports must be integers 1..65535");
      }
      out.ports->push_back(static_cast<std::uint16_t>(p.get<std::uint64_t>()));
    }
  }
  if (jv.contains("backend_ports")) {
    try {
      out.backendPorts = backendPortsFromJson(jv["backend_ports"]);
    } catch (const JsonReadError& e) {
      return call.badRequest(e.what());
    }
  }
  return !jv.contains("syn_flood") || parseSynFloodPatch(call, jv["syn_flood"], out);
}

}  // namespace

ApiReply reloadConfig(ApiCall& call) {
  if (!call.onlyParams({})) return call.error;  // no parameters; a body, if any, is not read
  return render::replyOf(call.controller().reload(), 200, render::reload);
}

ApiReply patchConfig(ApiCall& call) {
  nlohmann::json j;
  if (!call.body(j)) return call.error;
  const bool known = j.is_object() && !j.empty() &&
                     std::all_of(j.items().begin(), j.items().end(), [](const auto& kv) {
                       return kv.key() == "vips" || kv.key() == "auto_block";
                     });
  if (!known || (j.contains("vips") && !j["vips"].is_array())) {
    return errorReply(400, "bad_request",
                      "expected {\"vips\": [{\"address\": ..., \"ports\": [...], "
                      "\"syn_flood\": {\"mode\": ..., \"threshold_pps\": ...}}], "
                      "\"auto_block\": {\"mode\": ..., ...}} (either or both)");
  }
  ConfigPatch patch;
  if (j.contains("vips")) {
    for (const nlohmann::json& jv : j["vips"]) {
      if (!parseVipPatch(call, jv, patch.vips.emplace_back())) return call.error;
    }
  }
  if (j.contains("auto_block")) {
    try {
      patch.autoBlock = autoBlockPatchFromJson(j["auto_block"]);
    } catch (const JsonReadError& e) {
      call.badRequest(std::string("auto_block: ") + e.what());
      return call.error;
    }
  }
  return render::replyOf(call.controller().patchConfig(patch), 200, render::config);
}

}  // namespace xlb::handlers
