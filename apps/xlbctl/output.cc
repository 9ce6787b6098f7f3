// SPDX-License-Identifier: Apache-2.0
// The API session (requests, errors, paging) and the text output xlbctl's commands share.
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>

#include "commands.h"

namespace xlbctl {

using nlohmann::json;

xlb::HttpResponse Session::request(const std::string& method, const std::string& path,
                                   const std::string& body, const std::string& contentType) const {
  xlb::HttpRequest r;
  r.method = method;
  r.url = api + path;
  r.body = body;
  r.token = token;
  r.contentType = contentType;
  r.timeoutSeconds = 30;
  return xlb::httpRequest(r);
}

json Session::expect(const xlb::HttpResponse& r) const {
  if (!r.error.empty()) {
    std::cerr << "xlbctl: cannot reach the API: " << r.error << "\n";
    std::exit(kExitUnreachable);
  }
  json j = json::parse(r.body, nullptr, false);
  if (r.status >= 400) {
    std::string msg = r.body;
    if (j.is_object() && j.contains("error")) {
      msg = j["error"].value("message", "") + " (" + j["error"].value("code", "") + ")";
    }
    std::cerr << "xlbctl: HTTP " << r.status << ": " << msg << "\n";
    if (r.status == 401) std::cerr << "xlbctl: pass the API token with --token-file\n";
    std::exit(kExitApi);
  }
  return r.body.empty() ? json(nullptr) : j;
}

json Session::pages(const std::string& path,
                    const std::vector<std::pair<std::string, std::string>>& params,
                    const Options& o) const {
  json items = json::array();
  std::string next;
  json last;
  do {
    auto p = params;
    p.emplace_back("limit", std::to_string(o.limit));
    p.emplace_back("next", next);
    last = expect(request("GET", path + query(p)));
    for (const json& it : last["items"]) items.push_back(it);
    next = last["next"].is_string() ? last["next"].get<std::string>() : "";
  } while (o.all && !next.empty());
  last["items"] = items;
  if (o.all) last["next"] = nullptr;
  return last;
}

void Session::show(const json& j) const {
  std::cout << j.dump(2) << "\n";
}

std::string urlEncode(const std::string& s) {
  std::string out;
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", c);
      out += buf;
    }
  }
  return out;
}

std::string query(const std::vector<std::pair<std::string, std::string>>& params) {
  std::string q;
  for (const auto& [k, v] : params) {
    if (v.empty()) continue;
    q += (q.empty() ? "?" : "&") + k + "=" + urlEncode(v);
  }
  return q;
}

std::string cell(const json& v) {
  if (v.is_null()) return "-";
  if (v.is_string()) return v.get<std::string>();
  return v.dump();
}

void printTable(const json& items, const std::vector<std::pair<std::string, std::string>>& cols) {
  std::vector<std::size_t> width;
  width.reserve(cols.size());
  for (const auto& [key, title] : cols) width.push_back(title.size());
  std::vector<std::vector<std::string>> rows;
  for (const json& it : items) {
    std::vector<std::string> row;
    row.reserve(cols.size());
    for (std::size_t i = 0; i < cols.size(); ++i) {
      row.push_back(cell(it.contains(cols[i].first) ? it[cols[i].first] : json(nullptr)));
      width[i] = std::max(width[i], row.back().size());
    }
    rows.push_back(std::move(row));
  }
  auto line = [&](const std::vector<std::string>& r) {
    for (std::size_t i = 0; i < r.size(); ++i) {
      std::cout << r[i] << (i + 1 < r.size() ? std::string(width[i] - r[i].size() + 2, ' ') : "");
    }
    std::cout << "\n";
  };
  std::vector<std::string> head;
  head.reserve(cols.size());
  for (const auto& [key, title] : cols) head.push_back(title);
  line(head);
  for (const auto& r : rows) line(r);
}

std::string readAll(const std::string& path) {
  std::ostringstream s;
  if (path == "-") {
    s << std::cin.rdbuf();
    return s.str();
  }
  std::ifstream f(path);
  if (!f) {
    std::cerr << "xlbctl: cannot read " << path << "\n";
    std::exit(kExitUsage);
  }
  s << f.rdbuf();
  return s.str();
}

}  // namespace xlbctl
