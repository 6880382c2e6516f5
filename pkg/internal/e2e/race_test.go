//go:build e2e && race

package e2e

// raceEnabled mirrors the test binary's -race flag onto the ripple binary the
// suite builds, so `go test -race` also race-checks the real server.
const raceEnabled = true
