# SPDX-License-Identifier: Apache-2.0
# XLB_SANITIZE=address,undefined (asan preset) instruments every target of the build.
set(XLB_SANITIZE "" CACHE STRING "Comma-separated sanitizers (address,undefined,thread)")
if(XLB_SANITIZE)
  add_compile_options(-fsanitize=${XLB_SANITIZE} -fno-omit-frame-pointer -fno-sanitize-recover=all)
  add_link_options(-fsanitize=${XLB_SANITIZE})
endif()
