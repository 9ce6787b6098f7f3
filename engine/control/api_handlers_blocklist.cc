// SPDX-License-Identifier: Apache-2.0
// The blocklist: list (paged), add, bulk import, remove.
#include <algorithm>
#include <sstream>

#include "api_handlers.h"
#include "api_render.h"
#include "xlb/api_server.h"
#include "xlb/controller.h"
#include "xlb/text.h"

namespace xlb::handlers {
namespace {

constexpr std::uint64_t kMaxTtl = 10ull * 365 * 24 * 3600;
constexpr std::uint64_t kMaxPage = 1000;
constexpr std::uint64_t kDefaultPage = 100;
constexpr std::size_t kMaxImportErrors = 100;

// One address or prefix per line; '#' starts a comment; blank lines are skipped. Lines that do
// not parse are refused here, the rest go to the Controller.
void parseImport(const std::string& text, std::vector<ImportLine>& lines,
                 std::vector<ImportRejection>& rejected) {
  std::istringstream in(text);
  std::string line;
  for (std::size_t n = 1; std::getline(in, line); ++n) {
    if (auto hash = line.find('#'); hash != std::string::npos) line.erase(hash);
    const auto b = line.find_first_not_of(" \t\r");
    if (b == std::string::npos) continue;
    const auto e = line.find_last_not_of(" \t\r");
    std::string t = line.substr(b, e - b + 1);
    if (auto p = Prefix::parse(t)) {
      lines.push_back({n, std::move(t), *p});
    } else {
      rejected.push_back({n, std::move(t), "not an address or CIDR prefix"});
    }
  }
}

// {"cidr": "...", "ttl_seconds": N|null, "comment": "..."}: fields, types and bounds.
bool parseBlock(ApiCall& call, std::optional<Prefix>& prefix, std::uint64_t& ttl,
                std::string& comment) {
  nlohmann::json j;
  if (!call.body(j)) return false;
  std::string cidr;
  for (const auto& [k, v] : j.items()) {
    if (k == "cidr" && v.is_string()) {
      cidr = v.get<std::string>();
    } else if (k == "comment" && v.is_string()) {
      comment = v.get<std::string>();
    } else if (k == "ttl_seconds" && (v.is_number_unsigned() || v.is_null())) {
      ttl = v.is_null() ? 0 : v.get<std::uint64_t>();
    } else if (k == "cidr" || k == "comment" || k == "ttl_seconds") {
      return call.badRequest("wrong type for \"" + k + "\"");
    } else {
      return call.badRequest("unknown field \"" + k + "\"");
    }
  }
  if (cidr.empty()) return call.badRequest("\"cidr\" is required");
  prefix = Prefix::parse(cidr);
  if (!prefix) return call.badRequest("\"" + cidr + "\" is not an address or CIDR prefix");
  if (ttl > kMaxTtl) return call.badRequest("ttl_seconds is at most " + std::to_string(kMaxTtl));
  if (comment.size() > kMaxBlockComment) return call.badRequest("comment is at most 256 bytes");
  return true;
}

}  // namespace

ApiReply listBlocklist(ApiCall& call) {
  std::uint64_t limit = 0;
  std::optional<std::string> next;
  if (!call.onlyParams({"limit", "next"}) ||
      !call.uintParam("limit", kMaxPage, kDefaultPage, 1, limit) || !call.param("next", next)) {
    return call.error;
  }
  if (next && !Prefix::parse(*next)) return errorReply(400, "bad_request", "malformed next token");
  return jsonReply(200,
                   render::blockPage(call.controller().listBlocklist(next.value_or(""), limit)));
}

ApiReply addBlock(ApiCall& call) {
  std::optional<Prefix> prefix;
  std::uint64_t ttl = 0;
  std::string comment;
  if (!parseBlock(call, prefix, ttl, comment)) return call.error;
  return render::replyOf(
      call.controller().addBlock(*prefix, static_cast<std::int64_t>(ttl), comment), 201,
      render::blockAdded);
}

ApiReply importBlocklist(ApiCall& call) {
  std::uint64_t ttl = 0;
  std::optional<std::string> comment;
  if (!call.onlyParams({"ttl_seconds", "comment"}) ||
      !call.uintParam("ttl_seconds", kMaxTtl, 0, 0, ttl) || !call.param("comment", comment)) {
    return call.error;
  }
  if (comment && comment->size() > kMaxBlockComment)
    return errorReply(400, "bad_request", "comment is at most 256 bytes");
  if (comment && !validUtf8(*comment))
    return errorReply(400, "bad_request", "comment is not valid UTF-8");
  std::vector<ImportLine> lines;
  std::vector<ImportRejection> rejected;
  parseImport(call.request().body, lines, rejected);
  auto r = call.controller().importBlocklist(lines, static_cast<std::int64_t>(ttl),
                                             comment.value_or("import"));
  if (const auto* e = std::get_if<ControlError>(&r)) return failureReply(*e);
  ImportOutcome& out = std::get<ImportOutcome>(r);
  // Refusals of both kinds in line order; the first 100 are listed.
  rejected.insert(rejected.end(), out.rejected.begin(), out.rejected.end());
  std::stable_sort(
      rejected.begin(), rejected.end(),
      [](const ImportRejection& a, const ImportRejection& b) { return a.line < b.line; });
  nlohmann::json errors = nlohmann::json::array();
  for (std::size_t i = 0; i < rejected.size() && i < kMaxImportErrors; ++i) {
    errors.push_back(
        {{"line", rejected[i].line}, {"text", rejected[i].text}, {"reason", rejected[i].reason}});
  }
  return jsonReply(200,
                   {{"accepted", out.accepted}, {"rejected", rejected.size()}, {"errors", errors}});
}

ApiReply removeBlock(ApiCall& call) {
  Address a;
  std::uint64_t len = 0;
  if (!call.address(call.capture(0), a, "address")) return call.error;
  if (!parseUint(call.capture(1), a.bitLength(), len)) {
    return errorReply(400, "bad_request",
                      "prefix length must be 0.." + std::to_string(a.bitLength()));
  }
  auto pre = Prefix::parse(call.capture(0) + "/" + call.capture(1));
  if (!pre || pre->addr != a) {
    return errorReply(400, "bad_request", "host bits are set below the prefix length");
  }
  if (auto e = call.controller().removeBlock(*pre)) return failureReply(*e);
  return jsonReply(204, nullptr);
}

}  // namespace xlb::handlers
