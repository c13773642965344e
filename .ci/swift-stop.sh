#!/bin/bash
# Stop the Swift servers that .ci/swift-s3api.sh started in STATE_DIR (default /tmp/s3driver-swift).
# Only the process ids recorded in STATE_DIR/run/*.pid are signalled. Safe to run when nothing is running.
set -uo pipefail

S=${1:-/tmp/s3driver-swift}
[ -d "$S/run" ] || exit 0

pids=()
for f in "$S"/run/*.pid; do
  [ -f "$f" ] || continue
  pid=$(cat "$f")
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null && pids+=("$pid")
  fi
  rm -f "$f"
done

for _ in $(seq 1 50); do
  alive=0
  for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
  [ "$alive" = 0 ] && break
  sleep 0.1
done
for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null; done
[ ${#pids[@]} -gt 0 ] && echo "swift-s3api: stopped pids ${pids[*]}"
exit 0
