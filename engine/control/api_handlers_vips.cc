// SPDX-License-Identifier: Apache-2.0
// VIPs and their backends: list, add, change weight or state, remove.
#include "api_handlers.h"
#include "api_render.h"
#include "xlb/config.h"
#include "xlb/controller.h"
#include "xlb/json_read.h"
#include "xlb/service_model.h"

namespace xlb::handlers {

ApiReply listVips(ApiCall& call) {
  nlohmann::json items = nlohmann::json::array();
  for (const VipView& v : call.controller().listVips()) items.push_back(render::vipSummary(v));
  return jsonReply(200, {{"items", items}});
}

ApiReply addVip(ApiCall& call) {
  nlohmann::json j;
  if (!call.body(j)) return call.error;
  VipConfig vip;
  try {
    vip = vipFromJson(j);
  } catch (const JsonReadError& e) {
    return errorReply(400, "bad_request", e.what());
  }
  return render::replyOf(call.controller().addVip(vip), 201, render::vipSummary);
}

ApiReply removeVip(ApiCall& call) {
  VipKey vip;
  std::optional<std::string> force;
  if (!call.vip(vip) || !call.onlyParams({"force", "protocol"}) || !call.param("force", force)) {
    return call.error;
  }
  if (force && *force != "true" && *force != "false") {
    return errorReply(400, "bad_request", "force must be true or false");
  }
  if (auto e = call.controller().removeVip(vip, force && *force == "true")) {
    return failureReply(*e);
  }
  return jsonReply(204, nullptr);
}

ApiReply listBackends(ApiCall& call) {
  VipKey vip;
  if (!call.vip(vip) || !call.onlyParams({"protocol"})) return call.error;
  return render::replyOf(call.controller().vip(vip), 200, render::backends);
}

ApiReply addBackend(ApiCall& call) {
  VipKey vip;
  Address backend;
  nlohmann::json j;
  if (!call.vip(vip) || !call.onlyParams({"protocol"}) || !call.body(j)) return call.error;
  std::string addr;
  std::uint64_t weight = 1;
  for (const auto& [k, v] : j.items()) {
    if (k == "address" && v.is_string())
      addr = v.get<std::string>();
    else if (k == "weight" && v.is_number_unsigned())
      weight = v.get<std::uint64_t>();
    else if (k == "address" || k == "weight")
      return errorReply(400, "bad_request", "wrong type for \"" + k + "\"");
    else
      return errorReply(400, "bad_request", "unknown field \"" + k + "\"");
  }
  if (addr.empty()) return errorReply(400, "bad_request", "\"address\" is required");
  if (!call.address(addr, backend, "backend")) return call.error;
  if (weight > kMaxWeight)
    return errorReply(400, "bad_request", "weight must be 0.." + std::to_string(kMaxWeight));
  return render::replyOf(
      call.controller().addBackend(vip, backend, static_cast<std::uint32_t>(weight)), 201,
      render::backend);
}

ApiReply setBackend(ApiCall& call) {
  VipKey vip;
  Address backend;
  nlohmann::json j;
  if (!call.vip(vip) || !call.onlyParams({"protocol"}) ||
      !call.address(call.capture(1), backend, "backend") || !call.body(j)) {
    return call.error;
  }
  std::optional<std::uint32_t> weight;
  std::optional<BackendState> state;
  for (const auto& [k, v] : j.items()) {
    if (k == "weight" && v.is_number_unsigned() && v.get<std::uint64_t>() <= kMaxWeight) {
      weight = static_cast<std::uint32_t>(v.get<std::uint64_t>());
    } else if (k == "state" && v.is_string() && parseEnum<BackendState>(v.get<std::string>())) {
      state = parseEnum<BackendState>(v.get<std::string>());
    } else if (k == "weight") {
      return errorReply(400, "bad_request",
                        "weight must be an integer 0.." + std::to_string(kMaxWeight));
    } else if (k == "state") {
      return errorReply(400, "bad_request", "state must be one of " + enumChoices<BackendState>());
    } else {
      return errorReply(400, "bad_request", "unknown field \"" + k + "\"");
    }
  }
  if (!weight && !state)
    return errorReply(400, "bad_request", "nothing to change: give weight and/or state");
  return render::replyOf(call.controller().setBackend(vip, backend, weight, state), 200,
                         render::backend);
}

ApiReply removeBackend(ApiCall& call) {
  VipKey vip;
  Address backend;
  std::optional<std::string> force;
  if (!call.vip(vip) || !call.address(call.capture(1), backend, "backend") ||
      !call.onlyParams({"force", "protocol"}) || !call.param("force", force)) {
    return call.error;
  }
  if (force && *force != "true" && *force != "false") {
    return errorReply(400, "bad_request", "force must be true or false");
  }
  if (auto e = call.controller().removeBackend(vip, backend, force && *force == "true")) {
    return failureReply(*e);
  }
  return jsonReply(204, nullptr);
}

}  // namespace xlb::handlers
