#!/usr/bin/env bash
# Runs one scenario of the arena benchmark against Colyseus 0.18 and appends the JSON line to
# bench/results/peer.jsonl (repo root).
#   usage: bench/peers/colyseus/run.sh SCENARIO [duration_s]
#   SCENARIO: A | B | B60 | B128 | C | D. Overrides via env: ENTITIES, CLIENTS, HZ, WORLD, VIEW,
#   CELL, WARMUP_S, PROBES, PORT (default 2567), JOIN_CONCURRENCY.
set -euo pipefail

scenario="${1:?usage: run.sh SCENARIO [duration_s]}"
duration="${2:-20}"
port="${PORT:-2567}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
cd "$here"

case "$scenario" in A|B|B60|B128|C|D) ;; *) echo "unknown scenario: $scenario (A, B, B60, B128, C, D)" >&2; exit 2 ;; esac

probe() { # exit 0 when something answers GET /stats on the port
  if command -v curl >/dev/null 2>&1; then
    curl -fsS --max-time 1 "http://127.0.0.1:$port/stats" >/dev/null 2>&1
  else
    node -e 'fetch(process.argv[1],{signal:AbortSignal.timeout(1000)}).then(r=>process.exit(r.ok?0:1),()=>process.exit(1))' \
      "http://127.0.0.1:$port/stats"
  fi
}

if [ ! -d node_modules ]; then
  npm ci --no-audit --no-fund >&2
fi
npm run --silent build >&2

if probe; then
  echo "port $port is already in use; set PORT to a free port" >&2
  exit 1
fi

node dist/server.js --scenario "$scenario" --port "$port" >&2 &
pid=$!
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true' EXIT

ready=0
for _ in $(seq 1 150); do # at most ~15 s
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "server (pid $pid) exited before listening" >&2
    exit 1
  fi
  if probe; then ready=1; break; fi
  sleep 0.1
done
if [ "$ready" != 1 ]; then
  echo "server (pid $pid) did not listen on 127.0.0.1:$port in time" >&2
  exit 1
fi

line="$(timeout $((duration + 600)) node dist/loadclient.js --scenario "$scenario" --port "$port" \
  --duration "$duration" --server-pid "$pid")"

mkdir -p "$root/bench/results"
printf '%s\n' "$line" >>"$root/bench/results/peer.jsonl"
printf '%s\n' "$line"
