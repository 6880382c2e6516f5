package ingest

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"testing"

	"github.com/ripplemedia/ripple/pkg/av"
	"github.com/ripplemedia/ripple/pkg/flv"
)

// A minimal progressive-MP4 reader (ISO/IEC 14496-12) for the fixtures:
// per track, the sample entry's decoder configuration record and the
// samples. Enough for ffmpeg's output, not a general demuxer.

type mp4Track struct {
	format  string // sample entry type: avc1, hvc1, hev1, av01, mp4a
	config  []byte // avcC, hvcC, av1C payload, or the AudioSpecificConfig
	samples [][]byte
	sync    map[int]bool // 0-based sync samples; nil: all are
}

type box struct {
	typ  string
	body []byte
}

func boxes(b []byte) ([]box, error) {
	var out []box
	for len(b) > 0 {
		if len(b) < 8 {
			return nil, fmt.Errorf("box header truncated")
		}
		size := uint64(binary.BigEndian.Uint32(b))
		typ := string(b[4:8])
		hdr := uint64(8)
		switch size {
		case 0:
			size = uint64(len(b))
		case 1:
			if len(b) < 16 {
				return nil, fmt.Errorf("large box header truncated")
			}
			size, hdr = binary.BigEndian.Uint64(b[8:]), 16
		}
		if size < hdr || size > uint64(len(b)) {
			return nil, fmt.Errorf("box %q size %d out of range", typ, size)
		}
		out = append(out, box{typ, b[hdr:size]})
		b = b[size:]
	}
	return out, nil
}

func child(b []byte, path ...string) ([]byte, error) {
	for _, name := range path {
		bs, err := boxes(b)
		if err != nil {
			return nil, err
		}
		found := false
		for _, x := range bs {
			if x.typ == name {
				b, found = x.body, true
				break
			}
		}
		if !found {
			return nil, fmt.Errorf("no %q box", name)
		}
	}
	return b, nil
}

