package netx

import (
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

func TestTemporary(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"EMFILE wrapped like accept", &net.OpError{Op: "accept", Err: os.NewSyscallError("accept4", syscall.EMFILE)}, true},
		{"ENFILE", syscall.ENFILE, true},
		{"ECONNABORTED", fmt.Errorf("x: %w", syscall.ECONNABORTED), true},
		{"timeout", timeoutErr{}, true},
		{"closed listener", &net.OpError{Op: "accept", Err: net.ErrClosed}, false},
		{"other", errors.New("boom"), false},
		{"EINVAL", syscall.EINVAL, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, Temporary(tt.err))
		})
	}
}

func TestBackoffSequence(t *testing.T) {
	var b Backoff
	var got []time.Duration
	for range 10 {
		got = append(got, b.Next())
	}
	require.Equal(t, []time.Duration{5, 10, 20, 40, 80, 160, 320, 640, 1000, 1000},
		func() []time.Duration {
			out := make([]time.Duration, len(got))
			for i, d := range got {
				out[i] = d / time.Millisecond
			}
			return out
		}())
	b.Reset()
	require.Equal(t, MinBackoff, b.Next())
}

// TestBackoffWaitInterrupted: a closing server does not sit out the delay.
func TestBackoffWaitInterrupted(t *testing.T) {
	b := Backoff{delay: time.Hour} // next delay: MaxBackoff
	done := make(chan struct{})
	close(done)
	start := time.Now()
	require.False(t, b.Wait(done))
	require.Less(t, time.Since(start), MaxBackoff/2)

	var short Backoff
	require.True(t, short.Wait(make(chan struct{})), "the first delay (5 ms) elapses")
}

func TestLogLimiter(t *testing.T) {
	var l LogLimiter
	n, ok := l.Allow()
	require.True(t, ok)
	require.Zero(t, n)
	for range 5 {
		_, ok = l.Allow()
		require.False(t, ok, "within the same second")
	}
	l.last.Store(time.Now().Add(-2 * time.Second).UnixNano())
	n, ok = l.Allow()
	require.True(t, ok)
	require.Equal(t, uint64(5), n)
}
