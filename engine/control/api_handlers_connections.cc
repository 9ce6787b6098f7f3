// SPDX-License-Identifier: Apache-2.0
// Connections: list with filters (paged), reset a client's connections.
#include "api_handlers.h"
#include "api_render.h"
#include "xlb/controller.h"
#include "xlb/text.h"

namespace xlb::handlers {
namespace {

constexpr std::uint64_t kMaxPage = 1000;
constexpr std::uint64_t kDefaultPage = 100;

// client=ADDR or ADDR:PORT ([ADDR]:PORT for IPv6).
bool clientFilter(ApiCall& call, const std::string& text, ConnFilter& f) {
  Address a;
  std::uint16_t port = 0;
  if (parseAddrPort(text, a, port)) {
    f.client = a;
    f.clientPort = port;
  } else if (auto plain = Address::parse(text)) {
    f.client = *plain;
  } else {
    return call.badRequest("client must be ADDR or ADDR:PORT");
  }
  return true;
}

bool stateFilter(ApiCall& call, const std::string& text, ConnFilter& f) {
  const std::optional<TcpState> s = parseEnum<TcpState>(text);
  if (!s || *s == TcpState::kFree) return call.badRequest("unknown state " + text);
  f.state = s;
  return true;
}

// "worker.index", as the previous page's `next` said, with a worker that exists.
bool cursor(ApiCall& call, const std::string& text, ConnCursor& out) {
  const auto dot = text.find('.');
  std::uint64_t worker = 0, index = 0;
  if (dot == std::string::npos ||
      !parseUint(std::string_view(text).substr(0, dot), 0xffffffffu, worker) ||
      !parseUint(std::string_view(text).substr(dot + 1), 0xffffffffu, index) ||
      worker >= call.controller().workerCount()) {
    return call.badRequest("malformed cursor");
  }
  out = ConnCursor{static_cast<std::uint32_t>(worker), static_cast<std::uint32_t>(index)};
  return true;
}

nlohmann::json connectionJson(const ConnView& c) {
  return {{"protocol", protocolName(c.protocol)},
          {"client", c.client.toString()},
          {"client_port", c.clientPort},
          {"vip", c.vip.toString()},
          {"vip_port", c.vipPort},
          {"backend", c.backend.toString()},
          {"backend_port", c.backendPort},
          {"snat", c.snat.toString()},
          {"snat_port", c.snatPort},
          {"state", enumName(c.state)},
          {"syn_proxy", c.synProxy},
          {"worker", c.worker},
          {"expires_in_ms", c.expiresInMs}};
}

}  // namespace

ApiReply listConnections(ApiCall& call) {
  ConnFilter f;
  std::optional<std::string> client, backend, vip, state, next;
  std::uint64_t limit = 0;
  if (!call.onlyParams({"client", "backend", "vip", "state", "limit", "next"}) ||
      !call.param("client", client) || !call.param("backend", backend) || !call.param("vip", vip) ||
      !call.param("state", state) || !call.param("next", next) ||
      !call.uintParam("limit", kMaxPage, kDefaultPage, 1, limit)) {
    return call.error;
  }
  Address a;
  if (client && !clientFilter(call, *client, f)) return call.error;
  if (backend) {
    if (!call.address(*backend, a, "backend")) return call.error;
    f.backend = a;
  }
  if (vip) {
    if (!call.address(*vip, a, "VIP")) return call.error;
    f.vip = a;
  }
  if (state && !stateFilter(call, *state, f)) return call.error;
  ConnCursor from;
  if (next && !cursor(call, *next, from)) return call.error;
  auto r = call.controller().listConnections(f, from, static_cast<std::uint32_t>(limit));
  if (const auto* e = std::get_if<ControlError>(&r)) return failureReply(*e);
  const ConnListing& page = std::get<ConnListing>(r);
  nlohmann::json items = nlohmann::json::array();
  for (const ConnView& c : page.items) items.push_back(connectionJson(c));
  nlohmann::json j = {{"items", items}, {"next", nullptr}};
  if (page.next)
    j["next"] = std::to_string(page.next->worker) + "." + std::to_string(page.next->index);
  return jsonReply(200, j);
}

ApiReply killConnections(ApiCall& call) {
  std::optional<std::string> client;
  if (!call.onlyParams({"client"}) || !call.param("client", client)) return call.error;
  Address a;
  std::uint16_t port = 0;
  if (!client || !parseAddrPort(*client, a, port)) {
    return errorReply(400, "bad_request", "client=ADDR:PORT is required ([ADDR]:PORT for IPv6)");
  }
  return render::replyOf(call.controller().killConnections(a, port), 200, [](std::size_t n) {
    return nlohmann::json{{"killed", n}};
  });
}

}  // namespace xlb::handlers
