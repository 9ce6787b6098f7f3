#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Every ctest name is unique: gtest_discover_tests names a test Suite.Case, and two binaries with
# the same suite and case would register one name twice, of which ctest runs only the first (a
# netns QUIC test hid behind a unit test of the same name this way).
#   ctest_names_test.sh <build dir>
set -euo pipefail
dups=$(ctest --test-dir "$1" -N | sed -n 's/^ *Test *#[0-9]*: //p' | sort | uniq -d)
if [ -n "$dups" ]; then
  echo "ctest names registered twice (only the first runs):"
  echo "$dups"
  exit 1
fi
echo "$(ctest --test-dir "$1" -N | grep -c 'Test *#') test names, all unique"
