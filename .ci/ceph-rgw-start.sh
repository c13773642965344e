#!/bin/bash
# ceph-rgw-start.sh [STATE_DIR]
#
# Bring up a throw-away single-host Ceph cluster (1 mon, 1 memstore OSD, no mgr)
# plus a RADOS Gateway (beast) S3 endpoint, all bound to 127.0.0.1, no systemd.
# Uses only the distro packages (Debian 12: ceph-mon ceph-osd radosgw ceph-common,
# 16.2.x "pacific"); installs nothing.  Recipe follows ceph's src/vstart.sh.
#
# The state dir (default /tmp/ceph-state) is WIPED and re-created on every start
# (memstore keeps all object data in the OSD's RAM anyway).  It refuses to wipe a
# non-empty dir that it did not create, and refuses to start while daemons of a
# previous start are still alive (run ceph-rgw-stop.sh first).
#
# Env overrides: RGW_PORT (7480) MON_V2_PORT (3300) MON_V1_PORT (6789)
#   ACCESS_KEY (CEPHTESTKEY) SECRET_KEY (cephtestsecret) RGW_UID (ceph-test)
#   READER_UID (ceph-reader) READER_ACCESS_KEY (CEPHREADERKEY) READER_SECRET_KEY (cephreadersecret):
#   a second user without rights of its own (s3driver's tests grant it pull-only bucket policies)
#   RGW_REGION (us-east-1: zonegroup api_name = GetBucketLocation answer; note RGW 16 does
#   NOT check the region in a SigV4 credential scope, any region name is accepted)
#   MEMSTORE_BYTES (4294967296 = OSD capacity; data lives in OSD RAM)
#   TIMEOUT (180 s, per wait step)
#
# On success prints endpoint + keys and writes $STATE/s3.env (shell exports).
set -euo pipefail

STATE=${1:-/tmp/ceph-state}
RGW_PORT=${RGW_PORT:-7480}
MON_V2_PORT=${MON_V2_PORT:-3300}
MON_V1_PORT=${MON_V1_PORT:-6789}
ACCESS_KEY=${ACCESS_KEY:-CEPHTESTKEY}
SECRET_KEY=${SECRET_KEY:-cephtestsecret}
RGW_UID=${RGW_UID:-ceph-test}
READER_UID=${READER_UID:-ceph-reader}
READER_ACCESS_KEY=${READER_ACCESS_KEY:-CEPHREADERKEY}
READER_SECRET_KEY=${READER_SECRET_KEY:-cephreadersecret}
RGW_REGION=${RGW_REGION:-us-east-1}
MEMSTORE_BYTES=${MEMSTORE_BYTES:-4294967296}
TIMEOUT=${TIMEOUT:-180}
MARKER=.ceph-rgw-state
RGW_NAME=client.rgw.s3

T0=$(date +%s.%N)
log() { echo "[$(awk "BEGIN{printf \"%6.1f\", $(date +%s.%N) - $T0}")s] $*"; }
die() { echo "ERROR: $*" >&2; exit 1; }
CLEANUP=0
on_exit() {   # a failed start stops the daemons it already started (logs stay in $STATE/log)
    local rc=$?
    if [ "$rc" -ne 0 ] && [ "$CLEANUP" = 1 ]; then
        echo "start failed (rc=$rc): stopping the daemons it started; logs kept in $STATE/log" >&2
        local pf pid i
        for pf in "$STATE"/run/client.rgw*.pid "$STATE"/run/osd.*.pid "$STATE"/run/mon.*.pid; do
            [ -f "$pf" ] || continue
            pid=$(cat "$pf"); kill "$pid" 2>/dev/null || continue
            for i in $(seq 1 80); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
            kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
            rm -f "$pf"
        done
    fi
}
trap on_exit EXIT

