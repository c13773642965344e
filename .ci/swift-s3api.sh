#!/bin/bash
# Start a single-node OpenStack Swift with the s3api middleware on 127.0.0.1 for s3driver's integration tests.
#
# Usage: .ci/swift-s3api.sh [STATE_DIR]        (default STATE_DIR: /tmp/s3driver-swift)
#        .ci/swift-stop.sh  [STATE_DIR]        stops what this script started
#
# Installs nothing: it needs Debian's swift-proxy swift-account swift-container swift-object packages (.ci/run
# installs them) and, when present, the memcached package: tempauth refuses to work without a memcache client in the
# pipeline ("Memcache required"), and a running memcached also caches account/container lookups. Without memcached
# Swift still works (the client just fails to connect) but logs connection errors on every request.
#
# S3 endpoint: http://127.0.0.1:${S3DRIVER_SWIFT_PORT:-8090}, region us-east-1, access key "test:tester",
# secret "testing", virtual-host domain "localhost". Backends listen on 127.0.0.1:6210-6212, memcached on
# 127.0.0.1:${S3DRIVER_SWIFT_MEMCACHE_PORT:-11299}.
# Idempotent: if the servers recorded in STATE_DIR are alive and healthy it does nothing. Exits non-zero and prints the
# servers' logs if Swift does not become healthy in time.
set -euo pipefail

S=${1:-/tmp/s3driver-swift}
PORT=${S3DRIVER_SWIFT_PORT:-8090}
LOG_LEVEL=${S3DRIVER_SWIFT_LOG_LEVEL:-WARNING}
SERVICES="account container object proxy"
MEMCACHE_PORT=${S3DRIVER_SWIFT_MEMCACHE_PORT:-11299}
PY=/usr/bin/python3
if command -v memcached >/dev/null 2>&1; then
  SERVICES="memcached $SERVICES"
else
  echo "swift-s3api: warning: memcached not installed; Swift will work but log memcache errors (apt-get install memcached)" >&2
fi

