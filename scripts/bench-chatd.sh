#!/usr/bin/env bash
# bench-chatd.sh: chatd's figures and their baselines, measured in one
# sitting, each figure printed beside its ratio to its baseline (issue 12:
# targets are ratios, because absolute figures do not carry across
# machines), with the 1-minute load average and the CPU steal seen while
# it was measured.
#
#   scripts/bench-chatd.sh            3 rounds, medians
#   QUICK=1 scripts/bench-chatd.sh    1 round, fewer messages (a few minutes)
#
# Baselines (Go benchmarks, run in each round beside the figures):
#   - a raw TLS 1.3 loopback pipe carrying 64-byte messages in chatd's
#     frames, acknowledged in batches (daemon/peer BenchmarkTLSPipe): the
#     message ceiling; "write=each" (a Write per message, as a message
#     submitted alone goes out) is the ratio's base, "write=batched" is
#     shown too;
#   - the TLS round trip of one small frame (BenchmarkTLSRoundTrip) and
#     the disk's fdatasync of a small write in the data directory's file
#     system (daemon/store BenchmarkFdatasync, in $DATA_DIR if set): the
#     latency target is 2 syncs (one commit on each side) + 3 round trips;
#   - the TLS 1.3 mutual handshake alone, TCP connect included
#     (BenchmarkTLSHandshake): the ceiling of connection setup.
# Figures: pair throughput with 1, 16 and 128 sending goroutines and 100
# pairs at once (durable messages/s, both sides' stores real; daemon
# BenchmarkPairThroughput, BenchmarkPairsAtOnce), send → stored → event at
# an attached client (BenchmarkSendToStored), connection setup for a new
# contact (BenchmarkConnectionSetup), memory per idle session at 1, 100
# and 1,000 sessions (BenchmarkIdleSessionMemory, hub in a child process),
# and the RSS of an idle chatd (the real binary against a real
# chat-tracker, 127.0.0.1 only).
#
# Settings: ROUNDS (3, QUICK 1), OUT (results, logs and profiles; a new
# directory under /tmp by default), PROFILE (1: one more, uncounted pair
# run with 128 senders under the CPU profiler, and a heap profile of the
# hub at 1,000 sessions), DATA_DIR (where the fdatasync baseline writes),
# PORT (first of the loopback ports for the idle chatd, 27190).
#
# Everything listens on 127.0.0.1 and every process it starts is stopped
# by PID on exit. Measure on a quiet machine: it prints the load average
# before it starts and beside every figure.
set -euo pipefail
cd "$(dirname "$0")/.."

quick=${QUICK:-}
rounds=${ROUNDS:-$([[ -n $quick ]] && echo 1 || echo 3)}
profile=${PROFILE:-1}
port=${PORT:-27190}
out=${OUT:-$(mktemp -d /tmp/bench-chatd.XXXXXX)}
mkdir -p "$out"
work=$(mktemp -d)
results=$out/results.tsv # what, round, value, load1, steal_pct
: >"$results"

if [[ -n $quick ]]; then
  pipetime=1s n_pair=20000x n_pairs=5000x n_lat=2000x n_setup=10x n_hs=500x n_rtt=5000x n_sync=500x n_prof=50000x
else
  pipetime=3s n_pair=50000x n_pairs=20000x n_lat=5000x n_setup=20x n_hs=2000x n_rtt=20000x n_sync=2000x n_prof=200000x
fi

pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

