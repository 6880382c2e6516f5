package bench

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// HLS bounds: a player only ever holds one playlist and one segment.
const (
	maxPlaylist = 1 << 20
	maxSegment  = 64 << 20
	tsPacket    = 188
	// playlistWait bounds the retries for a playlist that is not there yet.
	playlistWait = 15 * time.Second
	// hlsStall is the default stall threshold for HLS, whose frames arrive
	// a segment at a time.
	hlsStall = 5 * time.Second
)

// hlsPlayer polls a live media playlist and downloads each new segment
// once, like a player that starts at the live edge. Frames are timed when
// their segment has been downloaded (that is when a real player could show
// them at the earliest).
type hlsPlayer struct {
	client *http.Client
	st     *PlayerStats
	w      *Window
	t0     time.Time
	seg    []byte
	seen   map[string]bool
	ts     tsScanner
}

func playHLS(ctx context.Context, u string, client *http.Client, st *PlayerStats, w *Window, t0 time.Time) error {
	base, err := url.Parse(u)
	if err != nil {
		return err
	}
	p := &hlsPlayer{client: client, st: st, w: w, t0: t0, seen: map[string]bool{}}
	first := true
	for {
		pl, err := p.get(ctx, base.String(), maxPlaylist)
		if err != nil && first && time.Since(t0) < playlistWait {
			// The server has no playlist until its first segment is
			// complete; players retry, and so do we.
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(250 * time.Millisecond):
			}
			continue
		}
		if err != nil {
			return err
		}
		st.Connected = true
		media, target, variant := parsePlaylist(pl)
		if variant != "" { // master playlist: follow the first variant
			ref, err := base.Parse(variant)
			if err != nil {
				return err
			}
			base = ref
			continue
		}
		if first && len(media) > 0 {
			// Start at the live edge: only the newest segment is new.
			for _, m := range media[:len(media)-1] {
				p.seen[m] = true
			}
			first = false
		}
		for _, m := range media {
			if p.seen[m] {
				continue
			}
			p.seen[m] = true
			ref, err := base.Parse(m)
			if err != nil {
				return err
			}
			if err := p.segment(ctx, ref.String()); err != nil {
				return err
			}
		}
		if len(p.seen) > 4096 { // bound memory on long runs
			clear(p.seen)
			for _, m := range media {
				p.seen[m] = true
			}
		}
		poll := max(target/2, 100*time.Millisecond)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(poll):
		}
	}
}

// get downloads u into p.seg (reused), bounded by limit.
func (p *hlsPlayer) get(ctx context.Context, u string, limit int) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("hls: GET %s: status %s", u, resp.Status)
	}
	buf := bytes.NewBuffer(p.seg[:0])
	n, err := buf.ReadFrom(io.LimitReader(resp.Body, int64(limit)+1))
	p.seg = buf.Bytes()
	if err != nil {
		return nil, err
	}
	if n > int64(limit) {
		return nil, fmt.Errorf("hls: %s larger than %d bytes", u, limit)
	}
	p.st.Bytes.Add(n)
	return p.seg, nil
}

func (p *hlsPlayer) segment(ctx context.Context, u string) error {
	b, err := p.get(ctx, u, maxSegment)
	if err != nil {
		return err
	}
	now := time.Now()
	fn := func(s Stamp, ok bool) { p.st.frame(p.w, p.t0, now, s, ok) }
	if len(b) > 0 && b[0] == 0x47 {
		p.ts.scan(b, fn)
	} else {
		scanRaw(b, fn) // fMP4: mdat samples are contiguous AVCC NAL units
	}
	return nil
}

// stampMarker is the start of a stamp's SEI RBSP: payload type, size and
// UUID. None of its bytes can be changed by emulation prevention (no two
// zero bytes), so it can be searched for in escaped data.
var stampMarker = append([]byte{seiUserDataUnreg, stampPayloadLen}, StampUUID[:]...)

// scanRaw finds every stamp in b by searching for its marker (used for
// fMP4 segments, whose mdat holds each access unit contiguously).
func scanRaw(b []byte, fn func(Stamp, bool)) {
	for {
		i := bytes.Index(b, stampMarker)
		if i < 0 {
			return
		}
		if s, ok := parseStampNAL(b[i:]); ok {
			fn(s, true)
		}
		b = b[i+len(stampMarker):]
	}
}

// parsePlaylist returns the media segment URIs, the target duration and,
// for a master playlist, the first variant URI (RFC 8216 §4.3).
func parsePlaylist(b []byte) (media []string, target time.Duration, variant string) {
	sc := bufio.NewScanner(bytes.NewReader(b))
	streamInf := false
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case strings.HasPrefix(line, "#EXT-X-TARGETDURATION:"):
			if n, err := strconv.ParseFloat(line[len("#EXT-X-TARGETDURATION:"):], 64); err == nil {
				target = time.Duration(n * float64(time.Second))
			}
		case strings.HasPrefix(line, "#EXT-X-STREAM-INF:"):
			streamInf = true
		case line == "" || strings.HasPrefix(line, "#"):
		case streamInf:
			return nil, 0, line
		default:
			media = append(media, line)
		}
	}
	return media, target, ""
}

// tsScanner finds stamps in an MPEG-TS segment (ISO/IEC 13818-1 §2.4.3):
// for every video PES (stream_id 0xE0–0xEF) it gathers the first videoKeep
// payload bytes of that PID and looks for the stamp there.
type tsScanner struct {
	keep [videoKeep]byte
	n    int
	pid  int
	open bool
}

func (t *tsScanner) flush(fn func(Stamp, bool)) {
	if t.open {
		s, ok := FindStampAnnexB(t.keep[:t.n])
		fn(s, ok)
	}
	t.open, t.n = false, 0
}

func (t *tsScanner) scan(b []byte, fn func(Stamp, bool)) {
	for ; len(b) >= tsPacket; b = b[tsPacket:] {
		pkt := b[:tsPacket]
		if pkt[0] != 0x47 {
			continue
		}
		pusi := pkt[1]&0x40 != 0
		pid := int(pkt[1]&0x1f)<<8 | int(pkt[2])
		afc := pkt[3] >> 4 & 3
		payload := pkt[4:]
		if afc&2 != 0 { // adaptation field
			if int(payload[0])+1 > len(payload) {
				continue
			}
			payload = payload[1+int(payload[0]):]
		}
		if afc&1 == 0 {
			continue
		}
		if pusi {
			if pid == t.pid {
				t.flush(fn) // a new PES on the video PID ends the previous one
			}
			// PES header (§2.4.3.6): start code, stream id, length, flags, header length.
			if len(payload) < 9 || payload[0] != 0 || payload[1] != 0 || payload[2] != 1 ||
				payload[3]&0xf0 != 0xe0 {
				continue
			}
			t.flush(fn)
			t.pid, t.open = pid, true
			h := 9 + int(payload[8])
			if h > len(payload) {
				continue
			}
			payload = payload[h:]
		} else if !t.open || pid != t.pid {
			continue
		}
		t.n += copy(t.keep[t.n:], payload)
	}
	t.flush(fn)
}
