package bench

import (
	"bufio"
	"bytes"
	"testing"
	"time"

	"github.com/ripplemedia/ripple/pkg/internal/mediatest"
	"github.com/ripplemedia/ripple/pkg/rtmp"
)

// FuzzFindStamp feeds the same bytes to every stamp finder: as an FLV video
// body, as Annex B, as a TS segment and as fMP4 data. None may panic, and a
// stamp InsertStamp wrote must be found again.
func FuzzFindStamp(f *testing.F) {
	for _, c := range stampCases {
		out, _ := InsertStamp(c.body, c.stamp)
		f.Add(out, c.stamp.SendNs, c.stamp.Seq)
		f.Add(c.body, int64(0), uint32(0))
	}
	f.Fuzz(func(t *testing.T, b []byte, ns int64, seq uint32) {
		FindStampFLV(b)
		FindStampAnnexB(b)
		scanRaw(b, func(Stamp, bool) {})
		var ts tsScanner
		ts.scan(b, func(Stamp, bool) {})
		if out, err := InsertStamp(b, Stamp{SendNs: ns, Seq: seq}); err == nil {
			s, ok := FindStampFLV(out)
			if !ok || s != (Stamp{SendNs: ns, Seq: seq}) {
				t.Fatalf("stamp %d/%d not found again in %x", ns, seq, out)
			}
		}
	})
}

// FuzzFLVStream reads arbitrary bytes as a plain and as a chunked HTTP-FLV
// body.
func FuzzFLVStream(f *testing.F) {
	data, _ := flvBytes(f, 3)
	f.Add(data)
	f.Add(chunked(data, 50))
	f.Add([]byte("FLV\x01\x05\x00\x00\x00\x09\x00\x00\x00\x00\x09\xff\xff\xff"))
	f.Add([]byte("ffffffffff\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		w := &Window{Start: time.Unix(0, 0), End: time.Now().Add(time.Hour), Stall: time.Second}
		for _, src := range []source{plainSource{bufio.NewReader(bytes.NewReader(b))}, &chunkedSource{br: bufio.NewReader(bytes.NewReader(b))}} {
			fs := &flvStream{src: src, st: &PlayerStats{}, w: w, t0: time.Now()}
			if err := fs.run(); err == nil {
				t.Fatal("run ended without an error")
			}
		}
	})
}

// FuzzRTMPChunks runs the bench player's chunk parser and message handler
// over arbitrary bytes (its writes go to a discarding conn).
func FuzzRTMPChunks(f *testing.F) {
	cw := rtmp.NewChunkWriter()
	var wire []byte
	wire = cw.AppendMessage(wire, 2, rtmp.SetChunkSizeMessage(300))
	cw.SetChunkSize(300)
	wire = cw.AppendMessage(wire, 2, rtmp.WindowAckSizeMessage(1000))
	wire = cw.AppendMessage(wire, 2, rtmp.UserControlMessage(rtmp.EventPingRequest, 7))
	stamped, _ := InsertStamp(mediatest.VideoFrame(0, true, 900, 1).Data, Stamp{SendNs: 1, Seq: 1})
	wire = cw.AppendMessage(wire, 6, &rtmp.Message{TypeID: rtmp.TypeVideo, StreamID: 1, Timestamp: 0xffffff + 5, Payload: stamped})
	f.Add(wire)
	f.Add([]byte{0x03, 0xff, 0xff, 0xff, 0, 0, 10, 20, 0, 0, 0, 0, 1, 2, 3, 4})
	f.Add([]byte{0x01, 0x00, 0x40, 0xc2})
	f.Fuzz(func(_ *testing.T, b []byte) {
		p := &rtmpPlayer{nc: discardConn{}, br: bufio.NewReader(bytes.NewReader(b)), st: &PlayerStats{},
			w: &Window{}, chunkSize: rtmp.DefaultChunkSize, cw: rtmp.NewChunkWriter(), playing: true}
		for range 10000 {
			c, err := p.readChunk()
			if err != nil {
				return
			}
			if c != nil && p.handle(c) != nil {
				return
			}
		}
	})
}

// FuzzParsePlaylist parses arbitrary playlists.
func FuzzParsePlaylist(f *testing.F) {
	f.Add([]byte("#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2.0,\nseg1.ts\n"))
	f.Add([]byte("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nv.m3u8\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		media, _, _ := parsePlaylist(b)
		if len(media) > len(b) {
			t.Fatalf("%d URIs from %d bytes", len(media), len(b))
		}
	})
}
