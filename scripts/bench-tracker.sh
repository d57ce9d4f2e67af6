#!/usr/bin/env bash
# bench-tracker.sh: the tracker's figures and their baselines, measured in
# one sitting, each figure printed beside its ratio to its baseline (issue
# 12: targets are ratios, because absolute figures do not carry across
# machines).
#
#   scripts/bench-tracker.sh            100k and 1M users, SQLite and PostgreSQL, 3 rounds of 10 s
#   QUICK=1 scripts/bench-tracker.sh    100k users, 1 round of 5 s
#
# Baselines, run interleaved with the tracker, round by round:
#   - bare: a net/http handler with a fixed 200-byte body (tracker-baseline
#     serve), the ceiling of any net/http lookup;
#   - stdiscosrv: Syncthing's discovery server v1.30.0, built from the Go
#     module proxy (cached in ~/.cache/p2pchat-bench), loaded with the same
#     number of devices (tracker-baseline stdisco-db writes its records.db);
#   - Ed25519 verifications/s on one core (tracker-baseline verify), the
#     ceiling of signed updates.
# Lookups are measured with wrk (random users; apt package wrk, installed
# when running as root) and with tracker-load (every user in turn); signed
# updates with both too, signed before the timed phase: tracker-load
# --write-updates signs a file of them each round for wrk
# (scripts/wrk-update.lua sends each once), a client that leaves the
# tracker more of the 2 cores than tracker-load's goroutines do. Each
# figure is the median of the rounds, with the 1-minute load average and
# the CPU steal seen during its rounds, and the server's CPU per request.
#
# Settings: USERS ("100000 1000000"), ROUNDS (3), SECS (10), CONNS ("8 64";
# wrk and tracker-load connections for lookups), UPDATE_WORKERS (256
# concurrent signed updates: at 64 the tracker waits on its group commits
# with CPU to spare), STORES ("sqlite postgres"), PHASES ("lookups
# updates"; "updates" alone skips the lookups and their baselines), BASE
# (a git revision: its chat-tracker runs too, on a copy of the same users,
# round by round beside the current one, for before/after figures in the
# same minutes), PROFILE (1: one more, uncounted round per tracker under
# pprof), OUT (where the results, logs and profiles go; a new directory
# under /tmp by default), PORT (first of the loopback ports it uses,
# 27090). PostgreSQL comes from
# P2PCHAT_BENCH_POSTGRES (a database whose schemas bench_* it may drop) or,
# as root, from scripts/postgres.sh; without either it is skipped.
#
# Everything listens on 127.0.0.1 and every process it starts is stopped by
# PID on exit. Measure on a quiet machine: it prints the load average
# before it starts and beside every figure.
set -euo pipefail
cd "$(dirname "$0")/.."

quick=${QUICK:-}
users_list=${USERS:-$([[ -n $quick ]] && echo 100000 || echo "100000 1000000")}
rounds=${ROUNDS:-$([[ -n $quick ]] && echo 1 || echo 3)}
secs=${SECS:-$([[ -n $quick ]] && echo 5 || echo 10)}
conns_list=${CONNS:-$([[ -n $quick ]] && echo 64 || echo "8 64")}
stores=${STORES:-"sqlite postgres"}
update_workers=${UPDATE_WORKERS:-256}
phases=${PHASES:-"lookups updates"}
lookups=$([[ " $phases " == *" lookups "* ]] && echo 1 || true) # run the lookup phase
updates=$([[ " $phases " == *" updates "* ]] && echo 1 || true) # run the update phase
base=${BASE:-}
profile=${PROFILE-1}
[[ $profile == 0 ]] && profile= # PROFILE=0 or PROFILE= turn it off
port=${PORT:-27090}
out=${OUT:-$(mktemp -d /tmp/bench-tracker.XXXXXX)}
mkdir -p "$out"
work=$(mktemp -d)
results=$out/results.tsv # what, users, round, value, cpu_us_per_op, load1, steal_pct
: >"$results"

pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

