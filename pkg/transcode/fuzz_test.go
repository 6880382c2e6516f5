package transcode

import (
	"bytes"
	"encoding/binary"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ripplemedia/ripple/pkg/av"
	"github.com/ripplemedia/ripple/pkg/flv"
	"github.com/ripplemedia/ripple/pkg/hub"
)

// FuzzRenditionOutput feeds arbitrary FLV, as an ffmpeg output, through
// what reads a rung's output and publishes it (flv.Reader, PacketFromTag,
// rendition.handle), with ffmpeg restarts every few tags. It must never
// panic, and the times it publishes must go forward per track: the hub
// then only has to step in for gaps over its jump limit.
func FuzzRenditionOutput(f *testing.F) {
	tag := func(typ uint8, ts uint32, body []byte) []byte { return flv.AppendTag(nil, typ, ts, body) }
	seed := append(flv.Header(true, true), tag(flv.TagScript, 0, metaVideoOnly)...)
	seed = append(seed, tag(flv.TagVideo, 0, avcHeader)...)
	seed = append(seed, tag(flv.TagAudio, 0, aacHeader)...)
	for i := range uint32(12) {
		seed = append(seed, tag(flv.TagAudio, tsPad+i*23-23, []byte{0xaf, 1, 0x21, 0x10})...)
		if i%4 == 0 {
			seed = append(seed, tag(flv.TagVideo, tsPad+i*40, avcKey)...)
		}
	}
	f.Add(seed, uint16(5))
	f.Add(seed, uint16(0))
	f.Add(append(flv.Header(false, true), tag(flv.TagVideo, 1<<31, avcKey)...), uint16(1))
	f.Fuzz(func(t *testing.T, data []byte, every uint16) {
		h := hub.New(hub.Config{})
		defer h.Close()
		l := &ladder{base: 0, baseSet: true}
		o := newRendition(h, slog.New(slog.DiscardHandler), "live/cam", Rung{Name: "r", Video: "copy"})
		var rd *hub.Reader
		cancel := h.Watch(func(e hub.Event) {
			if e.Type == hub.EventPublish && rd == nil {
				rd, _ = h.Subscribe(e.Key, hub.ReaderInfo{Protocol: "test"})
			}
		})
		defer cancel()
		newRun := func(origin int64) *run {
			l.runs++
			o.beginRun()
			return &run{l: l, id: l.runs, origin: origin}
		}
		r := newRun(0)
		fr := flv.NewReader(bytes.NewReader(data))
		fr.MaxTagSize = 1 << 16
		if _, err := fr.ReadHeader(); err != nil {
			return
		}
		for n := 1; ; n++ {
			tg, err := fr.ReadTag()
			if err != nil {
				break
			}
			p, err := flv.PacketFromTag(tg.Type, tg.Timestamp, tg.Body)
			if err != nil || p == nil {
				continue
			}
			before := o.last
			had := o.has
			o.handle(p, r)
			for i := range o.last {
				if had[i] && o.last[i] != before[i] {
					require.Greater(t, o.last[i], before[i], "track %d published a time not after its last", i)
				}
			}
			if every > 0 && n%int(every) == 0 {
				// ffmpeg restarts, fed from a time taken from the data.
				var origin int64
				if len(tg.Body) >= 4 {
					origin = int64(binary.BigEndian.Uint32(tg.Body) % 100_000)
				}
				r = newRun(origin)
			}
		}
		if rd == nil {
			return
		}
		defer rd.Close()
		pkts, err := rd.TryRead(nil)
		require.NoError(t, err)
		last := map[av.Kind]int64{}
		for _, p := range pkts {
			if p.IsMedia() && !p.Header {
				if prev, ok := last[p.Kind]; ok {
					require.GreaterOrEqual(t, p.DTS, prev, "%s went back", p.Kind)
				}
				last[p.Kind] = p.DTS
			}
		}
		st, ok := h.Stream("live/cam_r")
		require.True(t, ok)
		require.Equal(t, hub.PublisherInfo{Protocol: Protocol, Source: "live/cam", Rendition: "r"}, st.Publisher)
	})
}
