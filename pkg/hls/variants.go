package hls

import (
	"strconv"
	"time"
)

// variantState is what a multivariant playlist (EXT-X-STREAM-INF) says of
// one variant stream, read under its media's lock.
// maxDeclaredFPS is the highest frame rate taken from an SPS as it is.
const maxDeclaredFPS = 240

type variantState struct {
	ready       bool // a segment is listed and the stream goes on
	peak, avg   int  // BANDWIDTH, AVERAGE-BANDWIDTH
	codecs      string
	pic         picture
	fps         float64 // declared, else measured; 0: unknown or no video
	independent bool    // its media playlist claims EXT-X-INDEPENDENT-SEGMENTS
	version     int     // its media playlist's EXT-X-VERSION
}

func (m *media) variantLocked() variantState {
	st := variantState{
		ready:   m.readyLocked() && !m.ended,
		codecs:  m.codecs,
		pic:     m.pic,
		version: m.playlistVersion(),
		// The same rule as the media playlist's own tag (renderLocked).
		independent: m.variant != VariantMPEGTS && m.independentLocked(m.windowLocked()),
	}
	st.peak, st.avg = m.bandwidthLocked()
	if m.pic.video {
		st.fps = m.pic.fps
		if st.fps <= 0 || st.fps > maxDeclaredFPS {
			// None declared, or a time base declared as the frame rate
			// (an encoder timing in ms writes 1000 fps into its SPS).
			st.fps = m.measuredFPSLocked()
		}
	}
	return st
}

// measuredFPSLocked is the frame rate of the video the kept segments hold
// (their video samples over their duration), 0 before one is complete.
// Segment durations run from keyframe to keyframe on the stream's
// timeline, so a constant-rate stream measures its exact rate (60 frames
// in 2.002 s: 29.970).
func (m *media) measuredFPSLocked() float64 {
	var frames int
	var dur time.Duration
	for _, s := range m.segments {
		if s.frames > 0 && s.dur > 0 {
			frames += s.frames
			dur += s.dur
		}
	}
	if dur <= 0 {
		return 0
	}
	return min(float64(frames)/dur.Seconds(), maxFrameRate)
}

// variant is one entry of a multivariant playlist.
type variant struct {
	key   string // its stream key
	uri   string // its media playlist, relative to the multivariant playlist
	query string // the viewer's query appended to uri ("" none)
	st    variantState
}

// renderVariants writes the multivariant playlist of a stream with
// renditions (rfc8216bis §4.4.6): one EXT-X-STREAM-INF per variant, in the
// order given. EXT-X-INDEPENDENT-SEGMENTS, which then applies to every
// media playlist, is written only if each of them claims it. Nothing
// here needs a protocol version above 1 (rfc8216bis, Protocol Version
// Compatibility), but the playlist
// carries the highest version of its media playlists, as the single-variant
// one does: some clients read it as the protocol level of the stream.
func renderVariants(vs []variant) []byte {
	version, ind := 1, len(vs) > 0
	n := 64
	for _, v := range vs {
		version = max(version, v.st.version)
		ind = ind && v.st.independent
		n += 160 + len(v.uri) + len(v.query) + len(v.st.codecs)
	}
	b := make([]byte, 0, n)
	b = append(b, "#EXTM3U\n#EXT-X-VERSION:"...)
	b = strconv.AppendInt(b, int64(version), 10)
	b = append(b, '\n')
	if ind {
		b = append(b, "#EXT-X-INDEPENDENT-SEGMENTS\n"...)
	}
	for _, v := range vs {
		b = append(b, "#EXT-X-STREAM-INF:BANDWIDTH="...)
		b = strconv.AppendInt(b, int64(v.st.peak), 10)
		b = append(b, ",AVERAGE-BANDWIDTH="...)
		b = strconv.AppendInt(b, int64(v.st.avg), 10)
		if v.st.codecs != "" {
			b = append(b, ",CODECS=\""...)
			b = append(b, v.st.codecs...)
			b = append(b, '"')
		}
		if v.st.pic.width > 0 && v.st.pic.height > 0 {
			b = append(b, ",RESOLUTION="...)
			b = strconv.AppendInt(b, int64(v.st.pic.width), 10)
			b = append(b, 'x')
			b = strconv.AppendInt(b, int64(v.st.pic.height), 10)
		}
		if v.st.fps > 0 {
			// §4.4.6.2: rounded to three decimal places.
			b = append(b, ",FRAME-RATE="...)
			b = strconv.AppendFloat(b, v.st.fps, 'f', 3, 64)
		}
		b = append(b, '\n')
		b = append(b, v.uri...)
		if v.query != "" {
			b = append(b, '?')
			b = append(b, v.query...)
		}
		b = append(b, '\n')
	}
	return b
}

// report is one EXT-X-RENDITION-REPORT (rfc8216bis §4.4.5.4).
type report struct {
	uri     string // the other variant's media playlist, relative to this one
	query   string
	lastMSN uint64
	part    int // LAST-PART; -1: left out (the rendition has no parts)
}

// reportLocked returns what a rendition report says of m: the media
// sequence number of its last segment, or of the segment in progress when
// that has parts, and the index of the last part in it. ok is false
// before anything is published (or after the stream ended).
func (m *media) reportLocked() (msn uint64, part int, ok bool) {
	if m.ended {
		return 0, 0, false
	}
	if len(m.parts) > 0 {
		return m.nextMSN, len(m.parts) - 1, true
	}
	if n := len(m.segments); n > 0 {
		s := m.segments[n-1]
		return s.msn, len(s.parts) - 1, true
	}
	return 0, 0, false
}

// addReports returns a copy of playlist with the reports appended (the
// playlist may be a shared render: it is never appended to in place).
func addReports(playlist []byte, rs []report) []byte {
	if len(rs) == 0 {
		return playlist
	}
	n := len(playlist)
	for _, r := range rs {
		n += 96 + len(r.uri) + len(r.query)
	}
	b := make([]byte, 0, n)
	b = append(b, playlist...)
	for _, r := range rs {
		b = append(b, "#EXT-X-RENDITION-REPORT:URI=\""...)
		b = append(b, r.uri...)
		if r.query != "" {
			b = append(b, '?')
			b = append(b, r.query...)
		}
		b = append(b, "\",LAST-MSN="...)
		b = strconv.AppendUint(b, r.lastMSN, 10)
		if r.part >= 0 {
			b = append(b, ",LAST-PART="...)
			b = strconv.AppendInt(b, int64(r.part), 10)
		}
		b = append(b, '\n')
	}
	return b
}