log() { printf '%s %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# --- tools ---------------------------------------------------------------

bin=$work/bin
log "building chat-tracker, tracker-load, tracker-baseline"
go build -o "$bin/" ./cmd/chat-tracker ./cmd/tracker-load ./cmd/tracker-load/tracker-baseline
if [[ -n $base ]]; then
  log "building chat-tracker at $base"
  mkdir -p "$work/base-src" "$bin/base"
  git archive "$base" | tar -x -C "$work/base-src"
  (cd "$work/base-src" && go build -o "$bin/base/" ./cmd/chat-tracker)
fi

if ! command -v wrk >/dev/null && [[ $(id -u) -eq 0 ]]; then
  log "installing wrk"
  DEBIAN_FRONTEND=noninteractive apt-get install -y wrk >/dev/null 2>&1 || true
fi
have_wrk=$(command -v wrk >/dev/null && echo 1 || true)
[[ -n $have_wrk ]] || log "no wrk (apt-get install wrk): wrk figures skipped"

# stdiscosrv: its go.mod has replace directives, so go install @version
# refuses it; build the module's source as a main module instead.
stdisco_version=v1.30.0
stdisco=${XDG_CACHE_HOME:-$HOME/.cache}/p2pchat-bench/stdiscosrv-$stdisco_version
if [[ ! -x $stdisco && -n $lookups ]]; then
  log "building Syncthing's stdiscosrv $stdisco_version"
  src=$(cd "$work" && GOFLAGS=-mod=mod go mod download -json "github.com/syncthing/syncthing@$stdisco_version" 2>/dev/null |
    sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p') || true
  if [[ -n $src ]]; then
    cp -r "$src" "$work/syncthing" && chmod -R u+w "$work/syncthing"
    mkdir -p "$(dirname "$stdisco")"
    (cd "$work/syncthing" && go build -o "$stdisco" ./cmd/stdiscosrv) >"$out/stdisco-build.log" 2>&1 || rm -f "$stdisco"
  fi
fi
have_disco=$([[ -x $stdisco && -n $lookups ]] && echo 1 || true)
[[ -n $have_disco ]] || log "no stdiscosrv (see $out/stdisco-build.log): its figures skipped"

export PGOPTIONS="${PGOPTIONS:-} -c client_min_messages=warning" # psql: no NOTICEs
pg_url=
if [[ " $stores " == *" postgres "* ]]; then
  pg_url=${P2PCHAT_BENCH_POSTGRES:-}
  if [[ -z $pg_url && $(id -u) -eq 0 ]]; then
    pg_url=$(bash scripts/postgres.sh 2>/dev/null | tail -1)
  fi
  [[ -n $pg_url ]] || log "no PostgreSQL (set P2PCHAT_BENCH_POSTGRES or run as root): its figures skipped"
fi

# --- measuring -----------------------------------------------------------

load1() { cut -d' ' -f1 /proc/loadavg; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; } # utime + stime of a process
stat_cpu() { awk '/^cpu /{t=0; for (i = 2; i <= 9; i++) t += $i; print t, $9}' /proc/stat; } # total, steal
clk_tck=$(getconf CLK_TCK)

# measure WHAT USERS ROUND PID CMD...: runs CMD, which prints the figure
# (operations per second) on its last line and the operation count on the
# line before, and records it with the load, the steal and PID's CPU per
# operation.
measure() {
  local what=$1 users=$2 round=$3 pid=$4
  shift 4
  local t0 s0 c0 t1 s1 c1 outp value ops cpu
  read -r t0 s0 < <(stat_cpu)
  c0=$(cpu_ticks "$pid")
  outp=$("$@" 2>>"$out/errors.log") || { log "$what: failed (see $out/errors.log)"; return 0; }
  c1=$(cpu_ticks "$pid")
  read -r t1 s1 < <(stat_cpu)
  value=$(tail -1 <<<"$outp")
  ops=$(tail -2 <<<"$outp" | head -1)
  cpu=$(awk -v c="$((c1 - c0))" -v n="$ops" -v hz="$clk_tck" 'BEGIN { if (n > 0) printf "%.1f", c / hz / n * 1e6; else print "-" }')
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$what" "$users" "$round" "$value" "$cpu" "$(load1)" \
    "$(awk -v d="$((t1 - t0))" -v s="$((s1 - s0))" 'BEGIN { printf "%.1f", (d > 0) ? 100 * s / d : 0 }')" >>"$results"
  log "$what users=$users round=$round: $value/s, $cpu us CPU/op, load $(load1)"
}

# wrk_run URL SCRIPT CONNS: prints requests, then requests/s (non-2xx
# answers are not counted as requests).
wrk_run() {
  local res total bad
  res=$(wrk -t2 -c"$3" -d"${secs}s" -s "$2" "$1")
  echo "$res" >>"$out/wrk.log"
  total=$(awk '/requests in/ {print $1}' <<<"$res")
  bad=$(awk '/Non-2xx/ {print $NF}' <<<"$res")
  awk -v t="$total" -v b="${bad:-0}" -v r="$(awk '/Requests\/sec/ {print $2}' <<<"$res")" \
    'BEGIN { print t - b; printf "%.0f\n", r * (t - b) / t }'
}

# load_run ARGS...: runs one tracker-load phase; prints ops, then ops/s.
load_run() {
  local res
  res=$("$bin/tracker-load" "$@" | tail -1)
  echo "$res" >>"$out/tracker-load.log"
  awk '{print $2}' <<<"$res"
  sed -n 's/.*= *\([0-9.]*\)\/s.*/\1/p' <<<"$res"
}

# wait_for CMD...: polls CMD for up to two minutes.
wait_for() {
  local i
  for i in $(seq 600); do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  return 1
}

cat >"$work/tracker-lookup.lua" <<'EOF'
local users = tonumber(os.getenv("USERS"))
math.randomseed(os.time())
request = function()
  return wrk.format("GET", string.format("/v1/users/load%07d", math.random(0, users - 1)))
end
EOF
# stdiscosrv device IDs: the device number in 8 base32 digits, then a
# fixed suffix (see tracker-baseline's stdisco.go).
cat >"$work/stdisco-lookup.lua" <<'EOF'
local users = tonumber(os.getenv("USERS"))
local suffix = os.getenv("SUFFIX")
local alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
math.randomseed(os.time())
request = function()
  local i, t = math.random(0, users - 1), {}
  for k = 7, 0, -1 do
    local d = math.floor(i / 32 ^ k) % 32
    t[#t + 1] = alphabet:sub(d + 1, d + 1)
  end
  return wrk.format("GET", "/?device=" .. table.concat(t) .. suffix)
end
EOF
printf 'rate_limit = 1000000000.0\nrate_burst = 1000000000\nlog_level = "info"\n' >"$work/tracker.toml"

started=
start() { # NAME CMD...: starts CMD in the background, logging to $out/NAME.log
  local name=$1
  shift
  "$@" >"$out/$name.log" 2>&1 &
  pids+=($!)
  started=$!
}

stop() { # PID
  kill "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}

# start_tracker NAME USERS PORT DB: a chat-tracker (the BASE one for a
# NAME ending in -base) on DB, with pprof on PORT+10.
start_tracker() {
  local name=$1 users=$2 port=$3 db=$4 exe=$bin/chat-tracker
  [[ $name == *-base ]] && exe=$bin/base/chat-tracker
  start "tracker-$name-$users" "$exe" --config "$work/tracker.toml" \
    --listen "127.0.0.1:$port" --db "$db" --pprof "127.0.0.1:$((port + 10))"
  pid[$name]=$started url[$name]=http://127.0.0.1:$port pprof[$name]=http://127.0.0.1:$((port + 10))
}

# sign_updates USERS N: N signed updates in $work/updates.txt for
# scripts/wrk-update.lua, at seqs above all sent so far.
sign_updates() {
  "$bin/tracker-load" --users "$1" --preload=false --lookups 0 --updates "$2" \
    --write-updates "$work/updates.txt" >>"$out/tracker-load.log"
}

rss() { awk '/^VmRSS/ {printf "%.0f", $2 / 1024}' "/proc/$1/status"; }

# --- the run -------------------------------------------------------------

log "results in $out; load average before starting: $(cut -d' ' -f1-3 /proc/loadavg)"

for users in $users_list; do
  declare -A url=() pid=() pprof=() dsn=()
  p=$port
  log "== $users users: preloading"
  if [[ " $stores " == *" sqlite "* ]]; then
    "$bin/tracker-load" --users "$users" --ttl 23h --preload-direct "$work/tracker-$users.db" \
      --workers 8 --lookups 0 --updates 0 >>"$out/preload.log"
    [[ -z $base ]] || cp "$work/tracker-$users.db" "$work/tracker-base-$users.db"
    start_tracker sqlite "$users" "$((p + 1))" "$work/tracker-$users.db"
  fi
  if [[ -n $pg_url ]]; then
    for variant in cur ${base:+base}; do
      schema=bench_$users
      [[ $variant == base ]] && schema+=_base
      psql -q "$pg_url" -c "DROP SCHEMA IF EXISTS $schema CASCADE" -c "CREATE SCHEMA $schema" >/dev/null
      sep=$([[ $pg_url == *\?* ]] && echo '&' || echo '?')
      dsn[$variant]="$pg_url${sep}search_path=$schema&pool_max_conns=16"
      "$bin/tracker-load" --users "$users" --ttl 23h --preload-direct "${dsn[$variant]}" \
        --workers 32 --lookups 0 --updates 0 >>"$out/preload.log"
      psql -q "$pg_url" -c "VACUUM ANALYZE $schema.users" >/dev/null
    done
    start_tracker postgres "$users" "$((p + 2))" "${dsn[cur]}"
  fi
  if [[ -n $base ]]; then
    [[ " $stores " == *" sqlite "* ]] && start_tracker sqlite-base "$users" "$((p + 4))" "$work/tracker-base-$users.db"
    [[ -n $pg_url ]] && start_tracker postgres-base "$users" "$((p + 5))" "${dsn[base]}"
  fi
  if [[ -n $lookups ]]; then
    start bare "$bin/tracker-baseline" serve --listen "127.0.0.1:$p"
    pid[bare]=$started url[bare]=http://127.0.0.1:$p
  fi
  suffix=
  if [[ -n $have_disco ]]; then
    mkdir -p "$work/disco-$users"
    suffix=$("$bin/tracker-baseline" stdisco-db --dir "$work/disco-$users" --users "$users" | sed 's/.*suffix //')
    start "stdiscosrv-$users" "$stdisco" --http --listen "127.0.0.1:$((p + 3))" \
      --db-dir "$work/disco-$users" --db-flush-interval 0
    pid[stdisco]=$started url[stdisco]=http://127.0.0.1:$((p + 3))
    wait_for grep -q "Read $users records" "$out/stdiscosrv-$users.log" || log "stdiscosrv did not load its records"
  fi
  trackers=()
  for s in sqlite sqlite-base postgres postgres-base; do
    [[ -n ${pid[$s]:-} ]] || continue
    trackers+=("$s")
    wait_for grep -q '"lookup cache warmed"' "$out/tracker-$s-$users.log" || log "tracker-$s: cache not warm"
  done
  [[ -z ${pid[bare]:-} ]] || wait_for curl -sf "${url[bare]}/" || log "bare server not up"
  targets=()
  [[ -n ${pid[bare]:-} ]] && targets+=(bare)
  [[ -n ${pid[stdisco]:-} ]] && targets+=(stdisco)
  targets+=("${trackers[@]}")

  [[ -n $lookups ]] && log "== $users users: lookups, ${targets[*]}, $rounds rounds of ${secs}s"
  for r in $(seq "$rounds"); do
    [[ -n $lookups ]] || break
    for c in $conns_list; do
      for t in "${targets[@]}"; do
        if [[ -n $have_wrk ]]; then
          lua=$work/tracker-lookup.lua
          [[ $t == stdisco ]] && lua=$work/stdisco-lookup.lua
          USERS=$users SUFFIX=$suffix measure "lookup-wrk-c$c-$t" "$users" "$r" "${pid[$t]}" wrk_run "${url[$t]}" "$lua" "$c"
        fi
        [[ $t == stdisco ]] && continue # its lookups are not /v1/users/NAME
        measure "lookup-load-c$c-$t" "$users" "$r" "${pid[$t]}" load_run --url "${url[$t]}" --users "$users" \
          --preload=false --workers "$c" --lookups 1000000000 --updates 0 --duration "${secs}s"
      done
    done
  done
  for t in "${targets[@]}"; do
    printf 'rss-%s\t%s\t-\t%s\t-\t%s\t-\n' "$t" "$users" "$(rss "${pid[$t]}")" "$(load1)" >>"$results"
  done

  for s in "${trackers[@]}"; do
    if [[ -n $profile && -n $have_wrk && -n $lookups ]]; then
      curl -s -o "$out/cpu-lookup-$s-$users.pprof" "${pprof[$s]}/debug/pprof/profile?seconds=$((secs - 1))" &
      USERS=$users wrk -t2 -c64 -d"${secs}s" -s "$work/tracker-lookup.lua" "${url[$s]}" >/dev/null
      wait $!
    fi
  done

  n_updates=$((30000 * secs))
  [[ -n $updates ]] && log "== $users users: signed updates, ${trackers[*]}, $rounds rounds of ${secs}s"
  for r in $(seq "$rounds"); do
    [[ -n $updates ]] || break
    # The update ceiling, measured round by round beside the updates.
    measure ed25519-verify-1core "$users" "$r" $$ bash -c "echo 0; $bin/tracker-baseline verify --duration 3s"
    [[ -z $have_wrk ]] || sign_updates "$users" "$n_updates"
    for s in "${trackers[@]}"; do
      [[ -z $have_wrk ]] || UPDATES=$work/updates.txt measure "update-wrk-$s" "$users" "$r" "${pid[$s]}" \
        wrk_run "${url[$s]}" scripts/wrk-update.lua "$update_workers"
      measure "update-$s" "$users" "$r" "${pid[$s]}" load_run --url "${url[$s]}" --users "$users" \
        --preload=false --workers "$update_workers" --lookups 0 --updates "$n_updates" --duration "${secs}s"
    done
  done
  for s in "${trackers[@]}"; do
    [[ -n $profile && -n $updates ]] || continue
    if [[ -n $have_wrk ]]; then
      sign_updates "$users" "$n_updates"
      curl -s -o "$out/cpu-update-$s-$users.pprof" "${pprof[$s]}/debug/pprof/profile?seconds=$((secs - 1))" &
      UPDATES=$work/updates.txt wrk -t2 -c"$update_workers" -d"${secs}s" -s scripts/wrk-update.lua "${url[$s]}" >/dev/null
      wait $!
      continue
    fi
    "$bin/tracker-load" --url "${url[$s]}" --users "$users" --preload=false --workers "$update_workers" --lookups 0 \
      --updates "$n_updates" --duration "${secs}s" >/dev/null 2>"$work/profiled-updates.log" &
    lp=$!
    wait_for grep -q "timed phase starts" "$work/profiled-updates.log" || true
    curl -s -o "$out/cpu-update-$s-$users.pprof" "${pprof[$s]}/debug/pprof/profile?seconds=$((secs - 1))"
    wait "$lp" || true
  done
  for t in "${targets[@]}"; do stop "${pid[$t]}"; done
  unset url pid pprof dsn
done

# --- the table -----------------------------------------------------------

# median WHAT USERS: the median value of WHAT's rounds; its CPU/op; the
# median load; the highest steal.
median() {
  awk -F'\t' -v w="$1" -v u="$2" '$1 == w && $2 == u { n += 0; v[n] = $4; c[n] = $5; l[n] = $6; if ($7 + 0 > s) s = $7 + 0; n++ }
    function med(a, n,   i, j, t) { for (i = 0; i < n; i++) for (j = i + 1; j < n; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
      return n % 2 ? a[int(n / 2)] : (a[n / 2 - 1] + a[n / 2]) / 2 }
    END { if (n) printf "%s\t%s\t%s\t%s\n", med(v, n), med(c, n), med(l, n), s + 0 }' "$results"
}

# row LABEL WHAT USERS BASE_WHAT BASE_USERS TARGET: one line of the table.
# TARGET is ">=0.75" or "<=0.5" (of the ratio), or "" for none.
row() {
  local label=$1 fig base
  fig=$(median "$2" "$3")
  [[ -n $fig ]] || return 0
  base=$(median "$4" "$5")
  awk -F'\t' -v label="$label" -v fig="$fig" -v base="$base" -v target="$6" 'BEGIN {
    split(fig, f, "\t"); split(base, b, "\t")
    ratio = (b[1] > 0) ? f[1] / b[1] : 0
    verdict = ""
    if (target != "" && ratio > 0) {
      op = substr(target, 1, 2); want = substr(target, 3) + 0
      ok = (op == ">=") ? ratio >= want : ratio <= want
      verdict = sprintf("%s %s", target, ok ? "met" : sprintf("MISSED by %.0f%%", 100 * ((op == ">=") ? (want - ratio) / want : (ratio - want) / want)))
    }
    printf "%-54s %10.0f  %8s  %10s  %6s  %-24s  %5s  %5s\n", label, f[1], f[2], (b[1] > 0 ? sprintf("%.0f", b[1]) : "-"),
      (ratio > 0 ? sprintf("%.2fx", ratio) : "-"), verdict, f[3], f[4]
  }'
}

{
  echo
  echo "tracker figures and baselines; $rounds round(s) of ${secs}s, medians; $(nproc) CPUs; $(date -u +%Y-%m-%dT%H:%MZ)"
  printf '%-54s %10s  %8s  %10s  %6s  %-24s  %5s  %5s\n' figure value "CPU us/op" baseline ratio target load1 steal%
  for users in $users_list; do
    for c in $conns_list; do
      row "[$users] bare net/http req/s, wrk c=$c" "lookup-wrk-c$c-bare" "$users" "" "" ""
      row "[$users] stdiscosrv req/s, wrk c=$c (/bare)" "lookup-wrk-c$c-stdisco" "$users" "lookup-wrk-c$c-bare" "$users" ""
      row "[$users] SQLite lookups/s, wrk c=$c (/stdisco)" "lookup-wrk-c$c-sqlite" "$users" "lookup-wrk-c$c-stdisco" "$users" ">=1.3"
      row "[$users] SQLite lookups/s, wrk c=$c (/bare)" "lookup-wrk-c$c-sqlite" "$users" "lookup-wrk-c$c-bare" "$users" ">=0.75"
      row "[$users] PostgreSQL lookups/s, wrk c=$c (/SQLite)" "lookup-wrk-c$c-postgres" "$users" "lookup-wrk-c$c-sqlite" "$users" ">=0.8"
      row "[$users] bare req/s, tracker-load c=$c" "lookup-load-c$c-bare" "$users" "" "" ""
      row "[$users] SQLite lookups/s, tracker-load c=$c (/bare)" "lookup-load-c$c-sqlite" "$users" "lookup-load-c$c-bare" "$users" ">=0.75"
      row "[$users] PostgreSQL lookups/s, tracker-load c=$c (/SQLite)" "lookup-load-c$c-postgres" "$users" "lookup-load-c$c-sqlite" "$users" ">=0.8"
    done
    row "[$users] RSS MB, stdiscosrv" "rss-stdisco" "$users" "" "" ""
    row "[$users] RSS MB, bare" "rss-bare" "$users" "" "" ""
    row "[$users] RSS MB, tracker SQLite (/stdisco)" "rss-sqlite" "$users" "rss-stdisco" "$users" "<=0.5"
    row "[$users] RSS MB, tracker PostgreSQL (/stdisco)" "rss-postgres" "$users" "rss-stdisco" "$users" "<=0.5"
    row "[$users] Ed25519 verifications/s, one core" ed25519-verify-1core "$users" "" "" ""
    for s in sqlite postgres; do
      label=$([[ $s == sqlite ]] && echo SQLite || echo PostgreSQL)
      row "[$users] $label signed updates/s, wrk (/verify)" "update-wrk-$s" "$users" ed25519-verify-1core "$users" ">=0.7"
      row "[$users] $label signed updates/s, tracker-load (/verify)" "update-$s" "$users" ed25519-verify-1core "$users" ">=0.7"
      [[ -n $base ]] || continue
      row "[$users] $label signed updates/s, wrk, at $base (/verify)" "update-wrk-$s-base" "$users" ed25519-verify-1core "$users" ""
      row "[$users] $label signed updates/s, tracker-load, at $base (/verify)" "update-$s-base" "$users" ed25519-verify-1core "$users" ""
      row "[$users] $label signed updates/s, wrk (/$base)" "update-wrk-$s" "$users" "update-wrk-$s-base" "$users" ""
    done
  done
  echo
  echo "raw results: $results; logs and CPU profiles (go tool pprof -top FILE): $out"
} | tee "$out/summary.txt"
