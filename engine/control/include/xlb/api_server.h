// SPDX-License-Identifier: Apache-2.0
// The control API over HTTP (pistache): /healthz, /readyz, /metrics and /api/v1/*. One server
// thread (pistache's router is not safe with several, see docs/ARCHITECTURE.md). The server only
// adapts: it turns pistache's request into an ApiRequest for the route table (api_routes.h),
// which dispatches, authenticates and runs the handlers, and sends the ApiReply back.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "xlb/controller.h"
#include "xlb/text.h"

namespace xlb {

struct ApiServerOptions {
  std::string host = "127.0.0.1";
  std::uint16_t port = 9180;            // 0: any free port (tests)
  std::string token;                    // required for POST, PATCH, PUT, DELETE
  std::size_t maxBodyBytes = 4u << 20;  // bulk imports of a few hundred thousand lines
  std::chrono::milliseconds headerTimeout{5000};
  std::chrono::milliseconds bodyTimeout{10000};
  std::chrono::milliseconds keepaliveTimeout{15000};
};

class ApiServer {
 public:
  ApiServer(Controller& controller, ApiServerOptions options);
  ~ApiServer();
  ApiServer(const ApiServer&) = delete;
  ApiServer& operator=(const ApiServer&) = delete;

  // Binds and serves on a background thread. False with `error` set.
  bool start(std::string& error);
  void stop();
  std::uint16_t port() const noexcept;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

// Helpers of the route table and its handlers (numbers: parseUint in xlb/text.h).
std::string percentDecode(std::string_view s, bool& ok);
// Constant-time comparison (length leaks, content does not).
bool tokenEquals(std::string_view a, std::string_view b) noexcept;

}  // namespace xlb
