package redistest

import (
	"fmt"
	"net"
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestStartKillRestart(t *testing.T) {
	s := Start(t)
	require.Regexp(t, `^127\.0\.0\.1:\d+$`, s.Addr)
	require.Equal(t, "redis://"+s.Addr+"/0", s.URL)
	require.NoError(t, ping(s.Addr))

	s.Kill()
	s.Kill() // idempotent
	_, err := net.Dial("tcp", s.Addr)
	require.Error(t, err, "nothing listens after Kill")

	s.Restart(t)
	require.NoError(t, ping(s.Addr))
	s.Restart(t) // restarting a running server kills it first
	require.NoError(t, ping(s.Addr))
}

func TestTwoServersGetDifferentPorts(t *testing.T) {
	a, b := Start(t), Start(t)
	require.NotEqual(t, a.Addr, b.Addr)
	require.NoError(t, ping(a.Addr))
	require.NoError(t, ping(b.Addr))
}

// fatalTB records the first Fatal and ends the calling goroutine, as
// testing.T does.
type fatalTB struct {
	testing.TB
	msg string
}

func (f *fatalTB) Helper() {}

func (f *fatalTB) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func TestStartFailsWithoutRedisServer(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	f := &fatalTB{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		Start(f)
	}()
	<-done
	require.Contains(t, f.msg, "redis-server not found")
	require.Contains(t, f.msg, "apt-get install redis-server")
}
