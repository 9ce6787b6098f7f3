// SPDX-License-Identifier: Apache-2.0
// libFuzzer target: every API request, through the route table, the handlers and a Controller
// over fakes of the maps and workers (tests/unit/control/control_fakes.h), as the HTTP layer
// hands them over. The input is a sequence of requests, each "<method byte><path>?<query>\n
// <body>" and separated by a 0 byte; bit 7 of the method byte leaves the token out.
//
// Held against every reply: a status the API documents (never 500: bad input is the client's
// error), a JSON body, an error body with a code and a message; and after each request the
// Controller still answers its status and stats, so no input leaves it broken.
#include <gtest/gtest.h>  // control_fakes.h's fixture reports with EXPECT_*
#include <spdlog/spdlog.h>

#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <string_view>

#include "control_fakes.h"
#include "fuzz_support.h"

namespace {

using namespace xlb;
constexpr const char* kHarness = "api-fuzz";

ApiRequest parseRequest(std::string_view text) {
  static constexpr HttpMethod kMethods[] = {HttpMethod::kGet,    HttpMethod::kPost,
                                            HttpMethod::kPut,    HttpMethod::kPatch,
                                            HttpMethod::kDelete, HttpMethod::kOther};
  ApiRequest r;
  const auto m = static_cast<std::uint8_t>(text.empty() ? 0 : text[0]);
  r.method = kMethods[(m & 0x7f) % 6];
  if (!(m & 0x80)) r.authorization = "Bearer t";
  if (!text.empty()) text.remove_prefix(1);
  const std::size_t nl = text.find('\n');
  const std::string_view url = text.substr(0, nl);
  r.body = nl == std::string_view::npos ? "" : std::string(text.substr(nl + 1));
  const std::size_t q = url.find('?');
  r.resource = std::string(url.substr(0, q));
  for (std::size_t i = q; i != std::string_view::npos && i < url.size();) {
    const std::size_t end = std::min(url.find('&', i + 1), url.size());
    const std::string_view item = url.substr(i + 1, end - i - 1);
    const std::size_t eq = item.find('=');
    r.query.emplace_back(std::string(item.substr(0, eq)),
                         eq == std::string_view::npos ? "" : std::string(item.substr(eq + 1)));
    i = end;
  }
  return r;
}

void checkReply(const ApiReply& r, const ApiRequest& req) {
  static const std::set<int> kDocumented = {200, 201, 202, 204, 400, 401,
                                            404, 405, 409, 413, 503, 507};
  if (!kDocumented.count(r.status)) {
    fuzz::finding(kHarness,
                  "status " + std::to_string(r.status) + " for " + req.resource + ": " + r.body);
  }
  if (r.status == 204 || r.contentType != "application/json") return;
  const auto j = nlohmann::json::parse(r.body, nullptr, false);
  if (j.is_discarded()) fuzz::finding(kHarness, "a reply that is not JSON: " + r.body);
  if (r.status >= 400 &&
      (!j.contains("error") || !j["error"].contains("code") || !j["error"].contains("message"))) {
    fuzz::finding(kHarness, "an error without a code and message: " + r.body);
  }
}

void checkAlive(xlb::testing::ControlFixture& f) {
  for (const char* path : {"/api/v1/stats", "/api/v1/vips", "/api/v1/config"}) {
    const ApiReply r = f.call(HttpMethod::kGet, path);
    if (r.status != 200) fuzz::finding(kHarness, std::string(path) + " answers " + r.body);
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  setenv("TMPDIR", "/dev/shm", 0);  // the fixture's state_dir: rewritten on most changes
  // The Controller logs every change at info: millions of lines a campaign, each formatted and
  // written. Warnings and errors still show.
  spdlog::set_level(spdlog::level::warn);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > 64 * 1024) return 0;
  xlb::testing::ControlFixture f(nullptr, 251);  // a small prime Maglev table: see ControllerDeps
  if (!f.started) fuzz::finding(kHarness, "the fixture's Controller did not start");
  std::string_view rest(reinterpret_cast<const char*>(data), size);
  for (int n = 0; n < 8 && !rest.empty(); ++n) {
    const std::size_t end = rest.find('\0');
    const ApiRequest req = parseRequest(rest.substr(0, end));
    rest = end == std::string_view::npos ? std::string_view{} : rest.substr(end + 1);
    checkReply(dispatch(apiRoutes(), ApiLimits{"t", 1 << 16}, f.controller.get(), req), req);
    f.now += 1;
    f.controller->tick();
  }
  checkAlive(f);
  return 0;
}
