// SPDX-License-Identifier: Apache-2.0
#include "xlb/api_routes.h"

#include <algorithm>

#include "api_handlers.h"
#include "xlb/api_server.h"
#include "xlb/controller.h"
#include "xlb/service_model.h"

namespace xlb {

using nlohmann::json;

namespace {

using H = HttpMethod;

const std::vector<Route>& table() {
  namespace h = handlers;
  static const std::vector<Route> routes = {
      {H::kGet, "/healthz", false, "liveness", h::healthz},
      {H::kGet, "/readyz", false, "readiness: XDP attached, workers running, next hops known",
       h::readyz},
      {H::kGet, "/metrics", false, "Prometheus metrics", h::metrics},
      {H::kGet, "/ui", false, "the status page (read-only; also /ui/)", h::uiPage},
      {H::kGet, "/ui/{asset}", false, "the status page's script and style sheet", h::uiAsset},
      {H::kGet, "/api/v1/stats", false, "summary statistics", h::stats},
      {H::kGet, "/api/v1/config", false, "the running configuration", h::getConfig},
      {H::kPatch, "/api/v1/config", true, "change VIP settings (served ports, SYN-flood mode)",
       h::patchConfig},
      {H::kGet, "/api/v1/blocklist", false, "list blocked prefixes (paged)", h::listBlocklist},
      {H::kPost, "/api/v1/blocklist", true, "block an address or prefix", h::addBlock},
      {H::kPost, "/api/v1/blocklist/import", true, "block many prefixes, one per line",
       h::importBlocklist},
      {H::kDelete, "/api/v1/blocklist/{address}/{prefix_length}", true, "unblock a prefix",
       h::removeBlock},
      {H::kPost, "/api/v1/config/reload", true,
       "re-read the configuration file and apply what changed", h::reloadConfig},
      {H::kGet, "/api/v1/vips", false, "list VIPs", h::listVips},
      {H::kPost, "/api/v1/vips", true, "add a VIP with its ports and backends", h::addVip},
      {H::kDelete, "/api/v1/vips/{vip}", true,
       "remove a VIP (its connections finish, or are reset with force)", h::removeVip},
      {H::kGet, "/api/v1/vips/{vip}/backends", false, "list a VIP's backends", h::listBackends},
      {H::kPost, "/api/v1/vips/{vip}/backends", true, "add a backend", h::addBackend},
      {H::kPatch, "/api/v1/vips/{vip}/backends/{address}", true,
       "set a backend's weight or state (active, draining, down)", h::setBackend},
      {H::kDelete, "/api/v1/vips/{vip}/backends/{address}", true, "remove a backend",
       h::removeBackend},
      {H::kGet, "/api/v1/connections", false, "list connections (filtered, paged)",
       h::listConnections},
      {H::kDelete, "/api/v1/connections", true, "reset a client's connections", h::killConnections},
      {H::kGet, "/api/v1/cluster", false, "cluster members, flows held, drain state",
       h::getCluster},
      {H::kPost, "/api/v1/cluster/drain", true,
       "drain this instance: withdraw its VIP routes, serve its flows until they end",
       h::startDrain},
      {H::kDelete, "/api/v1/cluster/drain", true, "end a drain: announce the VIPs again",
       h::stopDrain},
  };
  return routes;
}

bool authorized(const ApiLimits& limits, const ApiRequest& req) {
  if (!req.authorization) return false;
  constexpr std::string_view kBearer = "Bearer ";
  const std::string_view v = *req.authorization;
  if (v.size() <= kBearer.size() || v.substr(0, kBearer.size()) != kBearer) return false;
  return !limits.token.empty() && tokenEquals(v.substr(kBearer.size()), limits.token);
}

bool isMutatingMethod(HttpMethod m) {
  return m == H::kPost || m == H::kPut || m == H::kPatch || m == H::kDelete;
}

ApiReply unauthorized() {
  ApiReply r =
      errorReply(401, "unauthorized",
                 "this request needs \"Authorization: Bearer <token>\" with the API token");
  r.authenticate = true;
  return r;
}

}  // namespace

std::span<const Route> apiRoutes() {
  return table();
}

ApiReply jsonReply(int status, const json& body) {
  ApiReply out;
  out.status = status;
  // Messages may echo request text (a path, a parameter name) that is not valid UTF-8: such
  // bytes are replaced, never allowed to make the reply itself fail.
  if (status != 204) out.body = body.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
  return out;
}

ApiReply errorReply(int status, const std::string& code, const std::string& message) {
  return jsonReply(status, json{{"error", {{"code", code}, {"message", message}}}});
}

namespace {
// The HTTP status of each failure; a switch without default, so a new Failure that is not given
// one here fails the build (-Wswitch) instead of answering a wrong status.
int statusOf(Failure f) {
  switch (f) {
    case Failure::kBadRequest:
      return 400;
    case Failure::kNotFound:
      return 404;
    case Failure::kConflict:
      return 409;
    case Failure::kFull:
      return 507;
    case Failure::kUnavailable:
      return 503;
    case Failure::kInternal:
      return 500;
  }
  return 500;
}
}  // namespace

ApiReply failureReply(const ControlError& e) {
  return errorReply(statusOf(e.failure), std::string(enumName(e.failure)), e.message);
}

bool splitPath(std::string_view resource, std::vector<std::string>& out) {
  out.clear();
  bool ok = true;
  std::size_t i = 0;
  while (i < resource.size()) {
    if (resource[i] == '/') {
      ++i;
      continue;
    }
    const std::size_t j = std::min(resource.find('/', i), resource.size());
    bool good = true;
    out.push_back(percentDecode(resource.substr(i, j - i), good));
    ok = ok && good;
    i = j;
  }
  return ok;
}

bool matchPattern(std::string_view pattern, const std::vector<std::string>& segments,
                  std::vector<std::string>& captures) {
  // A pattern is literal (no escapes), so it is walked in place: dispatch tries every route for
  // each request, and splitting each pattern into new strings was most of the dispatch's cost.
  captures.clear();
  std::size_t n = 0;
  for (std::size_t i = 0; i < pattern.size();) {
    if (pattern[i] == '/') {
      ++i;
      continue;
    }
    const std::size_t j = std::min(pattern.find('/', i), pattern.size());
    const std::string_view part = pattern.substr(i, j - i);
    if (n == segments.size()) return false;
    if (part.size() > 2 && part.front() == '{' && part.back() == '}') {
      captures.push_back(segments[n]);
    } else if (part != segments[n]) {
      return false;
    }
    ++n;
    i = j;
  }
  return n == segments.size();
}

ApiReply dispatch(std::span<const Route> routes, const ApiLimits& limits, Controller* controller,
                  const ApiRequest& req) {
  std::vector<std::string> segments;
  if (!splitPath(req.resource, segments)) {
    return errorReply(400, "bad_request", "malformed percent-encoding in the path");
  }
  const Route* found = nullptr;
  std::vector<std::string> captures, tried;
  std::string allow;
  for (const Route& r : routes) {
    if (!matchPattern(r.pattern, segments, tried)) continue;
    if (r.method == req.method) {
      found = &r;
      captures = tried;
      break;
    }
    allow += (allow.empty() ? "" : ", ") + std::string(enumName(r.method));
  }
  // Mutating requests are refused without the token before anything about the path is said.
  const bool mutating = found ? found->mutating : isMutatingMethod(req.method);
  if (mutating && !authorized(limits, req)) return unauthorized();
  if (req.body.size() > limits.maxBodyBytes) {
    return errorReply(413, "payload_too_large",
                      "request body over " + std::to_string(limits.maxBodyBytes) + " bytes");
  }
  if (found == nullptr && allow.empty()) {
    return errorReply(404, "not_found", "no such endpoint: " + req.resource);
  }
  if (found == nullptr) {
    ApiReply r = errorReply(405, "method_not_allowed", "allowed: " + allow);
    r.allow = allow;
    return r;
  }
  ApiCall call(controller, req, std::move(captures));
  return found->handler(call);
}

bool ApiCall::fail(int status, const std::string& code, const std::string& message) {
  error = errorReply(status, code, message);
  return false;
}

bool ApiCall::body(json& out) {
  try {
    out = json::parse(request_.body);
  } catch (const json::exception&) {
    return badRequest("the body is not valid JSON");
  }
  if (!out.is_object()) return badRequest("the body must be a JSON object");
  return true;
}

bool ApiCall::param(const std::string& name, std::optional<std::string>& out) {
  out.reset();
  for (const auto& [k, v] : request_.query) {
    if (k != name) continue;
    bool ok = true;
    out = percentDecode(v, ok);
    if (!ok) return badRequest("malformed percent-encoding in " + name);
    return true;
  }
  return true;
}

bool ApiCall::uintParam(const std::string& name, std::uint64_t max, std::uint64_t dflt,
                        std::uint64_t min, std::uint64_t& out) {
  std::optional<std::string> v;
  if (!param(name, v)) return false;
  out = dflt;
  if (!v) return true;
  if (!parseUint(*v, max, out) || out < min) {
    return badRequest(name + " must be an integer " + std::to_string(min) + ".." +
                      std::to_string(max));
  }
  return true;
}

bool ApiCall::onlyParams(std::initializer_list<const char*> allowed) {
  for (const auto& param : request_.query) {
    const std::string& k = param.first;
    const bool known =
        std::any_of(allowed.begin(), allowed.end(), [&](const char* a) { return k == a; });
    if (!known) return badRequest("unknown query parameter " + k);
  }
  return true;
}

bool ApiCall::vip(VipKey& out) {
  const std::string& text = capture(0);
  const std::optional<VipKey> k = VipKey::parse(text);
  if (!k) return badRequest("VIP \"" + text + "\" is not an IP address (with /tcp or /udp)");
  out = *k;
  std::optional<std::string> proto;
  if (!param("protocol", proto)) return false;
  if (proto) {
    const std::optional<std::uint8_t> p = protocolNumber(*proto);
    if (!p) return badRequest("protocol must be tcp or udp");
    out.protocol = *p;
  }
  return true;
}

bool ApiCall::address(const std::string& text, Address& out, const char* what) {
  auto a = Address::parse(text);
  if (!a) return badRequest(std::string(what) + " \"" + text + "\" is not an IP address");
  out = *a;
  return true;
}

}  // namespace xlb
