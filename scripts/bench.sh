#!/usr/bin/env bash
# bench.sh: the Go benchmarks behind the README's figures (make bench).
# The tracker's 1M-user load run is scripts/bench-tracker.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
# Daemon pairs: each benchmark gets the count it needs (a daemon per
# ConnectionSetup iteration, a hundred daemons for the memory one).
go test -run '^$' -bench 'PairThroughput' -benchtime=50000x ./daemon
go test -run '^$' -bench 'SendToStored' -benchtime=5000x ./daemon
go test -run '^$' -bench 'ConnectionSetup' -benchtime=20x ./daemon
go test -run '^$' -bench 'IdleSessionMemory' -benchtime=1x ./daemon
go test -run '^$' -bench . -benchtime "${BENCHTIME:-2s}" \
  ./daemon/peer ./daemon/store ./tracker/record ./tracker/server ./tracker/store/sqlitestore
