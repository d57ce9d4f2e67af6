#!/usr/bin/env bash
# build.sh: build the Debian packages (`make deb`):
#   p2pchat        chatd and chatctl for users: binaries, systemd user units,
#                  man pages, bash and zsh completion, the example config
#   chat-tracker   the tracker for operators: binary, hardened system unit,
#                  /etc/chat-tracker/tracker.toml (a conffile), man page
#
#   packaging/deb/build.sh [OUTDIR]     # default OUTDIR: dist/
#
# VERSION overrides the version (default: scripts/version.sh, from git);
# BIN names a directory with chatd, chatctl and chat-tracker already built
# (default: build them here with -X main.version=$VERSION). Needs dpkg-deb
# (Debian package dpkg) and Go; no root, no debhelper.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
out=$(mkdir -p "${1:-$repo/dist}" && cd "${1:-$repo/dist}" && pwd)
version=${VERSION:-$("$repo/scripts/version.sh")}
arch=$(dpkg --print-architecture)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

bin=${BIN:-}
if [[ -z $bin ]]; then
  bin=$work/bin
  # PIE: Debian hardening, and lintian takes a non-PIE static binary for an error.
  (cd "$repo" && CGO_ENABLED=0 go build -buildmode=pie -trimpath -buildvcs=false \
    -ldflags "-s -w -X main.version=$version" -o "$bin/" ./cmd/chatd ./cmd/chatctl ./cmd/chat-tracker)
fi

date=$(date -R -d "@${SOURCE_DATE_EPOCH:-$(git -C "$repo" log -1 --format=%ct 2>/dev/null || date +%s)}")
commit=$(git -C "$repo" rev-parse --short=12 HEAD 2>/dev/null || echo unknown)

# doc PKG: copyright and changelog in /usr/share/doc/PKG.
doc() {
  local root=$1 pkg=$2
  install -d "$root/usr/share/doc/$pkg"
  install -m 0644 "$here/copyright" "$root/usr/share/doc/$pkg/copyright"
  printf '%s (%s) unstable; urgency=medium\n\n  * Built from git commit %s.\n\n -- %s  %s\n' \
    "$pkg" "$version" "$commit" "$(maintainer)" "$date" | gzip -9n > "$root/usr/share/doc/$pkg/changelog.gz"
}

# overrides ROOT PKG BINARY...: Go links its PIE binaries without libc,
# so they need no shared libraries, which lintian takes for a mistake.
overrides() {
  local root=$1 pkg=$2
  shift 2
  install -d "$root/usr/share/lintian/overrides"
  for b in "$@"; do
    echo "# Go PIE binary: no shared libraries needed"
    echo "$pkg: shared-library-lacks-prerequisites [usr/bin/$b]"
  done > "$root/usr/share/lintian/overrides/$pkg"
  chmod 0644 "$root/usr/share/lintian/overrides/$pkg"
}

maintainer() { echo "p2pchat maintainers <maintainers@users.noreply.github.com>"; }

man() { # man BINARY SECTION DEST
  install -d "$3"
  "$bin/$1" --man | gzip -9n > "$3/$1.$2.gz"
  chmod 0644 "$3/$1.$2.gz"
}

# control PKG ROOT: DEBIAN/ with the control file, md5sums and scripts.
control() {
  local pkg=$1 root=$2
  install -d "$root/DEBIAN"
  local size
  size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
  sed -e "s/@VERSION@/$version/" -e "s/@ARCH@/$arch/" -e "s/@SIZE@/$size/" \
    -e "s/@MAINTAINER@/$(maintainer)/" "$here/$pkg/control" > "$root/DEBIAN/control"
  for s in postinst prerm postrm conffiles; do
    if [[ -e $here/$pkg/$s ]]; then
      install -m "$([[ $s == conffiles ]] && echo 0644 || echo 0755)" "$here/$pkg/$s" "$root/DEBIAN/$s"
    fi
  done
  (cd "$root" && find . -path ./DEBIAN -prune -o -path ./etc -prune -o -type f -printf '%P\0' |
    LC_ALL=C sort -z | xargs -0r md5sum > DEBIAN/md5sums)
  chmod 0644 "$root/DEBIAN/md5sums"
  local deb="$out/${pkg}_${version}_${arch}.deb"
  dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >/dev/null
  echo "$deb"
}

# The user package.
u=$work/p2pchat
install -d "$u/usr/bin" "$u/usr/lib/systemd/user" "$u/usr/share/doc/p2pchat/examples" \
  "$u/usr/share/bash-completion/completions" "$u/usr/share/zsh/vendor-completions"
install -m 0755 "$bin/chatd" "$bin/chatctl" "$u/usr/bin/"
install -D -m 0755 "$here/p2pchat/user-systemctl" "$u/usr/lib/p2pchat/user-systemctl"
install -m 0644 "$repo/packaging/systemd/chatd.service" "$repo/packaging/systemd/chatd.socket" "$u/usr/lib/systemd/user/"
install -m 0644 "$repo/configs/chatd.toml" "$u/usr/share/doc/p2pchat/examples/chatd.toml"
"$bin/chatctl" completion bash > "$u/usr/share/bash-completion/completions/chatctl"
"$bin/chatctl" completion zsh > "$u/usr/share/zsh/vendor-completions/_chatctl"
chmod 0644 "$u/usr/share/bash-completion/completions/chatctl" "$u/usr/share/zsh/vendor-completions/_chatctl"
man chatd 1 "$u/usr/share/man/man1"
man chatctl 1 "$u/usr/share/man/man1"
doc "$u" p2pchat
overrides "$u" p2pchat chatd chatctl
control p2pchat "$u"

# The operator package.
o=$work/chat-tracker
install -d "$o/usr/bin" "$o/usr/lib/systemd/system" "$o/etc/chat-tracker"
install -m 0755 "$bin/chat-tracker" "$o/usr/bin/"
install -m 0644 "$repo/packaging/systemd/chat-tracker.service" "$o/usr/lib/systemd/system/"
install -m 0644 "$repo/configs/tracker.toml" "$o/etc/chat-tracker/tracker.toml"
man chat-tracker 8 "$o/usr/share/man/man8"
doc "$o" chat-tracker
overrides "$o" chat-tracker chat-tracker
control chat-tracker "$o"
