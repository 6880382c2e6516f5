package cluster

import (
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	// go-redis redials a failed pool connection from a goroutine that
	// sleeps a second between attempts and ends on its own after the
	// client is closed (the registry-down tests leave one).
	goleak.VerifyTestMain(m, goleak.IgnoreAnyFunction("github.com/redis/go-redis/v9/internal/pool.(*ConnPool).tryDial"))
}