func readMP4(path string) ([]mp4Track, error) {
	file, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	moov, err := child(file, "moov")
	if err != nil {
		return nil, err
	}
	bs, err := boxes(moov)
	if err != nil {
		return nil, err
	}
	var out []mp4Track
	for _, trak := range bs {
		if trak.typ != "trak" {
			continue
		}
		t, err := readTrack(file, trak.body)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, nil
}

func readTrack(file, trak []byte) (mp4Track, error) {
	var t mp4Track
	stbl, err := child(trak, "mdia", "minf", "stbl")
	if err != nil {
		return t, err
	}
	stsd, err := child(stbl, "stsd")
	if err != nil {
		return t, err
	}
	entries, err := boxes(stsd[8:]) // version/flags, entry_count
	if err != nil {
		return t, fmt.Errorf("stsd: %w", err)
	}
	if len(entries) == 0 {
		return t, errors.New("stsd: no sample entry")
	}
	e := entries[0]
	t.format = e.typ
	switch e.typ {
	case "avc1", "avc3", "hvc1", "hev1", "av01":
		name := map[string]string{"avc1": "avcC", "avc3": "avcC", "hvc1": "hvcC", "hev1": "hvcC", "av01": "av1C"}[e.typ]
		if t.config, err = child(e.body[78:], name); err != nil {
			return t, err
		}
	case "mp4a":
		esds, err := child(e.body[28:], "esds")
		if err != nil {
			return t, err
		}
		if t.config, err = decoderSpecificInfo(esds[4:]); err != nil {
			return t, err
		}
	default:
		return t, fmt.Errorf("sample entry %q", e.typ)
	}
	if err := t.readSamples(file, stbl); err != nil {
		return t, err
	}
	return t, nil
}

// decoderSpecificInfo finds tag 5 inside the ES_Descriptor (ISO/IEC
// 14496-1 §7.2.6.5), skipping the fixed fields of tags 3 and 4.
func decoderSpecificInfo(b []byte) ([]byte, error) {
	for len(b) > 0 {
		tag := b[0]
		n, i := 0, 1
		for ; i < len(b) && i <= 4; i++ {
			n = n<<7 | int(b[i]&0x7F)
			if b[i]&0x80 == 0 {
				i++
				break
			}
		}
		if i+n > len(b) {
			return nil, fmt.Errorf("descriptor %d truncated", tag)
		}
		body := b[i : i+n]
		switch tag {
		case 3: // ES_Descriptor: ES_ID, flags, optional fields
			skip := 3
			if body[2]&0x80 != 0 {
				skip += 2
			}
			if body[2]&0x40 != 0 {
				skip += 1 + int(body[skip])
			}
			if body[2]&0x20 != 0 {
				skip += 2
			}
			b = body[skip:]
		case 4: // DecoderConfigDescriptor: 13 fixed bytes
			b = body[13:]
		case 5:
			return body, nil
		default:
			b = b[i+n:]
		}
	}
	return nil, fmt.Errorf("no decoder specific info")
}

func (t *mp4Track) readSamples(file, stbl []byte) error {
	stsz, err := child(stbl, "stsz")
	if err != nil {
		return err
	}
	fixed := binary.BigEndian.Uint32(stsz[4:])
	count := int(binary.BigEndian.Uint32(stsz[8:]))
	sizes := make([]int, count)
	for i := range sizes {
		if fixed != 0 {
			sizes[i] = int(fixed)
		} else {
			sizes[i] = int(binary.BigEndian.Uint32(stsz[12+4*i:]))
		}
	}
	var chunks []uint64
	if stco, err := child(stbl, "stco"); err == nil {
		for i := range int(binary.BigEndian.Uint32(stco[4:])) {
			chunks = append(chunks, uint64(binary.BigEndian.Uint32(stco[8+4*i:])))
		}
	} else if co64, err := child(stbl, "co64"); err == nil {
		for i := range int(binary.BigEndian.Uint32(co64[4:])) {
			chunks = append(chunks, binary.BigEndian.Uint64(co64[8+8*i:]))
		}
	} else {
		return err
	}
	stsc, err := child(stbl, "stsc")
	if err != nil {
		return err
	}
	type run struct{ first, per int }
	var runs []run
	for i := range int(binary.BigEndian.Uint32(stsc[4:])) {
		e := stsc[8+12*i:]
		runs = append(runs, run{int(binary.BigEndian.Uint32(e)), int(binary.BigEndian.Uint32(e[4:]))})
	}
	s := 0
	for c, off := range chunks {
		per := 0
		for _, r := range runs {
			if c+1 >= r.first {
				per = r.per
			}
		}
		for range per {
			if s == count {
				return fmt.Errorf("stsc describes more than %d samples", count)
			}
			end := off + uint64(sizes[s])
			if end > uint64(len(file)) {
				return fmt.Errorf("sample %d past the end of the file", s)
			}
			t.samples = append(t.samples, file[off:end])
			off = end
			s++
		}
	}
	if stss, err := child(stbl, "stss"); err == nil {
		t.sync = map[int]bool{}
		for i := range int(binary.BigEndian.Uint32(stss[4:])) {
			t.sync[int(binary.BigEndian.Uint32(stss[8+4*i:]))-1] = true
		}
	}
	return nil
}

// mp4Packets turns a fixture into the packets an E-RTMP publisher's tags
// become at ingest: H.264 in legacy FLV tags, HEVC and AV1 in E-RTMP v2
// tags, AAC in legacy tags. The header first, then the samples.
func mp4Packets(tb testing.TB, path string) []*av.Packet {
	tb.Helper()
	tracks, err := readMP4(path)
	if err != nil {
		tb.Fatalf("%s: %v", path, err)
	}
	var out []*av.Packet
	add := func(tag uint8, body []byte) {
		p, err := flv.PacketFromTag(tag, 0, body)
		if err != nil || p == nil {
			tb.Fatalf("%s: flv.PacketFromTag: %v", path, err)
		}
		out = append(out, p)
	}
	for _, t := range tracks {
		for i := -1; i < len(t.samples); i++ {
			key := t.sync == nil || t.sync[i]
			ft := byte(interFrame)
			if key {
				ft = keyFrame
			}
			switch t.format {
			case "avc1", "avc3":
				if i < 0 {
					add(flv.TagVideo, avcHeader(t.config))
				} else {
					add(flv.TagVideo, avcFrame(key, t.samples[i]))
				}
			case "hvc1", "hev1":
				if i < 0 {
					add(flv.TagVideo, hevcHeader(t.config))
				} else {
					add(flv.TagVideo, exVideo(ft, ptCodedFrames, "hvc1", cat(cts0, t.samples[i])))
				}
			case "av01":
				if i < 0 {
					add(flv.TagVideo, exVideo(keyFrame, ptSequenceStart, "av01", t.config))
				} else {
					add(flv.TagVideo, exVideo(ft, ptCodedFrames, "av01", t.samples[i]))
				}
			case "mp4a":
				if i < 0 {
					add(flv.TagAudio, aacHeader(t.config))
				} else {
					add(flv.TagAudio, aacFrame(t.samples[i]))
				}
			}
		}
	}
	return out
}
