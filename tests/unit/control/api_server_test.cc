// SPDX-License-Identifier: Apache-2.0
// The HTTP layer (api_server.cc) over a Controller on fakes, on loopback: what every reply's
// headers say, seen as a client sees them.
#include "xlb/api_server.h"

#include <gtest/gtest.h>

#include <cctype>
#include <memory>
#include <string>

#include "control_fakes.h"
#include "xlb/http_client.h"

namespace xlb {
namespace {

// The value of one response header ("" when absent); names compare without case.
std::string header(const std::string& raw, std::string name) {
  const auto lower = [](std::string s) {
    for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
  };
  name = lower(name) + ":";
  const std::string all = lower(raw);
  const auto at = all.find("\n" + name);
  if (at == std::string::npos) return {};
  const auto from = at + 1 + name.size();
  std::string v = raw.substr(from, raw.find('\r', from) - from);
  while (!v.empty() && v.front() == ' ') v.erase(0, 1);
  return v;
}

class ApiServerHeaders : public ::testing::Test {
 protected:
  void SetUp() override {
    ApiServerOptions o;
    o.port = 0;
    o.token = "t";
    server_ = std::make_unique<ApiServer>(*f_.controller, o);
    std::string err;
    ASSERT_TRUE(server_->start(err)) << err;
  }
  void TearDown() override { server_->stop(); }
  HttpResponse get(const std::string& path) {
    HttpRequest r;
    r.url = "http://127.0.0.1:" + std::to_string(server_->port()) + path;
    return httpRequest(r);
  }
  testing::ControlFixture f_;
  std::unique_ptr<ApiServer> server_;
};

TEST_F(ApiServerHeaders, EveryReplySaysNosniffAndOnlyThePageCarriesAPolicy) {
  for (const char* path : {"/api/v1/stats", "/api/v1/nothing", "/ui/app.js", "/ui"}) {
    const HttpResponse r = get(path);
    ASSERT_NE(r.status, 0) << path << ": " << r.error;
    EXPECT_EQ(header(r.headers, "X-Content-Type-Options"), "nosniff") << path << r.headers;
  }
  EXPECT_EQ(header(get("/api/v1/stats").headers, "Content-Security-Policy"), "");
  const HttpResponse page = get("/ui");
  EXPECT_EQ(page.status, 200);
  const std::string policy = header(page.headers, "Content-Security-Policy");
  EXPECT_EQ(policy.rfind("default-src 'none'; script-src 'self'", 0), 0u) << page.headers;
  EXPECT_NE(policy.find("frame-ancestors 'none'"), std::string::npos) << policy;
  // The page holds no inline script the policy would stop (its data block is not run).
  EXPECT_EQ(page.body.find("<script>"), std::string::npos);
}

}  // namespace
}  // namespace xlb
