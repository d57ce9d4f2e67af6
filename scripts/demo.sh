#!/usr/bin/env bash
# demo.sh: p2pchat on one machine, in one command (`make demo`).
#
#   bash scripts/demo.sh start   # tracker + chatd alice + chatd bob, say hi, stay in the foreground
#   bash scripts/demo.sh stop    # stop what a detached start left running
#
# start runs a tracker on 127.0.0.1 and two daemons, alice and bob, all
# from bin/ (make build), with their data, sockets and logs in .demo/. It
# waits until both are registered, sends a message each way (bob accepts
# alice's first as a request) with
# --wait, prints both histories and how to attach, then stays in the
# foreground until Ctrl-C, which stops everything and removes .demo/.
# With DEMO_DETACH=1 it returns instead and leaves them running for
# `make demo-stop`.
#
# Everything listens on loopback only. Settings (environment):
#   DEMO_DIR         state directory (default: .demo in the repository)
#   DEMO_BIN         directory with chat-tracker, chatd, chatctl (default: bin)
#   DEMO_PORT        tracker port (default 17070)
#   DEMO_ALICE_PORT  alice's peer port (default 17171)
#   DEMO_BOB_PORT    bob's peer port (default 17172)
#   DEMO_DETACH=1    return after the demo instead of waiting for Ctrl-C
set -Eeuo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
dir=${DEMO_DIR:-$repo/.demo}
bindir=${DEMO_BIN:-$repo/bin}
tracker_port=${DEMO_PORT:-17070}
alice_port=${DEMO_ALICE_PORT:-17171}
bob_port=${DEMO_BOB_PORT:-17172}
wait_limit=30 # seconds to wait for registration and for shutdown

say() { echo "demo: $*"; }
die() {
  echo "demo: $*" >&2
  exit 1
}

