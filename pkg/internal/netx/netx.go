// Package netx holds the small network helpers the listeners share: which
// accept errors are worth retrying, an accept backoff that a closing server
// can interrupt, and a log limiter for lines a peer can trigger at will.
package netx

import (
	"errors"
	"net"
	"syscall"
)

// Temporary reports accept errors worth retrying: resource exhaustion
// (EMFILE, ENFILE, ENOBUFS, ENOMEM), connections aborted or reset before
// accept, interrupted calls and timeouts. net.Error.Temporary is
// deprecated, so the errors are named.
func Temporary(err error) bool {
	if errors.Is(err, net.ErrClosed) {
		return false
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	for _, e := range []error{syscall.EMFILE, syscall.ENFILE, syscall.ENOBUFS, syscall.ENOMEM,
		syscall.ECONNABORTED, syscall.ECONNRESET, syscall.EINTR, syscall.EAGAIN} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}
