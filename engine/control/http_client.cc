// SPDX-License-Identifier: Apache-2.0
#include "xlb/http_client.h"

#include <curl/curl.h>

namespace xlb {
namespace {

std::size_t collect(char* p, std::size_t size, std::size_t n, void* out) {
  static_cast<std::string*>(out)->append(p, size * n);
  return size * n;
}

}  // namespace

HttpResponse httpRequest(const HttpRequest& r) {
  HttpResponse out;
  CURL* c = curl_easy_init();
  if (c == nullptr) {
    out.error = "cannot initialise libcurl";
    return out;
  }
  curl_slist* headers = nullptr;
  if (!r.token.empty())
    headers = curl_slist_append(headers, ("Authorization: Bearer " + r.token).c_str());
  headers = curl_slist_append(headers, "Expect:");  // no 100-continue round trip for large bodies
  if (!r.body.empty() || r.method == "POST" || r.method == "PATCH" || r.method == "PUT") {
    headers = curl_slist_append(headers, ("Content-Type: " + r.contentType).c_str());
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, r.body.c_str());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, static_cast<long>(r.body.size()));
  }
  curl_easy_setopt(c, CURLOPT_URL, r.url.c_str());
  curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, r.method.c_str());
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &out.body);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, collect);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &out.headers);
  curl_easy_setopt(c, CURLOPT_TIMEOUT, r.timeoutSeconds);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 5L);
  const CURLcode rc = curl_easy_perform(c);
  if (rc != CURLE_OK) {
    out.error = std::string(curl_easy_strerror(rc)) + " (" + r.url + ")";
  } else {
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out.status);
  }
  curl_slist_free_all(headers);
  curl_easy_cleanup(c);
  return out;
}

}  // namespace xlb
