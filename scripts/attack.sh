#!/usr/bin/env bash
# attack.sh: the attack suite of the README's Security section (`make attack`).
#
# Runs, with the race detector, the tests that play an attacker against a
# real daemon, tracker and chatctl (loopback only) and prints the figures
# they report. FULL=1 adds the full crash-safety run (100 SIGKILLs, as
# root) and the full-disk test. Every test here also runs in `make test`;
# this script only gathers them and their figures in one place.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=$PATH:/usr/local/go/bin

run() { # packages, then a -run pattern
  local pattern=$1
  shift
  go test -race -count=1 -v -run "$pattern" "$@" 2>&1 |
    grep -E '^(=== RUN|--- (PASS|FAIL|SKIP)|ok|FAIL|panic)|flood:|garbage connections|fd limit|figures|trials' |
    grep -v '^=== RUN' || true
}

echo "== peer: slot flood, silent connections, garbage, the wire shows no identity, session bounds"
run 'SilentFlood|SilentConnection|FailedHandshakes|WireShowsNoIdentity|OldPreamble|Bounded|FileDescriptors' ./daemon/peer/
echo "== chatd: strangers (consent, flood, lookups, keys, quota, block list, event log)"
run 'Stranger|Consent|Blocked|RemovedContact|DailyQuota|MeterRate|KeyFlood|EventLogIsBounded|Impostor|KeySwap' ./daemon/
echo "== store: requests and block list"
run 'Request|Block|Removed' ./daemon/store/
echo "== tracker: small-order keys, replays, health flood"
run 'SmallOrder|Replay|Replayed|HealthFlood|HealthAndMetrics|RateLimit' ./tracker/record/ ./tracker/server/
echo "== chatctl and the control socket: hostile text, socket directory, foreign daemon"
run 'Hostile|UnsafeDir|WritableDir|Foreign|OtherUID' ./ctl/... ./daemon/control/
echo "== the real binaries: consent with chatctl, strangers against a small open-file limit"
run 'TestConsentWithChatctl|TestFileLimit' ./e2e/
if [[ ${FULL:-} == 1 ]]; then
  echo "== crash safety (100 SIGKILLs) and a full disk (as root)"
  P2PCHAT_FULL=1 run 'TestCrashSafety|TestFullDisk' ./e2e/
fi
