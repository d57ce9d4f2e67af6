#!/usr/bin/env bash
# bench.sh: the Go benchmarks behind the README's figures (make bench).
# The tracker's 1M-user load run is scripts/bench-tracker.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
go test -run '^$' -bench . -benchtime "${BENCHTIME:-2s}" \
  ./daemon ./daemon/peer ./daemon/store ./tracker/record ./tracker/server ./tracker/store/sqlitestore
