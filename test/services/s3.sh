#!/usr/bin/env bash
# A real S3 endpoint for the tests: a one-OSD Ceph (Debian's ceph-mon, ceph-osd) with the RADOS
# gateway (radosgw), on 127.0.0.1 only, no cephx (auth none), all state under DIR.
#   s3.sh start DIR   creates and starts mon, OSD and gateway, and an S3 user; writes DIR/env
#   s3.sh stop DIR    kills every daemon it started, by the PIDs in DIR/run/*.pid
#   s3.sh env DIR     prints DIR/env (CANDOR_TEST_S3_ENDPOINT, _ACCESS_KEY, _SECRET_KEY, _REGION)
# Facts this depends on (Ceph 16, measured on Debian 12):
# - with auth none the clients must still agree on a mode: ms_mon_client_mode and ms_client_mode
#   = crc, or radosgw cannot talk to the monitor;
# - bluestore_block_path must lie outside the OSD folder (mkfs refuses a file it finds inside);
# - the OSD's block device is a sparse 4 GiB file, so only written data takes disk space.
set -euo pipefail
cmd=${1:?usage: s3.sh start|stop|env DIR}
DIR=${2:?usage: s3.sh start|stop|env DIR}
CONF=$DIR/ceph.conf

die() { echo "s3.sh: $*" >&2; exit 1; }

free_port() {
  node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

# Waits up to $1 seconds for the command that follows to succeed.
wait_for() {
  local limit=$1; shift
  local end=$((SECONDS + limit))
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -lt $end ] || return 1
    sleep 0.5
  done
}

ceph_() { timeout 20 ceph -c "$CONF" "$@"; }

