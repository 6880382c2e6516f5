package record

import (
	"bufio"
	"encoding/binary"
	"os"
	"time"

	"github.com/ripplemedia/ripple/pkg/amf0"
	"github.com/ripplemedia/ripple/pkg/flv"
)

// Bounds of the work a duration probe does on one file.
const (
	maxProbeBox   = 1 << 20 // the largest moov or moof read
	maxProbeBoxes = 100000  // top-level boxes scanned
)

// probeFLV returns an FLV file's duration: its onMetaData duration if set
// (Ripple fills it in when a file is finished), else the timestamp of its
// last tag, found through the last PreviousTagSize (a file cut short
// ends at a complete tag when the recorder cut it; otherwise 0).
func probeFLV(path string) time.Duration {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	r := flv.NewReader(bufio.NewReaderSize(f, 4096))
	if _, err := r.ReadHeader(); err != nil {
		return 0
	}
	if t, err := r.ReadTag(); err == nil && t.Type == flv.TagScript {
		if vals, err := amf0.DecodeAll(t.Body); err == nil && len(vals) >= 2 {
			if arr, ok := vals[1].(amf0.ECMAArray); ok {
				if d, ok := arr.Number("duration"); ok && d > 0 && d < 1e9 {
					return time.Duration(d * float64(time.Second))
				}
			}
		}
	}
	fi, err := f.Stat()
	if err != nil || fi.Size() < flv.FileHeaderSize+4+flv.TagHeaderSize+4 {
		return 0
	}
	var b [flv.TagHeaderSize]byte
	if _, err := f.ReadAt(b[:4], fi.Size()-4); err != nil {
		return 0
	}
	prev := int64(binary.BigEndian.Uint32(b[:4]))
	off := fi.Size() - 4 - prev
	if prev < flv.TagHeaderSize || off < flv.FileHeaderSize+4 {
		return 0
	}
	if _, err := f.ReadAt(b[:], off); err != nil {
		return 0
	}
	if size := int64(b[1])<<16 | int64(b[2])<<8 | int64(b[3]); size+flv.TagHeaderSize != prev {
		return 0
	}
	ts := uint32(b[7])<<24 | uint32(b[4])<<16 | uint32(b[5])<<8 | uint32(b[6])
	return time.Duration(ts) * time.Millisecond
}

// probeMP4 returns an fMP4 file's duration: its mvhd duration if set
// (Ripple fills it in when a file is finished), else the end of its last
// complete fragment (a moof and all of its mdat), from the tfdt and
// sample durations of every moof (at most maxProbeBoxes boxes read); 0 if
// unknown.
func probeMP4(path string) time.Duration {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return 0
	}
	size := fi.Size()
	scales := map[uint32]uint32{} // track ID → timescale
	var end, pending time.Duration
	var hdr [16]byte
	for off, n := int64(0), 0; off+8 <= size && n < maxProbeBoxes; n++ {
		if _, err := f.ReadAt(hdr[:8], off); err != nil {
			break
		}
		boxSize, hl := int64(binary.BigEndian.Uint32(hdr[:4])), int64(8)
		typ := string(hdr[4:8])
		switch boxSize {
		case 0:
			boxSize = size - off
		case 1:
			if _, err := f.ReadAt(hdr[8:16], off+8); err != nil {
				return end
			}
			boxSize, hl = int64(binary.BigEndian.Uint64(hdr[8:16])), 16
		}
		if boxSize < hl || off+boxSize > size {
			break // cut short: the fragments before it count
		}
		if (typ == "moov" || typ == "moof") && boxSize <= maxProbeBox {
			b := make([]byte, boxSize-hl)
			if _, err := f.ReadAt(b, off+hl); err != nil {
				break
			}
			if typ == "moov" {
				if d := moovInfo(b, scales); d > 0 {
					return d
				}
			} else {
				pending = moofEnd(b, scales)
			}
		}
		if typ == "mdat" {
			end = max(end, pending) // a fragment counts once its samples are all there
			pending = 0
		}
		off += boxSize
	}
	return end
}

// children calls fn for each box in b (the payload of a container).
func children(b []byte, fn func(typ string, payload []byte)) {
	for len(b) >= 8 {
		n := int(binary.BigEndian.Uint32(b))
		if n < 8 || n > len(b) {
			return
		}
		fn(string(b[4:8]), b[8:n])
		b = b[n:]
	}
}

