#!/bin/bash
# Runs the OCI Distribution Specification conformance suite (v1.1.1, built offline; see its README) against
# `s3driver serve` on every storage the CI has, with and without htpasswd auth, and fails when any run has a failed
# spec. Each run prints the suite's per-workflow table.
#
# Usage: .ci/oci-conformance.sh BINARY            (BINARY: a built s3driver with the `server` feature)
# Environment: S3DRIVER_OCI_CONFORMANCE (the suite's folder, default ../shared/oci-conformance next to the
#   repository), S3DRIVER_SWIFT_ENDPOINT (Swift s3api; its runs are skipped when unset), S3DRIVER_CEPH_ENDPOINT
#   (Ceph RGW with .ci/ceph-rgw-start.sh's keys; likewise),
#   S3DRIVER_REQUIRE_OCI=1 (a missing suite is an error instead of a skip).
#
# Runs: filesystem; filesystem + htpasswd; S3 on Swift with SigV4, with SigV2, and with SigV4 + htpasswd; S3 on
# Ceph RGW with SigV4 and with SigV2.
# The htpasswd file is .ci/oci-htpasswd (user "oci", password "conformance", bcrypt cost 5: test data only).
set -uo pipefail

BIN=${1:?usage: $0 BINARY}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SUITE=${S3DRIVER_OCI_CONFORMANCE:-$ROOT/../shared/oci-conformance}
if [ ! -x "$SUITE/conformance.test" ]; then
  if [ "${S3DRIVER_REQUIRE_OCI:-}" = 1 ]; then
    echo "oci-conformance: ERROR: the suite is not at $SUITE (set S3DRIVER_OCI_CONFORMANCE)" >&2
    exit 1
  fi
  echo "oci-conformance: skipped: the suite is not at $SUITE (set S3DRIVER_OCI_CONFORMANCE)"
  exit 0
fi

