#!/usr/bin/env bash
# Regenerates gen/candorv1 from ../../proto with Debian's protoc (3.21), protoc-gen-go (1.28) and
# protoc-gen-go-grpc (1.0). The output depends only on those versions and the .proto files; the
# versions are written into each file's header, so a diff shows which one changed.
# Never edit gen/ by hand: change proto/ and run this. `./generate.sh DIR` writes DIR/candorv1
# instead (test.sh does, to check that the checked-in stubs are what protoc writes).
set -euo pipefail
cd -P "$(dirname "$0")"
out=${1:-gen}
pkg=candor.dev/go/gen/candorv1
maps=""
for f in event log_service query_service; do maps="$maps,Mcandor/v1/$f.proto=$pkg"; done
rm -rf "$out/candorv1" && mkdir -p "$out/candorv1"
protoc -I ../../proto \
  --go_out="$out/candorv1" --go_opt=paths=source_relative${maps} \
  --go-grpc_out="$out/candorv1" --go-grpc_opt=paths=source_relative${maps} \
  candor/v1/event.proto candor/v1/log_service.proto candor/v1/query_service.proto
# paths=source_relative keeps protoc's candor/v1/ prefix: flatten it into the package directory.
mv "$out"/candorv1/candor/v1/* "$out/candorv1/" && rm -r "$out/candorv1/candor"
