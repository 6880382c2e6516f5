//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Set by TestMain before any test runs; read-only afterwards.
var (
	rippleBin string // the binary built from ./cmd/ripple
	repoRoot  string
	ffmpegBin string
	ffprobe   string
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	var err error
	// Fail, never skip: a CI machine without ffmpeg must not go green.
	if ffmpegBin, err = exec.LookPath("ffmpeg"); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: ffmpeg not found on PATH (apt-get install ffmpeg): %v\n", err)
		return 1
	}
	if ffprobe, err = exec.LookPath("ffprobe"); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: ffprobe not found on PATH (apt-get install ffmpeg): %v\n", err)
		return 1
	}
	if repoRoot, err = findRepoRoot(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	dir, err := os.MkdirTemp("", "ripple-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(dir)

	rippleBin = filepath.Join(dir, "ripple")
	start := time.Now()
	if err := buildRipple(rippleBin); err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	fmt.Fprintf(os.Stderr, "e2e: built %s (race=%v) in %s\n", rippleBin, raceEnabled, time.Since(start).Round(time.Millisecond))
	return m.Run()
}

// findRepoRoot returns the directory of the module's go.mod.
func findRepoRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", fmt.Errorf("not inside the ripple module (go env GOMOD = %q)", mod)
	}
	return filepath.Dir(mod), nil
}

// buildRipple builds ./cmd/ripple once for every test. With -race on the test
// binary the server is race-built too, and the suite fails on any race report
// in its output.
func buildRipple(out string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	args := []string{"build", "-o", out}
	if raceEnabled {
		args = append(args, "-race")
	}
	args = append(args, "./cmd/ripple")
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = repoRoot
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go %s: %w\n%s", strings.Join(args, " "), err, b)
	}
	return nil
}

// mediaPath returns the path of a clip in media/.
func mediaPath(t *testing.T, name string) string {
	t.Helper()
	p := filepath.Join(repoRoot, "media", name)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("clip %s: %v (run media/make.sh)", name, err)
	}
	return p
}
