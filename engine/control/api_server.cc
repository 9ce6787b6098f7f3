// SPDX-License-Identifier: Apache-2.0
#include "xlb/api_server.h"

#include <pistache/endpoint.h>
#include <pistache/http.h>
#include <spdlog/spdlog.h>

#include <charconv>
#include <vector>

#include "xlb/boundary.h"
#include "xlb/metrics.h"
#include "xlb/text.h"

namespace xlb {

using nlohmann::json;
using namespace Pistache;

bool parseUint(std::string_view s, std::uint64_t max, std::uint64_t& out) {
  if (s.empty() || s.size() > 20) return false;
  std::uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v > max) return false;
  out = v;
  return true;
}

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

constexpr std::uint64_t kMaxTtl = 10ull * 365 * 24 * 3600;
constexpr std::uint64_t kMaxPage = 1000;
constexpr std::uint64_t kDefaultPage = 100;

struct Reply {
  Reply() = default;
  Reply(int s, std::string b) : status(s), body(std::move(b)) {}
  int status = 200;
  std::string body;
  std::string contentType = "application/json";
  std::string allow;          // 405
  bool authenticate = false;  // 401
};

Reply jsonReply(const ApiResult& r) {
  Reply out;
  out.status = r.status;
  // Messages may echo request text (a path, a parameter name) that is not valid UTF-8: such bytes
  // are replaced, never allowed to make the reply itself fail.
  if (r.status != 204)
    out.body = r.body.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
  return out;
}

Reply errorReply(int status, const std::string& code, const std::string& message) {
  return jsonReply(ApiResult::error(status, code, message));
}

struct Context {
  Controller* controller;
  ApiServerOptions options;
};

std::vector<std::string> splitPath(const std::string& resource, bool& ok) {
  std::vector<std::string> parts;
  ok = true;
  std::size_t i = 0;
  while (i < resource.size()) {
    if (resource[i] == '/') {
      ++i;
      continue;
    }
    const auto j = resource.find('/', i);
    const std::string raw = resource.substr(i, j == std::string::npos ? std::string::npos : j - i);
    bool good = true;
    parts.push_back(percentDecode(raw, good));
    ok = ok && good;
    if (j == std::string::npos) break;
    i = j;
  }
  return parts;
}

class Dispatcher {
 public:
  explicit Dispatcher(const Context& ctx) : ctx_(ctx) {}

  Reply handle(const Http::Request& req) {
    const Http::Method m = req.method();
    bool pathOk = true;
    const std::vector<std::string> p = splitPath(req.resource(), pathOk);
    if (!pathOk) return errorReply(400, "bad_request", "malformed percent-encoding in the path");
    const bool mutating = m == Http::Method::Post || m == Http::Method::Put ||
                          m == Http::Method::Patch || m == Http::Method::Delete;
    if (mutating && !authorized(req)) {
      Reply r =
          errorReply(401, "unauthorized",
                     "this request needs \"Authorization: Bearer <token>\" with the API token");
      r.authenticate = true;
      return r;
    }
    if (req.body().size() > ctx_.options.maxBodyBytes) {
      return errorReply(
          413, "payload_too_large",
          "request body over " + std::to_string(ctx_.options.maxBodyBytes) + " bytes");
    }
    query_ = &req.query();
    body_ = &req.body();
    Controller& c = *ctx_.controller;

    if (p.size() == 1 && p[0] == "healthz") {
      if (m != Http::Method::Get) return notAllowed("GET");
      return Reply{200, "{\"status\":\"ok\"}\n"};
    }
    if (p.size() == 1 && p[0] == "readyz") {
      if (m != Http::Method::Get) return notAllowed("GET");
      std::string why;
      if (!c.ready(why)) return errorReply(503, "not_ready", why);
      return Reply{200, "{\"status\":\"ready\"}\n"};
    }
    if (p.size() == 1 && p[0] == "metrics") {
      if (m != Http::Method::Get) return notAllowed("GET");
      Reply r{200, c.metrics()};
      r.contentType = kMetricsContentType;
      return r;
    }
    if (p.size() < 3 || p[0] != "api" || p[1] != "v1") return notFound(req.resource());
    const std::string& what = p[2];
    if (what == "stats" && p.size() == 3) {
      if (m != Http::Method::Get) return notAllowed("GET");
      return jsonReply(c.stats());
    }
    if (what == "config" && p.size() == 3) {
      if (m == Http::Method::Get) return jsonReply(c.getConfig());
      if (m == Http::Method::Patch) {
        json j;
        if (Reply e; !parseBody(j, e)) return e;
        return jsonReply(c.patchConfig(j));
      }
      return notAllowed("GET, PATCH");
    }
    if (what == "blocklist") return blocklist(m, p);
    if (what == "vips") return vips(m, p);
    if (what == "connections" && p.size() == 3) return connections(m);
    return notFound(req.resource());
  }

