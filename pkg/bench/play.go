package bench

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// PlayConfig configures a play run.
type PlayConfig struct {
	URL      string        // rtmp://, http(s)://….flv, ws(s)://….flv or ….m3u8
	Players  int           // number of players
	Ramp     time.Duration // players connect spread over this long
	Warmup   time.Duration // after the ramp, before the window starts
	Duration time.Duration // measurement window
	Stall    time.Duration // default DefaultStall (HLS: 5 s, a segment at a time)
	Insecure bool          // skip TLS verification (https, wss)
	PIDs     []int         // server processes to sample (none: skip)
	// Stalled extra players (HTTP-FLV, WS-FLV) connect and never read,
	// to show what a stuck viewer costs the others. They are not counted
	// in Players or in the per-player figures.
	Stalled int
}

// Protocol names the player kind for a URL.
func Protocol(u string) (string, error) {
	pu, err := url.Parse(u)
	if err != nil {
		return "", err
	}
	path := pu.Path
	switch {
	case pu.Scheme == "rtmp":
		return "rtmp", nil
	case strings.HasSuffix(path, ".m3u8") && (pu.Scheme == "http" || pu.Scheme == "https"):
		return "hls", nil
	case pu.Scheme == "http" || pu.Scheme == "https":
		return "httpflv", nil
	case pu.Scheme == "ws" || pu.Scheme == "wss":
		return "wsflv", nil
	}
	return "", fmt.Errorf("bench: url scheme %q not one of rtmp, http, https, ws, wss", pu.Scheme)
}

// Play runs cfg.Players players until the window ends and returns the
// report. It fails only for a bad configuration; player failures are
// counted in the report.
func Play(ctx context.Context, cfg PlayConfig) (*Report, error) {
	proto, err := Protocol(cfg.URL)
	if err != nil {
		return nil, err
	}
	if cfg.Players < 1 {
		return nil, fmt.Errorf("bench: players %d out of range [1, ∞)", cfg.Players)
	}
	if cfg.Stalled < 0 || cfg.Stalled > 0 && proto != "httpflv" && proto != "wsflv" {
		return nil, fmt.Errorf("bench: stalled players need an HTTP-FLV or WS-FLV url, not %s", proto)
	}
	if cfg.Duration <= 0 {
		return nil, fmt.Errorf("bench: duration %s must be > 0", cfg.Duration)
	}
	if cfg.Stall <= 0 {
		cfg.Stall = DefaultStall
		if proto == "hls" {
			cfg.Stall = hlsStall
		}
	}
	pu, _ := url.Parse(cfg.URL)
	t0 := time.Now()
	w := &Window{Start: t0.Add(cfg.Ramp + cfg.Warmup), Stall: cfg.Stall}
	w.End = w.Start.Add(cfg.Duration)
	// Players stop a little after the window so that in-flight frames land.
	pctx, cancel := context.WithDeadline(ctx, w.End.Add(200*time.Millisecond))
	defer cancel()

	var hlsClient *http.Client
	if proto == "hls" {
		hlsClient = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
			MaxIdleConnsPerHost: cfg.Players, DialContext: (&net.Dialer{Timeout: 10 * time.Second}).DialContext}}
		defer hlsClient.CloseIdleConnections()
	}

	sampler := newSampler(cfg.PIDs)
	stats := make([]*PlayerStats, cfg.Players)
	var wg sync.WaitGroup
	for i := range stats {
		st := &PlayerStats{}
		stats[i] = st
		start := t0.Add(cfg.Ramp * time.Duration(i) / time.Duration(cfg.Players))
		wg.Go(func() {
			if d := time.Until(start); d > 0 {
				select {
				case <-pctx.Done():
					return
				case <-time.After(d):
				}
			}
			ts := time.Now()
			var err error
			switch proto {
			case "rtmp":
				err = playRTMP(pctx, cfg.URL, st, w, ts)
			case "httpflv":
				err = playHTTPFLV(pctx, pu, cfg.Insecure, st, w, ts)
			case "wsflv":
				err = playWSFLV(pctx, cfg.URL, cfg.Insecure, st, w, ts)
			case "hls":
				err = playHLS(pctx, cfg.URL, hlsClient, st, w, ts)
			}
			if pctx.Err() == nil { // errors after the deadline are our own stop
				if err == nil {
					err = io.ErrUnexpectedEOF
				}
				st.Err = err
			}
		})
	}

	for i := range cfg.Stalled {
		start := t0.Add(cfg.Ramp * time.Duration(i) / time.Duration(cfg.Stalled))
		wg.Go(func() { stallPlayer(pctx, proto, pu, start) })
	}

	r := &Report{Stalled: cfg.Stalled, Protocol: proto, URL: cfg.URL, Players: cfg.Players, Window: cfg.Duration.Seconds(), PIDs: cfg.PIDs}
	// Wait for the window, sampling at its edges and every 500 ms in it.
	select {
	case <-ctx.Done():
	case <-time.After(time.Until(w.Start)):
	}
	sampler.begin(stats)
	tick := time.NewTicker(500 * time.Millisecond)
	for done := false; !done; {
		select {
		case <-ctx.Done():
			done = true
		case now := <-tick.C:
			if !now.Before(w.End) {
				done = true
				break
			}
			sampler.sample()
		}
	}
	tick.Stop()
	sampler.end(stats, r)
	wg.Wait()
	r.collect(stats, w)
	if ctx.Err() != nil {
		return r, ctx.Err()
	}
	return r, nil
}

// stallPlayer connects like a player and then never reads: the server's
// send buffer to it fills and stays full until the run ends.
func stallPlayer(ctx context.Context, proto string, u *url.URL, start time.Time) {
	select {
	case <-ctx.Done():
		return
	case <-time.After(time.Until(start)):
	}
	nc, err := dial(ctx, "tcp", u.Host)
	if err != nil {
		return
	}
	defer nc.Close()
	req := "GET " + u.RequestURI() + " HTTP/1.1\r\nHost: " + u.Host + "\r\nUser-Agent: ripple-bench-stalled\r\n"
	if proto == "wsflv" {
		// RFC 6455 §4.1 opening handshake; the response is never read.
		req += "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n" +
			"Sec-WebSocket-Key: cmlwcGxlLWJlbmNoLXN0YWxs\r\n"
	}
	if _, err := io.WriteString(nc, req+"\r\n"); err != nil {
		return
	}
	<-ctx.Done()
}
