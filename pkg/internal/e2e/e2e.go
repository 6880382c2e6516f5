// Package e2e holds Ripple's end-to-end tests. They build ./cmd/ripple, run the
// real binary on loopback ports and drive it with ffmpeg/ffprobe (publish,
// RTMP play, HTTP-FLV) and a Go WebSocket client (WS-FLV), then check what the
// players received with ffprobe: codecs, resolution, frame counts against the
// source clip and per-track timestamp monotonicity.
//
// The tests carry the e2e build tag and fail, rather than skip, when ffmpeg or
// ffprobe is missing, so CI can never pass without running them:
//
//	go test -race -count=1 -tags e2e -timeout 15m ./pkg/internal/e2e/...
//
// The clips come from media/ (see media/README.md); they are measured with
// ffprobe at run time, never hard-coded.
package e2e
