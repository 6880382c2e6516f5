package auth

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/ripplemedia/ripple/pkg/access"
	"github.com/ripplemedia/ripple/pkg/internal/guard"
	"github.com/ripplemedia/ripple/pkg/internal/netx"
)

// Config configures a Checker. Only Rules can change later (Reload).
type Config struct {
	Logger *slog.Logger // nil: discard
	// Client sends the hooks; nil uses a client of its own.
	Client *http.Client
	// QueueSize bounds the asynchronous hook queue (default 1024).
	QueueSize int
	// Now is the clock for token expiry; nil is time.Now.
	Now   func() time.Time
	Rules Rules
	// Panics recovers and counts a panic of the hook worker (component
	// "hook"): the notification is lost, the worker goes on.
	Panics *guard.Recorder
}

// Checker admits or refuses publishers and players. It is safe for
// concurrent use; Reload swaps its rules atomically.
type Checker struct {
	log    *slog.Logger
	client *http.Client
	now    func() time.Time
	rules  atomic.Pointer[compiled]
	notify *notifier
	sess   sessions
	// hookWarn rate-limits the "hook failed" lines, answerWarn those of
	// malformed on_publish answers.
	hookWarn, answerWarn netx.LogLimiter
}

// New validates cfg.Rules and returns a Checker, its hook worker running;
// Shutdown or Close stops it.
func New(cfg Config) (*Checker, error) {
	comp, err := compile(cfg.Rules)
	if err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Client == nil {
		// Hooks are internal services: no proxy from the environment, and
		// redirects are not followed (a 3xx is a refusal like any non-2xx).
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.Proxy = nil
		cfg.Client = &http.Client{
			Transport:     tr,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	log := cfg.Logger.With("component", "auth")
	c := &Checker{log: log, client: cfg.Client, now: cfg.Now}
	c.rules.Store(comp)
	c.notify = newNotifier(log, cfg.Client, cfg.QueueSize, cfg.Panics)
	return c, nil
}

// Reload replaces the rules (secrets, IP lists, hooks). Sessions already
// admitted are not re-checked; on error the old rules stay.
func (c *Checker) Reload(r Rules) error {
	comp, err := compile(r)
	if err != nil {
		return err
	}
	c.rules.Store(comp)
	c.log.Info("auth rules reloaded", "apps", len(r.Apps),
		"publish_signed", comp.global[idxPublish].secret != "", "play_signed", comp.global[idxPlay].secret != "",
		"on_publish", r.OnPublish.URL != "", "on_play", r.OnPlay.URL != "",
		"on_unpublish", r.OnUnpublish.URL != "", "on_stop", r.OnStop.URL != "")
	return nil
}

// Shutdown stops taking notifications and delivers the queued ones until
// ctx ends, like http.Server.Shutdown: it returns nil once the queue is
// empty, or, when ctx ends first, drops the rest (counted in Stats), stops
// the background worker and returns ctx's cause. Later calls return nil.
func (c *Checker) Shutdown(ctx context.Context) error {
	return c.notify.close(ctx)
}

// Close drops the queued notifications and stops the background worker at
// once. Idempotent; the error is always nil (io.Closer).
func (c *Checker) Close() error {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_ = c.notify.close(ctx) // cut short on purpose: nothing to report
	return nil
}

// CheckPublish decides whether req may publish: IP lists, then the signed
// URL, then the on_publish hook. It returns nil or an error wrapping
// ErrUnauthorized or ErrForbidden (an *Error with the client-facing reason),
// or the context's cause if ctx ended while a hook was asked.
func (c *Checker) CheckPublish(ctx context.Context, req Request) error {
	_, err := c.CheckPublishForward(ctx, req)
	return err
}

// CheckPublishForward is CheckPublish that also returns the restream
// targets the on_publish hook's 2xx answer listed (answer.go): at most
// MaxForwardTargets rtmp:// or rtmps:// URLs, in the hook's order, to push
// this publish to. They hold stream keys: callers must not log them. No
// hook, a hook that answered no JSON object, and a hook that gave no
// answer under fail_open all give none. A malformed answer still admits;
// it is logged (rate-limited, without its content).
func (c *Checker) CheckPublishForward(ctx context.Context, req Request) (forward []string, err error) {
	comp := c.rules.Load()
	h := comp.rules.OnPublish
	answer, err := c.check(ctx, comp, idxPublish, ActionPublish, h, req)
	if err != nil || len(answer) == 0 {
		return nil, err
	}
	forward, bad := parseForward(answer)
	if bad > 0 {
		if n, ok := c.answerWarn.Allow(); ok {
			c.log.Warn("on_publish answer malformed, admitting with the valid targets", "hook", hookAddr(h.URL),
				"stream", req.Key(), "bytes", len(answer), "targets", len(forward), "dropped", bad,
				"suppressed", n)
		}
	}
	return forward, nil
}

// CheckPlay decides whether req may play, like CheckPublish with the play
// rules and the on_play hook.
func (c *Checker) CheckPlay(ctx context.Context, req Request) error {
	comp := c.rules.Load()
	_, err := c.check(ctx, comp, idxPlay, ActionPlay, comp.rules.OnPlay, req)
	return err
}

// check applies the rules of idx to req and asks hook h; on admission it
// returns the hook's 2xx answer (nil without a hook or an answer).
func (c *Checker) check(ctx context.Context, comp *compiled, idx int, action string, h Hook, req Request) ([]byte, error) {
	p := comp.policy(req.Key(), idx)
	if !p.allow.Empty() || !p.deny.Empty() {
		addr, ok := ParseAddr(req.RemoteIP)
		switch {
		case ok && p.deny.Contains(addr):
			return nil, forbidden("address %s is denied", addr)
		case !p.allow.Empty() && (!ok || !p.allow.Contains(addr)):
			return nil, forbidden("address %s is not allowed", req.RemoteIP)
		}
	}
	if p.secret != "" {
		if err := verify(p.secret, req.App, req.Stream, req.Query, c.now()); err != nil {
			return nil, err
		}
	}
	var answer []byte
	if h.URL != "" {
		var err error
		if answer, err = c.callSync(ctx, action, h, comp.rules.ServerID, req); err != nil {
			return nil, err
		}
	}
	// HLS viewers are plain requests: no leave event ever releases them,
	// so they are not remembered for on_stop.
	if comp.track && req.Protocol != access.ProtoHLS {
		c.sess.admit(idx, req)
	}
	return answer, nil
}

// PlayRestricted reports whether plays of key are checked at all under the
// current rules: a play secret, an IP list or an on_play hook applies to
// it. An open stream's HLS keeps shared, cacheable URIs.
func (c *Checker) PlayRestricted(key string) bool {
	comp := c.rules.Load()
	p := comp.policy(key, idxPlay)
	return p.secret != "" || !p.allow.Empty() || !p.deny.Empty() || comp.rules.OnPlay.URL != ""
}

// HasPlayHook reports whether an on_play hook is configured (a round trip
// per check, worth caching for protocols that ask often).
func (c *Checker) HasPlayHook() bool { return c.rules.Load().rules.OnPlay.URL != "" }

// NotifyUnpublish queues the on_unpublish hook for a publisher that left.
// It never blocks (call it from hub event callbacks). ClientID and Query,
// when empty, are taken from the admitted publish that matches app, stream,
// protocol and remote address.
func (c *Checker) NotifyUnpublish(req Request) {
	c.notifyAsync(idxPublish, ActionUnpublish, req)
}

// NotifyStop queues the on_stop hook for a player that left, like
// NotifyUnpublish.
func (c *Checker) NotifyStop(req Request) {
	c.notifyAsync(idxPlay, ActionStop, req)
}

func (c *Checker) notifyAsync(idx int, action string, req Request) {
	comp := c.rules.Load()
	if s, ok := c.sess.release(idx, req); ok {
		if req.ClientID == "" {
			req.ClientID = s.clientID
		}
		if req.Query == "" {
			req.Query = s.query
		}
	}
	h := comp.rules.OnUnpublish
	if idx == idxPlay {
		h = comp.rules.OnStop
	}
	c.enqueue(comp, h, action, req.Key(), newHookBody(action, comp.rules.ServerID, req))
}

// enqueue queues body for asynchronous hook h, if it is set, with the
// retries of comp's rules.
func (c *Checker) enqueue(comp *compiled, h AsyncHook, action, stream string, body any) {
	if h.URL == "" {
		return
	}
	b, err := json.Marshal(body)
	if err != nil {
		c.log.Error("encode hook body", "hook", action, "err", err)
		return
	}
	c.notify.enqueue(notification{
		action: action, url: h.URL, timeout: h.Timeout,
		retries: comp.rules.Retries, backoff: comp.rules.RetryBackoff,
		body: b, stream: stream,
	})
}

// RecordDone describes a finished recording file for on_record_done.
type RecordDone struct {
	App, Stream string
	// File is the file's path on this server (absolute), URL where the
	// HTTP listener serves it (a path: /recordings/...).
	File, URL string
	Format    string // "fmp4", "flv"
	Start     time.Time
	Duration  time.Duration
	Size      int64
}

// recordDoneBody is the JSON POSTed to on_record_done: the fields every
// hook carries (action, app, stream, server_id) and the file's, like SRS's
// on_dvr ("file") with what an uploader needs besides.
type recordDoneBody struct {
	Action          string    `json:"action"`
	App             string    `json:"app"`
	Stream          string    `json:"stream"`
	ServerID        string    `json:"server_id,omitempty"`
	File            string    `json:"file"`
	URL             string    `json:"url"`
	Format          string    `json:"format"`
	Start           time.Time `json:"start"`
	DurationSeconds float64   `json:"duration_seconds"`
	SizeBytes       int64     `json:"size_bytes"`
}

// NotifyRecordDone queues on_record_done for a finished file. It never
// blocks.
func (c *Checker) NotifyRecordDone(d RecordDone) {
	comp := c.rules.Load()
	c.enqueue(comp, comp.rules.OnRecordDone, ActionRecordDone, d.App+"/"+d.Stream, recordDoneBody{
		Action: ActionRecordDone, App: d.App, Stream: d.Stream, ServerID: comp.rules.ServerID,
		File: d.File, URL: d.URL, Format: d.Format, Start: d.Start.UTC(),
		DurationSeconds: float64(d.Duration.Milliseconds()) / 1000, SizeBytes: d.Size,
	})
}

// Stats are counters of the asynchronous hooks.
type Stats struct {
	Delivered, Failed, Dropped uint64
	Queued                     int
}

// Stats returns the asynchronous hook counters.
func (c *Checker) Stats() Stats {
	return Stats{
		Delivered: c.notify.delivered.Load(),
		Failed:    c.notify.failed.Load(),
		Dropped:   c.notify.dropped.Load(),
		Queued:    len(c.notify.q),
	}
}
