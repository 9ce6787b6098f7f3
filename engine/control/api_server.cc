// SPDX-License-Identifier: Apache-2.0
#include "xlb/api_server.h"

#include <pistache/endpoint.h>
#include <pistache/http.h>
#include <spdlog/spdlog.h>

#include <charconv>
#include <vector>

#include "xlb/api_routes.h"
#include "xlb/boundary.h"

namespace xlb {

using nlohmann::json;
using namespace Pistache;

std::string percentDecode(std::string_view s, bool& ok) {
  ok = true;
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out.push_back(s[i]);
      continue;
    }
    unsigned v = 0;
    if (i + 2 >= s.size()) {
      ok = false;
      return {};
    }
    auto [p, ec] = std::from_chars(s.data() + i + 1, s.data() + i + 3, v, 16);
    if (ec != std::errc() || p != s.data() + i + 3) {
      ok = false;
      return {};
    }
    out.push_back(static_cast<char>(v));
    i += 2;
  }
  return out;
}

bool tokenEquals(std::string_view a, std::string_view b) noexcept {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  const std::size_t n = std::max(a.size(), b.size());
  for (std::size_t i = 0; i < n; ++i) {
    const auto x = static_cast<unsigned char>(i < a.size() ? a[i] : 0);
    const auto y = static_cast<unsigned char>(i < b.size() ? b[i] : 0);
    diff = static_cast<unsigned char>(diff | (x ^ y));
  }
  return diff == 0;
}

namespace {

struct Context {
  Controller* controller;
  ApiServerOptions options;
  ApiLimits limits;
};

HttpMethod methodOf(Http::Method m) {
  switch (m) {
    case Http::Method::Get:
      return HttpMethod::kGet;
    case Http::Method::Post:
      return HttpMethod::kPost;
    case Http::Method::Put:
      return HttpMethod::kPut;
    case Http::Method::Patch:
      return HttpMethod::kPatch;
    case Http::Method::Delete:
      return HttpMethod::kDelete;
    default:
      return HttpMethod::kOther;
  }
}

// pistache's request as the route table's: the library ends here.
ApiRequest toApiRequest(const Http::Request& req) {
  ApiRequest out;
  out.method = methodOf(req.method());
  out.resource = req.resource();
  for (const std::string& name : req.query().parameters()) {
    out.query.emplace_back(name, req.query().get(name).value_or(""));
  }
  out.body = req.body();
  if (auto h = req.headers().tryGet<Http::Header::Authorization>()) out.authorization = h->value();
  return out;
}

// Headers written as given. pistache 0.0.5 does not send headers added with addRaw().
// Cls names the class it declares, so it cannot be parenthesised.
// NOLINTBEGIN(bugprone-macro-parentheses)
#define XLB_TEXT_HEADER(Cls, text)                                \
  class Cls : public Http::Header::Header {                       \
   public:                                                        \
    NAME(text)                                                    \
    Cls() = default;                                              \
    explicit Cls(std::string v) : value_(std::move(v)) {}         \
    void write(std::ostream& os) const override { os << value_; } \
                                                                  \
   private:                                                       \
    std::string value_;                                           \
  };
XLB_TEXT_HEADER(ContentTypeText, "Content-Type")
XLB_TEXT_HEADER(AllowText, "Allow")
XLB_TEXT_HEADER(WwwAuthenticate, "WWW-Authenticate")
XLB_TEXT_HEADER(ContentSecurityPolicy, "Content-Security-Policy")
XLB_TEXT_HEADER(ContentTypeOptions, "X-Content-Type-Options")
#undef XLB_TEXT_HEADER
// NOLINTEND(bugprone-macro-parentheses)

class Handler : public Http::Handler {
 public:
  HTTP_PROTOTYPE(Handler)
  explicit Handler(std::shared_ptr<const Context> ctx) : ctx_(std::move(ctx)) {}

