package hls

import (
	"strconv"
	"time"
)

// Playlist versions (RFC 8216 §7): 3 for MPEG-TS with decimal EXTINF; 7 for
// fMP4 (EXT-X-MAP in media playlists without I-frames needs 6, we use 7 as
// common practice); low-latency tags need 9 (EXT-X-SKIP is not used, but
// players key LL behaviour on 6+).
func (m *media) playlistVersion() int {
	switch m.variant {
	case VariantFMP4:
		return 7
	case VariantLowLatency:
		return 9
	}
	return 3
}

// renderMediaLocked writes the media playlist; prefix is prepended to every
// URI ("stream/" when served as /app/stream.m3u8, "" as /app/stream/media.m3u8).
// The result is shared: never modify it.
func (m *media) renderMediaLocked(prefix string) []byte {
	return m.renderLocked(prefix).b
}

// independentLocked reports whether every segment the playlist lists (and
// the one in progress, listed by its parts) starts with a random access
// point, so that EXT-X-INDEPENDENT-SEGMENTS holds (RFC 8216 §4.3.5.1).
func (m *media) independentLocked(win []*segment) bool {
	for _, s := range win {
		if !s.independent {
			return false
		}
	}
	return m.variant != VariantLowLatency || len(m.parts) == 0 || m.nextInd
}

// renderLocked renders the media playlist, or returns the cached render of
// this version and prefix.
func (m *media) renderLocked(prefix string) rendered {
	for _, c := range m.cache {
		if c.b != nil && c.version == m.version && c.prefix == prefix {
			return c
		}
	}
	win := m.windowLocked()
	b := make([]byte, 0, 256+len(win)*128+len(m.parts)*96)
	var uris []int
	b = append(b, "#EXTM3U\n#EXT-X-VERSION:"...)
	b = strconv.AppendInt(b, int64(m.playlistVersion()), 10)
	b = append(b, "\n#EXT-X-TARGETDURATION:"...)
	b = strconv.AppendInt(b, int64(m.target), 10)
	b = append(b, '\n')
	ll := m.variant == VariantLowLatency
	if ll {
		// §4.4.3.8: PART-HOLD-BACK at least twice, ideally three times,
		// the part target.
		b = append(b, "#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK="...)
		b = appendSeconds(b, 3*m.partDur)
		b = append(b, "\n#EXT-X-PART-INF:PART-TARGET="...)
		b = appendSeconds(b, m.partDur)
		b = append(b, '\n')
	}
	var first uint64
	if len(win) > 0 {
		first = win[0].msn
	}
	b = append(b, "#EXT-X-MEDIA-SEQUENCE:"...)
	b = strconv.AppendUint(b, first, 10)
	b = append(b, '\n')
	// Discontinuities that already left the window still count (§4.4.3.3).
	disc := m.discSeq
	for _, s := range m.segments[:len(m.segments)-len(win)] {
		if s.disc {
			disc++
		}
	}
	if disc > 0 {
		b = append(b, "#EXT-X-DISCONTINUITY-SEQUENCE:"...)
		b = strconv.AppendUint(b, disc, 10)
		b = append(b, '\n')
	}
	if m.variant != VariantMPEGTS && m.independentLocked(win) {
		b = append(b, "#EXT-X-INDEPENDENT-SEGMENTS\n"...)
	}

	// Parts are listed for the segments of the last three target
	// durations (rfc8216bis §4.4.4.9) and for the one in progress.
	partsFrom := len(win)
	if ll {
		var d time.Duration
		limit := 3 * time.Duration(m.target) * time.Second
		for partsFrom > 0 && d+win[partsFrom-1].dur <= limit {
			partsFrom--
			d += win[partsFrom].dur
		}
	}
	curInit := ""
	for i, s := range win {
		if s.disc {
			b = append(b, "#EXT-X-DISCONTINUITY\n"...)
		}
		if s.initName != curInit && s.initName != "" {
			b, uris = appendMap(b, uris, prefix, s.initName)
			curInit = s.initName
		}
		b = appendPDT(b, s.pdt)
		if i >= partsFrom {
			for _, p := range s.parts {
				b, uris = appendPart(b, uris, prefix, p)
			}
		}
		b = append(b, "#EXTINF:"...)
		b = appendSeconds(b, s.dur)
		b = append(b, ",\n"...)
		b = append(b, prefix...)
		b = append(b, s.name...)
		uris = append(uris, len(b))
		b = append(b, '\n')
	}
	if ll {
		if len(m.parts) > 0 {
			if m.nextDisc {
				b = append(b, "#EXT-X-DISCONTINUITY\n"...)
			}
			if m.nextInit != curInit && m.nextInit != "" {
				b, uris = appendMap(b, uris, prefix, m.nextInit)
			}
			b = appendPDT(b, m.partPDT)
			for _, p := range m.parts {
				b, uris = appendPart(b, uris, prefix, p)
			}
		}
		// §4.4.5.3: the part the server will publish next; a request for
		// it is held until it exists.
		b = append(b, "#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\""...)
		b = append(b, prefix...)
		b = append(b, m.partName(m.nextMSN, len(m.parts))...)
		uris = append(uris, len(b))
		b = append(b, "\"\n"...)
	}
	r := rendered{version: m.version, prefix: prefix, b: b, uris: uris}
	m.cache[1] = m.cache[0]
	m.cache[0] = r
	return r
}

