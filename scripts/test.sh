#!/usr/bin/env bash
# Ripple's full test run: what CI runs (via .ci/run) and what a developer runs
# before pushing. On a fresh Debian machine it installs ffmpeg first.
#
#   ./scripts/test.sh            gofmt, vet, golangci-lint, unit tests (-race), benchmarks
#                                once, pipeline fuzzing (5 s a target), e2e suite (soak: 2 min)
#   SKIP_E2E=1 ./scripts/test.sh everything but the end-to-end suite
#
# Missing tools stop the run at once. After that every check runs even if an
# earlier one failed (one CI run then reports every broken area); the exit
# status is non-zero if any failed, and a summary lists timings and failures.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

summary=()
failed=()
started=$SECONDS

# step NAME COMMAND... runs one check under a header and records its time and
# result without stopping the script.
step() {
	local name=$1 start=$SECONDS rc=0
	shift
	printf '\n==== %s ====\n' "$name"
	"$@" || rc=$?
	local status=ok
	if ((rc != 0)); then
		status="FAILED (exit $rc)"
		failed+=("$name")
	fi
	summary+=("$(printf '%-34s %4ds  %s' "$name" $((SECONDS - start)) "$status")")
}

as_root() {
	if ((EUID == 0)); then "$@"; else sudo "$@"; fi
}

# apt_install PACKAGE... installs Debian packages, running apt-get update
# once per run.
apt_updated=0
apt_install() {
	export DEBIAN_FRONTEND=noninteractive
	if ((apt_updated == 0)); then
		as_root apt-get update
		apt_updated=1
	fi
	as_root apt-get install -y --no-install-recommends "$@"
}

setup_tools() {
	# Go: these machines ship Go 1.26 in /usr/local/go; it is not always on
	# PATH (e.g. under `bash .ci/run` with a minimal environment).
	if ! command -v go >/dev/null 2>&1 && [[ -x /usr/local/go/bin/go ]]; then
		export PATH="/usr/local/go/bin:$PATH"
	fi
	if ! command -v go >/dev/null 2>&1; then
		echo "go not found: install Go 1.26 (https://go.dev/dl/) and put it on PATH" >&2
		return 1
	fi
	go version

	# ffmpeg/ffprobe: the e2e suite publishes and plays with them.
	if ! command -v ffmpeg >/dev/null 2>&1 || ! command -v ffprobe >/dev/null 2>&1; then
		echo "ffmpeg/ffprobe missing: installing the Debian package"
		apt_install ffmpeg
	fi
	ffmpeg -hide_banner -version | head -n 1

	# openssl: pkg/auth checks the README's token one-liner against it.
	if ! command -v openssl >/dev/null 2>&1; then
		echo "openssl missing: installing the Debian package"
		apt_install openssl
	fi

	# nginx-rtmp and rtmpdump: the RTMP interop tests (pkg/rtmp, run with
	# RIPPLE_INTEROP=1 below) and the relay e2e tests talk to them.
	if ! command -v nginx >/dev/null 2>&1 || [[ ! -e /usr/lib/nginx/modules/ngx_rtmp_module.so ]] ||
		! command -v rtmpdump >/dev/null 2>&1; then
		echo "nginx-rtmp/rtmpdump missing: installing the Debian packages"
		apt_install nginx-light libnginx-mod-rtmp rtmpdump
	fi
	# The interop tests skip without this; CI must run them.
	export RIPPLE_INTEROP=1

	# redis-server: pkg/cluster and the cluster e2e tests start a real one
	# on a loopback port (pkg/internal/redistest).
	if ! command -v redis-server >/dev/null 2>&1; then
		echo "redis-server missing: installing the Debian package"
		apt_install redis-server
	fi
	redis-server --version

	# Chromium: the e2e browser tests drive the web page in it, headless
	# (fonts-liberation is only a Recommends, but pages need a font).
	# node/npm: scripts/web.sh installs the page's player libraries.
	if ! command -v chromium >/dev/null 2>&1; then
		echo "chromium missing: installing the Debian package"
		apt_install chromium fonts-liberation
	fi
	# VLC 3: TestVLCPlayback plays RTMP, HTTP-FLV and HLS with cvlc
	# (vlc-plugin-base has the network access, demux and TS mux modules).
	if ! command -v cvlc >/dev/null 2>&1 || ! dpkg -s vlc-plugin-base >/dev/null 2>&1; then
		echo "cvlc missing: installing the Debian packages"
		apt_install vlc-bin vlc-plugin-base
	fi
	if ! command -v npm >/dev/null 2>&1; then
		echo "npm missing: installing the Debian packages"
		apt_install nodejs npm
	fi
	chromium --version 2>/dev/null
	echo "node $(node --version), npm $(npm --version 2>/dev/null)"
}

