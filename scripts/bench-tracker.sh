#!/usr/bin/env bash
# bench-tracker.sh: the tracker's load figures in the README.
#
#   scripts/bench-tracker.sh [sqlite|postgres|both]     (default both)
#
# Preloads USERS (default 1,000,000) signed records straight into a fresh
# store, starts the real chat-tracker on 127.0.0.1 with rate limits lifted,
# and runs tracker-load's lookup and signed-update phases against it. For
# PostgreSQL it needs root (scripts/postgres.sh) or P2PCHAT_BENCH_POSTGRES, a
# URL of a database it may empty. Everything runs on loopback and stops by
# itself; it ends only the tracker it started.
set -euo pipefail
cd "$(dirname "$0")/.."
which=${1:-both}
users=${USERS:-1000000}
lookups=${LOOKUPS:-500000}
updates=${UPDATES:-50000}
port=${PORT:-27090}
make -s build
work=$(mktemp -d)
tracker_pid=
cleanup() {
  [[ -n $tracker_pid ]] && kill "$tracker_pid" 2>/dev/null && wait "$tracker_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
printf 'rate_limit = 1000000.0\nrate_burst = 1000000\nlog_level = "warn"\n' > "$work/tracker.toml"

bench() { # name dsn
  echo "== $1: preloading $users users"
  bin/tracker-load --users "$users" --preload-direct "$2" --preload-duration 30m --lookups 0 --updates 0
  bin/chat-tracker --config "$work/tracker.toml" --listen "127.0.0.1:$port" --db "$2" 2>"$work/$1.log" &
  tracker_pid=$!
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
  bin/tracker-load --url "http://127.0.0.1:$port" --users "$users" --preload=false \
    --lookups "$lookups" --updates "$updates" --duration 30s
  if command -v wrk >/dev/null; then # the same lookups from a C client, for comparison
    echo "== $1: wrk lookups"
    USERS=$users wrk -t1 -c32 -d10s -s scripts/wrk-lookup.lua "http://127.0.0.1:$port" | grep -E 'Requests/sec|Non-2xx|Latency '
  fi
  kill "$tracker_pid"; wait "$tracker_pid" || true; tracker_pid=
}

if [[ $which == sqlite || $which == both ]]; then
  bench sqlite "$work/tracker.db"
fi
if [[ $which == postgres || $which == both ]]; then
  url=${P2PCHAT_BENCH_POSTGRES:-}
  if [[ -z $url ]]; then
    bash scripts/postgres.sh >/dev/null
    runuser -u postgres -- psql -qc "DROP DATABASE IF EXISTS p2pchat_bench" -c "CREATE DATABASE p2pchat_bench OWNER p2pchat"
    url="postgres://p2pchat:p2pchat@127.0.0.1:5432/p2pchat_bench?sslmode=disable&pool_max_conns=16"
  fi
  bench postgres "$url"
fi
