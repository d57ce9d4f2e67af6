#!/usr/bin/env bash
# demo-nat.sh: alice and bob behind two home routers (`make demo-nat`, as root).
#
#   bash scripts/demo-nat.sh                   # cone NATs: relayed, then punched
#   DEMO_NAT=symmetric bash scripts/demo-nat.sh # the relayed path stays
#
# It runs bin/natdemo (make build), which builds the network-namespace lab
# the tests use (internal/natlab): a tracker and a chat-relay on the lab's
# internet, alice and bob each behind a home router with port mapping off,
# all from bin/. It shows the first message, the path of alice's session
# with bob as it changes, and both daemons' status, then stays in the
# foreground until Ctrl-C (or SIGTERM), and on any way out stops what it
# started, deletes the lab's namespaces and removes its directory.
#
# Settings (environment):
#   DEMO_NAT       cone (default) or symmetric
#   DEMO_BIN       directory with natdemo, chat-tracker, chat-relay, chatd, chatctl (default: bin)
#   DEMO_NAT_DIR   state directory: sockets, logs, data (default: .demo-nat in the repository)
#   DEMO_ONCE=1    exit after showing the path instead of waiting for Ctrl-C
set -euo pipefail

cd "$(dirname "$0")/.."
bindir=${DEMO_BIN:-bin}
if [[ ! -x $bindir/natdemo ]]; then
  echo "demo-nat: $bindir/natdemo not found; hint: run 'make build' first" >&2
  exit 1
fi
args=(--bin "$bindir" --dir "${DEMO_NAT_DIR:-.demo-nat}" --nat "${DEMO_NAT:-cone}")
if [[ ${DEMO_ONCE:-} == 1 ]]; then
  args+=(--once)
fi
exec "$bindir/natdemo" "${args[@]}"
