#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The one dependency script: installs what xlb needs to build and test, from Debian bookworm.
# Idempotent: packages already present are not touched, and apt is not called at all when
# nothing is missing. Exits non-zero with a clear message when it cannot install.
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build pkg-config
  libgtest-dev libgmock-dev libbenchmark-dev
  libyaml-cpp-dev
  clang llvm libclang-rt-14-dev libbpf-dev libxdp-dev bpftool libelf-dev zlib1g-dev
  libnl-route-3-dev libcli11-dev libspdlog-dev libfmt-dev nlohmann-json3-dev
  libpistache-dev prometheus-cpp-dev libcurl4-openssl-dev prometheus
  libpcap-dev tshark tcpreplay
  haproxy nftables conntrack python3-matplotlib
  iproute2 ethtool iputils-ping nginx-light curl wrk hping3 openssl procps psmisc
  dnsmasq-base dnsperf bind9-dnsutils ngtcp2-client ngtcp2-server bird2
  libsystemd-dev groff-base man-db lintian dpkg-dev chromium python3-websocket
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi

echo "deps: installing ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
  echo "deps: ERROR: missing packages (${missing[*]}) and not running as root; run 'sudo $0'" >&2
  exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "deps: ERROR: apt-get not found; xlb's setup supports Debian bookworm" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
if ! apt-get update -qq; then
  echo "deps: ERROR: 'apt-get update' failed; check the network or the apt sources" >&2
  exit 1
fi
if ! apt-get install -y -qq --no-install-recommends "${missing[@]}"; then
  echo "deps: ERROR: could not install: ${missing[*]}" >&2
  exit 1
fi
# The cluster rig runs its own BIRDs inside its namespaces; the service the package starts would
# run one in the host's own namespace, which no test wants.
for p in "${missing[@]}"; do
  if [ "$p" = bird2 ] && command -v systemctl >/dev/null 2>&1; then
    systemctl disable --now bird >/dev/null 2>&1 || true
  fi
done
echo "deps: done"
