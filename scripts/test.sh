#!/usr/bin/env bash
# test.sh: the whole test suite (`make test`).
#
# Runs the gofmt/vet checks and `go test -race ./...`. As root it first
# installs and starts what the system suites need (PostgreSQL, tmux, and for
# the network-namespace NAT lab iproute2, iptables, conntrack and miniupnpd)
# from Debian's packages. Installing starts no service: the NAT lab runs
# miniupnpd only inside the namespaces it makes. Not as root, those suites
# skip with a printed reason; with CI=true a missing dependency fails instead.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=$PATH:/usr/local/go/bin

need_pkgs=(postgresql tmux iptables iproute2 conntrack miniupnpd-iptables systemd util-linux lintian zsh man-db)

if [[ $(id -u) -eq 0 ]]; then
  missing=()
  for p in "${need_pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if ((${#missing[@]})); then
    echo "test: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    # A policy-rc.d that refuses every start keeps package scripts from
    # starting services: miniupnpd must never run in the host's namespace.
    # An existing one is left alone; ours is removed even if apt-get fails.
    guard=/usr/sbin/policy-rc.d
    made_guard=
    if [[ ! -e $guard ]]; then
      trap 'rm -f "$guard"' EXIT
      printf '#!/bin/sh\nexit 101\n' >"$guard"
      chmod 755 "$guard"
      made_guard=1
    fi
    apt-get update -qq
    apt-get install -y -qq "${missing[@]}" >/dev/null
    if [[ -n $made_guard ]]; then
      rm -f "$guard"
      trap - EXIT
    fi
  fi
  if [[ -z ${P2PCHAT_TEST_POSTGRES:-} ]]; then
    P2PCHAT_TEST_POSTGRES=$(bash scripts/postgres.sh | tail -n 1)
    export P2PCHAT_TEST_POSTGRES
  fi
  echo "test: PostgreSQL at $P2PCHAT_TEST_POSTGRES"
else
  echo "test: not root: suites that need PostgreSQL, network namespaces or tmux skip unless their dependencies are already set up (P2PCHAT_TEST_POSTGRES)"
fi

bash scripts/lint.sh
go test -race -timeout 25m -count=1 ./...

# Every fuzz target briefly, from its committed seed corpus (scripts/fuzz.sh;
# `make fuzz` runs them longer). Only under CI. On 2 cores it took 1.5
# minutes with a warm build cache, and over 4 with a cold one on a busy
# machine, most of it building the instrumented test binaries: hence 1s
# per target rather than 2s (2.5 minutes warm).
if [[ ${CI:-} == true ]]; then
  bash scripts/fuzz.sh 1s
else
  echo "test: CI is not true: skipping the short fuzzing pass (bash scripts/fuzz.sh 1s; make fuzz runs it longer)"
fi