start() {
  for b in monmaptool ceph-mon ceph-osd radosgw radosgw-admin ceph curl; do
    command -v $b >/dev/null 2>&1 || die "$b is missing; run test/services/install.sh"
  done
  local t0 fsid mon2 mon1 rgw osd
  t0=$(date +%s%N)
  rm -rf "$DIR"; mkdir -p "$DIR"/{mon,osd0,run,log,rgw}
  fsid=$(cat /proc/sys/kernel/random/uuid)
  mon2=$(free_port); mon1=$(free_port); rgw=$(free_port)
  [ "$mon2" != "$mon1" ] && [ "$mon1" != "$rgw" ] && [ "$mon2" != "$rgw" ] || die "free_port gave a port twice; try again"
  cat >"$CONF" <<CONF
[global]
fsid = $fsid
mon_host = [v2:127.0.0.1:$mon2,v1:127.0.0.1:$mon1]
public_addr = 127.0.0.1
cluster_addr = 127.0.0.1
public_network = 127.0.0.0/8
auth_cluster_required = none
auth_service_required = none
auth_client_required = none
ms_mon_client_mode = crc
ms_client_mode = crc
osd_pool_default_size = 1
osd_pool_default_min_size = 1
osd_pool_default_pg_num = 8
osd_pool_default_pgp_num = 8
mon_allow_pool_size_one = true
mon_warn_on_pool_no_redundancy = false
osd_crush_chooseleaf_type = 0
run_dir = $DIR/run
log_file = $DIR/log/\$name.log
admin_socket = $DIR/run/\$name.asok
pid_file = $DIR/run/\$name.pid
[mon]
mon_data = $DIR/mon
mon_allow_pool_delete = true
[osd]
osd_data = $DIR/osd0
osd_objectstore = bluestore
bluestore_block_path = $DIR/osd0.block
bluestore_block_create = true
bluestore_block_size = 4294967296
bluestore_fsck_on_mkfs = false
osd_memory_target = 1073741824
bluestore_cache_autotune = false
bluestore_cache_size = 268435456
[client.rgw]
rgw_frontends = beast endpoint=127.0.0.1:$rgw
rgw_data = $DIR/rgw
rgw_dns_name = 127.0.0.1
rgw_thread_pool_size = 64
CONF
  timeout 20 monmaptool --create --fsid "$fsid" --addv a "[v2:127.0.0.1:$mon2,v1:127.0.0.1:$mon1]" "$DIR/monmap" >/dev/null \
    || die "monmaptool failed"
  timeout 30 ceph-mon -c "$CONF" --mkfs -i a --monmap "$DIR/monmap" >"$DIR/log/mkfs-mon.out" 2>&1 \
    || die "ceph-mon --mkfs failed: $(tail -3 "$DIR/log/mkfs-mon.out")"
  timeout 30 ceph-mon -c "$CONF" -i a || die "ceph-mon did not start: $(tail -3 "$DIR/log/mon.a.log")"
  osd=$(ceph_ osd create) || die "the monitor did not answer 'osd create': $(tail -3 "$DIR/log/mon.a.log")"
  timeout 60 ceph-osd -c "$CONF" -i "$osd" --mkfs --osd-uuid "$(cat /proc/sys/kernel/random/uuid)" >"$DIR/log/mkfs-osd.out" 2>&1 \
    || die "ceph-osd --mkfs failed: $(tail -3 "$DIR/log/mkfs-osd.out")"
  ceph_ osd crush add "osd.$osd" 1.0 root=default host=localhost >/dev/null 2>&1 || true
  timeout 30 ceph-osd -c "$CONF" -i "$osd" 2>>"$DIR/log/osd-start.out" || die "ceph-osd did not start: $(tail -3 "$DIR/log/osd.$osd.log")"
  wait_for 60 bash -c "timeout 10 ceph -c '$CONF' osd stat | grep -q '1 up'" \
    || die "the OSD did not come up in 60 s: $(tail -3 "$DIR/log/osd.$osd.log")"
  timeout 30 radosgw -c "$CONF" -n client.rgw || die "radosgw did not start: $(tail -3 "$DIR/log/client.rgw.log")"
  wait_for 90 bash -c "curl -fsS -o /dev/null http://127.0.0.1:$rgw/" \
    || die "the RADOS gateway did not answer on 127.0.0.1:$rgw in 90 s: $(tail -3 "$DIR/log/client.rgw.log")"
  local access secret
  access=$(od -An -tx1 -N10 /dev/urandom | tr -d ' \n'); secret=$(od -An -tx1 -N20 /dev/urandom | tr -d ' \n')
  timeout 30 radosgw-admin -c "$CONF" user create --uid=candor --display-name=candor \
    --access-key="$access" --secret-key="$secret" >/dev/null || die "radosgw-admin could not create the S3 user"
  cat >"$DIR/env" <<ENV
CANDOR_TEST_S3_ENDPOINT=http://127.0.0.1:$rgw
CANDOR_TEST_S3_ACCESS_KEY=$access
CANDOR_TEST_S3_SECRET_KEY=$secret
CANDOR_TEST_S3_REGION=us-east-1
ENV
  echo "s3: Ceph $(ceph --version | cut -d' ' -f3) radosgw on 127.0.0.1:$rgw, pids $(cat "$DIR"/run/*.pid | tr '\n' ' ')started in $(( ($(date +%s%N) - t0) / 1000000 )) ms"
}

stop() {
  local f pid
  for f in "$DIR"/run/*.pid; do
    [ -f "$f" ] || continue
    pid=$(cat "$f")
    kill -TERM "$pid" 2>/dev/null || true
  done
  for f in "$DIR"/run/*.pid; do
    [ -f "$f" ] || continue
    pid=$(cat "$f")
    wait_for 10 bash -c "! kill -0 $pid" || kill -KILL "$pid" 2>/dev/null || true
    rm -f "$f"
  done
}

case $cmd in
  start) start ;;
  stop) stop ;;
  env) cat "$DIR/env" ;;
  *) die "unknown command $cmd (start|stop|env)" ;;
esac
