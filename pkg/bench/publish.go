package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/ripplemedia/ripple/pkg/av"
	"github.com/ripplemedia/ripple/pkg/flv"
	"github.com/ripplemedia/ripple/pkg/rtmp"
)

// Clip is an FLV file loaded in memory: its header packets (metadata,
// sequence headers), sent once, and its media tags, looped.
type Clip struct {
	Headers []flv.Tag
	Media   []flv.Tag
	// Duration is the DTS span of Media plus one video frame, the offset
	// added to timestamps on each loop.
	Duration time.Duration
}

// LoadClip reads an FLV file. The clip must carry H.264 video.
func LoadClip(path string) (*Clip, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := flv.NewReader(f)
	if _, err := r.ReadHeader(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	c := &Clip{}
	var first, last int64 = -1, 0
	var frame int64 = 33
	var prevVideo int64 = -1
	hasAVC := false
	for {
		t, err := r.ReadTag()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		p, err := flv.PacketFromTag(t.Type, t.Timestamp, t.Body)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if p == nil {
			continue
		}
		if p.Kind == av.KindVideo && !p.Header && !isCodedFrame(t.Body) {
			continue // end of sequence: would end the stream for players on every loop
		}
		if p.Header || p.Kind == av.KindData {
			c.Headers = append(c.Headers, t)
			continue
		}
		if first < 0 {
			first = p.DTS
		}
		last = max(last, p.DTS)
		if p.Kind == av.KindVideo {
			if p.Codec == av.CodecH264 {
				hasAVC = true
			}
			if prevVideo >= 0 && p.DTS > prevVideo {
				frame = p.DTS - prevVideo
			}
			prevVideo = p.DTS
		}
		c.Media = append(c.Media, t)
	}
	if !hasAVC || len(c.Media) == 0 {
		return nil, fmt.Errorf("%s: no H.264 video", path)
	}
	for i := range c.Media { // start the timeline at 0
		c.Media[i].Timestamp -= uint32(first)
	}
	c.Duration = time.Duration(last-first+frame) * time.Millisecond
	return c, nil
}

// PublishConfig configures Publish.
type PublishConfig struct {
	URL      string        // rtmp://host/app/name; with Count > 1, names get "-1", "-2", …
	Count    int           // publishers, default 1
	Duration time.Duration // 0: until ctx ends
	Logger   *slog.Logger
}

// PublishStats counts what the publishers sent.
type PublishStats struct {
	Frames, Packets, Bytes int64
}

// StreamURL returns the URL publisher i uses.
func (c PublishConfig) StreamURL(i int) string {
	if c.Count <= 1 {
		return c.URL
	}
	return fmt.Sprintf("%s-%d", c.URL, i+1)
}

// Publish pushes clip in real time to every publisher's URL, stamping each
// video access unit, until ctx ends or Duration elapses. It returns the
// first publisher error.
func Publish(ctx context.Context, clip *Clip, cfg PublishConfig) (PublishStats, error) {
	cfg.Count = max(cfg.Count, 1)
	if cfg.Duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, cfg.Duration)
		defer cancel()
	}
	var (
		mu    sync.Mutex
		total PublishStats
		first error
		wg    sync.WaitGroup
	)
	for i := range cfg.Count {
		wg.Go(func() {
			st, err := publishOne(ctx, clip, cfg.StreamURL(i), cfg.Logger)
			mu.Lock()
			defer mu.Unlock()
			total.Frames += st.Frames
			total.Packets += st.Packets
			total.Bytes += st.Bytes
			if err != nil && first == nil && ctx.Err() == nil {
				first = fmt.Errorf("publish %s: %w", cfg.StreamURL(i), err)
			}
		})
	}
	wg.Wait()
	return total, first
}

func publishOne(ctx context.Context, clip *Clip, u string, log *slog.Logger) (PublishStats, error) {
	var st PublishStats
	connectURL, name, err := rtmp.SplitStreamURL(u)
	if err != nil {
		return st, err
	}
	c, err := rtmp.Dial(ctx, connectURL, rtmp.ClientConfig{Logger: log})
	if err != nil {
		return st, err
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { _ = c.Close() })
	defer stop()
	if err := c.Publish(ctx, name); err != nil {
		return st, err
	}
	for _, t := range clip.Headers {
		p, err := flv.PacketFromTag(t.Type, 0, t.Body)
		if err != nil || p == nil {
			continue
		}
		if err := c.WritePacket(p); err != nil {
			return st, err
		}
	}
	start := time.Now()
	timer := time.NewTimer(0)
	defer timer.Stop()
	var seq uint32
	for loop := time.Duration(0); ; loop += clip.Duration {
		for _, t := range clip.Media {
			dts := loop + time.Duration(t.Timestamp)*time.Millisecond
			if d := time.Until(start.Add(dts)); d > 0 {
				timer.Reset(d)
				select {
				case <-ctx.Done():
					return st, nil
				case <-timer.C:
				}
			} else if ctx.Err() != nil {
				return st, nil
			}
			body := t.Body
			if t.Type == flv.TagVideo {
				if b, err := InsertStamp(body, Stamp{SendNs: time.Now().UnixNano(), Seq: seq + 1}); err == nil {
					body = b
					seq++
					st.Frames++
				}
			}
			p, err := flv.PacketFromTag(t.Type, uint32(dts/time.Millisecond), body)
			if err != nil {
				return st, err
			}
			if p == nil {
				continue
			}
			if err := c.WritePacket(p); err != nil {
				if ctx.Err() != nil {
					return st, nil
				}
				return st, err
			}
			st.Packets++
			st.Bytes += int64(len(body))
		}
	}
}
