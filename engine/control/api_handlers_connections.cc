// SPDX-License-Identifier: Apache-2.0
// Connections: list with filters (paged), reset a client's connections.
#include "api_handlers.h"
#include "xlb/controller.h"

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
  for (std::size_t i = 1; i < kTcpStateCount; ++i) {
    if (enumName(static_cast<TcpState>(i)) == text) f.state = static_cast<TcpState>(i);
  }
  return f.state ? true : call.badRequest("unknown state " + text);
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
  return jsonReply(
      call.controller().listConnections(f, next.value_or(""), static_cast<std::uint32_t>(limit)));
}

ApiReply killConnections(ApiCall& call) {
  std::optional<std::string> client;
  if (!call.onlyParams({"client"}) || !call.param("client", client)) return call.error;
  Address a;
  std::uint16_t port = 0;
  if (!client || !parseAddrPort(*client, a, port)) {
    return errorReply(400, "bad_request", "client=ADDR:PORT is required ([ADDR]:PORT for IPv6)");
  }
  return jsonReply(call.controller().killConnections(a, port));
}

}  // namespace xlb::handlers
