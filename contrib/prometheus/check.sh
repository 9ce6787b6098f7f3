#!/usr/bin/env bash
# The alerting rules parse (promtool check rules) and their unit tests pass (promtool test rules).
# ctest runs this as contrib_prometheus_rules (label unit). Without promtool it skips (77), and
# under CI=true fails: the Debian package `prometheus` provides it (ci/deps.sh).
set -euo pipefail
cd "$(dirname "$0")"
if ! command -v promtool >/dev/null 2>&1; then
  echo "promtool (Debian package prometheus) is missing" >&2
  [[ "${CI:-}" == "true" ]] && exit 1
  exit 77
fi
promtool check rules xlb-alerts.yml
promtool test rules xlb-alerts.test.yml