log() { printf '%s %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

load1() { cut -d' ' -f1 /proc/loadavg; }
stat_cpu() { awk '/^cpu /{t=0; for (i = 2; i <= 9; i++) t += $i; print t, $9}' /proc/stat; } # total, steal

# --- tools ---------------------------------------------------------------

bin=$work/bin
mkdir -p "$bin"
log "building the test binaries, chatd, chatctl and chat-tracker"
go test -c -o "$bin/peer.test" ./daemon/peer
go test -c -o "$bin/store.test" ./daemon/store
go test -c -o "$bin/daemon.test" ./daemon
go build -o "$bin/" ./cmd/chatd ./cmd/chatctl ./cmd/chat-tracker

# measure ROUND PREFIX BINARY ARGS...: runs a test binary's benchmarks and
# records every metric of every benchmark line as PREFIX/NAME/UNIT, with
# the load average after the run and the CPU steal during it.
measure() {
  local round=$1 prefix=$2 binary=$3
  shift 3
  local t0 s0 t1 s1 outp steal
  read -r t0 s0 < <(stat_cpu)
  outp=$(cd "$work" && "$bin/$binary" -test.run '^$' -test.timeout 60m "$@" 2>>"$out/errors.log") || {
    log "$prefix: failed (see $out/errors.log)"
    echo "$outp" >>"$out/errors.log"
    return 0
  }
  read -r t1 s1 < <(stat_cpu)
  echo "$outp" >>"$out/bench.log"
  steal=$(awk -v d="$((t1 - t0))" -v s="$((s1 - s0))" 'BEGIN { printf "%.1f", (d > 0 ? 100 * s / d : 0) }')
  awk -v p="$prefix" -v r="$round" -v l="$(load1)" -v st="$steal" '/^Benchmark/ {
      name = $1; sub(/^Benchmark/, "", name); sub(/-[0-9]+$/, "", name)
      for (i = 3; i + 1 <= NF; i += 2) printf "%s/%s/%s\t%s\t%s\t%s\t%s\n", p, name, $(i + 1), r, $i, l, st
    }' <<<"$outp" >>"$results"
  log "$prefix round $round done, load $(load1), steal $steal%"
}

# --- the runs ------------------------------------------------------------

log "results in $out; load average before starting: $(cut -d' ' -f1-3 /proc/loadavg)"
for r in $(seq "$rounds"); do
  measure "$r" peer peer.test -test.bench 'TLSPipe' -test.benchtime "$pipetime"
  measure "$r" peer peer.test -test.bench 'TLSRoundTrip' -test.benchtime "$n_rtt"
  measure "$r" peer peer.test -test.bench 'TLSHandshake' -test.benchtime "$n_hs"
  P2PCHAT_BENCH_DIR=${DATA_DIR:-} measure "$r" store store.test -test.bench 'Fdatasync' -test.benchtime "$n_sync"
  measure "$r" daemon daemon.test -test.bench 'PairThroughput' -test.benchtime "$n_pair"
  measure "$r" daemon daemon.test -test.bench 'SendToStored' -test.benchtime "$n_lat"
  measure "$r" daemon daemon.test -test.bench 'ConnectionSetup' -test.benchtime "$n_setup"
  measure "$r" daemon daemon.test -test.bench 'PairsAtOnce' -test.benchtime "$n_pairs"
done
P2PCHAT_BENCH_PROFILES=$([[ -n $profile ]] && echo "$out" || true) \
  measure 1 daemon daemon.test -test.bench 'IdleSessionMemory' -test.benchtime 1x
if [[ -n $profile ]]; then
  log "profiling the pair benchmark, 128 senders (uncounted)"
  (cd "$work" && "$bin/daemon.test" -test.run '^$' -test.bench 'PairThroughput/senders=128' -test.benchtime "$n_prof" \
    -test.cpuprofile "$out/cpu-pair128.pprof" >>"$out/bench.log" 2>>"$out/errors.log") || log "profile run failed"
  go tool pprof -top -nodecount=40 "$bin/daemon.test" "$out/cpu-pair128.pprof" >"$out/cpu-pair128.top" 2>/dev/null || true
  go tool pprof -top -cum -nodecount=60 "$bin/daemon.test" "$out/cpu-pair128.pprof" >"$out/cpu-pair128.cum" 2>/dev/null || true
  cp "$bin/daemon.test" "$out/" # pprof needs the binary
fi

# Idle chatd: the real binary, registered on a real tracker, no sessions.
log "idle chatd RSS"
printf 'rate_limit = 1000.0\nrate_burst = 1000\n' >"$work/tracker.toml"
"$bin/chat-tracker" --config "$work/tracker.toml" --listen "127.0.0.1:$port" --db "$work/tracker.db" \
  --log-format console >"$out/tracker.log" 2>&1 &
