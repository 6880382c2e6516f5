package relay

import (
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ripplemedia/ripple/pkg/hub"
	"github.com/ripplemedia/ripple/pkg/internal/mediatest"
)

// slowProxy forwards TCP to target, passing at most rate bytes per 10 ms
// towards it (the server's answers go back at full speed): a destination
// behind a thin pipe.
func slowProxy(t *testing.T, target string, rate int) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		conns []net.Conn
	)
	track := func(c net.Conn) {
		mu.Lock()
		conns = append(conns, c)
		mu.Unlock()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			// A small receive window, so the sender's socket cannot buffer
			// seconds of media and its queue really fills.
			_ = c.(*net.TCPConn).SetReadBuffer(4096)
			up, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			track(c)
			track(up)
			wg.Add(2)
			go func() {
				defer wg.Done()
				_, _ = io.Copy(c, up)
				c.Close()
			}()
			go func() {
				defer wg.Done()
				defer up.Close()
				tick := time.NewTicker(10 * time.Millisecond)
				defer tick.Stop()
				buf := make([]byte, rate)
				for range tick.C {
					n, err := c.Read(buf)
					if n > 0 {
						if _, werr := up.Write(buf[:n]); werr != nil {
							return
						}
					}
					if err != nil {
						return
					}
				}
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String()
}

// TestForwardSlowDestination: a destination that cannot keep up costs only
// its own forward: the stream, its local players and the other destination
// lose nothing.
func TestForwardSlowDestination(t *testing.T) {
	origin := newNode(t, hub.Config{QueueSize: 256})
	fast := newNode(t, hub.Config{})
	slow := newNode(t, hub.Config{})
	thin := slowProxy(t, slow.addr, 64) // 6.4 kB/s: far below the stream
	m := newManager(t, origin.hub, Config{Apps: map[string]AppConfig{
		"live": {Forward: []string{"rtmp://" + thin + "/live", fast.rtmpURL("live")}},
	}})
	arrived := waitEvent(t, fast.hub, func(e hub.Event) bool { return e.Type == hub.EventPublish })
	// ~2.5 MB/s of media (10x real time): the sender's socket buffers
	// fill within a second or two.
	feedWith(t, origin.hub, "live/s", mediatest.Config{FPS: 25, GOP: 25, KeySize: 40000, FrameSz: 8000, AudioSz: 50})
	local := subscribe(t, origin.hub, "live/s", hub.ReaderInfo{Protocol: "test"})
	arrived("publish on the fast destination")
	remote := subscribe(t, fast.hub, "live/s", hub.ReaderInfo{Protocol: "test"})

	// Enough for the slow forward's reader to overflow many times over;
	// in turns, so that neither test reader falls behind.
	for range 40 {
		readN(t, remote, 100)
		readN(t, local, 100)
	}
	require.Zero(t, local.Stats().Dropped, "the local player must not lose packets")
	require.Zero(t, remote.Stats().Dropped, "the fast destination's player must not lose packets")
	si, _ := origin.hub.Stream("live/s")
	t.Logf("stream dropped %d packets, evicted %d readers, in the slow forward's queue", si.Dropped, si.Evicted)
	require.Positive(t, si.Dropped+si.Evicted, "the slow forward dropped (to keyframes) or was evicted, in its own queue")
	for _, s := range m.Relays() {
		if s.Target == "rtmp://"+fast.addr+"/live/****" {
			require.Equal(t, StateLive, s.State)
		}
	}
}