 private:
  bool authorized(const Http::Request& req) const {
    auto h = req.headers().tryGet<Http::Header::Authorization>();
    if (!h) return false;
    const std::string v = h->value();
    constexpr std::string_view kBearer = "Bearer ";
    if (v.size() <= kBearer.size() || v.compare(0, kBearer.size(), kBearer) != 0) return false;
    return !ctx_.options.token.empty() &&
           tokenEquals(std::string_view(v).substr(kBearer.size()), ctx_.options.token);
  }

  static Reply notFound(const std::string& path) {
    return errorReply(404, "not_found", "no such endpoint: " + path);
  }
  static Reply notAllowed(const std::string& allow) {
    Reply r = errorReply(405, "method_not_allowed", "allowed: " + allow);
    r.allow = allow;
    return r;
  }

  bool parseBody(json& j, Reply& err) const {
    try {
      j = json::parse(*body_);
    } catch (const json::exception&) {
      err = errorReply(400, "bad_request", "the body is not valid JSON");
      return false;
    }
    if (!j.is_object()) {
      err = errorReply(400, "bad_request", "the body must be a JSON object");
      return false;
    }
    return true;
  }

  // A query parameter, percent-decoded; false (with `err`) when malformed.
  bool param(const std::string& name, std::optional<std::string>& out, Reply& err) const {
    out = query_->get(name);
    if (!out) return true;
    bool ok = true;
    out = percentDecode(*out, ok);
    if (!ok) err = errorReply(400, "bad_request", "malformed percent-encoding in " + name);
    return ok;
  }
  bool uintParam(const std::string& name, std::uint64_t max, std::uint64_t dflt, std::uint64_t min,
                 std::uint64_t& out, Reply& err) const {
    std::optional<std::string> v;
    if (!param(name, v, err)) return false;
    out = dflt;
    if (!v) return true;
    if (!parseUint(*v, max, out) || out < min) {
      err = errorReply(
          400, "bad_request",
          name + " must be an integer " + std::to_string(min) + ".." + std::to_string(max));
      return false;
    }
    return true;
  }
  bool onlyParams(std::initializer_list<const char*> allowed, Reply& err) const {
    for (const std::string& k : query_->parameters()) {
      bool known = false;
      for (const char* a : allowed) known = known || k == a;
      if (!known) {
        err = errorReply(400, "bad_request", "unknown query parameter " + k);
        return false;
      }
    }
    return true;
  }

  static bool address(const std::string& s, Address& out, Reply& err, const char* what) {
    auto a = Address::parse(s);
    if (!a) {
      err =
          errorReply(400, "bad_request", std::string(what) + " \"" + s + "\" is not an IP address");
      return false;
    }
    out = *a;
    return true;
  }

