#!/usr/bin/env bash
# stress: run the Go tests (with -race) and the JS unit tests STRESS_N times while a CPU hog keeps
# every core busy. A test that depends on the scheduler, a coarse clock or a lucky spawn fails
# here long before it fails in CI. Every round runs; the logs of failed rounds are kept.
set -uo pipefail
n=${STRESS_N:-3}
cd "$(git rev-parse --show-toplevel)"
logs=$(mktemp -d "${TMPDIR:-/tmp}/ticksync-stress.XXXXXX")
pkgs=$(go list ./... | grep -v /node_modules/)

hogs=()
stop_hogs() { [ ${#hogs[@]} -gt 0 ] && kill "${hogs[@]}" 2>/dev/null; wait 2>/dev/null; }
trap stop_hogs EXIT
for _ in $(seq "$(nproc)"); do
  ( while :; do :; done ) &
  hogs+=($!)
done
echo "stress: $n rounds of go test -race and the JS unit tests, $(nproc) CPU hogs running; logs in $logs"

# Build the JS tests once; each round runs them.
(cd client-js && node scripts/build-tests.mjs) >"$logs/build-js.log" 2>&1 || { echo "stress: building the JS tests failed: $logs/build-js.log"; exit 1; }

failed=0
for i in $(seq "$n"); do
  start=$SECONDS
  status=ok
  if ! go test -race -count=1 $pkgs >"$logs/go-$i.log" 2>&1; then
    status="FAILED (go: $logs/go-$i.log)"; failed=$((failed + 1))
    grep -E '^(--- FAIL|FAIL|panic:)' "$logs/go-$i.log" | head -20
  elif ! (cd client-js && node --test build/test/) >"$logs/js-$i.log" 2>&1; then
    status="FAILED (js: $logs/js-$i.log)"; failed=$((failed + 1))
    grep -E '^not ok|# fail' "$logs/js-$i.log" | head -20
  fi
  echo "stress: round $i/$n $status in $((SECONDS - start)) s"
done
echo "stress: $((n - failed)) passed, $failed failed"
[ "$failed" = 0 ]
