#!/usr/bin/env bash
# version.sh: the version of this checkout, from git, in a form both Go's
# -X main.version and Debian accept and that sorts in commit order:
#   tag v1.2.3                    → 1.2.3
#   4 commits after v1.2.3        → 1.2.3+4.gabcdef123456
#   no v* tag yet                 → 0.0.0+<commits>.g<hash>
# and "+dirty" when the work tree has uncommitted changes.
set -euo pipefail
cd "$(dirname "$0")/.."
dirty=
if [[ -n $(git status --porcelain --untracked-files=no 2>/dev/null) ]]; then dirty=+dirty; fi
if desc=$(git describe --tags --long --match 'v[0-9]*' 2>/dev/null); then
  # v1.2.3-4-gabcdef
  base=${desc%-*-g*}; rest=${desc#"$base"-}; n=${rest%%-*}; hash=${rest#*-}
  base=${base#v}
  if [[ $n == 0 ]]; then echo "$base$dirty"; else echo "$base+$n.$hash$dirty"; fi
else
  echo "0.0.0+$(git rev-list --count HEAD).g$(git rev-parse --short=12 HEAD)$dirty"
fi