# abs makes a path absolute without requiring it to exist.
abs() {
  case $1 in
    /*) echo "$1" ;;
    *) echo "$PWD/$1" ;;
  esac
}

dir=$(abs "$dir")
bindir=$(abs "$bindir")

# ours reports whether pid is still a process this demo started: alive,
# and running one of our binaries with our state directory on its command
# line (so a recycled PID is never signalled).
ours() {
  local pid=$1 cmdline
  [[ $pid =~ ^[0-9]+$ && -r /proc/$pid/cmdline ]] || return 1
  cmdline=$({ tr '\0' ' ' <"/proc/$pid/cmdline"; } 2>/dev/null) || return 1
  [[ $cmdline == *"$dir/"* ]]
}

# stop_all sends SIGTERM to the PIDs in the pids file (daemons first,
# then the tracker), waits for them, and removes the state directory.
stop_all() {
  local pids=() pid name status=0
  if [[ -f $dir/pids ]]; then
    while read -r pid name; do
      [[ $pid =~ ^[0-9]+$ ]] && pids=("$pid" "${pids[@]}") # reverse: last started, first stopped
    done <"$dir/pids"
  fi
  for pid in "${pids[@]}"; do
    if ours "$pid"; then
      kill -TERM "$pid" 2>/dev/null || true
      local waited=0
      while ours "$pid" && ((waited < wait_limit * 10)); do
        sleep 0.1
        waited=$((waited + 1))
      done
      if ours "$pid"; then
        echo "demo: pid $pid did not stop within ${wait_limit}s; see $dir/*.log" >&2
        status=1
      fi
    fi
  done
  if ((status == 0)); then
    rm -rf "$dir"
    say "stopped"
  fi
  return $status
}

# busy reports whether something on 127.0.0.1 accepts connections on port.
busy() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# launch NAME CMD... starts CMD in its own session (so a Ctrl-C meant for
# this script does not reach it, and it survives a detached start), logs
# to $dir/NAME.log, and records its PID.
launch() {
  local name=$1
  shift
  setsid "$@" </dev/null >"$dir/$name.log" 2>&1 &
  echo "$! $name" >>"$dir/pids"
}

# registered reports whether the daemon on sock says it is registered.
registered() {
  "$bindir/chatctl" --socket "$1" status --json 2>/dev/null | grep -q '"tracker_state": "registered"'
}

wait_registered() {
  local name=$1 sock=$2 pid=$3 tries=0
  until registered "$sock"; do
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "demo: chatd $name exited; its log ends:" >&2
      tail -n 5 "$dir/$name.log" >&2
      return 1
    fi
    if ((tries++ > wait_limit * 10)); then
      echo "demo: chatd $name is not registered after ${wait_limit}s; its log ends:" >&2
      tail -n 5 "$dir/$name.log" >&2
      return 1
    fi
    sleep 0.1
  done
}

pid_of() { awk -v n="$1" '$2 == n {print $1}' "$dir/pids"; }

start() {
  for b in chat-tracker chatd chatctl; do
    [[ -x $bindir/$b ]] || die "$bindir/$b not found; run 'make build' first"
  done
  if [[ -f $dir/pids ]]; then
    while read -r pid _; do
      ours "$pid" && die "a demo is already running (pid $pid); stop it with 'make demo-stop'"
    done <"$dir/pids"
    rm -rf "$dir" # left over from a demo that was killed
  fi
  for p in "$tracker_port" "$alice_port" "$bob_port"; do
    busy "$p" && die "port $p on 127.0.0.1 is in use; free it or set DEMO_PORT, DEMO_ALICE_PORT, DEMO_BOB_PORT"
  done
  local longest=$dir/alice.sock
  ((${#longest} < 108)) || die "socket path $dir/alice.sock is too long for a Unix socket (108 bytes); set DEMO_DIR to a shorter directory"

  mkdir -p "$dir"
  chmod 700 "$dir"
  : >"$dir/pids"
  # From here on, a failure stops whatever was started.
  trap 'trap - ERR; echo "demo: failed; stopping what it started" >&2; stop_all >/dev/null || true' ERR

  # The demo's own config, so the user's ~/.config/chatd/chatd.toml plays
  # no part; shorter timers than the defaults make reconnects quick.
  cat >"$dir/chatd.toml" <<'EOF'
log_format = "console"
[presence]
check_interval = "1s"
[peer]
backoff_min = "100ms"
backoff_max = "5s"
EOF
  local tracker=http://127.0.0.1:$tracker_port
  say "starting chat-tracker on $tracker"
  launch tracker "$bindir/chat-tracker" --listen "127.0.0.1:$tracker_port" --db "$dir/tracker.db" --log-format console
  for name in alice bob; do
    local port=$alice_port
    [[ $name == bob ]] && port=$bob_port
    say "starting chatd $name on 127.0.0.1:$port"
    launch "$name" "$bindir/chatd" --config "$dir/chatd.toml" --name "$name" --tracker "$tracker" \
      --listen "127.0.0.1:$port" --data-dir "$dir/$name" --control-socket "$dir/$name.sock"
  done
  wait_registered alice "$dir/alice.sock" "$(pid_of alice)"
  wait_registered bob "$dir/bob.sock" "$(pid_of bob)"
  say "alice and bob are registered"

  local alice=("$bindir/chatctl" --socket "$dir/alice.sock")
  local bob=("$bindir/chatctl" --socket "$dir/bob.sock")
  say "alice sends: chatctl send --wait bob 'hi bob, this is alice'"
  "${alice[@]}" send --wait --timeout 30s bob "hi bob, this is alice" >/dev/null
  say "alice is not bob's contact yet, so her message waits as a request: chatctl requests"
  "${bob[@]}" requests
  say "bob accepts: chatctl accept alice"
  "${bob[@]}" accept alice >/dev/null
  say "bob replies: chatctl send --wait alice 'hi alice, bob here'"
  "${bob[@]}" send --wait --timeout 30s alice "hi alice, bob here" >/dev/null
  echo
  echo "alice's history with bob:"
  "${alice[@]}" history bob
  echo
  echo "bob's history with alice:"
  "${bob[@]}" history alice
  echo
  trap - ERR

  local rel=$dir
  [[ $dir == "$repo"/* ]] && rel=${dir#"$repo"/}
  echo "talk as alice:  $(rel_bin)/chatctl --socket $rel/alice.sock attach bob"
  echo "talk as bob:    $(rel_bin)/chatctl --socket $rel/bob.sock attach alice"
  echo "logs:           $rel/*.log"
  if [[ ${DEMO_DETACH:-} == 1 ]]; then
    echo "stop:           make demo-stop"
    return 0
  fi
  echo
  trap 'echo; stop_all; exit $?' INT TERM
  say "running; press Ctrl-C to stop"
  while :; do
    for name in tracker alice bob; do
      if ! ours "$(pid_of "$name")"; then
        echo "demo: $name exited unexpectedly; see $dir/$name.log" >&2
        stop_all || true
        exit 1
      fi
    done
    sleep 1 &
    wait $! || true # returns at once on a signal, so the trap runs promptly
  done
}

rel_bin() {
  if [[ $bindir == "$repo"/* ]]; then echo "${bindir#"$repo"/}"; else echo "$bindir"; fi
}

case ${1:-} in
  start) start ;;
  stop)
    [[ -d $dir ]] || {
      say "no demo running ($dir does not exist)"
      exit 0
    }
    stop_all
    ;;
  *)
    echo "usage: bash scripts/demo.sh start|stop" >&2
    exit 2
    ;;
esac
