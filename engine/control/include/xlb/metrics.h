// SPDX-License-Identifier: Apache-2.0
// Prometheus exposition of xlb's figures. Everything is read at scrape time from per-worker and
// per-CPU counters the data path keeps anyway; nothing is updated per packet in a registry.
#pragma once

#include <string>

#include "xlb/stats_view.h"

namespace xlb {

// The text exposition format (version 0.0.4), serialised by prometheus-cpp.
std::string renderMetrics(const StatsView& in);

inline constexpr const char* kMetricsContentType = "text/plain; version=0.0.4; charset=utf-8";

}  // namespace xlb