check_gofmt() {
	local unformatted
	unformatted=$(gofmt -l .)
	if [[ -n "$unformatted" ]]; then
		echo "gofmt: these files need formatting (run gofmt -w):" >&2
		echo "$unformatted" >&2
		return 1
	fi
	echo "ok"
}

check_vet() {
	go vet ./... &&
		go vet -tags e2e ./pkg/internal/e2e/... &&
		echo "ok"
}

# golangci-lint is pinned: a release that adds checks then comes in with the
# commit that fixes what they find, not as a surprise in an unrelated run.
golangci_lint_version=2.15.0

# check_lint runs golangci-lint with .golangci.yml (which adds the e2e build
# tag), first installing the pinned version where `go install` puts it,
# unless that version is there already.
check_lint() {
	local bin
	bin=$(go env GOBIN)
	bin="${bin:-$(go env GOPATH | cut -d: -f1)/bin}/golangci-lint"
	if [[ "$("$bin" version --short 2>/dev/null)" != "$golangci_lint_version" ]]; then
		echo "installing golangci-lint v$golangci_lint_version"
		go install "github.com/golangci/golangci-lint/v2/cmd/golangci-lint@v$golangci_lint_version" || return
	fi
	"$bin" run ./...
}

print_summary() {
	printf '\n==== summary ====\n'
	printf '%s\n' "${summary[@]}"
	if ((${#failed[@]} == 0)); then
		printf 'total %ds: OK\n' $((SECONDS - started))
	else
		printf 'total %ds: FAILED: %s\n' $((SECONDS - started)) "$(IFS=,; echo "${failed[*]}")"
	fi
}
trap print_summary EXIT

# Without the tools nothing else can run: stop here if they are missing.
printf '==== tools ====\n'
setup_tools

step "gofmt" check_gofmt
step "go vet" check_vet
step "golangci-lint" check_lint
# Before any build: the ripple binary embeds web/vendor/ (the player
# libraries) only if it is filled when the binary is built.
step "web libraries (scripts/web.sh)" ./scripts/web.sh
step "unit tests (go test -race)" go test -race -count=1 ./...
# Every benchmark once, so none can rot (a panicking one went unnoticed);
# -short trims the real-time ones. About 30 s on 2 cores.
step "benchmarks once (-benchtime=1x)" go test -short -count=1 -run '^$' -bench . -benchtime=1x ./...
# The pipeline fuzz targets for a few seconds each (./scripts/fuzz.sh runs
# them 10 minutes each): new inputs from the committed corpora, every run.
step "pipeline fuzzing (5s per target)" ./scripts/fuzz.sh 5s

if [[ "${SKIP_E2E:-}" == 1 ]]; then
	echo "SKIP_E2E=1: not running the end-to-end suite"
else
	# The e2e tests mostly wait on real-time 10 s streams, not on CPU: run
	# them all at once rather than GOMAXPROCS at a time.
	step "e2e tests (ffmpeg, real binary)" \
		go test -race -count=1 -tags e2e -timeout 15m -parallel 12 ./pkg/internal/e2e/...
fi

((${#failed[@]} == 0))
