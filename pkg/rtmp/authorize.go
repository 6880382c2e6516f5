package rtmp

import (
	"fmt"
)

// codePublishDenied refuses a publisher that is not authorized. OBS's
// librtmp closes the connection on NetStream.Publish.Denied, .Rejected and
// .BadName (HandleInvoke) and shows its stream-key error, where an unknown
// code such as "Unauthorized" would leave it waiting 30 s; ffmpeg stops on
// any onStatus of level "error" and prints "Server error: <description>".
const codePublishDenied = "NetStream.Publish.Denied"

// AuthRequest is what ServerConfig.Authorize decides on.
type AuthRequest struct {
	Publish    bool   // false: play
	App        string // without query
	Stream     string // without query (and without ".flv" for play)
	Query      string // connect's and publish/play's query strings joined, without '?'
	ConnID     uint64 // the connection id of the logs ("conn")
	RemoteAddr string // the peer, or the client a PROXY header named
}

// authorize asks ServerConfig.Authorize, if set, about a publish or play of
// app/name. A refusal is answered with an error onStatus on msid (its
// description is err's text) and a graceful close; refused reports that the
// caller must stop. err is non-nil only when the connection must end at
// once (the refusal could not be queued).
func (c *conn) authorize(publish bool, msid uint32, key, name, query string) (refused bool, err error) {
	if c.cfg.Authorize == nil {
		return false, nil
	}
	aerr := c.cfg.Authorize(c.ctx, AuthRequest{
		Publish:    publish,
		App:        c.app,
		Stream:     name,
		Query:      joinQuery(c.appQuery, query),
		ConnID:     c.id,
		RemoteAddr: c.remote,
	})
	if aerr == nil {
		return false, nil
	}
	if c.ctx.Err() != nil {
		return true, aerr // the connection is ending anyway
	}
	action, code := "play", codePlayFailed
	if publish {
		action, code = "publish", codePublishDenied
	}
	return true, c.refuse(fmt.Errorf("%w: %s %q: %w", errRefused, action, key, aerr),
		onStatusMessage(msid, levelError, code, aerr.Error()))
}
