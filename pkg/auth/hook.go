package auth

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
	"unicode"
)

// Defaults applied to zero fields, for use without pkg/config. Each equals
// the config default of the key that sets it (pkg/server checks this):
// DefaultHookTimeout that of auth.hooks.on_publish.timeout and on_play
// (asynchronous hooks default to 5s there), DefaultRetryBackoff
// auth.hooks.retry_backoff, DefaultQueueSize auth.hooks.queue_size.
// Rules.Retries has none: 0 means no retry.
const (
	DefaultHookTimeout  = 3 * time.Second
	DefaultRetryBackoff = time.Second
	DefaultQueueSize    = 1024

	// maxReasonLen bounds how much of a hook's refusal body is passed on to
	// the client as the reason; maxRefusal how much of it is read.
	maxReasonLen = 200
	maxRefusal   = 4 << 10
)

// Hook is a synchronous hook (on_publish, on_play): its answer decides.
// A 2xx response allows; any other status refuses, and the first line of the
// body (up to 200 bytes) becomes the reason shown to the client. When the
// hook cannot answer (connection error, timeout), FailOpen decides: true
// allows, false (the default, fail closed) refuses. An on_publish 2xx answer
// may also list restream targets (answer.go).
type Hook struct {
	URL      string // "" = no hook
	Timeout  time.Duration
	FailOpen bool
}

// AsyncHook is a notification hook (on_unpublish, on_stop): delivered in the
// background, retried with exponential backoff on a non-2xx or no answer;
// its outcome never affects a stream.
type AsyncHook struct {
	URL     string // "" = no hook
	Timeout time.Duration
}

// hookBody is the JSON POSTed to every hook, close to SRS's callbacks
// (action, client_id, ip, app, stream, param) with the query kept raw.
type hookBody struct {
	Action   string `json:"action"`
	App      string `json:"app"`
	Stream   string `json:"stream"`
	ClientID string `json:"client_id"`
	IP       string `json:"ip"`
	Query    string `json:"query"`
	Protocol string `json:"protocol"`
	ServerID string `json:"server_id,omitempty"`
}

func newHookBody(action, serverID string, r Request) hookBody {
	ip := r.RemoteIP
	if a, ok := ParseAddr(r.RemoteIP); ok {
		ip = a.String()
	}
	return hookBody{
		Action: action, App: r.App, Stream: r.Stream, ClientID: r.ClientID,
		IP: ip, Query: r.Query, Protocol: r.Protocol, ServerID: serverID,
	}
}

// errHookUnavailable marks a hook that gave no answer (as opposed to one
// that answered with a refusal).
var errHookUnavailable = errors.New("auth: hook unavailable")

// hookStatusError is a hook's non-2xx answer.
type hookStatusError struct {
	status int
	reason string
}

func (e *hookStatusError) Error() string {
	if e.reason == "" {
		return fmt.Sprintf("hook answered HTTP %d", e.status)
	}
	return fmt.Sprintf("hook answered HTTP %d: %s", e.status, e.reason)
}

// post sends body to url within timeout. It returns nil on 2xx, a
// *hookStatusError on other statuses, and an error wrapping
// errHookUnavailable when no answer arrived. On 2xx it also returns up to
// maxAnswer+1 bytes of the body (one more than allowed, so that an
// oversized answer can be told from one that fits); a short read only
// shortens it.
func post(ctx context.Context, client *http.Client, url string, timeout time.Duration, body []byte) ([]byte, error) {
	if timeout <= 0 {
		timeout = DefaultHookTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		// %v, not %w, here and below: the transport error is text for the
		// log. Wrapped, a reset from the hook server would read as the
		// player's own connection being reset (close lines pick their
		// level with errors.Is).
		return nil, fmt.Errorf("%w: %v", errHookUnavailable, err) //nolint:errorlint // text only, see above
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "ripple-hook")
	resp, err := client.Do(req)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return nil, fmt.Errorf("%w: no answer within %s", errHookUnavailable, timeout)
		}
		return nil, fmt.Errorf("%w: %v", errHookUnavailable, err) //nolint:errorlint // text only, as above
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		// The body is read within the same timeout as the answer.
		b, _ := io.ReadAll(io.LimitReader(resp.Body, maxAnswer+1))
		return b, nil
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, maxRefusal)) // a short read only shortens the reason
	return nil, &hookStatusError{status: resp.StatusCode, reason: firstLine(b)}
}

// firstLine returns the first line of b, printable characters only, at most
// maxReasonLen bytes: it ends up in an RTMP onStatus or HTTP error body.
func firstLine(b []byte) string {
	s, _, _ := strings.Cut(string(b), "\n")
	s = strings.Map(func(r rune) rune {
		if unicode.IsPrint(r) {
			return r
		}
		return -1
	}, s)
	s = strings.TrimSpace(s)
	if len(s) > maxReasonLen {
		s = s[:maxReasonLen]
	}
	return s
}

// callSync runs a synchronous hook and turns its outcome into a decision.
// On a 2xx it also returns the answer's body (post) for the caller to parse.
func (c *Checker) callSync(ctx context.Context, action string, h Hook, serverID string, r Request) ([]byte, error) {
	body, err := json.Marshal(newHookBody(action, serverID, r))
	if err != nil {
		return nil, fmt.Errorf("auth: encode %s body: %w", action, err)
	}
	answer, err := post(ctx, c.client, h.URL, h.Timeout, body)
	var se *hookStatusError
	switch {
	case err == nil:
		return answer, nil
	case errors.As(err, &se):
		reason := se.reason
		if reason == "" {
			reason = fmt.Sprintf("HTTP %d", se.status)
		}
		return nil, forbidden("rejected by %s hook: %s", action, reason)
	case ctx.Err() != nil:
		// The client left (or we are shutting down) while we asked.
		return nil, context.Cause(ctx)
	case h.FailOpen:
		if n, ok := c.hookWarn.Allow(); ok {
			c.log.Warn("hook failed, allowing (fail_open)", "hook", action, "stream", r.Key(),
				"remote", r.RemoteIP, "err", err, "suppressed", n)
		}
		return nil, nil
	default:
		if n, ok := c.hookWarn.Allow(); ok {
			c.log.Warn("hook failed, refusing (fail_closed)", "hook", action, "stream", r.Key(),
				"remote", r.RemoteIP, "err", err, "suppressed", n)
		}
		return nil, forbidden("%s hook unavailable", action)
	}
}
