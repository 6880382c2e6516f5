#!/usr/bin/env bash
# Ripple's full test run: what CI runs (via .ci/run) and what a developer runs
# before pushing. On a fresh Debian machine it installs ffmpeg first.
#
#   ./scripts/test.sh            formatting, vet, unit tests (-race), e2e suite
#   SKIP_E2E=1 ./scripts/test.sh everything but the end-to-end suite
#
# Exits non-zero on the first failing section and prints a timing summary.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

summary=()
section_name=""
section_start=$SECONDS
section() {
	section_end
	section_name="$1"
	section_start=$SECONDS
	printf '\n==== %s ====\n' "$section_name"
}
section_end() {
	if [[ -n "$section_name" ]]; then
		summary+=("$(printf '%-34s %4ds' "$section_name" $((SECONDS - section_start)))")
	fi
}
print_summary() {
	local rc=$?
	section_end
	printf '\n==== timings ====\n'
	printf '%s\n' "${summary[@]}"
	if ((rc == 0)); then
		printf 'total %ds: OK\n' "$SECONDS"
	else
		printf 'total %ds: FAILED in section "%s" (exit %d)\n' "$SECONDS" "$section_name" "$rc"
	fi
}
trap print_summary EXIT

as_root() {
	if ((EUID == 0)); then "$@"; else sudo "$@"; fi
}

section "tools"
# Go: these machines ship Go 1.26 in /usr/local/go; it is not always on PATH
# (e.g. under `bash .ci/run` with a minimal environment).
if ! command -v go >/dev/null 2>&1 && [[ -x /usr/local/go/bin/go ]]; then
	export PATH="/usr/local/go/bin:$PATH"
fi
if ! command -v go >/dev/null 2>&1; then
	echo "go not found: install Go 1.26 (https://go.dev/dl/) and put it on PATH" >&2
	exit 1
fi
go version

# ffmpeg/ffprobe: the e2e suite publishes and plays with them.
if ! command -v ffmpeg >/dev/null 2>&1 || ! command -v ffprobe >/dev/null 2>&1; then
	echo "ffmpeg/ffprobe missing: installing the Debian package"
	export DEBIAN_FRONTEND=noninteractive
	as_root apt-get update
	as_root apt-get install -y --no-install-recommends ffmpeg
fi
ffmpeg -hide_banner -version | head -n 1

section "gofmt"
unformatted=$(gofmt -l . | grep -v '^vendor/' || true)
if [[ -n "$unformatted" ]]; then
	echo "gofmt: these files need formatting (run gofmt -w):" >&2
	echo "$unformatted" >&2
	exit 1
fi
echo "ok"

section "go vet"
go vet ./...
go vet -tags e2e ./pkg/internal/e2e/...
echo "ok"

section "unit tests (go test -race)"
go test -race -count=1 ./...

if [[ "${SKIP_E2E:-}" == 1 ]]; then
	echo "SKIP_E2E=1: not running the end-to-end suite"
	exit 0
fi

section "e2e tests (ffmpeg, real binary)"
go test -race -count=1 -tags e2e -timeout 15m ./pkg/internal/e2e/...
