package hls

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/mpegts"
	"github.com/stretchr/testify/require"

	"github.com/ripplemedia/ripple/pkg/av"
	"github.com/ripplemedia/ripple/pkg/codec/h264"
	"github.com/ripplemedia/ripple/pkg/flv"
	"github.com/ripplemedia/ripple/pkg/hub"
	"github.com/ripplemedia/ripple/pkg/internal/mediatest"
)

// logBuf collects log output; safe for concurrent use.
type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// count returns how many lines contain s.
func (l *logBuf) count(s string) int {
	n := 0
	for line := range strings.SplitSeq(l.String(), "\n") {
		if strings.Contains(line, s) {
			n++
		}
	}
	return n
}

func newLogger(l *logBuf) *slog.Logger {
	return slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// muxFixture drives a muxer's packet path (handle, as the hub reader loop
// calls it) without a hub: deterministic, single goroutine.
type muxFixture struct {
	mx   *muxer
	cfg  *Config
	info hub.StreamInfo
	log  *logBuf
}

// streamAV is what the hub reports for a stream with H.264 and AAC.
var streamAV = hub.StreamInfo{HasVideo: true, VideoCodec: av.CodecH264, HasAudio: true, AudioCodec: av.CodecAAC}

func newMuxFixture(tb testing.TB, v Variant, info hub.StreamInfo, edit func(*Config)) *muxFixture {
	tb.Helper()
	f := &muxFixture{log: &logBuf{}, info: info}
	f.cfg = &Config{Variant: v, SegmentCount: 100, SegmentKeep: 100, Logger: newLogger(f.log)}
	if edit != nil {
		edit(f.cfg)
	}
	*f.cfg = f.cfg.withDefaults()
	f.mx = newMuxer(testKey, f.cfg, nil, &epochs{})
	f.mx.info = func() hub.StreamInfo { return f.info }
	return f
}

func (f *muxFixture) send(pkts ...*av.Packet) {
	for _, p := range pkts {
		f.mx.handle(p)
	}
}

// sendGen sends the generator's media from its current position up to
// (excluding) wire DTS until.
func (f *muxFixture) sendGen(g *mediatest.Generator, until time.Duration) {
	for {
		p := g.Next()
		if p.DTS >= until.Milliseconds() {
			return
		}
		f.mx.handle(p)
	}
}

func (f *muxFixture) media() *media { return f.mx.media() }

func (f *muxFixture) segments() []*segment {
	md := f.media()
	md.mu.Lock()
	defer md.mu.Unlock()
	return append([]*segment(nil), md.segments...)
}

func (f *muxFixture) playlist() string {
	md := f.media()
	md.mu.Lock()
	defer md.mu.Unlock()
	return string(md.renderMediaLocked(""))
}

// checkFiles parses back every segment, part and init section the media
// holds, and checks the size and duration limits.
func (f *muxFixture) checkFiles(tb testing.TB) {
	tb.Helper()
	md := f.media()
	md.mu.Lock()
	defer md.mu.Unlock()
	require.LessOrEqual(tb, md.target, ceilSeconds(f.cfg.SegmentMaxDuration))
	for _, s := range md.segments {
		require.LessOrEqual(tb, int64(s.size), f.cfg.SegmentMaxBytes, s.name)
		require.LessOrEqual(tb, s.dur, f.cfg.SegmentMaxDuration, s.name)
	}
	for name, fl := range md.files {
		require.LessOrEqual(tb, int64(len(fl.data)), f.cfg.SegmentMaxBytes, name)
		require.NoError(tb, parseBack(name, fl.data), name)
	}
}

// parseBack reads a file back with mediacommon: a TS segment to its end,
// fMP4 fragments, an init section.
func parseBack(name string, b []byte) error {
	switch {
	case strings.HasSuffix(name, ".ts"):
		if len(b) == 0 || len(b)%188 != 0 || b[1]&0x1F != 0 || b[2] != 0 {
			return fmt.Errorf("%d bytes, not whole TS packets starting with a PAT", len(b))
		}
		for i := 0; i < len(b); i += 188 {
			if b[i] != 0x47 {
				return fmt.Errorf("no sync byte at %d", i)
			}
		}
		r := &mpegts.Reader{R: bytes.NewReader(b)}
		if err := r.Initialize(); err != nil {
			if errors.Is(err, io.EOF) {
				// mediacommon's reader learns the AAC configuration
				// from the first ADTS frame; a segment whose declared
				// audio has no frame (audio lagging or stopped) is
				// valid TS it cannot read further.
				return nil
			}
			return err
		}
		// Payload decoding errors are the publisher's bytes, not ours;
		// the structure must hold.
		r.OnDecodeError(func(error) {})
		for _, tr := range r.Tracks() {
			switch tr.Codec.(type) {
			case *mpegts.CodecH264:
				r.OnDataH264(tr, func(int64, int64, [][]byte) error { return nil })
			case *mpegts.CodecH265:
				r.OnDataH265(tr, func(int64, int64, [][]byte) error { return nil })
			case *mpegts.CodecMPEG4Audio:
				r.OnDataMPEG4Audio(tr, func(int64, [][]byte) error { return nil })
			}
		}
		for {
			if err := r.Read(); err != nil {
				if errors.Is(err, io.EOF) {
					return nil
				}
				return err
			}
		}
	case strings.HasSuffix(name, ".mp4"):
		var in fmp4.Init
		return in.Unmarshal(bytes.NewReader(b))
	default:
		var parts fmp4.Parts
		return parts.Unmarshal(b)
	}
}

// avcHeader builds an AVC sequence header packet from parameter sets.
func avcHeader(tb testing.TB, ts uint32, lengthSize int, sps, pps []byte) *av.Packet {
	tb.Helper()
	dc := h264.DecoderConfig{LengthSize: lengthSize, SPS: [][]byte{sps}, PPS: [][]byte{pps}}
	if len(sps) >= 4 {
		dc.ProfileIndication, dc.ProfileCompatibility, dc.LevelIndication = sps[1], sps[2], sps[3]
	}
	rec, err := dc.Marshal()
	require.NoError(tb, err)
	body := append([]byte{0x17, 0, 0, 0, 0}, rec...)
	p, err := flv.PacketFromTag(flv.TagVideo, ts, body)
	require.NoError(tb, err)
	return p
}

// avcFrame builds an AVC frame packet holding nalus with lengthSize-byte
// lengths.
func avcFrame(tb testing.TB, ts uint32, key bool, lengthSize int, nalus ...[]byte) *av.Packet {
	tb.Helper()
	ft := byte(0x27)
	if key {
		ft = 0x17
	}
	body := []byte{ft, 1, 0, 0, 0}
	for _, n := range nalus {
		var l [4]byte
		binary.BigEndian.PutUint32(l[:], uint32(len(n)))
		body = append(body, l[4-lengthSize:]...)
		body = append(body, n...)
	}
	p, err := flv.PacketFromTag(flv.TagVideo, ts, body)
	require.NoError(tb, err)
	return p
}

// truncatedSPS is a real SPS cut short: our checks accept its header
// bytes, mediacommon's SPS parser (which the fMP4 init section needs)
// cannot read it.
func truncatedSPS() []byte { return mediatest.SPS(320, 240)[:5] }
