//go:build e2e

package e2e

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestNginxExampleProxies runs the nginx example of scripts/deploy in front
// of the real binary (only the upstream address, the listen port and the
// cache directory changed) and plays through it: HLS with its segment
// cache, SSE arriving unbuffered, and an ffmpeg HTTP-FLV player that ends
// cleanly (exit 0, a file that decodes) when Ripple is sent SIGTERM.
func TestNginxExampleProxies(t *testing.T) {
	t.Parallel()
	nginx, err := execLookPath("nginx")
	requireTool(t, "nginx", err == nil)

	s := startOwnedServer(t, nil, "RIPPLE_HLS_SEGMENT_DURATION=1s")
	ngx := startNginxExample(t, nginx, s.HTTPAddr)
	client := &http.Client{Timeout: 20 * time.Second}

	key := "live/ngx"
	pub := publishForever(t, s, key, mediaPath(t, "h264_aac_gop1s.mp4"))
	s.waitLive(t, key, pub)

	// SSE through nginx: an event arrives while the stream stays open.
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, ngx+"/api/v1/events", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("SSE through nginx: %v", err)
	}
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("SSE through nginx: %s, Content-Type %q", resp.Status, resp.Header.Get("Content-Type"))
	}
	sc := bufio.NewScanner(resp.Body)
	gotEvent := false
	for !gotEvent && sc.Scan() {
		gotEvent = strings.HasPrefix(sc.Text(), "event:")
	}
	resp.Body.Close()
	if !gotEvent {
		t.Fatalf("no SSE event through nginx: %v", sc.Err())
	}

	// HLS through nginx: the playlist, then one segment twice: the second
	// comes from nginx's cache.
	playlist := getOK(t, client, ngx+"/"+key+".m3u8")
	var seg string
	for _, l := range strings.Split(playlist, "\n") {
		if l != "" && !strings.HasPrefix(l, "#") {
			seg = l
		}
	}
	if seg == "" {
		t.Fatalf("no segment in the playlist:\n%s", playlist)
	}
	base, err := url.Parse(ngx + "/" + key + ".m3u8")
	if err != nil {
		t.Fatal(err)
	}
	ref, err := url.Parse(seg)
	if err != nil {
		t.Fatal(err)
	}
	segURL := base.ResolveReference(ref).String()
	getOK(t, client, segURL)
	resp2, err := client.Get(segURL)
	if err != nil {
		t.Fatal(err)
	}
	resp2.Body.Close()
	if c := resp2.Header.Get("X-Cache-Status"); c != "HIT" {
		t.Errorf("second GET of %s: X-Cache-Status %q, want HIT", seg, c)
	}

	// HTTP-FLV through nginx, ended by Ripple's shutdown.
	out := tempFile(t, "via-nginx.flv")
	player := playToFile(t, "http-flv player via nginx", ngx+"/"+key+".flv", out)
	waitGrowth(t, player, out, 200<<10)
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code, err := player.exitCode(30 * time.Second); err != nil || code != 0 {
		t.Fatalf("player through nginx: exit %d (%v), want 0: the end of the body must pass through", code, err)
	}
	if code, err := s.exitCode(30 * time.Second); err != nil || code != 0 {
		t.Fatalf("ripple: exit %d (%v) after SIGTERM", code, err)
	}
	requireDecodes(t, out)
}

// startNginxExample runs scripts/deploy/nginx/ripple.conf in a foreground,
// single-process nginx (no user switch, so it runs unprivileged) proxying
// to upstream, and returns its base URL once it answers /healthz.
func startNginxExample(t *testing.T, nginx, upstream string) string {
	t.Helper()
	site, err := os.ReadFile(filepath.Join(repoRoot, "scripts", "deploy", "nginx", "ripple.conf"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	port := freePort(t)
	conf := string(site)
	for old, repl := range map[string]string{
		"server 127.0.0.1:8080;":  "server " + upstream + ";",
		"listen 80;":              fmt.Sprintf("listen 127.0.0.1:%d;", port),
		"/var/cache/nginx/ripple": filepath.Join(dir, "cache"),
	} {
		if !strings.Contains(conf, old) {
			t.Fatalf("the nginx example no longer contains %q", old)
		}
		conf = strings.ReplaceAll(conf, old, repl)
	}
	sitePath := filepath.Join(dir, "ripple.conf")
	if err := os.WriteFile(sitePath, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	main := fmt.Sprintf(`daemon off;
master_process off;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log warn;
events {}
http {
    access_log off;
    client_body_temp_path %[1]s/body;
    proxy_temp_path %[1]s/proxy;
    fastcgi_temp_path %[1]s/fastcgi;
    uwsgi_temp_path %[1]s/uwsgi;
    scgi_temp_path %[1]s/scgi;
    include %[2]s;
}
`, dir, sitePath)
	mainPath := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(mainPath, []byte(main), 0o644); err != nil {
		t.Fatal(err)
	}
	ngx := startProc(t, "nginx", nginx, []string{"-p", dir, "-c", mainPath}, nil)
	t.Cleanup(func() {
		if t.Failed() {
			b, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			t.Logf("nginx error.log:\n%s", b)
		}
	})
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.After(20 * time.Second)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		if resp, err := client.Get(base + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return base
			}
		}
		select {
		case <-tick.C:
		case <-ngx.done:
			t.Fatalf("nginx exited: %v\n%s", ngx.err, ngx.out)
		case <-deadline:
			t.Fatal("nginx did not proxy /healthz within 20s")
		}
	}
}

// getOK GETs url and returns the body, failing unless the status is 200.
func getOK(t *testing.T, client *http.Client, url string) string {
	t.Helper()
	resp, err := client.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s\n%s", url, resp.Status, b)
	}
	return string(b)
}
