#!/usr/bin/env bash
# A real PostgreSQL server for the tests, on 127.0.0.1 only, all state under DIR.
#   postgres.sh start DIR   initdb, start, create the role and database; writes DIR/env
#   postgres.sh stop DIR    stops the server by its PID (fast shutdown, then SIGKILL)
#   postgres.sh env DIR     prints DIR/env (CANDOR_TEST_PG_URL=postgres://...)
# wal_level = logical so that issue 20's logical-replication capture (pgoutput) can be tested;
# fsync stays on: the drivers' durability claims are measured against a real fsync.
set -euo pipefail
cmd=${1:?usage: postgres.sh start|stop|env DIR}
DIR=${2:?usage: postgres.sh start|stop|env DIR}
DATA=$DIR/data

die() { echo "postgres.sh: $*" >&2; exit 1; }

# Debian keeps the server binaries out of PATH (pg_ctlcluster wraps them); take the newest.
bindir() {
  local d; d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
  if [ -z "$d" ] && command -v pg_ctl >/dev/null 2>&1; then d=$(dirname "$(command -v pg_ctl)"); fi
  [ -x "$d/pg_ctl" ] && [ -x "$d/psql" ] || die "no PostgreSQL server binaries (pg_ctl, psql); run test/services/install.sh"
  echo "$d"
}

# initdb and postgres refuse to run as root: run them as the postgres OS user then.
as_owner() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

free_port() {
  node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

start() {
  local bin port t0
  bin=$(bindir)
  t0=$(date +%s%N)
  rm -rf "$DATA"; mkdir -p "$DIR"
  if [ "$(id -u)" = 0 ]; then
    id -u postgres >/dev/null 2>&1 || die "running as root needs the postgres OS user (from the postgresql package)"
    chown postgres: "$DIR"
    as_owner test -w "$DIR" || die "the postgres OS user cannot write $DIR (a parent folder is not searchable?)"
  fi
  # The superuser connects only over the Unix socket in DIR; TCP needs the test role's password.
  as_owner timeout 60 "$bin/initdb" -D "$DATA" -U postgres --auth-local=trust --auth-host=scram-sha-256 \
    --encoding=UTF8 --locale=C.UTF-8 >"$DIR/initdb.log" 2>&1 || die "initdb failed: $(tail -5 "$DIR/initdb.log")"
  port=$(free_port)
  cat >>"$DATA/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$DIR'
fsync = on
wal_level = logical
max_replication_slots = 10
max_wal_senders = 10
max_connections = 200
CONF
  as_owner timeout 60 "$bin/pg_ctl" -D "$DATA" -l "$DIR/postgres.log" -w -t 30 start >/dev/null \
    || die "the server did not start: $(tail -5 "$DIR/postgres.log")"
  head -1 "$DATA/postmaster.pid" >"$DIR/pid"
  local password; password=$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')
  as_owner timeout 30 "$bin/psql" -h "$DIR" -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1 -q \
    -c "CREATE ROLE candor LOGIN REPLICATION PASSWORD '$password'" \
    -c "CREATE DATABASE candor OWNER candor" >/dev/null || die "could not create the role and database"
  echo "CANDOR_TEST_PG_URL=postgres://candor:$password@127.0.0.1:$port/candor" >"$DIR/env"
  echo "postgres: pid $(cat "$DIR/pid") on 127.0.0.1:$port, started in $(( ($(date +%s%N) - t0) / 1000000 )) ms"
}

stop() {
  [ -f "$DIR/pid" ] || return 0
  local pid; pid=$(cat "$DIR/pid")
  if kill -0 "$pid" 2>/dev/null; then
    as_owner timeout 20 "$(bindir)/pg_ctl" -D "$DATA" -m fast -w -t 15 stop >/dev/null 2>&1 || true
    if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi
  fi
  rm -f "$DIR/pid"
}

case $cmd in
  start) start ;;
  stop) stop ;;
  env) cat "$DIR/env" ;;
  *) die "unknown command $cmd (start|stop|env)" ;;
esac
