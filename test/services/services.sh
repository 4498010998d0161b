#!/usr/bin/env bash
# The real servers the tests run against: PostgreSQL and an S3 endpoint (Ceph's RADOS gateway),
# both on 127.0.0.1, state under DIR (default: .services in the repository).
#   services.sh up [DIR]     installs what is missing, starts both in parallel (at most 180 s),
#                            writes DIR/env (the CANDOR_TEST_* variables the tests read)
#   services.sh down [DIR]   stops both by PID and removes DIR/env
# test/helpers/services.ts reads the variables from the environment, else from .services/env,
# so `npm run services -- up` followed by `npm test` works for a developer.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cmd=${1:?usage: services.sh up|down [DIR]}
DIR=$(mkdir -p "${2:-$here/../../.services}" && cd "${2:-$here/../../.services}" && pwd)
LIMIT=180

down() {
  bash "$here/postgres.sh" stop "$DIR/pg"
  bash "$here/s3.sh" stop "$DIR/s3"
  rm -f "$DIR/env"
}

up() {
  bash "$here/install.sh" || return 1
  down
  # initdb runs as the postgres OS user when we are root: it must reach DIR.
  chmod 755 "$DIR"
  local t0=$SECONDS
  timeout $LIMIT bash "$here/postgres.sh" start "$DIR/pg" & local pg=$!
  timeout $LIMIT bash "$here/s3.sh" start "$DIR/s3" & local s3=$!
  wait $pg; local pg_status=$?
  wait $s3; local s3_status=$?
  if [ $pg_status != 0 ] || [ $s3_status != 0 ]; then
    [ $pg_status = 124 ] && echo "services.sh: PostgreSQL did not start within $LIMIT s" >&2
    [ $s3_status = 124 ] && echo "services.sh: the S3 endpoint did not start within $LIMIT s" >&2
    down
    return 1
  fi
  cat "$DIR/pg/env" "$DIR/s3/env" >"$DIR/env"
  echo "services up in $((SECONDS - t0)) s; environment in $DIR/env"
}

case $cmd in
  up) up ;;
  down) down ;;
  *) echo "usage: services.sh up|down [DIR]" >&2; exit 2 ;;
esac
