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
func (m *media) renderMediaLocked(prefix string) []byte {
	for _, c := range m.cache {
		if c.b != nil && c.version == m.version && c.prefix == prefix {
			return c.b
		}
	}
	win := m.windowLocked()
	b := make([]byte, 0, 256+len(win)*128+len(m.parts)*96)
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
	if m.variant != VariantMPEGTS {
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
			b = appendMap(b, prefix, s.initName)
			curInit = s.initName
		}
		b = appendPDT(b, s.pdt)
		if i >= partsFrom {
			for _, p := range s.parts {
				b = appendPart(b, prefix, p)
			}
		}
		b = append(b, "#EXTINF:"...)
		b = appendSeconds(b, s.dur)
		b = append(b, ",\n"...)
		b = append(b, prefix...)
		b = append(b, s.name...)
		b = append(b, '\n')
	}
	if ll {
		if len(m.parts) > 0 {
			if m.nextDisc {
				b = append(b, "#EXT-X-DISCONTINUITY\n"...)
			}
			if m.nextInit != curInit && m.nextInit != "" {
				b = appendMap(b, prefix, m.nextInit)
			}
			b = appendPDT(b, m.partPDT)
			for _, p := range m.parts {
				b = appendPart(b, prefix, p)
			}
		}
		// §4.4.5.3: the part the server will publish next; a request for
		// it is held until it exists.
		b = append(b, "#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\""...)
		b = append(b, prefix...)
		b = append(b, m.partName(m.nextMSN, len(m.parts))...)
		b = append(b, "\"\n"...)
	}
	m.cache[1] = m.cache[0]
	m.cache[0] = rendered{version: m.version, prefix: prefix, b: b}
	return b
}

// renderMultivariantLocked writes the multivariant playlist of the fMP4
// variants: one variant stream pointing at stream/media.m3u8.
func (m *media) renderMultivariantLocked(prefix string) []byte {
	peak, avg := m.bandwidthLocked()
	b := make([]byte, 0, 256)
	b = append(b, "#EXTM3U\n#EXT-X-VERSION:"...)
	b = strconv.AppendInt(b, int64(m.playlistVersion()), 10)
	b = append(b, "\n#EXT-X-INDEPENDENT-SEGMENTS\n#EXT-X-STREAM-INF:BANDWIDTH="...)
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
	b = append(b, "media.m3u8\n"...)
	return b
}

// bandwidthLocked returns the peak and average segment bit rates (§4.4.6.2).
func (m *media) bandwidthLocked() (peak, avg int) {
	var bytes int
	var dur time.Duration
	for _, s := range m.segments {
		if s.dur <= 0 {
			continue
		}
		if r := int(int64(s.size) * 8 * int64(time.Second) / int64(s.dur)); r > peak {
			peak = r
		}
		bytes += s.size
		dur += s.dur
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

func appendMap(b []byte, prefix, name string) []byte {
	b = append(b, "#EXT-X-MAP:URI=\""...)
	b = append(b, prefix...)
	b = append(b, name...)
	return append(b, "\"\n"...)
}

func appendPart(b []byte, prefix string, p *part) []byte {
	b = append(b, "#EXT-X-PART:DURATION="...)
	b = appendSeconds(b, p.dur)
	b = append(b, ",URI=\""...)
	b = append(b, prefix...)
	b = append(b, p.name...)
	b = append(b, '"')
	if p.independent {
		b = append(b, ",INDEPENDENT=YES"...)
	}
	return append(b, '\n')
}
