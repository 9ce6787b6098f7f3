// SPDX-License-Identifier: Apache-2.0
#include "xlb/auto_block_json.h"

#include "xlb/json_read.h"

namespace xlb {

using nlohmann::json;

json autoBlockToJson(const AutoBlockConfig& c) {
  json limits = json::object();
  for (std::size_t i = 0; i < kSourceKindCount; ++i) limits[kSourceKindNames[i]] = c.limits[i];
  json allow = json::array();
  for (const Prefix& p : c.allow) allow.push_back(p.toString());
  return {{"mode", enumName(c.mode)},
          {"window_ms", c.window / kNsPerMs},
          {"limits", limits},
          {"ttl_s", c.ttl / kNsPerSec},
          {"fold", {{"ipv4", c.foldV4}, {"ipv6", c.foldV6}, {"sources", c.foldSources}}},
          {"allow", allow}};
}

namespace {

void readFold(const json& f, AutoBlockPatch& c) {
  onlyFields(f, {"ipv4", "ipv6", "sources"}, "fold");
  if (f.contains("ipv4")) c.foldV4 = jsonInt<std::uint8_t>(f["ipv4"], "fold.ipv4", 8, 32);
  if (f.contains("ipv6")) c.foldV6 = jsonInt<std::uint8_t>(f["ipv6"], "fold.ipv6", 16, 128);
  if (f.contains("sources")) {
    c.foldSources =
        jsonInt<std::uint32_t>(f["sources"], "fold.sources", 0, kMaxAutoBlockFoldSources);
  }
}

}  // namespace

AutoBlockPatch autoBlockPatchFromJson(const json& j) {
  AutoBlockPatch c;
  onlyFields(j, {"mode", "window_ms", "limits", "ttl_s", "fold", "allow"}, "auto_block");
  if (j.contains("mode")) {
    const std::optional<AutoBlockMode> m =
        parseEnum<AutoBlockMode>(jsonString(j["mode"], "mode", 16));
    if (!m) throw JsonReadError("\"mode\" is not one of " + enumChoices<AutoBlockMode>());
    c.mode = *m;
  }
  if (j.contains("window_ms")) {
    c.window =
        kNsPerMs * jsonInt<TimeNs>(j["window_ms"], "window_ms", kMinAutoBlockWindow / kNsPerMs,
                                   kMaxAutoBlockWindow / kNsPerMs);
  }
  if (j.contains("limits")) {
    const json& l = j["limits"];
    if (!l.is_object()) throw JsonReadError("\"limits\" is not an object");
    for (const auto& [k, v] : l.items()) {
      const std::optional<SourceKind> kind = sourceKindByName(k);
      if (!kind) throw JsonReadError("unknown field \"limits." + k + "\"");
      c.limits[static_cast<std::size_t>(*kind)] =
          jsonInt<std::uint32_t>(v, "limits." + k, 0, kMaxAutoBlockLimit);
    }
  }
  if (j.contains("ttl_s")) {
    c.ttl = kNsPerSec * jsonInt<TimeNs>(j["ttl_s"], "ttl_s", 1, kMaxTimeout / kNsPerSec);
  }
  if (j.contains("fold")) readFold(j["fold"], c);
  if (j.contains("allow")) {
    const json& a = j["allow"];
    if (!a.is_array() || a.size() > kMaxAutoBlockAllow) {
      throw JsonReadError("\"allow\" is not an array of at most " +
                          std::to_string(kMaxAutoBlockAllow) + " prefixes");
    }
    c.allow.emplace();
    for (const json& p : a) {
      const std::optional<Prefix> pfx = Prefix::parse(jsonString(p, "allow[]", 64));
      if (!pfx) throw JsonReadError("\"allow\" holds something that is not a prefix");
      c.allow->push_back(*pfx);
    }
  }
  return c;
}

}  // namespace xlb
