// SPDX-License-Identifier: Apache-2.0
// The control API as one route table: method, path pattern, whether the route changes state,
// help text and handler. Dispatch (404, 405 with Allow, 401 for mutating routes, 413), the route
// listing xlbctl and the docs are checked against, and the handlers all come from it. Nothing
// here knows the HTTP library: api_server.cc turns pistache's request into an ApiRequest and an
// ApiReply back into a response, so dispatch and handlers are tested without a socket.
#pragma once

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "xlb/addr.h"
#include "xlb/config.h"
#include "xlb/enum_names.h"

namespace xlb {

class Controller;
struct ControlError;

enum class HttpMethod { kGet, kPost, kPut, kPatch, kDelete, kOther };
XLB_ENUM_NAMES(HttpMethod, {HttpMethod::kGet, "GET"}, {HttpMethod::kPost, "POST"},
               {HttpMethod::kPut, "PUT"}, {HttpMethod::kPatch, "PATCH"},
               {HttpMethod::kDelete, "DELETE"}, {HttpMethod::kOther, "OTHER"});

struct ApiRequest {
  HttpMethod method = HttpMethod::kGet;
  std::string resource;                                    // the path as sent (percent-encoded)
  std::vector<std::pair<std::string, std::string>> query;  // names and raw values
  std::string body;
  std::optional<std::string> authorization;  // the Authorization header
};

struct ApiReply {
  ApiReply() = default;
  ApiReply(int s, std::string b) : status(s), body(std::move(b)) {}
  int status = 200;
  std::string body;
  std::string contentType = "application/json";
  std::string allow;          // 405: the methods the path takes
  bool authenticate = false;  // 401: ask for the bearer token
  // Content-Security-Policy, for a reply a browser renders (the status page).
  std::string contentSecurityPolicy;
};

// A JSON reply (no body for 204; invalid UTF-8 in echoed request text is replaced).
ApiReply jsonReply(int status, const nlohmann::json& body);
// {"error": {"code": ..., "message": ...}}.
ApiReply errorReply(int status, const std::string& code, const std::string& message);
// The reply to a Controller's failure: its HTTP status and code (one table, api_routes.cc).
ApiReply failureReply(const ControlError& e);

struct ApiLimits {
  std::string token;  // mutating routes need "Authorization: Bearer <token>"
  std::size_t maxBodyBytes = 4u << 20;
};

// One request on its way through a handler: the route's captures ({vip}, ...), decoded, and the
// strict parsers every handler uses. Each returns false and sets `error` on bad input.
class ApiCall {
 public:
  ApiCall(Controller* controller, const ApiRequest& request, std::vector<std::string> captures)
      : controller_(controller), request_(request), captures_(std::move(captures)) {}

  Controller& controller() const { return *controller_; }
  const ApiRequest& request() const noexcept { return request_; }
  const std::string& capture(std::size_t i) const { return captures_.at(i); }

  ApiReply error;  // set by a parser that returned false

  bool body(nlohmann::json& out);  // a JSON object
  // A query parameter, percent-decoded (absent: nullopt).
  bool param(const std::string& name, std::optional<std::string>& out);
  bool uintParam(const std::string& name, std::uint64_t max, std::uint64_t dflt, std::uint64_t min,
                 std::uint64_t& out);
  bool onlyParams(std::initializer_list<const char*> allowed);
  bool address(const std::string& text, Address& out, const char* what);
  // The {vip} capture: an address, its protocol from ?protocol=tcp|udp (default tcp) or from a
  // "/udp" suffix in the (percent-encoded) segment.
  bool vip(VipKey& out);
  bool fail(int status, const std::string& code, const std::string& message);
  bool badRequest(const std::string& message) { return fail(400, "bad_request", message); }

 private:
  Controller* controller_;
  const ApiRequest& request_;
  std::vector<std::string> captures_;
};

struct Route {
  HttpMethod method;
  std::string_view pattern;  // "/api/v1/vips/{vip}/backends": {name} matches one segment
  bool mutating;
  std::string_view help;
  std::function<ApiReply(ApiCall&)> handler;
};

// The API's routes (api_routes.cc; handlers in api_handlers_*.cc).
std::span<const Route> apiRoutes();

// Finds the route for the request and runs it. Order: a malformed path is 400; a mutating
// method without the token is 401 (whether or not the path exists); an oversized body is 413;
// no pattern matches the path: 404; patterns match but not the method: 405 with Allow.
ApiReply dispatch(std::span<const Route> routes, const ApiLimits& limits, Controller* controller,
                  const ApiRequest& request);

// Path segments, percent-decoded; false when an escape is malformed.
bool splitPath(std::string_view resource, std::vector<std::string>& out);
// Whether a route pattern matches decoded segments; fills the captures when it does.
bool matchPattern(std::string_view pattern, const std::vector<std::string>& segments,
                  std::vector<std::string>& captures);

}  // namespace xlb
