// SPDX-License-Identifier: Apache-2.0
// The route table: dispatch (404, 405 with Allow, 401 before anything about the path, 413, 400
// for a malformed path, captures decoded), and the three other copies of the API's shape checked
// against it: every route is in docs/openapi.yaml and has an xlbctl command, and neither names
// a route the table does not have.
#include "xlb/api_routes.h"

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <set>

#include "xlbctl/commands.h"

namespace xlb {
namespace {

std::vector<Route> fakeRoutes(std::vector<std::string>& seen) {
  auto record = [&seen](ApiCall& call) {
    seen.push_back(call.capture(0));
    return ApiReply{200, "{}"};
  };
  return {
      {HttpMethod::kGet, "/api/v1/things/{id}", false, "get", record},
      {HttpMethod::kDelete, "/api/v1/things/{id}", true, "delete", record},
  };
}

ApiRequest request(HttpMethod m, std::string resource, std::optional<std::string> auth = {}) {
  ApiRequest r;
  r.method = m;
  r.resource = std::move(resource);
  r.authorization = std::move(auth);
  return r;
}

TEST(ApiRoutes, DispatchFindsTheRouteAndDecodesCaptures) {
  std::vector<std::string> seen;
  const std::vector<Route> routes = fakeRoutes(seen);
  const ApiLimits limits{"secret", 10};
  EXPECT_EQ(
      dispatch(routes, limits, nullptr, request(HttpMethod::kGet, "/api/v1/things/a%2Fb")).status,
      200);
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0], "a/b");
  const ApiReply missing = dispatch(routes, limits, nullptr, request(HttpMethod::kGet, "/nope"));
  EXPECT_EQ(missing.status, 404);
  const ApiReply wrong = dispatch(routes, limits, nullptr,
                                  request(HttpMethod::kPut, "/api/v1/things/x", "Bearer secret"));
  EXPECT_EQ(wrong.status, 405);
  EXPECT_EQ(wrong.allow, "GET, DELETE");
  EXPECT_EQ(
      dispatch(routes, limits, nullptr, request(HttpMethod::kGet, "/api/v1/things/%zz")).status,
      400);
  EXPECT_EQ(seen.size(), 1u);
}

TEST(ApiRoutes, MutatingRoutesNeedTheTokenAndBodiesHaveALimit) {
  std::vector<std::string> seen;
  const std::vector<Route> routes = fakeRoutes(seen);
  const ApiLimits limits{"secret", 10};
  const ApiReply noToken =
      dispatch(routes, limits, nullptr, request(HttpMethod::kDelete, "/api/v1/things/x"));
  EXPECT_EQ(noToken.status, 401);
  EXPECT_TRUE(noToken.authenticate);
  EXPECT_EQ(dispatch(routes, limits, nullptr,
                     request(HttpMethod::kDelete, "/api/v1/things/x", "Bearer wrong"))
                .status,
            401);
  // An unknown path says nothing before the token is checked.
  EXPECT_EQ(dispatch(routes, limits, nullptr, request(HttpMethod::kPost, "/elsewhere")).status,
            401);
  EXPECT_TRUE(seen.empty());
  ApiRequest big = request(HttpMethod::kDelete, "/api/v1/things/x", "Bearer secret");
  big.body = std::string(11, 'x');
  EXPECT_EQ(dispatch(routes, limits, nullptr, big).status, 413);
  EXPECT_EQ(dispatch(routes, limits, nullptr,
                     request(HttpMethod::kDelete, "/api/v1/things/x", "Bearer secret"))
                .status,
            200);
  // No token configured: mutating routes are closed to everyone.
  EXPECT_EQ(dispatch(routes, ApiLimits{"", 10}, nullptr,
                     request(HttpMethod::kDelete, "/api/v1/things/x", "Bearer "))
                .status,
            401);
}

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

using RouteKey = std::pair<std::string, std::string>;  // lowercase method, pattern

std::set<RouteKey> tableRoutes() {
  std::set<RouteKey> out;
  for (const Route& r : apiRoutes()) {
    EXPECT_TRUE(out.emplace(lower(enumName(r.method)), std::string(r.pattern)).second)
        << r.pattern << " twice";
    EXPECT_FALSE(r.help.empty()) << r.pattern;
    const bool mutatingMethod = r.method != HttpMethod::kGet;
    EXPECT_EQ(r.mutating, mutatingMethod) << r.pattern;
  }
  return out;
}

TEST(ApiRoutes, OpenApiDocumentsExactlyTheRouteTable) {
  const YAML::Node doc = YAML::LoadFile(std::string(XLB_SOURCE_DIR) + "/docs/openapi.yaml");
  std::set<RouteKey> documented;
  for (const auto& path : doc["paths"]) {
    for (const auto& op : path.second) {
      const std::string method = op.first.as<std::string>();
      if (method == "parameters") continue;
      documented.emplace(method, path.first.as<std::string>());
    }
  }
  EXPECT_EQ(documented, tableRoutes());
}

TEST(ApiRoutes, EveryRouteHasAnXlbctlCommandAndNoCommandCallsAnUnknownRoute) {
  const std::set<RouteKey> routes = tableRoutes();
  std::set<RouteKey> used;
  for (const xlbctl::Command& c : xlbctl::commands()) {
    EXPECT_FALSE(c.uses.empty()) << c.name;
    for (const xlbctl::ApiUse& u : c.uses) {
      const RouteKey k{lower(u.method), std::string(u.pattern)};
      EXPECT_TRUE(routes.count(k)) << c.group << " " << c.name << " uses " << u.method << " "
                                   << u.pattern << ", which the route table does not have";
      used.insert(k);
    }
  }
  for (const RouteKey& r : routes) {
    EXPECT_TRUE(used.count(r)) << r.first << " " << r.second << " has no xlbctl command";
  }
}

}  // namespace
}  // namespace xlb