WORK=$(mktemp -d /tmp/s3driver-oci.XXXXXX)
SERVER_PID=
cleanup() {
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT

# Creates a Swift container (an S3 bucket) through Swift's own API with tempauth.
swift_bucket() {
  local endpoint=$1 bucket=$2 head token url
  head=$(curl -sfi -H "X-Auth-User: test:tester" -H "X-Auth-Key: testing" "$endpoint/auth/v1.0") || return 1
  token=$(printf '%s' "$head" | tr -d '\r' | awk -F': ' 'tolower($1)=="x-auth-token" {print $2}')
  url=$(printf '%s' "$head" | tr -d '\r' | awk -F': ' 'tolower($1)=="x-storage-url" {print $2}')
  curl -sf -o /dev/null -X PUT -H "X-Auth-Token: $token" "$url/$bucket"
}

# Creates a bucket on an S3 endpoint with a SigV2-signed PUT (python's standard library only).
s3_bucket() {
  python3 - "$@" <<'PY'
import base64, hashlib, hmac, http.client, sys, urllib.parse
from email.utils import formatdate
endpoint, ak, sk, bucket = sys.argv[1:5]
u = urllib.parse.urlparse(endpoint)
date = formatdate(usegmt=True)
sig = base64.b64encode(hmac.new(sk.encode(), f"PUT\n\n\n{date}\n/{bucket}".encode(), hashlib.sha1).digest()).decode()
c = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
c.request("PUT", f"/{bucket}", headers={"Date": date, "Authorization": f"AWS {ak}:{sig}", "Content-Length": "0"})
r = c.getresponse()
r.read()
sys.exit(0 if r.status == 200 else f"creating bucket {bucket}: HTTP {r.status}")
PY
}

# run NAME STORAGE_YAML AUTH(0|1)
failed=()
run() {
  local name=$1 storage=$2 auth=$3 cfg="$WORK/$1.yml" log="$WORK/$1.log" addr= i
  {
    printf 'version: 0.1\nlog:\n  level: info\n  accesslog:\n    disabled: true\n'
    printf '%s\n' "$storage"
    printf 'http:\n  addr: 127.0.0.1:0\n'
    if [ "$auth" = 1 ]; then
      printf 'auth:\n  htpasswd:\n    realm: conformance\n    path: %s\n' "$ROOT/.ci/oci-htpasswd"
    fi
  } > "$cfg"
  "$BIN" serve --config "$cfg" > "$log" 2>&1 &
  SERVER_PID=$!
  for i in $(seq 1 300); do
    addr=$(grep -o 'addr=[0-9.:]*' "$log" | head -1 | cut -d= -f2)
    [ -n "$addr" ] && break
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.1
  done
  if [ -z "$addr" ]; then
    echo "oci-conformance: $name: s3driver serve did not start:" >&2
    cat "$log" >&2
    failed+=("$name (did not start)")
    return
  fi
  echo "---- OCI conformance: $name (http://$addr)"
  local env=() rc out="$WORK/suite-$name.out"
  if [ "$auth" = 1 ]; then env=(OCI_USERNAME=oci OCI_PASSWORD=conformance); fi
  env "${env[@]}" OCI_REPORT_DIR="$WORK/report-$name" bash "$SUITE/run.sh" "http://$addr" "conformance/$name" > "$out" 2>&1
  rc=$?
  grep -E '^(Ran |SUCCESS|FAIL|workflow|Pull |Push |Content |TOTAL|exit code)' "$out"
  if [ "$rc" != 0 ]; then
    failed+=("$name")
    grep -a -B2 -A12 '\[FAIL\]' "$WORK/report-$name/output.log" | head -80
    echo "---- server log ($name):"; tail -40 "$log"
  fi
  kill "$SERVER_PID" 2>/dev/null; wait "$SERVER_PID" 2>/dev/null; SERVER_PID=
}

fs() { printf 'storage:\n  filesystem:\n    rootdirectory: %s\n  delete:\n    enabled: true\n' "$WORK/fs-$1"; }
# s3 ENDPOINT ACCESS_KEY SECRET_KEY BUCKET V4AUTH
s3() {
  local endpoint=$1 ak=$2 sk=$3 bucket=$4 v4=$5
  printf 'storage:\n  s3:\n    accesskey: "%s"\n    secretkey: "%s"\n    region: us-east-1\n' "$ak" "$sk"
  printf '    regionendpoint: %s\n    forcepathstyle: true\n    bucket: %s\n    v4auth: %s\n' \
    "$endpoint" "$bucket" "$v4"
  printf '    chunksize: 5242880\n    rootdirectory: /oci\n  delete:\n    enabled: true\n  redirect:\n    disable: true\n'
}

run filesystem "$(fs plain)" 0
run filesystem-htpasswd "$(fs auth)" 1
if [ -n "${S3DRIVER_SWIFT_ENDPOINT:-}" ]; then
  stamp=$(date +%s)-$$
  for v in v4 v2 v4auth; do
    swift_bucket "$S3DRIVER_SWIFT_ENDPOINT" "s3d-oci-$v-$stamp" || failed+=("creating the Swift bucket for $v")
  done
  swift=("$S3DRIVER_SWIFT_ENDPOINT" "test:tester" testing)
  run swift-sigv4 "$(s3 "${swift[@]}" "s3d-oci-v4-$stamp" true)" 0
  run swift-sigv2 "$(s3 "${swift[@]}" "s3d-oci-v2-$stamp" false)" 0
  run swift-sigv4-htpasswd "$(s3 "${swift[@]}" "s3d-oci-v4auth-$stamp" true)" 1
else
  echo "oci-conformance: S3DRIVER_SWIFT_ENDPOINT unset: the Swift runs are skipped"
fi
if [ -n "${S3DRIVER_CEPH_ENDPOINT:-}" ]; then
  stamp=$(date +%s)-$$
  ceph=("$S3DRIVER_CEPH_ENDPOINT" CEPHTESTKEY cephtestsecret)
  for v in v4 v2; do
    s3_bucket "${ceph[@]}" "s3d-oci-$v-$stamp" || failed+=("creating the Ceph bucket for $v")
  done
  run ceph-sigv4 "$(s3 "${ceph[@]}" "s3d-oci-v4-$stamp" true)" 0
  run ceph-sigv2 "$(s3 "${ceph[@]}" "s3d-oci-v2-$stamp" false)" 0
else
  echo "oci-conformance: S3DRIVER_CEPH_ENDPOINT unset: the Ceph runs are skipped"
fi

if [ ${#failed[@]} -gt 0 ]; then
  echo "oci-conformance: FAILED: ${failed[*]}" >&2
  exit 1
fi
echo "oci-conformance: every run passed"
