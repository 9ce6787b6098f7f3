#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The Debian package as Debian's tools judge it: lintian reports no error or warning (its one
# override is the BPF object's architecture), the unit passes systemd-analyze verify, the package
# holds what an operator needs, its default configuration validates with its own xlbd, and its
# man pages render without a warning.
#   package_test.sh <package dir>
set -euo pipefail
deb=$(ls "$1"/xlb_*.deb)
root=$(mktemp -d)
lintian_tmp=$(mktemp -d)
trap 'rm -rf "$root" "$lintian_tmp"' EXIT
status=0
fail() { echo "FAIL: $*"; status=1; }

# lintian: E: and W: fail; I: (informational) and the documented override do not.
# lintian leaves a mldbm-elf-* file in its TMPDIR per run: one of ours, removed on exit.
lint=$(TMPDIR="$lintian_tmp" lintian --tag-display-limit 0 "$deb" 2>&1 | grep -E '^(E|W): ' || true)
[ -z "$lint" ] || fail "lintian: $lint"

dpkg-deb -x "$deb" "$root"
for f in usr/sbin/xlbd usr/sbin/xlbctl usr/bin/xlb-sim usr/lib/xlb/xlb_decap.bpf.o \
  etc/xlb/xlb.yaml lib/systemd/system/xlbd.service var/lib/xlb \
  usr/share/man/man8/xlbd.8.gz usr/share/man/man8/xlbctl.8.gz usr/share/man/man1/xlb-sim.1.gz \
  usr/share/bash-completion/completions/xlbctl usr/share/doc/xlb/copyright \
  usr/share/doc/xlb/README.md usr/share/doc/xlb/API.md \
  usr/share/doc/xlb/contrib/prometheus/xlb-alerts.yml \
  usr/share/doc/xlb/contrib/grafana/xlb-dashboard.json; do
  [ -e "$root/$f" ] || fail "the package has no $f"
done
[ "$(dpkg-deb -f "$deb" Package)" = xlb ] || fail "package name"
dpkg-deb --ctrl-tarfile "$deb" | tar -xO ./conffiles | grep -qx /etc/xlb/xlb.yaml ||
  fail "/etc/xlb/xlb.yaml is not a conffile"
"$root/usr/sbin/xlbd" --check-config "$root/etc/xlb/xlb.yaml" >/dev/null ||
  fail "the packaged configuration does not validate"

for page in "$root"/usr/share/man/man*/*.gz; do
  warnings=$(zcat "$page" | LC_ALL=C.UTF-8 groff -man -ww -z 2>&1 || true)
  [ -z "$warnings" ] || fail "$(basename "$page"): $warnings"
done

# The unit as installed, with its binaries' paths pointed into the extracted package (verify
# checks that every command exists) and its man pages on MANPATH (Documentation=).
unit=$root/xlbd.service
sed "s#/usr/sbin/xlbd#$root/usr/sbin/xlbd#g" "$root/lib/systemd/system/xlbd.service" >"$unit"
verify=$(MANPATH=$root/usr/share/man systemd-analyze verify "$unit" 2>&1) ||
  fail "systemd-analyze verify: exit $?"
[ -z "$verify" ] || fail "systemd-analyze verify: $verify"
grep -q '^Type=notify$' "$unit" || fail "the unit is not Type=notify"
bounding=$(sed -n 's/^CapabilityBoundingSet=//p' "$unit")
ambient=$(sed -n 's/^AmbientCapabilities=//p' "$unit")
[ -n "$bounding" ] && [ "$bounding" = "$ambient" ] ||
  fail "the bounding and ambient capability sets differ: '$bounding' / '$ambient'"

echo "package $(basename "$deb"): $(dpkg-deb -c "$deb" | wc -l) entries, lintian clean"
exit "$status"