  Reply blocklist(Http::Method m, const std::vector<std::string>& p) {
    Controller& c = *ctx_.controller;
    Reply err;
    if (p.size() == 3) {
      if (m == Http::Method::Get) {
        std::uint64_t limit = 0;
        std::optional<std::string> next;
        if (!onlyParams({"limit", "next"}, err) ||
            !uintParam("limit", kMaxPage, kDefaultPage, 1, limit, err) ||
            !param("next", next, err)) {
          return err;
        }
        if (next && !Prefix::parse(*next))
          return errorReply(400, "bad_request", "malformed next token");
        return jsonReply(c.listBlocklist(next.value_or(""), limit));
      }
      if (m == Http::Method::Post) {
        json j;
        if (!parseBody(j, err)) return err;
        std::string cidr, comment;
        std::uint64_t ttl = 0;
        for (const auto& [k, v] : j.items()) {
          if (k == "cidr" && v.is_string())
            cidr = v.get<std::string>();
          else if (k == "comment" && v.is_string())
            comment = v.get<std::string>();
          else if (k == "ttl_seconds" && v.is_number_unsigned())
            ttl = v.get<std::uint64_t>();
          else if (k == "ttl_seconds" && v.is_null())
            ttl = 0;
          else if (k == "cidr" || k == "comment" || k == "ttl_seconds") {
            return errorReply(400, "bad_request", "wrong type for \"" + k + "\"");
          } else {
            return errorReply(400, "bad_request", "unknown field \"" + k + "\"");
          }
        }
        if (cidr.empty()) return errorReply(400, "bad_request", "\"cidr\" is required");
        auto pre = Prefix::parse(cidr);
        if (!pre)
          return errorReply(400, "bad_request",
                            "\"" + cidr + "\" is not an address or CIDR prefix");
        if (ttl > kMaxTtl)
          return errorReply(400, "bad_request",
                            "ttl_seconds is at most " + std::to_string(kMaxTtl));
        if (comment.size() > kMaxBlockComment)
          return errorReply(400, "bad_request", "comment is at most 256 bytes");
        return jsonReply(c.addBlock(*pre, static_cast<std::int64_t>(ttl), comment));
      }
      return notAllowed("GET, POST");
    }
    if (p.size() == 4 && p[3] == "import") {
      if (m != Http::Method::Post) return notAllowed("POST");
      std::uint64_t ttl = 0;
      std::optional<std::string> comment;
      if (!onlyParams({"ttl_seconds", "comment"}, err) ||
          !uintParam("ttl_seconds", kMaxTtl, 0, 0, ttl, err) || !param("comment", comment, err)) {
        return err;
      }
      if (comment && comment->size() > kMaxBlockComment)
        return errorReply(400, "bad_request", "comment is at most 256 bytes");
      if (comment && !validUtf8(*comment))
        return errorReply(400, "bad_request", "comment is not valid UTF-8");
      return jsonReply(
          c.importBlocklist(*body_, static_cast<std::int64_t>(ttl), comment.value_or("import")));
    }
    if (p.size() == 5) {
      if (m != Http::Method::Delete) return notAllowed("DELETE");
      Address a;
      std::uint64_t len = 0;
      if (!address(p[3], a, err, "address")) return err;
      if (!parseUint(p[4], a.bitLength(), len)) {
        return errorReply(400, "bad_request",
                          "prefix length must be 0.." + std::to_string(a.bitLength()));
      }
      auto pre = Prefix::parse(p[3] + "/" + p[4]);
      if (!pre || pre->addr != a) {
        return errorReply(400, "bad_request", "host bits are set below the prefix length");
      }
      return jsonReply(c.removeBlock(*pre));
    }
    return notFound("/api/v1/blocklist/...");
  }

  Reply vips(Http::Method m, const std::vector<std::string>& p) {
    Controller& c = *ctx_.controller;
    Reply err;
    if (p.size() == 3) {
      if (m != Http::Method::Get) return notAllowed("GET");
      return jsonReply(c.listVips());
    }
    if (p.size() < 5 || p[4] != "backends" || p.size() > 6) return notFound("/api/v1/vips/...");
    Address vip;
    if (!address(p[3], vip, err, "VIP")) return err;
    if (p.size() == 5) {
      if (m == Http::Method::Get) return jsonReply(c.listBackends(vip));
      if (m == Http::Method::Post) {
        json j;
        if (!parseBody(j, err)) return err;
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
        Address b;
        if (addr.empty()) return errorReply(400, "bad_request", "\"address\" is required");
        if (!address(addr, b, err, "backend")) return err;
        if (weight > kMaxWeight)
          return errorReply(400, "bad_request", "weight must be 0.." + std::to_string(kMaxWeight));
        return jsonReply(c.addBackend(vip, b, static_cast<std::uint32_t>(weight)));
      }
      return notAllowed("GET, POST");
    }
    Address b;
    if (!address(p[5], b, err, "backend")) return err;
    if (m == Http::Method::Patch) {
      json j;
      if (!parseBody(j, err)) return err;
      std::optional<std::uint32_t> weight;
      std::optional<BackendState> state;
      for (const auto& [k, v] : j.items()) {
        if (k == "weight" && v.is_number_unsigned() && v.get<std::uint64_t>() <= kMaxWeight) {
          weight = static_cast<std::uint32_t>(v.get<std::uint64_t>());
        } else if (k == "state" && v.is_string() && parseBackendState(v.get<std::string>())) {
          state = parseBackendState(v.get<std::string>());
        } else if (k == "weight") {
          return errorReply(400, "bad_request",
                            "weight must be an integer 0.." + std::to_string(kMaxWeight));
        } else if (k == "state") {
          return errorReply(400, "bad_request", "state must be active, draining or down");
        } else {
          return errorReply(400, "bad_request", "unknown field \"" + k + "\"");
        }
      }
      if (!weight && !state)
        return errorReply(400, "bad_request", "nothing to change: give weight and/or state");
      return jsonReply(c.setBackend(vip, b, weight, state));
    }
    if (m == Http::Method::Delete) {
      std::optional<std::string> force;
      if (!onlyParams({"force"}, err) || !param("force", force, err)) return err;
      if (force && *force != "true" && *force != "false") {
        return errorReply(400, "bad_request", "force must be true or false");
      }
      return jsonReply(c.removeBackend(vip, b, force && *force == "true"));
    }
    return notAllowed("PATCH, DELETE");
  }

