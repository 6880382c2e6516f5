package hls

import (
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ripplemedia/ripple/pkg/hub"
	"github.com/ripplemedia/ripple/pkg/internal/mediatest"
)

// TestDirectoryNestedKeys: keys that nest into each other, or look like
// file names, each write into their own directory and nothing else.
func TestDirectoryNestedKeys(t *testing.T) {
	keys := []string{"live/cam1", "live/cam1/media", "live/cam1/x", "live/x.m3u8/y", "live/cam1/1733-5.ts", "live/x"}
	dir := t.TempDir()
	h := hub.New(hub.Config{})
	defer h.Close()
	segs := make(map[string]chan int64, len(keys))
	for _, k := range keys {
		segs[k] = make(chan int64, 64)
	}
	joined := make(chan string, len(keys))
	defer h.Watch(func(e hub.Event) {
		if e.Type == hub.EventReaderJoin && e.Reader.Protocol == "hls" {
			joined <- e.Key
		}
	})()
	m := New(Config{Variant: VariantFMP4, Directory: dir, onUpdate: func(key string, dts int64) {
		segs[key] <- dts
	}}, h)
	m.Start()
	defer m.Close()

	pubs := map[string]*hub.Publisher{}
	for _, k := range keys {
		pub, err := h.Publish(k, hub.PublisherInfo{Protocol: "test"})
		require.NoError(t, err)
		pubs[k] = pub
		gen := mediatest.New(mediatest.Config{})
		for _, p := range gen.Headers() {
			require.NoError(t, pub.WritePacket(p))
		}
		select {
		case j := <-joined:
			require.Equal(t, k, j)
		case <-time.After(waitFor):
			t.Fatalf("%s: no muxer", k)
		}
		// Keyframes every second: segments end at 2 and 4 s; nothing
		// is cut (or written) after 4 s up to 5.5 s.
		for {
			p := gen.Next()
			if p.DTS > 5500 {
				break
			}
			require.NoError(t, pub.WritePacket(p))
		}
	}
	for _, k := range keys {
		for n := 0; n < 2; n++ {
			select {
			case <-segs[k]:
			case <-time.After(waitFor):
				t.Fatalf("%s: no segment %d", k, n)
			}
		}
	}

	// Every file under dir, by the directory of the stream that owns it.
	want := map[string]bool{}
	for _, k := range keys {
		mx := m.get(k)
		require.NotNil(t, mx, k)
		md := mx.media()
		sdir := filepath.Join(dir, filepath.FromSlash(k)+"@hls")
		md.mu.Lock()
		files := []string{"index.m3u8", "media.m3u8"}
		for name := range md.files {
			require.True(t, strings.HasPrefix(name, md.epoch+"-"), name)
			files = append(files, name)
		}
		md.mu.Unlock()
		sort.Strings(files)
		got, err := os.ReadDir(sdir)
		require.NoError(t, err, k)
		var names []string
		for _, e := range got {
			names = append(names, e.Name())
		}
		require.Equal(t, files, names, k)
		for _, n := range files {
			want[filepath.Join(sdir, n)] = true
			if strings.HasSuffix(n, ".m4s") || strings.HasSuffix(n, ".mp4") {
				b, err := os.ReadFile(filepath.Join(sdir, n))
				require.NoError(t, err)
				f, _ := md.lookup(n)
				require.Equal(t, f.data, b, "%s/%s written by its own muxer", k, n)
			}
		}
		index, err := os.ReadFile(filepath.Join(sdir, "index.m3u8"))
		require.NoError(t, err)
		require.Equal(t, []string{"media.m3u8"}, uris(string(index)), "relative to the stream's directory")
		media, err := os.ReadFile(filepath.Join(sdir, "media.m3u8"))
		require.NoError(t, err)
		for _, u := range listed(string(media)) {
			require.True(t, want[filepath.Join(sdir, u)], "%s lists %s", k, u)
		}
	}
	var all []string
	require.NoError(t, filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			all = append(all, p)
		}
		return err
	}))
	require.Len(t, all, len(want), "nothing else is written")
	for _, p := range all {
		require.True(t, want[p], p)
	}

	// A stream that ends removes its directory only.
	mx := m.get("live/cam1")
	pubs["live/cam1"].Close()
	<-mx.stopped
	_, err := os.Stat(filepath.Join(dir, "live", "cam1@hls"))
	require.ErrorIs(t, err, os.ErrNotExist)
	for _, k := range keys[1:] {
		_, err := os.Stat(filepath.Join(dir, filepath.FromSlash(k)+"@hls", "index.m3u8"))
		require.NoError(t, err, k)
	}
	for _, p := range pubs {
		p.Close()
	}
}
