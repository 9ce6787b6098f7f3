// SPDX-License-Identifier: Apache-2.0
// The places where an exception must stop: the API handler, the daemon's main loop, a worker
// and the health checker. Each catches, logs, counts (xlb_internal_errors_total{boundary}) and
// keeps serving. The list below is the only copy of the boundaries' names.
#pragma once

#include <array>
#include <cstdint>
#include <exception>
#include <string_view>

namespace xlb {

#define XLB_BOUNDARIES(X)  \
  X(Api, "api")            \
  X(MainLoop, "main_loop") \
  X(Worker, "worker")      \
  X(Health, "health_check")

enum class Boundary : std::uint8_t {
#define XLB_BOUNDARY_ENUM(c, n) k##c,
  XLB_BOUNDARIES(XLB_BOUNDARY_ENUM)
#undef XLB_BOUNDARY_ENUM
};

inline constexpr std::array<std::string_view, 4> kBoundaryNames = {
#define XLB_BOUNDARY_NAME(c, n) n,
    XLB_BOUNDARIES(XLB_BOUNDARY_NAME)
#undef XLB_BOUNDARY_NAME
};
inline constexpr std::size_t kBoundaryCount = kBoundaryNames.size();

// Exceptions caught at `b` since the process started (process-wide).
std::uint64_t boundaryErrors(Boundary b) noexcept;
// Logs (at most a few lines a second per boundary) and counts one exception caught at `b`.
void recordBoundaryError(Boundary b, std::string_view what) noexcept;

// Runs `fn`; an exception it throws is recorded at `b` instead of propagating. False when one
// was caught.
template <typename Fn>
bool guardBoundary(Boundary b, Fn&& fn) noexcept {
  try {
    fn();
    return true;
  } catch (const std::exception& e) {
    recordBoundaryError(b, e.what());
  } catch (...) {
    recordBoundaryError(b, "an exception that is not a std::exception");
  }
  return false;
}

// Fault injection for tests: the next faultPoint(b) throws (once). A faultPoint costs one
// relaxed atomic load; they sit on control paths only, never per packet.
void armFault(Boundary b) noexcept;
void faultPoint(Boundary b);

}  // namespace xlb
