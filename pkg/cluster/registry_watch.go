package cluster

import (
	"context"
	"time"

	"github.com/redis/go-redis/v9"
)

const (
	// watchBuffer is how many announcements wait for fn before go-redis
	// holds the connection's reader (and, after a minute, drops one).
	watchBuffer = 1024
	// watchHealth is how often a quiet subscription is pinged, so a dead
	// connection that sends no reset is noticed and replaced.
	watchHealth = 3 * time.Second
)

// Watch calls fn(key) (nil: none) for every ownership change announced on the channel
// (new claim, takeover, release, idle flag or url change), and
// onSubscribed (nil: none) after every subscription, the first and each
// one after go-redis reconnected, so the caller can resync what it may
// have missed while disconnected. Both run on the calling goroutine, one at a time, and must
// not block long. Watch returns when ctx ends or the Registry is closed.
//
// Announcements are hints: they carry only the key (a message longer than
// MaxKeyLen is ignored); the caller looks the owner up.
func (r *Registry) Watch(ctx context.Context, fn func(key string), onSubscribed func()) {
	channel := r.channel()
	ps := r.c.Subscribe(ctx, channel)
	ch := ps.ChannelWithSubscriptions(
		redis.WithChannelSize(watchBuffer),
		redis.WithChannelHealthCheckInterval(watchHealth),
		redis.WithChannelPingTimeout(r.timeout),
		redis.WithChannelReconnectTimeout(r.timeout),
	)
	defer func() {
		_ = ps.Close()
		// go-redis's receiving goroutine ends once it sees the close; it
		// may be blocked handing us a message, so drain until it closes ch.
		for range ch {
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return
		case m, ok := <-ch:
			if !ok {
				return
			}
			switch m := m.(type) {
			case *redis.Subscription:
				if m.Kind == "subscribe" && m.Channel == channel && onSubscribed != nil {
					onSubscribed()
				}
			case *redis.Message:
				if m.Channel == channel && checkKey(m.Payload) == nil && fn != nil {
					fn(m.Payload)
				}
			}
		}
	}
}
