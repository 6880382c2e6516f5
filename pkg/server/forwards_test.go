package server

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestHookTargets(t *testing.T) {
	now := time.Unix(1000, 0)
	h := &hookTargets{now: func() time.Time { return now }}
	require.Nil(t, h.take("live/a"), "nothing stored")

	h.put("live/a", []string{"rtmp://x/app/k"})
	require.Equal(t, []string{"rtmp://x/app/k"}, h.take("live/a"))
	require.Nil(t, h.take("live/a"), "taken once")

	h.put("live/a", []string{"rtmp://x/app/k"})
	h.put("live/a", nil) // a later admission without targets wins
	require.Nil(t, h.take("live/a"))

	h.put("live/b", []string{"rtmp://x/app/k"})
	now = now.Add(hookTargetsTTL + time.Second)
	require.Nil(t, h.take("live/b"), "expired")

	for i := range maxHookTargetKeys + 10 {
		h.put(fmt.Sprintf("live/%d", i), []string{"rtmp://x/app/k"})
		now = now.Add(time.Millisecond)
	}
	require.LessOrEqual(t, len(h.m), maxHookTargetKeys, "bounded")
	require.NotNil(t, h.take(fmt.Sprintf("live/%d", maxHookTargetKeys+9)), "the newest kept")
}
