// SPDX-License-Identifier: Apache-2.0
// One blocking HTTP request with libcurl: what xlbctl, the simulator and the API tests send to
// the control API. Not for the packet path.
#pragma once

#include <string>

namespace xlb {

struct HttpResponse {
  long status = 0;  // 0 when the request did not complete
  std::string body;
  std::string headers;  // raw response headers
  std::string error;    // transport failure, empty otherwise
};

struct HttpRequest {
  std::string method = "GET";
  std::string url;
  std::string body;
  std::string token;  // sent as "Authorization: Bearer <token>" when not empty
  std::string contentType = "application/json";
  long timeoutSeconds = 20;
};

HttpResponse httpRequest(const HttpRequest& r);

}  // namespace xlb
