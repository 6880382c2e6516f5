package bench

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/coder/websocket"
)

// dial opens a TCP connection bounded by 10 s and ctx.
func dial(ctx context.Context, network, addr string) (net.Conn, error) {
	d := net.Dialer{Timeout: 10 * time.Second}
	return d.DialContext(ctx, network, addr)
}

// playHTTPFLV plays an http(s)://…flv URL over a connection of its own:
// a plain GET, then the body (chunked or not) read in this goroutine.
func playHTTPFLV(ctx context.Context, u *url.URL, insecure bool, st *PlayerStats, w *Window, t0 time.Time) error {
	host := u.Host
	if u.Port() == "" {
		host = net.JoinHostPort(u.Hostname(), map[string]string{"http": "80", "https": "443"}[u.Scheme])
	}
	nc, err := dial(ctx, "tcp", host)
	if err != nil {
		return err
	}
	if u.Scheme == "https" {
		nc = tls.Client(nc, &tls.Config{ServerName: u.Hostname(), InsecureSkipVerify: insecure}) //nolint:gosec // a benchmark of one's own server
	}
	defer nc.Close()
	stop := context.AfterFunc(ctx, func() { _ = nc.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	_ = nc.SetDeadline(time.Now().Add(10 * time.Second))
	req := &http.Request{Method: http.MethodGet, URL: u, Host: u.Host, Header: http.Header{"User-Agent": {"ripple-bench"}},
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1}
	if err := req.Write(nc); err != nil {
		return err
	}
	br := bufio.NewReaderSize(nc, 32<<10)
	resp, err := http.ReadResponse(br, req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("http: status %s", resp.Status)
	}
	_ = nc.SetDeadline(time.Time{})
	st.Connected = true
	var src source = plainSource{br} // close-delimited: the FLV runs to EOF
	switch {
	case len(resp.TransferEncoding) > 0:
		src = &chunkedSource{br: br}
	case resp.ContentLength >= 0: // rare for live streams: bound it
		src = plainSource{bufio.NewReaderSize(resp.Body, 32<<10)}
	}
	f := &flvStream{src: src, st: st, w: w, t0: t0}
	return f.run()
}

// playWSFLV plays a ws(s)://…flv URL: the binary messages are read as one
// byte stream, whatever tag-to-message framing the server chose.
func playWSFLV(ctx context.Context, u string, insecure bool, st *PlayerStats, w *Window, t0 time.Time) error {
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	tr := &http.Transport{DialContext: (&net.Dialer{Timeout: 10 * time.Second}).DialContext,
		TLSClientConfig: &tls.Config{InsecureSkipVerify: insecure}} //nolint:gosec // as above
	c, resp, err := websocket.Dial(dctx, u, &websocket.DialOptions{HTTPClient: &http.Client{Transport: tr}})
	if err != nil {
		return err
	}
	if resp != nil && resp.Body != nil {
		_ = resp.Body.Close()
	}
	defer c.CloseNow()
	c.SetReadLimit(maxFLVTag + 64)
	st.Connected = true
	nc := websocket.NetConn(ctx, c, websocket.MessageBinary)
	f := &flvStream{src: plainSource{bufio.NewReaderSize(nc, 32<<10)}, st: st, w: w, t0: t0}
	return f.run()
}
