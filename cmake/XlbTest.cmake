# SPDX-License-Identifier: Apache-2.0
# One helper registers every test binary with ctest under exactly one label (unit, bpf, sim,
# netns, cluster).
function(xlb_add_test name)
  cmake_parse_arguments(T "" "LABEL;TIMEOUT;FIXTURES" "SOURCES;LIBS" ${ARGN})
  if(NOT T_LABEL MATCHES "^(unit|bpf|sim|netns|cluster)$")
    message(FATAL_ERROR "xlb_add_test(${name}): LABEL must be unit, bpf, sim, netns or cluster")
  endif()
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 300)
  endif()
  add_executable(${name} ${T_SOURCES})
  target_link_libraries(${name} PRIVATE ${T_LIBS} GTest::gtest GTest::gtest_main)
  xlb_warnings(${name})
  # netns tests share the machine's two cores with the tools they drive: never in parallel.
  set(serial FALSE)
  if(T_LABEL MATCHES "^(netns|cluster)$")
    set(serial TRUE)
  endif()
  # FIXTURES: a ctest fixture every test of the binary needs (its setup test runs first).
  set(fixtures)
  if(T_FIXTURES)
    set(fixtures FIXTURES_REQUIRED ${T_FIXTURES})
  endif()
  gtest_discover_tests(${name}
    PROPERTIES LABELS ${T_LABEL} TIMEOUT ${T_TIMEOUT} RUN_SERIAL ${serial} ${fixtures}
    DISCOVERY_TIMEOUT 60)
endfunction()
