#!/bin/bash
# Bounded fuzzing of s3driver with cargo-fuzz (libFuzzer): bash .ci/fuzz.sh [TARGET...]
#
# Targets (fuzz/fuzz_targets/): sign (SigV4 header, presign, aws-chunked, SigV2), xml (every S3
# XML parser and the writers' round trips), params (the S3 driver's configuration parsing),
# registry (`s3driver serve`'s request path, in memory, with sequences of hostile requests, with
# and without token authentication).
# Each runs for S3DRIVER_FUZZ_SECONDS (default 30) after one build of all targets, from a seed
# corpus copied into a temporary directory (signing-vectors/ for sign, tests/fixtures/xml/ for
# xml; params and registry start empty); nothing is written into the repository except the build in
# fuzz/target (or $CARGO_TARGET_DIR).
#
# Sanitizer: S3DRIVER_FUZZ_SANITIZER (default none: the crate forbids `unsafe`, so
# AddressSanitizer would only slow the build and the runs down; panics, overflow checks and
# debug assertions are what find bugs here; `address` brings ASan back).
#
# Needs a nightly toolchain (libFuzzer's sanitizer flags). Without one it prints
# "skipped: no nightly toolchain" and exits 0. cargo-fuzz is installed from crates.io
# (cargo install cargo-fuzz --locked) when missing. Exit status 1 on any crash, with the
# crashing input's path and libFuzzer's report; inputs are kept in S3DRIVER_FUZZ_ARTIFACTS
# (default: a temporary directory that is left in place only when something crashed).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
[ -d "$HOME/.cargo/bin" ] && PATH="$HOME/.cargo/bin:$PATH"
SECONDS_EACH=${S3DRIVER_FUZZ_SECONDS:-30}
case "$SECONDS_EACH" in ''|*[!0-9]*) echo "S3DRIVER_FUZZ_SECONDS must be a number of seconds" >&2; exit 2;; esac
SANITIZER=${S3DRIVER_FUZZ_SANITIZER:-none}
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=(sign xml params registry)

step() { echo "==> [fuzz $(date +%H:%M:%S) +${SECONDS}s] $*"; }

if ! cargo +nightly --version >/dev/null 2>&1; then
  echo "fuzz: skipped: no nightly toolchain (rustup toolchain install nightly to run it)"
  exit 0
fi
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
  step "installing cargo-fuzz from crates.io"
  cargo install cargo-fuzz --locked
fi

WORK=$(mktemp -d /tmp/s3driver-fuzz.XXXXXX)
ARTIFACTS=${S3DRIVER_FUZZ_ARTIFACTS:-$WORK/artifacts}
crashed=0
cleanup() {
  if [ "$crashed" = 0 ] && [ -z "${S3DRIVER_FUZZ_ARTIFACTS:-}" ]; then
    rm -rf "$WORK"
  else
    rm -rf "$WORK/corpus"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

seed() { # seed TARGET: fills $WORK/corpus/TARGET
  local dir=$WORK/corpus/$1
  mkdir -p "$dir"
  case "$1" in
    sign)
      find signing-vectors -type f \( -name '*.req' -o -name '*.creq' -o -name '*.sreq' -o -name '*.json' \) \
        -size -64k -exec cp -t "$dir" --backup=numbered {} +
      ;;
    xml)
      find tests/fixtures/xml -type f -name '*.xml' -exec cp -t "$dir" --backup=numbered {} +
      ;;
  esac
}

step "building fuzz targets: ${TARGETS[*]} (release with debug assertions, sanitizer $SANITIZER)"
for target in "${TARGETS[@]}"; do
  [ -f "fuzz/fuzz_targets/$target.rs" ] || { echo "fuzz: no target $target in fuzz/fuzz_targets/" >&2; exit 2; }
done
# `cargo fuzz build` takes one target or all: build each one that is asked for.
for target in "${TARGETS[@]}"; do
  (cd fuzz && cargo +nightly fuzz build --sanitizer "$SANITIZER" "$target")
done

summary=()
for target in "${TARGETS[@]}"; do
  seed "$target"
  mkdir -p "$ARTIFACTS/$target"
  step "running $target for ${SECONDS_EACH}s (seeds: $(find "$WORK/corpus/$target" -type f | wc -l))"
  log=$WORK/$target.log
  if (cd fuzz && cargo +nightly fuzz run --sanitizer "$SANITIZER" "$target" "$WORK/corpus/$target" -- \
        -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$ARTIFACTS/$target/") >"$log" 2>&1; then
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo '?')
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 | grep -o '[0-9]*' || echo '?')
    summary+=("$target: ok, $runs runs, coverage $cov")
  else
    crashed=1
    tail -n 60 "$log"
    summary+=("$target: CRASH, inputs in $ARTIFACTS/$target/")
  fi
done

echo "fuzz summary (${SECONDS_EACH}s each):"
printf '  %s\n' "${summary[@]}"
if [ "$crashed" = 1 ]; then
  echo "fuzz: FAILED (reproduce: cd fuzz && cargo +nightly fuzz run TARGET ARTIFACT)" >&2
  exit 1
fi
echo "fuzz: all targets ran clean"
