#!/usr/bin/env bash
# Quick static checks without running tests: gofmt, go vet (with and without
# the e2e tag) and, when installed, golangci-lint (scripts/test.sh installs
# the pinned version) and shellcheck on the scripts.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if ! command -v go >/dev/null 2>&1 && [[ -x /usr/local/go/bin/go ]]; then
	export PATH="/usr/local/go/bin:$PATH"
fi

unformatted=$(gofmt -l .)
if [[ -n "$unformatted" ]]; then
	echo "gofmt: these files need formatting (run gofmt -w):" >&2
	echo "$unformatted" >&2
	exit 1
fi
go vet ./...
go vet -tags e2e ./pkg/internal/e2e/...
lint=$(go env GOBIN)
lint="${lint:-$(go env GOPATH | cut -d: -f1)/bin}/golangci-lint"
if [[ -x "$lint" ]]; then
	"$lint" run ./...
else
	echo "golangci-lint not installed (scripts/test.sh installs it): skipping"
fi
if command -v shellcheck >/dev/null 2>&1; then
	shellcheck scripts/*.sh media/make.sh .ci/run
else
	echo "shellcheck not installed: skipping shell checks"
fi
echo "lint ok"
