package api

import (
	"sync"
	"time"

	"github.com/ripplemedia/ripple/pkg/hub"
)

// Rate is a stream's ingest rates over the last sampling interval.
type Rate struct {
	Bitrate float64 // bits per second received from the publisher
	FPS     float64 // video frames per second received
}

// Sampler measures each stream's ingest bitrate and frame rate from the
// deltas of the hub's BytesIn and VideoFrames counters between ticks, so the
// hot path only increments counters it already keeps.
type Sampler struct {
	hub      *hub.Hub
	interval time.Duration
	now      func() time.Time
	onTick   func([]hub.StreamInfo, map[string]Rate) // nil: nothing
	media    mediaInfo                               // header-derived info, pruned by Tick

	mu    sync.Mutex
	prev  map[string]sample
	rates map[string]Rate

	stop chan struct{}
	done chan struct{}
	once sync.Once
}

type sample struct {
	at     time.Time
	since  time.Time // the stream's start: a new stream under the same key restarts
	bytes  uint64
	frames uint64
}

// NewSampler takes a first sample, then starts a goroutine ticking every
// interval. onTick, if not nil, runs after each tick (on the sampler
// goroutine except for the first) with the snapshot and the
// new rates (it must not block for long).
func NewSampler(h *hub.Hub, interval time.Duration, onTick func([]hub.StreamInfo, map[string]Rate)) *Sampler {
	s := newSampler(h, interval, onTick)
	s.start()
	return s
}

// newSampler returns a Sampler that does not tick until start.
func newSampler(h *hub.Hub, interval time.Duration, onTick func([]hub.StreamInfo, map[string]Rate)) *Sampler {
	return &Sampler{
		hub: h, interval: interval, now: time.Now, onTick: onTick,
		prev: make(map[string]sample), rates: make(map[string]Rate),
		stop: make(chan struct{}), done: make(chan struct{}),
	}
}

// start takes a first sample (here, not in run: a rate is known as soon as
// start returns) and starts the ticking goroutine. Call it once; Close
// waits for that goroutine, so it must follow start.
func (s *Sampler) start() {
	s.Tick()
	go s.run()
}

func (s *Sampler) run() {
	defer close(s.done)
	t := time.NewTicker(s.interval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			s.Tick()
		case <-s.stop:
			return
		}
	}
}

// Tick takes one sample now (the ticker calls it; tests may too).
func (s *Sampler) Tick() {
	streams := s.hub.Streams()
	now := s.now()
	s.mu.Lock()
	prev := s.prev
	s.prev = make(map[string]sample, len(streams))
	rates := make(map[string]Rate, len(streams))
	for _, st := range streams {
		cur := sample{at: now, since: st.Since, bytes: st.BytesIn, frames: st.VideoFrames}
		s.prev[st.Key] = cur
		p, ok := prev[st.Key]
		if !ok || !p.since.Equal(st.Since) || cur.bytes < p.bytes {
			// First sight of this stream: average since it started.
			p = sample{at: st.Since}
		}
		dt := now.Sub(p.at).Seconds()
		if dt <= 0 {
			rates[st.Key] = s.rates[st.Key]
			continue
		}
		rates[st.Key] = Rate{
			Bitrate: float64(cur.bytes-p.bytes) * 8 / dt,
			FPS:     roundFPS(float64(cur.frames-p.frames) / dt),
		}
	}
	s.rates = rates
	s.mu.Unlock()
	live := make(map[string]bool, len(streams))
	for _, st := range streams {
		live[st.Key] = true
	}
	s.media.forget(live)
	if s.onTick != nil {
		s.onTick(streams, rates)
	}
}

// Rate returns the last measured rates of the stream key.
func (s *Sampler) Rate(key string) (Rate, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.rates[key]
	return r, ok
}

// Close stops the sampler and waits for its goroutine. Idempotent.
func (s *Sampler) Close() {
	s.once.Do(func() { close(s.stop) })
	<-s.done
}
