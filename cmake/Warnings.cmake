# SPDX-License-Identifier: Apache-2.0
# High warning levels for xlb's own targets only (third-party headers are included as SYSTEM).
function(xlb_warnings target)
  target_compile_options(${target} PRIVATE
    -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wsign-conversion
    -Wnon-virtual-dtor -Wold-style-cast -Wcast-align -Woverloaded-virtual
    -Wnull-dereference -Wdouble-promotion -Wformat=2 -Wimplicit-fallthrough)
  if(XLB_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()
