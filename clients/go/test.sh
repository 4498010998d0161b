#!/usr/bin/env bash
# Vets and tests clients/go offline, against the Go sources Debian installs, and ends with the line
# "go: N passed, M failed" (.ci/run adds the counts to its own).
#
# Nothing comes from the Go module proxy (GOPROXY=off). grpc 1.33 and genproto, as Debian ships
# them, declare go 1.11 modules whose requirement graphs name modules Debian does not ship
# (envoyproxy, x/tools, ...), so module mode cannot resolve them offline even with a replace per
# module. The build therefore runs in GOPATH mode: GOPATH is a temp dir holding this module at its
# import path (a symlink), then /usr/share/gocode. go.mod stays for gateways building normally.
#
# The tests start a real `candor serve --grpc` from the repository's dist/ (npm ci builds it).
set -uo pipefail
cd "$(dirname "$0")"
here=$(pwd -P)

# Debian's packages: the toolchain, grpc 1.33 and its transitive modules, protobuf 1.28 (APIv2)
# with golang/protobuf 1.5 (grpc 1.33's codec calls it; the 1.3 package does not work with
# APIv2-generated messages), x/mod (sumdb/note, sumdb/tlog), and protoc with both plugins.
PKGS="golang-go golang-google-grpc-dev golang-google-protobuf-dev golang-github-golang-protobuf-1-5-dev
  golang-golang-x-mod-dev golang-golang-x-net-dev golang-golang-x-sys-dev golang-golang-x-text-dev
  golang-golang-x-oauth2-dev golang-golang-x-oauth2-google-dev golang-google-genproto-dev
  golang-github-google-go-cmp-dev golang-glog-dev golang-google-cloud-compute-metadata-dev
  protobuf-compiler protoc-gen-go protoc-gen-go-grpc"
missing=$(for p in $PKGS; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || echo "$p"; done)
if [ -n "$missing" ]; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing) >/dev/null 2>&1 \
      || { echo "could not install:" $missing; echo "go: 0 passed, 1 failed"; exit 1; }
  else
    echo "missing Debian packages (install as root):" $missing
    echo "go: 0 passed, 1 failed"
    exit 1
  fi
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/src/candor.dev"
ln -s "$here" "$work/src/candor.dev/go"
export GOPATH="$work:/usr/share/gocode" GO111MODULE=off GOFLAGS=-mod=mod GOPROXY=off GOTOOLCHAIN=local GOWORK=off
export GOCACHE="${GOCACHE:-$HOME/.cache/candor-go-build}"
cd "$work/src/candor.dev/go"

failed=0
passed=0
# The checked-in stubs are exactly what protoc writes from proto/.
if ./generate.sh "$work/gen" && diff -r gen/candorv1 "$work/gen/candorv1"; then
  passed=$((passed + 1))
else
  echo "FAIL gen/candorv1 differs from what ./generate.sh writes"; failed=$((failed + 1))
fi
if go vet ./...; then passed=$((passed + 1)); else echo "FAIL go vet"; failed=$((failed + 1)); fi

report="$work/test.json"
go test -count=1 -timeout 600s -json ./... >"$report"
# Prints each failure's output, then "passed failed". A package that fails with no failed test
# (it does not build, or it panics outside a test) counts as one failure.
read -r p f < <(node -e '
  const events = require("fs").readFileSync(process.argv[1], "utf8").split("\n").filter(Boolean).map((l) => { try { return JSON.parse(l); } catch { return {}; } });
  const out = new Map();
  let p = 0, f = 0;
  const failedTests = new Set();
  for (const e of events) {
    const key = `${e.Package} ${e.Test ?? ""}`;
    if (e.Action === "output") out.set(key, (out.get(key) ?? "") + e.Output);
    if (e.Action === "pass" && e.Test) p++;
    if (e.Action === "fail" && e.Test) { f++; failedTests.add(e.Package); process.stderr.write(out.get(key) ?? ""); }
    if (e.Action === "fail" && !e.Test && !failedTests.has(e.Package)) { f++; process.stderr.write(out.get(key) ?? `${e.Package} failed\n`); }
  }
  console.log(p, f);
' "$report")
passed=$((passed + ${p:-0}))
failed=$((failed + ${f:-1}))
echo "go: $passed passed, $failed failed"
[ "$failed" = 0 ]
