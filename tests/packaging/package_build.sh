#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Builds the Debian package of a release build, as `make package` does (the ctest fixture the
# package tests share): package_build.sh <build dir> <package dir>
set -euo pipefail
build=$1 out=$2
rm -rf "$out"
cd "$build"
cpack -B "$out" >"$out.log" 2>&1 || { cat "$out.log"; exit 1; }
ls "$out"/xlb_*.deb