pids+=($!)
: >"$work/chatd.toml"
sock=$work/c/control.sock
for i in $(seq 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
HOME=$work XDG_CONFIG_HOME=$work/cfg XDG_DATA_HOME=$work/data XDG_RUNTIME_DIR=$work/run \
  "$bin/chatd" --config "$work/chatd.toml" --name idlebench --tracker "http://127.0.0.1:$port" \
  --listen "127.0.0.1:$((port + 1))" --data-dir "$work/chatd" --control-socket "$sock" --portmap=false \
  >"$out/chatd.log" 2>&1 &
chatd_pid=$!
pids+=("$chatd_pid")
for i in $(seq 100); do
  "$bin/chatctl" --socket "$sock" status --json 2>/dev/null | grep -q '"tracker_state": *"registered"' && break
  sleep 0.1
done
read -r t0 s0 < <(stat_cpu)
sleep 10 # past start-up: what it holds when idle
read -r t1 s1 < <(stat_cpu)
rss=$(awk '/^VmRSS/ {print $2 * 1024}' "/proc/$chatd_pid/status")
printf 'chatd/IdleRSS/B\t1\t%s\t%s\t%s\n' "$rss" "$(load1)" \
  "$(awk -v d="$((t1 - t0))" -v s="$((s1 - s0))" 'BEGIN { printf "%.1f", (d > 0 ? 100 * s / d : 0) }')" >>"$results"

# --- the table -----------------------------------------------------------

# median KEY: the median value of KEY's rounds, the median load, the
# highest steal.
median() {
  awk -F'\t' -v w="$1" 'BEGIN { n = 0 } # a subscript must be 0, not "", the first time
    $1 == w { v[n] = $3; l[n] = $4; if ($5 > s) s = $5; n++ }
    function med(a, n,   i, j, t) { for (i = 0; i < n; i++) for (j = i + 1; j < n; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
      return n % 2 ? a[int(n / 2)] : (a[n / 2 - 1] + a[n / 2]) / 2 }
    END { if (n) printf "%s\t%s\t%s\n", med(v, n), med(l, n), s + 0 }' "$results"
}

val() { median "$1" | cut -f1; }

# row LABEL KEY BASE TARGET [SCALE UNIT]: one line of the table. BASE is a
# number (a baseline computed below) or empty; TARGET is ">=0.5", "<=2",
# or "" (on the ratio; "abs<=N" on the value itself). SCALE divides the
# value for display in UNIT.
row() {
  local label=$1 key=$2 base=$3 target=$4 scale=${5:-1} unit=${6:-}
  local fig
  fig=$(median "$key")
  [[ -n $fig ]] || { printf '%-58s %s\n' "$label" "(not measured: see $out/errors.log)"; return 0; }
  awk -F'\t' -v label="$label" -v fig="$fig" -v base="$base" -v target="$target" -v scale="$scale" -v unit="$unit" 'BEGIN {
    split(fig, f, "\t")
    v = f[1] + 0
    ratio = (base != "" && base + 0 > 0) ? v / base : 0
    verdict = ""
    if (target != "") {
      abs = (substr(target, 1, 3) == "abs")
      t = abs ? substr(target, 4) : target
      op = substr(t, 1, 2); want = substr(t, 3) + 0
      x = abs ? v : ratio
      if (abs || ratio > 0) {
        ok = (op == ">=") ? x >= want : x <= want
        miss = (op == ">=") ? (want - x) / want : (x - want) / want
        verdict = sprintf("%s%s %s", abs ? "" : "ratio ", t, ok ? "met" : sprintf("MISSED by %.0f%%", 100 * miss))
      }
    }
    printf "%-58s %12s %-6s %8s  %-26s %5s %5s\n", label, sprintf("%.4g", v / scale), unit,
      (ratio > 0 ? sprintf("%.3gx", ratio) : "-"), verdict, f[2], f[3]
  }'
}

pipe=$(val peer/TLSPipe/write=each/msgs/s)
sync50=$(val store/Fdatasync/sync-p50-µs)
rtt50=$(val peer/TLSRoundTrip/rtt-p50-µs)
hs50=$(val peer/TLSHandshake/handshake-p50-µs)
latbase=$(awk -v s="${sync50:-0}" -v r="${rtt50:-0}" 'BEGIN { if (s > 0 && r > 0) printf "%.1f", 2 * s + 3 * r }')
{
  echo
  echo "chatd figures and baselines; $rounds round(s), medians; $(nproc) CPUs; $(date -u +%Y-%m-%dT%H:%MZ)"
  printf '%-58s %12s %-6s %8s  %-26s %5s %5s\n' figure value unit ratio target load1 steal%
  echo "-- baselines"
  row "TLS 1.3 pipe, 64-byte msgs + acks, a write per msg" peer/TLSPipe/write=each/msgs/s "" "" 1 msg/s
  row "TLS 1.3 pipe, batched writes (/write per msg)" peer/TLSPipe/write=batched/msgs/s "$pipe" "" 1 msg/s
  row "TLS round trip p50" peer/TLSRoundTrip/rtt-p50-µs "" "" 1 µs
  row "fdatasync of a small write p50" store/Fdatasync/sync-p50-µs "" "" 1 µs
  row "fdatasync p99" store/Fdatasync/sync-p99-µs "" "" 1 µs
  row "fdatasync CPU per sync" store/Fdatasync/cpu-ns/sync "" "" 1000 µs
  row "TLS 1.3 mutual handshake alone p50" peer/TLSHandshake/handshake-p50-µs "" "" 1000 ms
  echo "   latency baseline: 2 fdatasyncs + 3 round trips = ${latbase:-?} µs"
  echo "-- throughput (durable msgs/s, stored on both sides and acked; /TLS pipe)"
  row "pair, 1 sender" daemon/PairThroughput/senders=1/msgs/s "$pipe" "" 1 msg/s
  row "pair, 16 senders" daemon/PairThroughput/senders=16/msgs/s "$pipe" "" 1 msg/s
  row "pair, 128 senders" daemon/PairThroughput/senders=128/msgs/s "$pipe" ">=0.5" 1 msg/s
  row "  CPU per message, 128 senders (both daemons)" daemon/PairThroughput/senders=128/cpu-ns/msg "" "" 1000 µs
  row "  sends per group commit, 128 senders" daemon/PairThroughput/senders=128/sends/commit "" "" 1 ""
  row "  synced commits per message, sender, 128 senders" daemon/PairThroughput/senders=128/sender-syncs/msg "" "" 1 ""
  row "  synced commits per message, receiver, 128 senders" daemon/PairThroughput/senders=128/receiver-syncs/msg "" "" 1 ""
  row "  synced commits per message, sender, 1 sender" daemon/PairThroughput/senders=1/sender-syncs/msg "" "" 1 ""
  row "  synced commits per message, receiver, 1 sender" daemon/PairThroughput/senders=1/receiver-syncs/msg "" "" 1 ""
  row "100 pairs at once, 1 sender each (all pairs)" daemon/PairsAtOnce/msgs/s "$pipe" "" 1 msg/s
  echo "-- latency, one message at a time (/2 fdatasyncs + 3 round trips)"
  row "send -> stored at the receiver p50" daemon/SendToStored/stored-p50-µs "$latbase" "<=1" 1 µs
  row "send -> stored p99" daemon/SendToStored/stored-p99-µs "" "abs<=2000" 1 µs
  row "send -> stored p999" daemon/SendToStored/stored-p999-µs "" "" 1 µs
  row "send -> event at an attached client p50" daemon/SendToStored/client-p50-µs "$latbase" "<=1" 1 µs
  row "send -> event at an attached client p99" daemon/SendToStored/client-p99-µs "" "abs<=2000" 1 µs
  row "send -> event at an attached client p999" daemon/SendToStored/client-p999-µs "" "" 1 µs
  row "send -> receipt back at the sender p50" daemon/SendToStored/delivered-p50-µs "$latbase" "" 1 µs
  row "Send's own latency (the sender's synced commit) p50" daemon/SendToStored/queued-p50-µs "$sync50" "" 1 µs
  echo "-- connection setup, first contact (/TLS handshake alone)"
  row "session up p50" daemon/ConnectionSetup/up-p50-ms "$(awk -v h="${hs50:-0}" 'BEGIN { if (h > 0) print h / 1000 }')" "<=2" 1 ms
  row "first message stored p50" daemon/ConnectionSetup/first-stored-p50-ms "$(awk -v h="${hs50:-0}" 'BEGIN { if (h > 0) print h / 1000 }')" "" 1 ms
  echo "-- memory"
  for k in 1 100 1000; do
    row "per idle session at $k, Go heap + stacks" "daemon/IdleSessionMemory/sessions=$k/B/session" "" "$([[ $k == 1000 ]] && echo 'abs<=32768' || true)" 1024 KiB
    row "per idle session at $k, RSS" "daemon/IdleSessionMemory/sessions=$k/rss-B/session" "" "$([[ $k == 1000 ]] && echo 'abs<=32768' || true)" 1024 KiB
  done
  row "idle chatd RSS (real binary, registered, no sessions)" chatd/IdleRSS/B "" "abs<=20971520" 1048576 MiB
  echo
  echo "raw results: $results; go test output: $out/bench.log"
  [[ -n $profile ]] && echo "CPU profile of the pair run (128 senders): $out/cpu-pair128.top, .cum (go tool pprof $out/daemon.test $out/cpu-pair128.pprof); hub heap at 1,000 sessions: $out/heap-hub-1000-sessions.pprof"
  true
} | tee "$out/summary.txt"
