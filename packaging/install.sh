#!/usr/bin/env bash
# install.sh: install chatd and chatctl for the current user without a
# package (see `make deb` for the Debian packages) and load the systemd
# user units. Run from the repository after `make build`:
#
#   packaging/install.sh [--prefix DIR]   # default prefix: ~/.local
#
# chat-tracker is a system service: install it as root with
#   install -m 0755 bin/chat-tracker /usr/bin/
#   install -m 0644 packaging/systemd/chat-tracker.service /etc/systemd/system/
#   install -D -m 0644 configs/tracker.toml /etc/chat-tracker/tracker.toml
#   systemctl daemon-reload && systemctl enable --now chat-tracker
set -euo pipefail
cd "$(dirname "$0")/.."
prefix=$HOME/.local
if [[ ${1:-} == --prefix ]]; then prefix=$2; fi
units=${XDG_CONFIG_HOME:-$HOME/.config}/systemd/user
conf=${XDG_CONFIG_HOME:-$HOME/.config}/chatd

for b in chatd chatctl; do
  [[ -x bin/$b ]] || { echo "install: bin/$b is missing; run 'make build' first" >&2; exit 1; }
done
install -d "$prefix/bin" "$units" "$conf"
install -m 0755 bin/chatd bin/chatctl "$prefix/bin/"
sed "s#/usr/bin/chatd#$prefix/bin/chatd#" packaging/systemd/chatd.service > "$units/chatd.service"
install -m 0644 packaging/systemd/chatd.socket "$units/chatd.socket"
if [[ ! -e $conf/chatd.toml ]]; then
  install -m 0600 configs/chatd.toml "$conf/chatd.toml"
  echo "install: after starting chatd, choose your name: chatctl init NAME --tracker URL"
fi
if [[ ${NO_SYSTEMCTL:-} != 1 ]] && command -v systemctl >/dev/null; then
  systemctl --user daemon-reload
  echo "install: start with: systemctl --user enable --now chatd.socket chatd"
fi
echo "install: installed chatd and chatctl in $prefix/bin"
