package rtmp

import (
	"fmt"
	"strconv"

	"github.com/ripplemedia/ripple/pkg/access"
)

// codePublishDenied refuses a publisher that is not authorized. OBS's
// librtmp closes the connection on NetStream.Publish.Denied, .Rejected and
// .BadName (HandleInvoke) and shows its stream-key error, where an unknown
// code such as "Unauthorized" would leave it waiting 30 s; ffmpeg stops on
// any onStatus of level "error" and prints "Server error: <description>".
const codePublishDenied = "NetStream.Publish.Denied"

// admit is the admission check of a publish or play of key (app/name, the
// hub key) on msid, with query the connect app's and the publish/play
// name's query strings joined (joinQuery). A query longer than
// access.MaxQuery is refused first, whether or not Authorize is set; then
// ServerConfig.Authorize, if set, decides. A refusal is answered with an
// error onStatus on msid (Publish.Denied or Play.Failed, the reason as
// description) and a graceful close; refused reports that the caller must
// stop. err is non-nil only when the connection must end at once (the
// refusal could not be queued).
func (c *conn) admit(action access.Action, msid uint32, key, query string) (refused bool, err error) {
	code := codePlayFailed
	if action == access.Publish {
		code = codePublishDenied
	}
	if qerr := access.CheckQuery(query); qerr != nil {
		// Everything that remembers a query (hub infos, auth caches,
		// hooks) relies on this bound.
		return true, c.refuse(protocolErrorf("%s %q: %w", action, key, qerr),
			onStatusMessage(msid, levelError, code,
				fmt.Sprintf("query too long (%d bytes, limit %d)", len(query), access.MaxQuery)))
	}
	if c.cfg.Authorize == nil {
		return false, nil
	}
	aerr := c.cfg.Authorize(c.ctx, access.Request{
		Action:     action,
		Protocol:   access.ProtoRTMP,
		Key:        key,
		Query:      query,
		RemoteAddr: c.remote,
		ClientID:   "rtmp-" + strconv.FormatUint(c.id, 10),
	})
	if aerr == nil {
		return false, nil
	}
	if c.ctx.Err() != nil {
		return true, aerr // the connection is ending anyway
	}
	return true, c.refuse(fmt.Errorf("%w: %s %q: %w", errRefused, action, key, aerr),
		onStatusMessage(msid, levelError, code, aerr.Error()))
}