// moovInfo reads the track timescales of a moov into scales and returns
// its mvhd duration (0 if unset).
func moovInfo(b []byte, scales map[uint32]uint32) time.Duration {
	var dur time.Duration
	children(b, func(typ string, p []byte) {
		switch typ {
		case "mvhd":
			dur = fullBoxDuration(p)
		case "trak":
			var id, scale uint32
			children(p, func(typ string, p []byte) {
				switch typ {
				case "tkhd":
					if len(p) >= 24 && p[0] == 1 {
						id = binary.BigEndian.Uint32(p[20:])
					} else if len(p) >= 16 {
						id = binary.BigEndian.Uint32(p[12:])
					}
				case "mdia":
					children(p, func(typ string, p []byte) {
						if typ == "mdhd" {
							scale = fullBoxScale(p)
						}
					})
				}
			})
			if id != 0 && scale != 0 {
				scales[id] = scale
			}
		}
	})
	return dur
}

// fullBoxScale returns the timescale of an mvhd or mdhd payload.
func fullBoxScale(p []byte) uint32 {
	if len(p) >= 24 && p[0] == 1 {
		return binary.BigEndian.Uint32(p[20:])
	}
	if len(p) >= 16 {
		return binary.BigEndian.Uint32(p[12:])
	}
	return 0
}

// fullBoxDuration returns the duration of an mvhd payload.
func fullBoxDuration(p []byte) time.Duration {
	scale := fullBoxScale(p)
	if scale == 0 {
		return 0
	}
	var d uint64
	if len(p) >= 32 && p[0] == 1 {
		d = binary.BigEndian.Uint64(p[24:])
	} else if len(p) >= 20 {
		d = uint64(binary.BigEndian.Uint32(p[16:]))
	}
	return time.Duration(d) * time.Second / time.Duration(scale)
}

// moofEnd returns the latest end time of a moof's track fragments.
func moofEnd(b []byte, scales map[uint32]uint32) time.Duration {
	var end time.Duration
	children(b, func(typ string, p []byte) {
		if typ != "traf" {
			return
		}
		var id, defDur uint32
		var base, sum uint64
		children(p, func(typ string, p []byte) {
			switch typ {
			case "tfhd":
				if len(p) < 8 {
					return
				}
				flags := binary.BigEndian.Uint32(p) & 0xFFFFFF
				id = binary.BigEndian.Uint32(p[4:])
				pos := 8
				if flags&0x01 != 0 { // base-data-offset
					pos += 8
				}
				if flags&0x02 != 0 { // sample-description-index
					pos += 4
				}
				if flags&0x08 != 0 && len(p) >= pos+4 {
					defDur = binary.BigEndian.Uint32(p[pos:])
				}
			case "tfdt":
				if len(p) >= 12 && p[0] == 1 {
					base = binary.BigEndian.Uint64(p[4:])
				} else if len(p) >= 8 {
					base = uint64(binary.BigEndian.Uint32(p[4:]))
				}
			case "trun":
				sum += trunSum(p, defDur)
			}
		})
		if s := scales[id]; s != 0 {
			end = max(end, time.Duration(base+sum)*time.Second/time.Duration(s))
		}
	})
	return end
}

// trunSum sums a trun's sample durations (§8.8.8).
func trunSum(p []byte, defDur uint32) uint64 {
	if len(p) < 8 {
		return 0
	}
	flags := binary.BigEndian.Uint32(p) & 0xFFFFFF
	count := int(binary.BigEndian.Uint32(p[4:]))
	pos := 8
	if flags&trunDataOffset != 0 {
		pos += 4
	}
	if flags&0x04 != 0 { // first-sample-flags
		pos += 4
	}
	entry := 0
	for _, f := range []uint32{trunDuration, trunSize, trunFlags, trunCTS} {
		if flags&f != 0 {
			entry += 4
		}
	}
	if flags&trunDuration == 0 {
		return uint64(defDur) * uint64(count)
	}
	var sum uint64
	for i := 0; i < count && pos+4 <= len(p); i++ {
		sum += uint64(binary.BigEndian.Uint32(p[pos:]))
		pos += entry
	}
	return sum
}
