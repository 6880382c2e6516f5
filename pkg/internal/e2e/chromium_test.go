//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// chromiumNames are the executables tried, in order: Debian's package
// installs /usr/bin/chromium (scripts/test.sh: apt-get install chromium).
var chromiumNames = []string{"chromium", "chromium-browser", "google-chrome"}

// browser is one headless Chromium process with a fresh profile; each test
// opens its own tabs in it.
type browser struct {
	ctx  context.Context // chromedp browser context
	logs *lineLog        // Chromium's own output, dumped when a test fails
}

// startBrowser starts headless Chromium. It fails the test, never skips it,
// when Chromium is missing, so CI cannot pass without running the browser
// tests. The flags keep Chromium off the network (this machine has none but
// loopback): no QUIC, background networking, component updates or sync.
func startBrowser(t *testing.T, extra ...chromedp.ExecAllocatorOption) *browser {
	t.Helper()
	var bin string
	for _, name := range chromiumNames {
		if p, err := exec.LookPath(name); err == nil {
			bin = p
			break
		}
	}
	if bin == "" {
		t.Fatalf("chromium not found on PATH (tried %s): apt-get install chromium", strings.Join(chromiumNames, ", "))
	}
	b := &browser{logs: newLineLog()}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(bin),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		// Several tabs play at once: none of them may be throttled as a
		// background tab.
		chromedp.Flag("disable-background-timer-throttling", true),
		chromedp.Flag("disable-renderer-backgrounding", true),
		chromedp.Flag("disable-backgrounding-occluded-windows", true),
		chromedp.Flag("autoplay-policy", "no-user-gesture-required"),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 1000),
		chromedp.CombinedOutput(lineWriter{b.logs}),
	}
	opts = append(opts, extra...)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	start := time.Now()
	// The first action starts the browser.
	if err := chromedp.Do(ctx); err != nil {
		cancel()
		cancelAlloc()
		t.Fatalf("start %s: %v\n%s", bin, err, tail(b.logs.snapshot(), 40))
	}
	t.Logf("chromium started in %s", time.Since(start).Round(time.Millisecond))
	b.ctx = ctx
	t.Cleanup(func() {
		cancel() // closes the browser
		cancelAlloc()
		if t.Failed() {
			t.Logf("---- chromium output ----\n%s", tail(b.logs.snapshot(), 40))
		}
	})
	return b
}

// tab is one page in the browser with its console and uncaught exceptions
// collected, so a failing test shows what the page said.
type tab struct {
	ctx     context.Context
	name    string
	mu      sync.Mutex
	console []string
}

// newTab opens a tab; it closes when the test ends.
func (b *browser) newTab(t *testing.T, name string) *tab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(b.ctx)
	tb := &tab{ctx: ctx, name: name}
	t.Cleanup(func() {
		cancel()
		if t.Failed() {
			tb.mu.Lock()
			t.Logf("---- %s console ----\n%s", name, tail(tb.console, 60))
			tb.mu.Unlock()
		}
	})
	if err := chromedp.Listen(ctx, tb.onEvent); err != nil {
		t.Fatalf("%s: listen: %v", name, err)
	}
	return tb
}

// onEvent runs on chromedp's read loop: it only appends under the lock.
func (tb *tab) onEvent(ev any) {
	var line string
	switch ev := ev.(type) {
	case *runtime.EventConsoleAPICalled:
		args := make([]string, 0, len(ev.Args))
		for _, a := range ev.Args {
			if a.Value != nil {
				args = append(args, string(a.Value))
			} else {
				args = append(args, a.Description)
			}
		}
		line = fmt.Sprintf("console.%s: %s", ev.Type, strings.Join(args, " "))
	case *runtime.EventExceptionThrown:
		line = "exception: " + ev.ExceptionDetails.Text
		if ev.ExceptionDetails.Exception != nil {
			line += " " + ev.ExceptionDetails.Exception.Description
		}
	default:
		return
	}
	tb.mu.Lock()
	tb.console = append(tb.console, line)
	tb.mu.Unlock()
}

// do runs actions with a timeout and fails the test on error.
func (tb *tab) do(t *testing.T, what string, timeout time.Duration, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, timeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		t.Fatalf("%s: %s: %v", tb.name, what, err)
	}
}

// eval evaluates a JavaScript expression (a promise is awaited) and decodes
// its value into T.
func eval[T any](t *testing.T, tb *tab, what string, timeout time.Duration, expr string) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, timeout)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("%s: %s: %v", tb.name, what, err)
	}
	return v
}

// poll waits until the JavaScript expression is truthy, re-checking on every
// DOM change (no sleeping), and returns how long that took.
func (tb *tab) poll(t *testing.T, what string, timeout time.Duration, expr string) time.Duration {
	t.Helper()
	start := time.Now()
	ctx, cancel := context.WithTimeout(tb.ctx, timeout+5*time.Second)
	defer cancel()
	_, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](expr,
		chromedp.WithPollingMutation(), chromedp.WithPollingTimeout(timeout)))
	if err != nil {
		t.Fatalf("%s: %s (within %s): %v", tb.name, what, timeout, err)
	}
	return time.Since(start)
}

// screenshot saves a PNG of the viewport as name under $RIPPLE_E2E_ARTIFACTS
// (a directory CI can keep), or the test's temporary directory.
func (tb *tab) screenshot(t *testing.T, name string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 20*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("%s: screenshot: %v", tb.name, err)
	}
	dir := os.Getenv("RIPPLE_E2E_ARTIFACTS")
	if dir == "" {
		dir = t.TempDir()
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("artifacts: %v", err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	t.Logf("%s: screenshot %s (%d bytes)", tb.name, path, len(png))
	return path
}

// lineWriter feeds a lineLog from an io.Writer.
type lineWriter struct{ l *lineLog }

func (w lineWriter) Write(p []byte) (int, error) {
	for _, line := range strings.Split(strings.TrimRight(string(p), "\n"), "\n") {
		// This machine has no D-Bus: Chromium complains on every start.
		if !strings.Contains(line, "dbus") {
			w.l.add(line)
		}
	}
	return len(p), nil
}
