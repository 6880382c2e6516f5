package record

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ripplemedia/ripple/pkg/access"
	"github.com/ripplemedia/ripple/pkg/hub"
)

// TestKilled records the 20 s clip in a child process (this test binary)
// and kills it with SIGKILL while the file is in progress: no Shutdown, no
// last fragment. What is on disk plays up to the last complete fragment
// (FLV: batch of tags) the child had committed.
func TestKilled(t *testing.T) {
	if dir := os.Getenv("RECORD_KILLED_DIR"); dir != "" {
		killedChild(t, dir, os.Getenv("RECORD_KILLED_FORMAT"))
		return
	}
	for _, f := range []Format{FormatFMP4, FormatFLV} {
		t.Run(f.String(), func(t *testing.T) {
			dir := t.TempDir()
			cmd := exec.Command(os.Args[0], "-test.run=^TestKilled$", "-test.count=1")
			cmd.Env = append(os.Environ(), "RECORD_KILLED_DIR="+dir, "RECORD_KILLED_FORMAT="+f.String())
			out, err := cmd.StdoutPipe()
			require.NoError(t, err)
			cmd.Stderr = os.Stderr
			require.NoError(t, cmd.Start())
			defer func() {
				_ = cmd.Process.Kill()
				_ = cmd.Wait()
			}()
			lines := make(chan string, 1)
			go func() {
				sc := bufio.NewScanner(out)
				for sc.Scan() {
					if strings.HasPrefix(sc.Text(), "ready ") {
						lines <- sc.Text()
						break
					}
				}
				close(lines)
			}()
			var line string
			select {
			case line = <-lines:
			case <-time.After(30 * time.Second):
				t.Fatal("the child did not get ready")
			}
			require.NoError(t, cmd.Process.Kill())
			_ = cmd.Wait()
			for range lines { // the reader goroutine ends with the pipe
			}
			fields := strings.Fields(line)
			require.Len(t, fields, 4, line)
			path := fields[1]
			committed, err := time.ParseDuration(fields[2])
			require.NoError(t, err)
			size, err := strconv.ParseInt(fields[3], 10, 64)
			require.NoError(t, err)
			fi, err := os.Stat(path)
			require.NoError(t, err)
			require.GreaterOrEqual(t, fi.Size(), size)
			require.Greater(t, committed, 15*time.Second)

			p := ffprobe(t, path)
			require.Equal(t, map[string]string{"video": "h264", "audio": "aac"}, p.codecs())
			require.InDelta(t, committed.Seconds(), p.end("video"), 0.1)
			require.InDelta(t, committed.Seconds(), p.end("audio"), 0.1)
		})
	}
}

// killedChild records the clip into dir, reports the file in progress
// and its committed duration and size on stdout, and waits to be killed.
func killedChild(t *testing.T, dir, format string) {
	f, err := ParseFormat(format)
	require.NoError(t, err)
	h := hub.New(hub.Config{QueueSize: 8192})
	m := New(Config{Root: dir, Rule: func(string) Rule { return Rule{Enabled: true, Format: f} }}, h)
	progress := make(chan int64, 1<<16)
	m.onBatch = func(_ string, dts int64) { progress <- dts }
	m.Start()
	pub, err := h.Publish(testKey, hub.PublisherInfo{Protocol: access.ProtoRTMP})
	require.NoError(t, err)
	pkts := fixture(t, 2)
	write(t, pub, pkts...)
	last := pkts[len(pkts)-1].DTS
	timeout := time.After(20 * time.Second)
	for {
		select {
		case dts := <-progress:
			if dts < last {
				continue
			}
		case <-timeout:
			t.Fatal("the recording did not progress")
		}
		break
	}
	recs, err := m.Recordings("", "")
	require.NoError(t, err)
	require.Len(t, recs, 1)
	require.True(t, recs[0].InProgress)
	fmt.Printf("ready %s %s %d\n", recs[0].Path, recs[0].Duration, recs[0].Size)
	select {} // until killed
}
