#!/usr/bin/env bash
# Ripple's soak test: 30 minutes (or $1, a Go duration) of publisher churn,
# player churn over RTMP, HTTP-FLV, WS-FLV and HLS, edge pulls and hostile
# clients at once against a real origin and edge (TestSoak in
# pkg/internal/e2e). The origin's RSS, goroutines and file descriptors are
# sampled each minute; at the end they must be back within 5 % of the
# baseline and no player of the calm stream may have stalled.
#
#   ./scripts/soak.sh          30 minutes (about 33 with warm-up and settling)
#   ./scripts/soak.sh 5m       a shorter run
#
# The per-minute figures are printed at the end and kept in
# $RIPPLE_SOAK_REPORT (default: soak-report.txt). scripts/test.sh runs the
# same test for 2 minutes as part of the e2e suite.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if ! command -v go >/dev/null 2>&1 && [[ -x /usr/local/go/bin/go ]]; then
	export PATH="/usr/local/go/bin:$PATH"
fi
command -v ffmpeg >/dev/null 2>&1 || {
	echo "soak.sh: ffmpeg is needed (./scripts/test.sh installs it, or apt-get install ffmpeg)" >&2
	exit 1
}
dur=${1:-30m}
report=${RIPPLE_SOAK_REPORT:-soak-report.txt}
: >"$report"
echo "soak: $dur of churn; figures in $report"
log=$(mktemp)
rc=0
RIPPLE_SOAK_DURATION=$dur RIPPLE_SOAK_REPORT=$(realpath "$report") \
	go test -count=1 -tags e2e -run '^TestSoak$' -timeout 3h -v ./pkg/internal/e2e/ >"$log" 2>&1 || rc=$?
grep -E 'SOAK|soak activities|^(--- |PASS|FAIL|ok)' "$log" || true
if ((rc != 0)); then
	echo "soak: FAILED (exit $rc); the last lines of the test output:" >&2
	tail -n 80 "$log" >&2
fi
echo
cat "$report"
rm -f "$log"
exit "$rc"
