#!/usr/bin/env bash
# bench.sh: the project's figures beside their baselines, in one sitting
# (make bench; QUICK=1 for the short variant, one round of each):
#
#   1. chatd: scripts/bench-chatd.sh (a raw TLS 1.3 pipe, round trip and
#      handshake, fdatasync; pair throughput, latency to an attached
#      client, connection setup, memory per idle session, idle RSS);
#   2. the tracker: scripts/bench-tracker.sh (a bare net/http handler,
#      Syncthing's stdiscosrv, Ed25519 verifications; lookups and signed
#      updates at 100k and 1M users, SQLite and PostgreSQL).
#
# Each prints its table and where its results, logs and profiles are.
# MICRO=1 also runs the packages' own Go benchmarks (store, sessions,
# records, tracker server and store), which have no baselines.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "load average before starting: $(cut -d' ' -f1-3 /proc/loadavg)"
bash scripts/bench-chatd.sh
bash scripts/bench-tracker.sh
if [[ -n ${MICRO:-} ]]; then
  go test -run '^$' -bench . -benchtime "${BENCHTIME:-2s}" \
    ./daemon/peer ./daemon/store ./tracker/record ./tracker/server ./tracker/store/sqlitestore
fi