# ---------------------------------------------------------------- pre-checks
[ "$(id -u)" = 0 ] || die "run as root"
case "$STATE" in /*) ;; *) STATE="$PWD/$STATE" ;; esac
[ "$STATE" != / ] || die "refusing state dir /"
for c in ceph-mon ceph-osd radosgw radosgw-admin ceph ceph-authtool monmaptool python3; do
    command -v "$c" >/dev/null || die "missing command $c (apt-get install --no-install-recommends ceph-mon ceph-osd radosgw ceph-common)"
done
for p in ceph-mon ceph-osd radosgw ceph-common; do
    v=$(dpkg-query -W -f='${Version}' "$p" 2>/dev/null) || die "package $p not installed"
    log "package $p $v"
done
MEMSTORE_OK=$(strings "$(command -v ceph-osd)" 2>/dev/null | grep -c '^_ZN8MemStore' || true)
[ "${MEMSTORE_OK:-0}" -gt 0 ] || log "warning: could not confirm memstore in ceph-osd (strings missing?)"

port_busy() { python3 - "$1" <<'EOF'
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)   # ignore TIME_WAIT leftovers
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(0)
sys.exit(1)
EOF
}
if [ -e "$STATE" ]; then
    for pf in "$STATE"/run/*.pid; do
        [ -f "$pf" ] || continue
        pid=$(cat "$pf" 2>/dev/null || true)
        if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
            die "daemon from $pf (pid $pid) still running; run ceph-rgw-stop.sh $STATE first"
        fi
    done
fi
for p in "$RGW_PORT" "$MON_V2_PORT" "$MON_V1_PORT"; do
    if port_busy "$p"; then die "127.0.0.1:$p is already in use"; fi
done
if [ -e "$STATE" ]; then
    if [ -n "$(ls -A "$STATE")" ] && [ ! -f "$STATE/$MARKER" ]; then
        die "$STATE is not empty and was not created by this script; refusing to wipe it"
    fi
    rm -rf "$STATE"
fi
mkdir -p "$STATE"/{run,log,mon.a,osd.0,rgw}
touch "$STATE/$MARKER"
CLEANUP=1
CONF=$STATE/ceph.conf
KEYRING=$STATE/keyring
export CEPH_CONF=$CONF
CEPH="ceph -c $CONF --connect-timeout 15"

# ---------------------------------------------------------------- config
FSID=$(cat /proc/sys/kernel/random/uuid)
cat > "$CONF" <<EOF
[global]
fsid = $FSID
mon host = [v2:127.0.0.1:$MON_V2_PORT,v1:127.0.0.1:$MON_V1_PORT]
public addr = 127.0.0.1
cluster addr = 127.0.0.1
ms bind ipv4 = true
ms bind ipv6 = false
auth cluster required = cephx
auth service required = cephx
auth client required = cephx
auth allow insecure global id reclaim = false
keyring = $KEYRING
run dir = $STATE/run
admin socket = $STATE/run/\$name.asok
pid file = $STATE/run/\$name.pid
log file = $STATE/log/\$name.log
log to stderr = false
err to stderr = true
; single OSD, single host
osd pool default size = 1
osd pool default min size = 1
mon allow pool size one = true
mon warn on pool no redundancy = false
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
mon max pg per osd = 1000
osd crush chooseleaf type = 0
mon allow pool delete = true
rgw luarocks location = $STATE/rgw/luarocks

[mon]
mon data = $STATE/mon.\$id
mon cluster log file = $STATE/log/cluster.log
mon data avail warn = 2
mon data avail crit = 1
; the mon batches map changes for paxos_propose_interval (1 s); every pool/crush change at
; start-up then costs ~1 s.  A single test mon can propose almost at once.
paxos propose interval = 0.05

[osd]
osd data = $STATE/osd.\$id
osd objectstore = memstore
memstore device bytes = $MEMSTORE_BYTES
osd crush update on start = true

[$RGW_NAME]
rgw frontends = beast endpoint=127.0.0.1:$RGW_PORT
rgw data = $STATE/rgw
rgw thread pool size = 128
; virtual-hosted-style requests: BUCKET.localhost:PORT (clients map *.localhost to 127.0.0.1)
rgw dns name = localhost
; SSE-S3 (x-amz-server-side-encryption: AES256, the driver's `encrypt: true`) over plain HTTP
; (RGW refuses SSE without TLS otherwise: 400 InvalidRequest). Test setting only. (`rgw crypt
; default encryption key` would encrypt every object, and RGW 16 then answers CopyObject 501.)
rgw crypt require ssl = false

EOF

# ---------------------------------------------------------------- keys
# All keys live in one keyring; ceph-mon --mkfs imports them into the auth db.
ceph-authtool --create-keyring --gen-key --name=mon. "$KEYRING" --cap mon 'allow *' >/dev/null
ceph-authtool --gen-key --name=client.admin "$KEYRING" \
    --cap mon 'allow *' --cap osd 'allow *' --cap mds 'allow *' --cap mgr 'allow *' >/dev/null
ceph-authtool --gen-key --name=osd.0 "$KEYRING" \
    --cap mon 'allow profile osd' --cap osd 'allow *' --cap mgr 'allow profile osd' >/dev/null
ceph-authtool --gen-key --name=$RGW_NAME "$KEYRING" \
    --cap mon 'allow rw' --cap osd 'allow rwx' --cap mgr 'allow rw' >/dev/null
chmod 600 "$KEYRING"

# ---------------------------------------------------------------- mon
log "creating mon.a"
monmaptool --create --clobber --fsid "$FSID" \
    --addv a "[v2:127.0.0.1:$MON_V2_PORT,v1:127.0.0.1:$MON_V1_PORT]" "$STATE/monmap" >/dev/null
ceph-mon -c "$CONF" --mkfs -i a --monmap "$STATE/monmap" --keyring "$KEYRING"
ceph-mon -c "$CONF" -i a >>"$STATE/log/mon.a.out" 2>&1 \
    || { cat "$STATE/log/mon.a.out" >&2; die "ceph-mon failed to start"; }   # daemonizes, pid in run/mon.a.pid
deadline=$(( $(date +%s) + TIMEOUT ))
until $CEPH mon stat >/dev/null 2>&1; do
    [ "$(date +%s)" -lt "$deadline" ] || die "mon did not answer within ${TIMEOUT}s (see $STATE/log/mon.a.log)"
    sleep 0.5
done
log "mon.a up"

# ---------------------------------------------------------------- osd
OSD_UUID=$(cat /proc/sys/kernel/random/uuid)
id=$($CEPH osd new "$OSD_UUID" 0)
[ "$id" = 0 ] || die "ceph osd new returned '$id'"
ceph-osd -c "$CONF" -i 0 --mkfs --osd-uuid "$OSD_UUID" >"$STATE/log/osd.0.mkfs.log" 2>&1 \
    || { cat "$STATE/log/osd.0.mkfs.log" >&2; die "ceph-osd --mkfs failed"; }
ceph-osd -c "$CONF" -i 0 >>"$STATE/log/osd.0.out" 2>&1 \
    || { cat "$STATE/log/osd.0.out" >&2; die "ceph-osd failed to start"; }   # daemonizes, pid in run/osd.0.pid
until $CEPH osd dump -f json 2>/dev/null | python3 -c '
import json, sys
d = json.load(sys.stdin)
sys.exit(0 if any(o["osd"] == 0 and o["up"] == 1 and o["in"] == 1 for o in d["osds"]) else 1)'; do
    [ "$(date +%s)" -lt "$deadline" ] || die "osd.0 not up+in within ${TIMEOUT}s (see $STATE/log/osd.0.log)"
    sleep 0.5
done
log "osd.0 up+in (memstore, ${MEMSTORE_BYTES} bytes)"

# ---------------------------------------------------------------- rgw
# radosgw-admin creates the default zonegroup/zone (no realm) and the .rgw.root/log/meta pools.
# Do it before radosgw starts so the zonegroup's api_name (what GetBucketLocation returns and
# what CreateBucket's LocationConstraint must match) can be set to $RGW_REGION first.
log "creating S3 user $RGW_UID"
deadline=$(( $(date +%s) + TIMEOUT ))
# --max-buckets=0: no limit (RGW's default of 1000 is reached by a few test runs on one long-lived gateway: the
# tests leave their buckets behind, and then every bucket PUT answers 400 TooManyBuckets).
until radosgw-admin -c "$CONF" user create --uid="$RGW_UID" --display-name=test --max-buckets=0 \
        --access-key="$ACCESS_KEY" --secret="$SECRET_KEY" >"$STATE/log/user-create.json" 2>"$STATE/log/user-create.err"; do
    [ "$(date +%s)" -lt "$deadline" ] || { cat "$STATE/log/user-create.err" >&2; die "radosgw-admin user create failed"; }
    sleep 1
done
# A second user with no rights of its own: tests grant it a pull-only bucket policy.
radosgw-admin -c "$CONF" user create --uid="$READER_UID" --display-name=reader \
    --access-key="$READER_ACCESS_KEY" --secret="$READER_SECRET_KEY" >"$STATE/log/reader-create.json" 2>&1 \
    || { cat "$STATE/log/reader-create.json" >&2; die "radosgw-admin user create $READER_UID failed"; }
radosgw-admin -c "$CONF" zonegroup modify --rgw-zonegroup=default --api-name="$RGW_REGION" \
    >"$STATE/log/zonegroup.json" 2>"$STATE/log/zonegroup.err" \
    || { cat "$STATE/log/zonegroup.err" >&2; die "radosgw-admin zonegroup modify failed"; }
log "user $RGW_UID created; zonegroup api_name=$RGW_REGION"
radosgw -c "$CONF" -n "$RGW_NAME" >>"$STATE/log/$RGW_NAME.out" 2>&1 \
    || { cat "$STATE/log/$RGW_NAME.out" >&2; die "radosgw failed to start"; }   # daemonizes, pid in run/$RGW_NAME.pid
log "radosgw started"

# ---------------------------------------------------------------- wait for a signed S3 answer
# SigV2-signed "GET /" (ListBuckets) with the new key; stdlib only.
python3 - "$RGW_PORT" "$ACCESS_KEY" "$SECRET_KEY" "$TIMEOUT" <<'EOF' || die "S3 endpoint did not answer a signed request (see $STATE/log/client.rgw.s3.log)"
import base64, hashlib, hmac, http.client, sys, time
from email.utils import formatdate
port, ak, sk, timeout = int(sys.argv[1]), sys.argv[2], sys.argv[3], float(sys.argv[4])
end = time.time() + timeout
last = None
while time.time() < end:
    date = formatdate(usegmt=True)
    sig = base64.b64encode(hmac.new(sk.encode(), f"GET\n\n\n{date}\n/".encode(), hashlib.sha1).digest()).decode()
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        c.request("GET", "/", headers={"Date": date, "Authorization": f"AWS {ak}:{sig}"})
        r = c.getresponse(); body = r.read()
        if r.status == 200 and b"ListAllMyBucketsResult" in body:
            sys.exit(0)
        last = f"HTTP {r.status} {body[:200]!r}"
    except OSError as e:
        last = repr(e)
    time.sleep(0.3)
print("last answer:", last, file=sys.stderr)
sys.exit(1)
EOF
log "S3 answers signed requests"

rss_kb=0
for pf in "$STATE"/run/*.pid; do
    pid=$(cat "$pf"); r=$(awk '/^VmRSS/{print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)
    rss_kb=$((rss_kb + r))
done
cat > "$STATE/s3.env" <<EOF
export S3_ENDPOINT=http://127.0.0.1:$RGW_PORT
export AWS_ACCESS_KEY_ID=$ACCESS_KEY
export AWS_SECRET_ACCESS_KEY=$SECRET_KEY
export AWS_DEFAULT_REGION=$RGW_REGION
export CEPH_CONF=$CONF
EOF
cat <<EOF
== Ceph RGW ready ($(awk "BEGIN{printf \"%.1f\", $(date +%s.%N) - $T0}")s, daemons RSS $((rss_kb / 1024)) MiB) ==
endpoint:   http://127.0.0.1:$RGW_PORT   (path-style; region $RGW_REGION; SigV2, SigV4, aws-chunked)
access key: $ACCESS_KEY
secret key: $SECRET_KEY
user:       $RGW_UID
state dir:  $STATE  (logs in $STATE/log, env in $STATE/s3.env, CEPH_CONF=$CONF)
pids:       $(for pf in "$STATE"/run/*.pid; do printf '%s=%s ' "$(basename "$pf" .pid)" "$(cat "$pf")"; done)
stop with:  ceph-rgw-stop.sh $STATE   (add --wipe to delete the state dir)
EOF