// withQuery returns r's playlist with "?"+q after every URI (q is already
// encoded by url.Values.Encode, so it holds no quote, comma, space or line
// break that could end an attribute or a line early). The shared render is
// not modified.
func (r rendered) withQuery(q string) []byte {
	if q == "" {
		return r.b
	}
	out := make([]byte, 0, len(r.b)+len(r.uris)*(len(q)+1))
	prev := 0
	for _, at := range r.uris {
		out = append(out, r.b[prev:at]...)
		out = append(out, '?')
		out = append(out, q...)
		prev = at
	}
	return append(out, r.b[prev:]...)
}

// renderMultivariantLocked writes the multivariant playlist of the fMP4
// variants: one variant stream pointing at stream/media.m3u8.
// query, when not empty, is appended to its URI.
func (m *media) renderMultivariantLocked(prefix, query string) []byte {
	peak, avg := m.bandwidthLocked()
	b := make([]byte, 0, 256+len(query))
	b = append(b, "#EXTM3U\n#EXT-X-VERSION:"...)
	b = strconv.AppendInt(b, int64(m.playlistVersion()), 10)
	b = append(b, '\n')
	if m.independentLocked(m.windowLocked()) {
		// §4.3.5.1: in a multivariant playlist the tag applies to every
		// media playlist.
		b = append(b, "#EXT-X-INDEPENDENT-SEGMENTS\n"...)
	}
	b = append(b, "#EXT-X-STREAM-INF:BANDWIDTH="...)
	b = strconv.AppendInt(b, int64(peak), 10)
	b = append(b, ",AVERAGE-BANDWIDTH="...)
	b = strconv.AppendInt(b, int64(avg), 10)
	if m.codecs != "" {
		b = append(b, ",CODECS=\""...)
		b = append(b, m.codecs...)
		b = append(b, '"')
	}
	b = append(b, '\n')
	b = append(b, prefix...)
	b = append(b, "media.m3u8"...)
	if query != "" {
		b = append(b, '?')
		b = append(b, query...)
	}
	return append(b, '\n')
}

// bandwidthLocked returns the peak and average segment bit rates (§4.4.6.2).
func (m *media) bandwidthLocked() (peak, avg int) {
	var bytes int
	var dur time.Duration
	// A segment much shorter than the target (a rendition's first one, cut
	// where its ladder started) says little about the peak: one keyframe
	// over a few frames' time reads as tens of Mb/s. It counts for the
	// average, and for the peak only when no full segment is there yet.
	var shortPeak int
	for _, s := range m.segments {
		if s.dur <= 0 {
			continue
		}
		r := int(int64(s.size) * 8 * int64(time.Second) / int64(s.dur))
		if 2*s.dur < time.Duration(m.target)*time.Second/2 {
			shortPeak = max(shortPeak, r)
		} else if r > peak {
			peak = r
		}
		bytes += s.size
		dur += s.dur
	}
	if peak == 0 {
		peak = shortPeak
	}
	if dur > 0 {
		avg = int(int64(bytes) * 8 * int64(time.Second) / int64(dur))
	}
	if peak == 0 {
		peak, avg = 1, 1 // BANDWIDTH is required; nothing measured yet
	}
	return peak, avg
}

func appendSeconds(b []byte, d time.Duration) []byte {
	return strconv.AppendFloat(b, d.Seconds(), 'f', 3, 64)
}

func appendPDT(b []byte, t time.Time) []byte {
	b = append(b, "#EXT-X-PROGRAM-DATE-TIME:"...)
	b = t.UTC().AppendFormat(b, "2006-01-02T15:04:05.000Z07:00")
	return append(b, '\n')
}

func appendMap(b []byte, uris []int, prefix, name string) ([]byte, []int) {
	b = append(b, "#EXT-X-MAP:URI=\""...)
	b = append(b, prefix...)
	b = append(b, name...)
	uris = append(uris, len(b))
	return append(b, "\"\n"...), uris
}

func appendPart(b []byte, uris []int, prefix string, p *part) ([]byte, []int) {
	b = append(b, "#EXT-X-PART:DURATION="...)
	b = appendSeconds(b, p.dur)
	b = append(b, ",URI=\""...)
	b = append(b, prefix...)
	b = append(b, p.name...)
	uris = append(uris, len(b))
	b = append(b, '"')
	if p.independent {
		b = append(b, ",INDEPENDENT=YES"...)
	}
	return append(b, '\n'), uris
}
