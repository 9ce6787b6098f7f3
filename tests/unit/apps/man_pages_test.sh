#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The man pages the programs render (--man) against what they accept: groff reads each page with
# every warning on and says nothing, and every long option each command's --help lists is in its
# page. The command paths come from the program's own --bash-completion tables.
#   man_pages_test.sh <bin dir>
set -euo pipefail
bin=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
status=0
for program in xlbd xlbctl xlb-sim; do
  "$bin/$program" --man >"$tmp/$program.man"
  warnings=$(LC_ALL=C.UTF-8 groff -man -ww -z "$tmp/$program.man" 2>&1 || true)
  if [ -n "$warnings" ]; then
    echo "$program: groff warns: $warnings"
    status=1
  fi
  # The page as a reader sees it: dashes and fonts resolved.
  LC_ALL=C.UTF-8 MANWIDTH=200 man -l -Tutf8 "$tmp/$program.man" 2>/dev/null |
    sed 's/\x1b\[[0-9;]*m//g; s/.\x08//g; s/‐/-/g; s/−/-/g' >"$tmp/$program.txt"
  paths=("")
  if [ "$program" != xlbd ]; then
    mapfile -t -O 1 paths < <("$bin/$program" --bash-completion |
      sed -n 's/^  subs\["\. \(.*\)"\]=.*/\1/p')
  fi
  for path in "${paths[@]}"; do
    # shellcheck disable=SC2086 # the path is words
    help=$("$bin/$program" $path --help 2>&1 || true)
    for option in $(grep -oE -- '--[a-z][a-z0-9-]+' <<<"$help" | sort -u); do
      if ! grep -qF -- "$option" "$tmp/$program.txt"; then
        echo "$program ${path:+$path }: $option is in --help but not in the man page"
        status=1
      fi
    done
  done
  echo "$program: ${#paths[@]} command(s) checked"
done
exit "$status"
