package httpflv

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ripplemedia/ripple/pkg/access"
	"github.com/ripplemedia/ripple/pkg/flv"
	"github.com/ripplemedia/ripple/pkg/hub"
	"github.com/ripplemedia/ripple/pkg/internal/cors"
	"github.com/ripplemedia/ripple/pkg/internal/guard"
	"github.com/ripplemedia/ripple/pkg/internal/netx"
)

// Handler serves GET, HEAD and OPTIONS on /{app...}/{stream}.flv, and
// WebSocket-FLV on the same path. It stops like rtmp.Server: Drain begins a
// graceful stop without waiting, Shutdown drains and waits, Close ends
// every player at once.
type Handler struct {
	cfg  Config
	log  *slog.Logger
	hub  *hub.Hub
	cors cors.Policy

	mu      sync.Mutex
	closed  bool
	players map[*player]struct{}
	wg      sync.WaitGroup

	// refusedLog rate-limits "play refused": a client can trigger it at
	// will.
	refusedLog netx.LogLimiter
	// testHookServe, when set (tests), runs at the start of each player's
	// session inside the panic guard.
	testHookServe func(p *player)
}

var _ http.Handler = (*Handler)(nil)

// NewHandler returns a handler playing streams of h.
func NewHandler(cfg Config, h *hub.Hub) *Handler {
	cfg = cfg.withDefaults()
	hd := &Handler{
		cfg:     cfg,
		log:     cfg.Logger,
		hub:     h,
		players: make(map[*player]struct{}),
	}
	hd.cors = cors.New(cfg.AllowOrigin)
	return hd
}

// Close ends every active player, hijacked and WebSocket connections
// included (http.Server.Shutdown does not wait for those), and waits for
// their goroutines. Requests arriving afterwards get 503. Idempotent; the
// error is always nil (io.Closer).
func (h *Handler) Close() error {
	h.mu.Lock()
	h.closed = true
	players := make([]*player, 0, len(h.players))
	for p := range h.players {
		players = append(players, p)
	}
	h.mu.Unlock()
	// Kick outside the lock: closing a WebSocket waits for its reader.
	for _, p := range players {
		p.kick(errHandlerClosed)
	}
	h.wg.Wait()
	return nil
}

// maxTrack is the highest ?track= a player may ask for: a track id is a
// byte (E-RTMP v2).
const maxTrack = 255

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	h.cors.Set(hdr, r)
	name, isFLV := strings.CutSuffix(strings.TrimPrefix(r.URL.Path, "/"), ".flv")
	if !isFLV {
		httpError(w, http.StatusNotFound, "not found")
		return
	}
	// The key is app + "/" + stream; the query string (r.URL.RawQuery) is
	// left for authentication and never part of the key.
	key := name
	if !hub.ValidKey(key) {
		httpError(w, http.StatusBadRequest, "invalid stream name")
		return
	}
	if t := r.URL.Query().Get("track"); t != "" {
		// ?track=N plays track N of a multitrack publish: the rendition
		// {stream}_tN (track 0 is the stream itself).
		n, err := strconv.ParseUint(t, 10, 8)
		if err != nil || n > maxTrack {
			httpError(w, http.StatusBadRequest, "invalid track (want 0.."+strconv.Itoa(maxTrack)+")")
			return
		}
		key = flv.TrackKey(key, uint8(n))
	}
	switch r.Method {
	case http.MethodOptions:
		cors.Preflight(w)
	case http.MethodHead:
		if !h.authorize(r.Context(), w, r, key, access.ProtoHTTPFLV) {
			return
		}
		if _, ok := h.hub.Stream(key); !ok {
			httpError(w, http.StatusNotFound, "stream not found")
			return
		}
		setFLVHeaders(hdr)
		w.WriteHeader(http.StatusOK)
	case http.MethodGet:
		h.play(w, r, key)
	default:
		hdr.Set("Allow", "GET, HEAD, OPTIONS")
		httpError(w, http.StatusMethodNotAllowed, "method not allowed")
	}
}

// play subscribes to key and streams it over HTTP or WebSocket.
func (h *Handler) play(w http.ResponseWriter, r *http.Request, key string) {
	ws := isUpgrade(r)
	proto := access.ProtoHTTPFLV
	if ws {
		proto = access.ProtoWSFLV
	}
	// The player's context outlives the request's once the player owns a
	// hijacked connection (serve); until then the request ending (the
	// client left during auth or a demand wait) ends it.
	ctx, cancel := context.WithCancelCause(context.WithoutCancel(r.Context()))
	stopReq := context.AfterFunc(r.Context(), func() { cancel(context.Canceled) })
	defer stopReq()
	p := &player{
		proto:  proto,
		key:    key,
		remote: r.RemoteAddr,
		start:  time.Now(),
		ctx:    ctx,
		cancel: cancel,
	}
	if !h.track(p) {
		cancel(nil)
		httpError(w, http.StatusServiceUnavailable, "shutting down")
		return
	}
	var (
		rd  *hub.Reader
		err error
	)
	detached := false
	defer func() {
		if !detached {
			h.release(p, rd)
		}
	}()
	if !h.authorize(ctx, w, r, key, proto) {
		return
	}

	rinfo := hub.ReaderInfo{Protocol: proto, RemoteAddr: r.RemoteAddr, Query: r.URL.RawQuery}
	rd, err = h.hub.Subscribe(key, rinfo)
	if errors.Is(err, hub.ErrStreamNotFound) {
		switch derr := h.hub.Demand(key, rinfo); {
		case derr == nil:
			// A source is being started for this player (edge or
			// cluster pull): wait for it, bounded, instead of answering
			// 404 at once.
			wctx, wcancel := context.WithTimeout(ctx, h.cfg.DemandWait)
			if h.hub.WaitStream(wctx, key) == nil {
				rd, err = h.hub.Subscribe(key, rinfo)
			}
			wcancel()
		case !errors.Is(derr, hub.ErrStreamNotFound):
			// Where the stream lives cannot be known now (the cluster
			// registry is down): say so rather than "not found".
			httpError(w, http.StatusServiceUnavailable, "stream unavailable: "+derr.Error())
			return
		}
	}
	switch {
	case err == nil:
	case errors.Is(err, hub.ErrStreamNotFound):
		// No waiting: players retry on their own, and a 404 tells a
		// human at once that the key is wrong.
		httpError(w, http.StatusNotFound, "stream not found")
		return
	default:
		httpError(w, http.StatusServiceUnavailable, "stream unavailable")
		return
	}
	p.reader = rd
	info := rd.Stream()

	var end func(error)
	if ws {
		end, err = h.startWS(w, r, p)
	} else {
		end, err = h.startHTTP(w, r, p)
	}
	if err != nil {
		h.logClose(p, err)
		return
	}
	if p.ownsConn() {
		// net/http has nothing left to do with a hijacked connection:
		// serve it from a fresh goroutine and return, which frees the
		// server's per-connection state for the whole session (its 4 KiB
		// read buffer, the 4 KiB writer Hijack made, the request) and
		// this goroutine's deeper stack: ~10 KB per player.
		stopReq()
		detached = true
		go func() {
			defer h.release(p, rd)
			h.serve(p, info, end)
		}()
		return
	}
	h.serve(p, info, end)
}

