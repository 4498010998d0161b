#!/usr/bin/env bash
# Installs, from Debian's packages, what test/services/{postgres,s3}.sh start: PostgreSQL, and a
# one-node Ceph (ceph-mon, ceph-osd, radosgw) for the S3 endpoint. Does nothing when all is there;
# exits non-zero and says why when it cannot install (not root, no apt-get, apt failed).
set -euo pipefail

need=()
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
for pair in ceph-mon:ceph-mon ceph-osd:ceph-osd radosgw:radosgw curl:curl; do
  command -v "${pair%%:*}" >/dev/null 2>&1 || need+=("${pair#*:}")
done
[ ${#need[@]} -eq 0 ] && exit 0

die() { echo "install.sh: cannot install ${need[*]}: $*" >&2; exit 1; }
command -v apt-get >/dev/null 2>&1 || die "no apt-get (install them with your system's package manager)"
[ "$(id -u)" = 0 ] || die "apt-get needs root (run: sudo bash test/services/install.sh)"
t0=$(date +%s)
export DEBIAN_FRONTEND=noninteractive
timeout 300 apt-get update -qq >/tmp/candor-apt.log 2>&1 || die "apt-get update failed: $(tail -3 /tmp/candor-apt.log)"
timeout 600 apt-get install -y -qq --no-install-recommends "${need[@]}" >>/tmp/candor-apt.log 2>&1 \
  || die "apt-get install failed: $(tail -3 /tmp/candor-apt.log)"
echo "installed ${need[*]} in $(( $(date +%s) - t0 )) s"