die() {
  echo "swift-s3api: ERROR: $*" >&2
  for f in "$S"/run/*.log; do
    [ -f "$f" ] || continue
    echo "----- $f (last 20 lines) -----" >&2
    tail -n 20 "$f" | cut -c1-1500 >&2
  done
  exit 1
}

for bin in swift-proxy-server swift-account-server swift-container-server swift-object-server swift-ring-builder \
  curl "$PY"; do
  command -v "$bin" >/dev/null 2>&1 ||
    die "'$bin' not found: apt-get install -y --no-install-recommends swift-proxy swift-account swift-container swift-object curl"
done

pid_alive() { [ -f "$S/run/$1.pid" ] && kill -0 "$(cat "$S/run/$1.pid")" 2>/dev/null; }

healthy_backends() {
  local p
  for p in 6212 6211 6210 "$PORT"; do
    [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$p/healthcheck")" = 200 ] || return 1
  done
}

# A real S3 round trip through s3api + tempauth + account/container/object servers, SigV2-signed by Python's stdlib.
s3_probe() {
  "$PY" - "$PORT" <<'EOF'
import base64, hmac, hashlib, sys, http.client, email.utils
port = int(sys.argv[1])
def req(method, path, body=b""):
    date = email.utils.formatdate(usegmt=True)
    sts = f"{method}\n\n\n{date}\n{path}".encode()
    sig = base64.b64encode(hmac.new(b"testing", sts, hashlib.sha1).digest()).decode()
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    c.request(method, path, body=body, headers={"Date": date, "Authorization": f"AWS test:tester:{sig}"})
    r = c.getresponse(); data = r.read(); c.close()
    return r.status, data
st, data = req("PUT", "/s3driver-healthcheck")
if st not in (200, 409):
    sys.exit(f"PUT bucket -> {st}: {data[:300]!r}")
st, data = req("PUT", "/s3driver-healthcheck/probe", b"ok")
if st != 200:
    sys.exit(f"PUT object -> {st}: {data[:300]!r}")
EOF
}

all_alive=1
for n in $SERVICES; do pid_alive "$n" || all_alive=0; done
if [ "$all_alive" = 1 ] && healthy_backends && s3_probe >/dev/null 2>&1; then
  echo "swift-s3api: already running and healthy on http://127.0.0.1:$PORT (state: $S)"
  exit 0
fi

# Something is missing or unhealthy: stop whatever is left from an earlier start, then start fresh.
if [ -d "$S/run" ]; then
  bash "$(dirname "$0")/swift-stop.sh" "$S" >/dev/null 2>&1 || true
fi
for p in 6210 6211 6212 "$PORT" "$MEMCACHE_PORT"; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
    die "port 127.0.0.1:$p is already in use by a process not started from $S (stop it, or set S3DRIVER_SWIFT_PORT for the proxy)"
  fi
done

mkdir -p "$S/etc" "$S/srv/node/d1" "$S/run"
RUN_USER=$(id -un)

cat >"$S/etc/swift.conf" <<'EOF'
[swift-hash]
swift_hash_path_suffix = s3driver
swift_hash_path_prefix = s3driver
[storage-policy:0]
name = Policy-0
default = yes
EOF

for svc in account:6212 container:6211 object:6210; do
  n=${svc%%:*} p=${svc##*:}
  cat >"$S/etc/$n-server.conf" <<EOF
[DEFAULT]
devices = $S/srv/node
mount_check = false
disable_fallocate = true
bind_ip = 127.0.0.1
bind_port = $p
workers = 0
swift_dir = $S/etc
user = $RUN_USER
log_address = /dev/null
log_level = $LOG_LEVEL
[pipeline:main]
pipeline = healthcheck $n-server
[app:$n-server]
use = egg:swift#$n
# Swift's defaults (0.5 s to connect, 3 s for the account update of a container PUT) are made for idle racks; on a
# 2-core CI machine running tests in parallel they time out and the client sees 503 "Please reduce your request rate".
conn_timeout = 5
node_timeout = 30
[filter:healthcheck]
use = egg:swift#healthcheck
[$n-replicator]
[$n-updater]
[$n-auditor]
EOF
done

cat >"$S/etc/proxy-server.conf" <<EOF
[DEFAULT]
bind_ip = 127.0.0.1
bind_port = $PORT
workers = 0
swift_dir = $S/etc
user = $RUN_USER
log_address = /dev/null
log_level = $LOG_LEVEL
[pipeline:main]
pipeline = catch_errors gatekeeper healthcheck proxy-logging cache listing_formats bulk s3api tempauth copy slo dlo keymaster encryption proxy-logging proxy-server
[app:proxy-server]
use = egg:swift#proxy
allow_account_management = true
# See the backends' timeouts above: a busy single-threaded backend must not turn into a 503.
conn_timeout = 5
node_timeout = 60
recoverable_node_timeout = 60
account_autocreate = true
[filter:s3api]
use = egg:swift#s3api
location = us-east-1
storage_domain = localhost
[filter:tempauth]
use = egg:swift#tempauth
user_test_tester = testing .admin
[filter:cache]
use = egg:swift#memcache
memcache_servers = 127.0.0.1:$MEMCACHE_PORT
[filter:keymaster]
use = egg:swift#keymaster
encryption_root_secret = czNkcml2ZXJ0ZXN0b25seXJvb3RzZWNyZXRhdGxlYXN0MzJieXRlcw==
[filter:encryption]
use = egg:swift#encryption
[filter:healthcheck]
use = egg:swift#healthcheck
[filter:catch_errors]
use = egg:swift#catch_errors
[filter:gatekeeper]
use = egg:swift#gatekeeper
[filter:proxy-logging]
use = egg:swift#proxy_logging
[filter:listing_formats]
use = egg:swift#listing_formats
[filter:bulk]
use = egg:swift#bulk
[filter:copy]
use = egg:swift#copy
[filter:slo]
use = egg:swift#slo
[filter:dlo]
use = egg:swift#dlo
EOF

(
  cd "$S/etc"
  for r in account:6212 container:6211 object:6210; do
    n=${r%%:*} p=${r##*:}
    [ -f "$n.ring.gz" ] && continue
    swift-ring-builder "$n.builder" create 6 1 1 >/dev/null
    swift-ring-builder "$n.builder" add "r1z1-127.0.0.1:$p/d1" 100 >/dev/null
    swift-ring-builder "$n.builder" rebalance >/dev/null || true
    [ -f "$n.ring.gz" ] || die "swift-ring-builder did not write $S/etc/$n.ring.gz"
  done
)

for n in $SERVICES; do
  # setsid: the servers outlive this script and are not hit by signals sent to the caller's process group.
  if [ "$n" = memcached ]; then
    setsid memcached -l 127.0.0.1 -p "$MEMCACHE_PORT" -U 0 -m 64 -u "$RUN_USER" >"$S/run/$n.log" 2>&1 </dev/null &
  else
    setsid "swift-$n-server" "$S/etc/$n-server.conf" -v >"$S/run/$n.log" 2>&1 </dev/null &
  fi
  echo $! >"$S/run/$n.pid"
done

start=$SECONDS
deadline=$((SECONDS + ${S3DRIVER_SWIFT_START_TIMEOUT:-60}))
until healthy_backends; do
  for n in $SERVICES; do pid_alive "$n" || die "$n exited during start-up"; done
  [ $SECONDS -lt $deadline ] || die "Swift servers did not answer /healthcheck within ${S3DRIVER_SWIFT_START_TIMEOUT:-60}s"
  sleep 0.2
done
until probe_err=$(s3_probe 2>&1); do
  [ $SECONDS -lt $deadline ] || die "s3api did not accept a signed PUT within ${S3DRIVER_SWIFT_START_TIMEOUT:-60}s: $probe_err"
  sleep 0.5
done
echo "swift-s3api: ready on http://127.0.0.1:$PORT in $((SECONDS - start))s (state: $S; pids: $(cat "$S"/run/*.pid | tr '\n' ' '))"
