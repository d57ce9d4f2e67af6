#!/usr/bin/env bash
# lint.sh: gofmt, go vet and staticcheck (pinned in go.mod as a tool) must be clean.
set -euo pipefail
cd "$(dirname "$0")/.."
unformatted=$(gofmt -l $(git ls-files '*.go'; git ls-files --others --exclude-standard '*.go'))
if [[ -n $unformatted ]]; then
  echo "gofmt would change:" >&2
  echo "$unformatted" >&2
  exit 1
fi
go vet ./...
go tool staticcheck ./...
echo "lint: gofmt, go vet and staticcheck clean"
