package record

import (
	"encoding/binary"
	"math"
	"time"

	"github.com/ripplemedia/ripple/pkg/amf0"
	"github.com/ripplemedia/ripple/pkg/av"
	"github.com/ripplemedia/ripple/pkg/flv"
)

// flvWriter writes one FLV file: header, onMetaData, sequence headers,
// then the stream's tags with timestamps from the file's start.
//
// The tag bodies are the packets' Data, shared and never copied beyond
// the write buffer. The cached whole tags of HTTP-FLV (flv.TagBytes) are
// not used: they carry the stream's timestamps, a file's start at 0.
type flvWriter struct {
	out     *outFile
	base    int64 // stream DTS (ms) of the file's time 0
	hdr     [flv.TagHeaderSize]byte
	trailer [flv.TrailerSize]byte
	durOff  int64 // offsets of the onMetaData duration and filesize numbers; -1: none
	sizeOff int64
	end     int64 // file ms of the last media packet
	vDur    int64 // last video frame step, ms
	lastV   int64
	sawV    bool
	hasA    bool
	hasV    bool
	done    time.Duration // duration of the committed tags
}

// Offsets in the onMetaData body that metadataBody writes: "onMetaData"
// (1+2+10 bytes), the ECMA array marker and count (5), then "duration"
// (2+8) and its number marker (1), 8 bytes, then "filesize" (2+8) and its
// marker (1).
const (
	metaDurationAt = 13 + 5 + 10 + 1
	metaSizeAt     = metaDurationAt + 8 + 10 + 1
)

// newFLVWriter writes the file header, the metadata and the sequence
// headers (each may be nil) at time 0.
func newFLVWriter(out *outFile, base int64, hasAudio, hasVideo bool, meta, vHdr, aHdr *av.Packet) (*flvWriter, error) {
	w := &flvWriter{out: out, base: base, durOff: -1, sizeOff: -1, hasA: hasAudio, hasV: hasVideo}
	if _, err := out.Write(flv.Header(hasAudio, hasVideo)); err != nil {
		return nil, err
	}
	body := metadataBody(meta, hasAudio, hasVideo)
	w.durOff = out.size + flv.TagHeaderSize + metaDurationAt
	w.sizeOff = out.size + flv.TagHeaderSize + metaSizeAt
	if err := w.tag(flv.TagScript, 0, body); err != nil {
		return nil, err
	}
	for _, p := range []*av.Packet{vHdr, aHdr} {
		if p != nil {
			if err := w.tag(flv.TagTypeOf(p.Kind), 0, p.Data); err != nil {
				return nil, err
			}
		}
	}
	return w, out.commit()
}

// metadataBody is the file's onMetaData: a duration and filesize first
// (0 until the file is finished, then patched), hasAudio and hasVideo as
// the file has them, and the stream's other properties after them.
func metadataBody(meta *av.Packet, hasAudio, hasVideo bool) []byte {
	props := amf0.ECMAArray{
		{Key: "duration", Value: 0.0},
		{Key: "filesize", Value: 0.0},
		{Key: "hasAudio", Value: hasAudio},
		{Key: "hasVideo", Value: hasVideo},
	}
	if meta != nil {
		if vals, err := amf0.DecodeAll(meta.Data); err == nil && len(vals) >= 2 {
			var src []amf0.Property
			switch v := vals[1].(type) {
			case amf0.ECMAArray:
				src = v
			case amf0.Object:
				src = v
			}
			for _, p := range src {
				switch p.Key {
				case "duration", "filesize", "hasAudio", "hasVideo":
				default:
					props = append(props, p)
				}
			}
		}
	}
	b, err := amf0.Append(nil, "onMetaData", props)
	if err != nil {
		// A property that cannot be re-encoded: keep ours only.
		b, _ = amf0.Append(nil, "onMetaData", props[:4])
	}
	return b
}

// tag writes one tag of body at file time ts.
func (w *flvWriter) tag(typ uint8, ts int64, body []byte) error {
	if len(body) > flv.MaxDataSize {
		return nil // cannot be framed; RTMP ingest never lets one through
	}
	t := uint32(ts)
	h := w.hdr[:]
	h[0] = typ
	h[1], h[2], h[3] = byte(len(body)>>16), byte(len(body)>>8), byte(len(body))
	h[4], h[5], h[6], h[7] = byte(t>>16), byte(t>>8), byte(t), byte(t>>24)
	h[8], h[9], h[10] = 0, 0, 0
	binary.BigEndian.PutUint32(w.trailer[:], uint32(flv.TagHeaderSize+len(body)))
	// The buffer goes to the file at tag boundaries only (a batch larger
	// than it is committed in parts), so a write error loses at most the
	// tags of one buffer.
	if n := flv.TagHeaderSize + len(body) + flv.TrailerSize; n > w.out.bw.Available() && w.out.bw.Buffered() > 0 {
		if err := w.commit(); err != nil {
			return err
		}
	}
	if _, err := w.out.Write(h); err != nil {
		return err
	}
	if _, err := w.out.Write(body); err != nil {
		return err
	}
	_, err := w.out.Write(w.trailer[:])
	return err
}

// packet writes p (media, header or metadata) at its time in the file.
func (w *flvWriter) packet(p *av.Packet) error {
	body := p.Data
	if p.Kind == av.KindData {
		body = metadataBody(p, w.hasA, w.hasV)
	}
	ts := max(p.DTS-w.base, 0)
	if err := w.tag(flv.TagTypeOf(p.Kind), ts, body); err != nil {
		return err
	}
	if p.IsMedia() && !p.Header {
		w.end = max(w.end, ts)
		if p.Kind == av.KindVideo {
			if w.sawV && ts > w.lastV {
				w.vDur = ts - w.lastV
			}
			w.lastV, w.sawV = ts, true
		}
	}
	return nil
}

// duration is the media time written so far.
func (w *flvWriter) duration() time.Duration {
	return time.Duration(w.end+w.vDur) * time.Millisecond
}

// commit hands the tags written so far to the file.
func (w *flvWriter) commit() error {
	if err := w.out.commit(); err != nil {
		return err
	}
	w.done = w.duration()
	return nil
}

// committed is the media time of the tags in the file.
func (w *flvWriter) committed() time.Duration { return w.done }

// finish commits the last tags and fills in the metadata's duration and
// filesize. It does not close the file.
func (w *flvWriter) finish() error {
	if err := w.commit(); err != nil {
		return err
	}
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], math.Float64bits(w.duration().Seconds()))
	if err := w.out.patch(b[:], w.durOff); err != nil {
		return err
	}
	binary.BigEndian.PutUint64(b[:], math.Float64bits(float64(w.out.committed.Load())))
	return w.out.patch(b[:], w.sizeOff)
}
