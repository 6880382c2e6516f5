// Package httpflv serves live streams from the hub as HTTP-FLV and
// WebSocket-FLV: GET /{app...}/{stream}.flv answers with an endless FLV file
// (FLV v10.1 Annex E) in chunked transfer encoding, or, when the request is a
// WebSocket upgrade, with the same bytes carried in binary messages (the
// format flv.js and mpegts.js play).
//
// Each player is one hub reader. The FLV tag bytes are shared by every
// player (flv.TagBytes encodes each packet's whole tag once and caches it), so a
// player only adds framing:
// on HTTP/1.x the connection is hijacked and every batch of tags becomes one
// HTTP chunk, or one WebSocket binary frame (our own RFC 6455 framing), written
// with a single writev. The hub wakes a player at flush points (a video frame,
// audio riding with it; or once per hub.merge_window) and a batch is what
// was queued then. Once the connection is hijacked the player runs in its own
// goroutine and the request handler returns, so net/http's per-connection
// state is not kept for the session.
package httpflv

import (
	"errors"
	"log/slog"
	"time"

	"github.com/ripplemedia/ripple/pkg/access"
	"github.com/ripplemedia/ripple/pkg/internal/guard"
)

// Config configures a Handler. Zero values mean the documented defaults.
type Config struct {
	Logger *slog.Logger // nil: discard

	// AllowOrigin is the CORS allowed origin: "*" (default) allows any page;
	// otherwise a list of origins ("https://a.example https://b.example",
	// separated by spaces or commas). A request Origin in the list is echoed
	// back with Access-Control-Allow-Credentials, and WebSocket upgrades from
	// other origins are refused.
	AllowOrigin string

	// WriteTimeout bounds every single write to a player (not the response;
	// at least this long per write, cut within 5/4 of it):
	// a player that accepts no data for this long is dropped. Default 10s.
	WriteTimeout time.Duration

	// DemandWait bounds how long a play waits for a stream whose source the
	// hub is starting on demand (an edge pull, see hub.Demand). Streams with
	// no such source get 404 at once. Default 5s.
	DemandWait time.Duration

	// Authorize, when set, is asked before every play (HTTP-FLV GET and
	// HEAD, WebSocket-FLV) with an access.Request (action play, protocol
	// http-flv or ws-flv, the key, the raw query, the client address); a
	// non-nil error answers its HTTPStatus() (403 by default) before
	// anything is subscribed. ctx ends with the request.
	Authorize access.Func

	// Panics recovers a panic of a player's goroutine (components
	// "http-flv" and "ws-flv"): that player ends, the rest go on.
	Panics *guard.Recorder
}

const (
	defaultWriteTimeout = 10 * time.Second
	defaultDemandWait   = 5 * time.Second

	// holdTimeout bounds how long the FLV header waits for the tracks the
	// stream announced (onMetaData codec ids) to show up. flv.js and mpegts.js
	// wait forever for a track the header flags but the stream lacks, so the
	// header is written only once the tracks are known.
	holdTimeout = time.Second
	// holdMaxPackets also ends the wait: that many packets without the
	// announced track means it is not coming.
	holdMaxPackets = 512
)

// Close causes, logged once per player.
var (
	errClientGone    = errors.New("httpflv: client disconnected")
	errHandlerClosed = errors.New("httpflv: handler closed")
	errWriteTimeout  = errors.New("httpflv: write timeout")
)

func (c Config) withDefaults() Config {
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.AllowOrigin == "" {
		c.AllowOrigin = "*"
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = defaultWriteTimeout
	}
	if c.DemandWait <= 0 {
		c.DemandWait = defaultDemandWait
	}
	return c
}
