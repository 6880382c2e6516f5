package thumb

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/ripplemedia/ripple/pkg/access"
	"github.com/ripplemedia/ripple/pkg/av"
	"github.com/ripplemedia/ripple/pkg/hub"
)

// capture subscribes to key and returns its first video keyframe, the
// video sequence header queued before it (nil if none) and when it was
// taken. The reader is closed before it returns: a thumbnail holds no
// reader while ffmpeg runs. The packets are shared: never modified.
func (t *Thumbnailer) capture(key string) (hdr, kf *av.Packet, taken time.Time, err error) {
	rd, err := t.hub.Subscribe(key, hub.ReaderInfo{Protocol: access.ProtoThumbnail})
	if errors.Is(err, hub.ErrStreamNotFound) || errors.Is(err, hub.ErrClosed) {
		return nil, nil, time.Time{}, ErrNotLive
	}
	if err != nil {
		return nil, nil, time.Time{}, fmt.Errorf("thumb: subscribe %q: %w", key, err)
	}
	defer rd.Close()
	ctx, cancel := context.WithTimeout(t.ctx, t.cfg.Timeout)
	defer cancel()
	buf := make([]*av.Packet, 0, 64)
	sawVideo := false
	for {
		buf, err = rd.Read(ctx, buf[:0])
		for _, p := range buf {
			if p.Kind != av.KindVideo {
				continue
			}
			sawVideo = true
			switch {
			case p.Header:
				hdr = p
			case p.Keyframe:
				return hdr, p, t.now(), nil
			}
		}
		clear(buf)
		switch {
		case err == nil:
		case errors.Is(err, io.EOF):
			return nil, nil, time.Time{}, ErrNotLive
		case ctx.Err() != nil && t.ctx.Err() == nil:
			if info, ok := t.hub.Stream(key); ok && !sawVideo && !info.HasVideo {
				return nil, nil, time.Time{}, ErrNoVideo
			}
			return nil, nil, time.Time{}, fmt.Errorf("%w (%s)", ErrNoKeyframe, t.cfg.Timeout)
		case t.ctx.Err() != nil:
			return nil, nil, time.Time{}, context.Cause(t.ctx)
		default:
			return nil, nil, time.Time{}, fmt.Errorf("thumb: read %q: %w", key, err)
		}
	}
}