// serve streams to p until it ends, then ends its output and logs why. A
// panic while streaming (a bug meeting odd media) ends this player only: its
// close line carries the stack at Error level.
func (h *Handler) serve(p *player, info hub.StreamInfo, end func(error)) {
	err := h.cfg.Panics.Run(p.proto, func() error {
		if h.testHookServe != nil {
			h.testHookServe(p)
		}
		return p.run(info)
	})
	cause := h.closeCause(p, err)
	end(cause)
	h.logClose(p, cause)
}

// release undoes play's setup: the reader (if subscribed), the tracking and
// the player's context.
func (h *Handler) release(p *player, rd *hub.Reader) {
	if rd != nil {
		rd.Close()
	}
	h.untrack(p)
	p.cancel(nil)
}

// closeCause turns what ended run into the reason worth logging: a write
// failing because the client left or because the handler kicked the player
// is reported as that.
func (h *Handler) closeCause(p *player, err error) error {
	if c := context.Cause(p.ctx); c != nil && p.ctx.Err() != nil {
		if errors.Is(c, errClientGone) || errors.Is(c, errHandlerClosed) || errors.Is(c, errWriteTimeout) ||
			errors.Is(c, hub.ErrSlowReader) || errors.Is(c, hub.ErrClosed) {
			return c
		}
		if errors.Is(err, context.Canceled) {
			return errClientGone // the request context: net/http saw the client leave
		}
	}
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded):
		return errWriteTimeout
	case errors.Is(err, syscall.EPIPE), errors.Is(err, syscall.ECONNRESET):
		return errClientGone
	}
	return err
}

//nolint:contextcheck // slog wants a context only for handler values; the player's has ended
func (h *Handler) logClose(p *player, cause error) {
	level := slog.LevelInfo
	var written uint64
	if p.w != nil {
		written = p.w.Sent()
	}
	attrs := []any{"proto", p.proto, "stream", p.key, "remote", p.remote, "err", causeText(cause),
		"duration", time.Since(p.start).Round(time.Millisecond), "bytes", written,
		"dropped", p.reader.Stats().Dropped, "skipped", p.skipped}
	if pe, ok := guard.AsPanic(cause); ok {
		level = slog.LevelError // our bug: one line, with the stack
		attrs = append(attrs, "stack", string(pe.Stack))
	} else if errors.Is(cause, hub.ErrSlowReader) || errors.Is(cause, errWriteTimeout) {
		level = slog.LevelWarn
	}
	h.log.Log(context.Background(), level, "player closed", attrs...)
}

func causeText(err error) string {
	switch {
	case errors.Is(err, io.EOF):
		return "stream ended"
	case err == nil:
		return "none"
	}
	return err.Error()
}

func (h *Handler) track(p *player) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return false
	}
	h.players[p] = struct{}{}
	h.wg.Add(1)
	return true
}

func (h *Handler) untrack(p *player) {
	h.mu.Lock()
	delete(h.players, p)
	h.mu.Unlock()
	h.wg.Done()
}

// setFLVHeaders sets the headers of a playing response.
func setFLVHeaders(hdr http.Header) {
	hdr.Set("Content-Type", "video/x-flv")
	hdr.Set("Cache-Control", "no-cache")
	// nginx in front would otherwise buffer the endless body.
	hdr.Set("X-Accel-Buffering", "no")
}

func httpError(w http.ResponseWriter, code int, msg string) {
	hdr := w.Header()
	hdr.Set("Content-Type", "text/plain; charset=utf-8")
	hdr.Set("Cache-Control", "no-cache")
	hdr.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	_, _ = io.WriteString(w, msg+"\n")
}

// isUpgrade reports a WebSocket upgrade request (RFC 6455 §4.1): the
// Connection header lists "upgrade" and Upgrade lists "websocket", both
// case-insensitive.
func isUpgrade(r *http.Request) bool {
	return headerHasToken(r.Header, "Connection", "upgrade") && headerHasToken(r.Header, "Upgrade", "websocket")
}

func headerHasToken(h http.Header, key, token string) bool {
	for _, v := range h.Values(key) {
		for t := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}