  void onRequest(const Http::Request& req, Http::ResponseWriter response) override {
    ApiReply r;
    // Never the exception's text in the reply: it may name internals. The log has it.
    const bool ok = guardBoundary(Boundary::kApi, [&] {
      faultPoint(Boundary::kApi);
      r = dispatch(apiRoutes(), ctx_->limits, ctx_->controller, toApiRequest(req));
    });
    if (!ok) r = errorReply(500, "internal", "internal error");
    try {
      if (r.authenticate)
        response.headers().add(std::make_shared<WwwAuthenticate>("Bearer realm=\"xlb\""));
      if (!r.allow.empty()) response.headers().add(std::make_shared<AllowText>(r.allow));
      response.headers().add(std::make_shared<ContentTypeText>(r.contentType));
      // A browser takes every reply as the type it is sent as, never as a guess.
      response.headers().add(std::make_shared<ContentTypeOptions>("nosniff"));
      if (!r.contentSecurityPolicy.empty()) {
        response.headers().add(std::make_shared<ContentSecurityPolicy>(r.contentSecurityPolicy));
      }
      response.send(static_cast<Http::Code>(r.status), r.body);
    } catch (const std::exception& e) {
      spdlog::warn("API: cannot send the response: {}", e.what());
    }
  }

  void onTimeout(const Http::Request&, Http::ResponseWriter response) override {
    try {
      const ApiReply r = errorReply(408, "request_timeout", "the request did not arrive in time");
      response.headers().add(std::make_shared<ContentTypeText>(r.contentType));
      response.send(Http::Code::Request_Timeout, r.body);
    } catch (...) {
    }
  }

 private:
  std::shared_ptr<const Context> ctx_;
};

}  // namespace

struct ApiServer::Impl {
  std::shared_ptr<Context> ctx;
  std::unique_ptr<Http::Endpoint> endpoint;
  bool running = false;
};

ApiServer::ApiServer(Controller& controller, ApiServerOptions options)
    : impl_(std::make_unique<Impl>()) {
  ApiLimits limits{options.token, options.maxBodyBytes};
  impl_->ctx =
      std::make_shared<Context>(Context{&controller, std::move(options), std::move(limits)});
}

ApiServer::~ApiServer() {
  stop();
}

bool ApiServer::start(std::string& error) {
  const ApiServerOptions& o = impl_->ctx->options;
  try {
    Pistache::Address addr(o.host.find(':') != std::string::npos ? "[" + o.host + "]" : o.host,
                           Pistache::Port(o.port));
    impl_->endpoint = std::make_unique<Http::Endpoint>(addr);
    auto opts = Http::Endpoint::options()
                    .threads(1)
                    .flags(Tcp::Options::ReuseAddr)
                    .maxRequestSize(o.maxBodyBytes + std::size_t{64} * 1024)
                    .headerTimeout(o.headerTimeout)
                    .bodyTimeout(o.bodyTimeout)
                    .keepaliveTimeout(o.keepaliveTimeout);
    impl_->endpoint->init(opts);
    impl_->endpoint->setHandler(std::make_shared<Handler>(impl_->ctx));
    impl_->endpoint->serveThreaded();
    impl_->running = true;
  } catch (const std::exception& e) {
    error = "cannot serve the API on " + o.host + ":" + std::to_string(o.port) + ": " + e.what();
    impl_->endpoint.reset();
    return false;
  }
  return true;
}

void ApiServer::stop() {
  if (impl_ && impl_->running) {
    impl_->endpoint->shutdown();
    // The listening socket closes with the endpoint, not at shutdown(): a process taking over
    // binds the same port next.
    impl_->endpoint.reset();
    impl_->running = false;
  }
}

std::uint16_t ApiServer::port() const noexcept {
  return impl_->endpoint ? static_cast<std::uint16_t>(impl_->endpoint->getPort()) : 0;
}

}  // namespace xlb
