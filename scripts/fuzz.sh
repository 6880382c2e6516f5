#!/usr/bin/env bash
# Runs Ripple's fuzz targets (go test -fuzz), one after another.
#
#   ./scripts/fuzz.sh                  every pipeline target, 10 minutes each
#   ./scripts/fuzz.sh 30s              every pipeline target, 30 s each
#   ./scripts/fuzz.sh 10m all          every fuzz target in the repository
#   ./scripts/fuzz.sh 2m pkg/rtmp:FuzzChunkReader pkg/hls:FuzzMuxer
#
# The pipeline targets feed arbitrary FLV tag sequences (sequence headers,
# frames, metadata, E-RTMP ex-headers, timestamps) through the ingest
# validator and a hub into every output: FLV tags and HTTP/WS framing
# (pkg/httpflv), RTMP chunking (pkg/rtmp), the HLS muxers (pkg/hls), the relay
# splice (pkg/relay), the recorder's fMP4 and FLV files (pkg/record) and the
# thumbnailer's decoder input (pkg/thumb); FuzzValidator drives accepted packets into the MPEG-TS
# and fMP4 writers. New interesting inputs go to Go's fuzz cache; a crasher is
# written to the package's testdata/fuzz/ and stops the run (commit it with
# the fix). scripts/test.sh runs the pipeline targets for a few seconds each.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if ! command -v go >/dev/null 2>&1 && [[ -x /usr/local/go/bin/go ]]; then
	export PATH="/usr/local/go/bin:$PATH"
fi

pipeline=(
	pkg/ingest:FuzzValidator
	pkg/hls:FuzzPipeline
	pkg/hls:FuzzMuxer
	pkg/rtmp:FuzzPipeline
	pkg/httpflv:FuzzPipeline
	pkg/relay:FuzzPipeline
	pkg/record:FuzzRecord
	pkg/thumb:FuzzBuildInput
)

dur=${1:-10m}
shift || true
targets=("$@")
if ((${#targets[@]} == 0)); then
	targets=("${pipeline[@]}")
elif [[ ${targets[0]} == all ]]; then
	targets=()
	while IFS= read -r line; do
		targets+=("$line")
	done < <(grep -rn '^func Fuzz[A-Za-z0-9_]*(' --include='*_test.go' pkg |
		sed -E 's#^(.*)/[^/]*_test\.go:[0-9]+:func (Fuzz[A-Za-z0-9_]*)\(.*#\1:\2#' | sort -u)
fi

fuzzlog=$(mktemp)
trap 'rm -f "$fuzzlog"' EXIT

# fuzz_one PKG NAME fuzzes one target for $dur, its output also in $fuzzlog.
fuzz_one() {
	go test -run '^$' -fuzz "^${2}\$" -fuzztime "$dur" -fuzzminimizetime 5s "./$1" 2>&1 | tee "$fuzzlog"
	return "${PIPESTATUS[0]}"
}

status=0
for t in "${targets[@]}"; do
	pkg=${t%%:*} name=${t##*:}
	printf '\n==== %s %s (%s) ====\n' "$pkg" "$name" "$dur"
	start=$SECONDS
	# -fuzzminimizetime keeps the minimizer from eating most of a short run.
	# Go's fuzzer sometimes fails a run with "context deadline exceeded" and
	# no failing input when a worker stops late on a loaded machine: that
	# run is tried once more; a real failure writes its input and fails.
	if fuzz_one "$pkg" "$name" ||
		{ grep -q 'context deadline exceeded' "$fuzzlog" && ! grep -q 'Failing input written' "$fuzzlog" &&
			echo "$pkg $name: the fuzzer stopped late without a failing input; once more" && fuzz_one "$pkg" "$name"; }; then
		echo "$pkg $name: clean for $dur ($((SECONDS - start)) s with the build)"
	else
		echo "$pkg $name: FAILED (see the crasher under $pkg/testdata/fuzz/$name)" >&2
		status=1
	fi
done
exit "$status"