  Reply connections(Http::Method m) {
    Controller& c = *ctx_.controller;
    Reply err;
    if (m == Http::Method::Delete) {
      std::optional<std::string> client;
      if (!onlyParams({"client"}, err) || !param("client", client, err)) return err;
      Address a;
      std::uint16_t port = 0;
      if (!client || !parseAddrPort(*client, a, port)) {
        return errorReply(400, "bad_request",
                          "client=ADDR:PORT is required ([ADDR]:PORT for IPv6)");
      }
      return jsonReply(c.killConnections(a, port));
    }
    if (m != Http::Method::Get) return notAllowed("GET, DELETE");
    if (!onlyParams({"client", "backend", "vip", "state", "limit", "next"}, err)) return err;
    ConnFilter f;
    std::optional<std::string> client, backend, vip, state, next;
    std::uint64_t limit = 0;
    if (!param("client", client, err) || !param("backend", backend, err) ||
        !param("vip", vip, err) || !param("state", state, err) || !param("next", next, err) ||
        !uintParam("limit", kMaxPage, kDefaultPage, 1, limit, err)) {
      return err;
    }
    if (client) {
      Address a;
      std::uint16_t port = 0;
      if (parseAddrPort(*client, a, port)) {
        f.client = a;
        f.clientPort = port;
      } else if (auto plain = Address::parse(*client)) {
        f.client = *plain;
      } else {
        return errorReply(400, "bad_request", "client must be ADDR or ADDR:PORT");
      }
    }
    Address a;
    if (backend) {
      if (!address(*backend, a, err, "backend")) return err;
      f.backend = a;
    }
    if (vip) {
      if (!address(*vip, a, err, "VIP")) return err;
      f.vip = a;
    }
    if (state) {
      for (std::size_t i = 1; i < kTcpStateCount; ++i) {
        if (tcpStateName(static_cast<TcpState>(i)) == *state) f.state = static_cast<TcpState>(i);
      }
      if (!f.state) return errorReply(400, "bad_request", "unknown state " + *state);
    }
    return jsonReply(c.listConnections(f, next.value_or(""), static_cast<std::uint32_t>(limit)));
  }

  const Context& ctx_;
  const Http::Uri::Query* query_ = nullptr;
  const std::string* body_ = nullptr;
};

// Headers written as given. pistache 0.0.5 does not send headers added with addRaw().
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
#undef XLB_TEXT_HEADER

class Handler : public Http::Handler {
 public:
  HTTP_PROTOTYPE(Handler)
  explicit Handler(std::shared_ptr<const Context> ctx) : ctx_(std::move(ctx)) {}

  void onRequest(const Http::Request& req, Http::ResponseWriter response) override {
    Reply r;
    // Never the exception's text in the reply: it may name internals. The log has it.
    const bool ok = guardBoundary(Boundary::kApi, [&] {
      faultPoint(Boundary::kApi);
      Dispatcher d(*ctx_);
      r = d.handle(req);
    });
    if (!ok) r = errorReply(500, "internal", "internal error");
    try {
      if (r.authenticate)
        response.headers().add(std::make_shared<WwwAuthenticate>("Bearer realm=\"xlb\""));
      if (!r.allow.empty()) response.headers().add(std::make_shared<AllowText>(r.allow));
      response.headers().add(std::make_shared<ContentTypeText>(r.contentType));
      response.send(static_cast<Http::Code>(r.status), r.body);
    } catch (const std::exception& e) {
      spdlog::warn("API: cannot send the response: {}", e.what());
    }
  }

  void onTimeout(const Http::Request&, Http::ResponseWriter response) override {
    try {
      const Reply r = errorReply(408, "request_timeout", "the request did not arrive in time");
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
  impl_->ctx = std::make_shared<Context>(Context{&controller, std::move(options)});
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
                    .maxRequestSize(o.maxBodyBytes + 64 * 1024)
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
    impl_->running = false;
  }
}

std::uint16_t ApiServer::port() const noexcept {
  return impl_->endpoint ? static_cast<std::uint16_t>(impl_->endpoint->getPort()) : 0;
}

}  // namespace xlb
