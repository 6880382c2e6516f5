package transcode

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ripplemedia/ripple/pkg/av"
	"github.com/ripplemedia/ripple/pkg/hub"
	"github.com/ripplemedia/ripple/pkg/internal/backoff"
	"github.com/ripplemedia/ripple/pkg/internal/guard"
)

// Why a ladder or one of its runs ended.
var (
	errSourceEnded = errors.New("transcode: source ended")
	errNotSource   = errors.New("transcode: source taken over by a relay or a rendition")
	errIdle        = errors.New("transcode: no readers")
	errExited      = errors.New("transcode: ffmpeg exited")
	errTooSlow     = errors.New("transcode: ffmpeg too slow for its source (reader evicted)")
	errStalled     = errors.New("transcode: ffmpeg stalled")
	errOutputEnded = errors.New("transcode: ffmpeg closed an output")
	errInputClosed = errors.New("transcode: ffmpeg closed its input")
	errNoTracks    = errors.New("transcode: no rung has a track of the source")
	errRunTooLong  = errors.New("transcode: ffmpeg's timestamps near their 31-bit limit")
)

// exitGrace is how long a goroutine that saw one of ffmpeg's pipes close
// waits for the process to exit before it has it killed; and how long a
// run waits for its goroutines to drain the pipes after the exit.
const exitGrace = 2 * time.Second

// ladder is one source's transcoding: a goroutine supervising ffmpeg runs
// (run.go) and the renditions they feed.
type ladder struct {
	m        *Manager
	key      string
	rungs    []Rung
	onDemand bool
	log      *slog.Logger
	outs     []*rendition
	since    time.Time

	ctx    context.Context
	cancel context.CancelCauseFunc
	done   chan struct{}   // closed when the ladder has ended
	prev   <-chan struct{} // the previous ladder of the key, if it is still ending

	// Set before run starts: a reader subscribed when the source was
	// published (fresh: it sees the stream from its first packet).
	first *hub.Reader
	fresh bool

	// base is the source time the renditions anchor to: the first source
	// time the ladder fed ffmpeg (0 when fresh). Written by the ladder's
	// goroutine before the first run's outputs are read.
	base    int64
	baseSet bool
	runs    uint64

	// Guarded by Manager.mu.
	stopped bool
	idle    *time.Timer
	idleGen uint64

	mu       sync.Mutex // status
	pid      int
	restarts uint64
	speed    float64
}

func newLadder(m *Manager, key string, rungs []Rung, onDemand bool) *ladder {
	l := &ladder{
		m:        m,
		key:      key,
		rungs:    rungs,
		onDemand: onDemand,
		log:      m.log.With("stream", key),
		since:    time.Now(),
		done:     make(chan struct{}),
	}
	l.ctx, l.cancel = context.WithCancelCause(context.Background())
	for _, r := range rungs {
		l.outs = append(l.outs, newRendition(m.hub, l.log, key, r))
	}
	return l
}

func (l *ladder) rung(name string) *rendition {
	for _, o := range l.outs {
		if o.name == name {
			return o
		}
	}
	return nil
}

func (l *ladder) status() Status {
	l.mu.Lock()
	st := Status{
		Key:      l.key,
		OnDemand: l.onDemand,
		Running:  l.pid != 0,
		PID:      l.pid,
		Restarts: l.restarts,
		Speed:    l.speed,
		Started:  l.since,
	}
	l.mu.Unlock()
	for _, o := range l.outs {
		st.Renditions = append(st.Renditions, o.status())
	}
	return st
}

// run supervises the ladder until it stops, then ends its renditions.
func (l *ladder) run() {
	defer l.m.wg.Done()
	err := l.m.cfg.Panics.Run(component, l.loop)
	if guard.Log(l.log, err) {
		l.cancel(err) // our bug: the ladder ends, the process and every other ladder go on
	}
	for _, o := range l.outs {
		o.end()
	}
	l.m.ended(l)
	close(l.done)
	l.log.Info("transcoding stopped", "cause", context.Cause(l.ctx), "restarts", l.status().Restarts)
	l.cancel(nil)
}

// loop runs ffmpeg, and runs it again after a backoff when it ends
// unexpectedly, until the ladder is stopped or its source ends.
func (l *ladder) loop() error {
	if l.prev != nil {
		select {
		case <-l.prev:
		case <-l.ctx.Done():
			if l.first != nil {
				l.first.Close()
			}
			return nil
		}
	}
	rd, fresh := l.first, l.fresh
	defer func() {
		if rd != nil {
			rd.Close()
		}
	}()
	b := backoff.New(l.m.cfg.BackoffMin, l.m.cfg.BackoffMax)
	for {
		if rd == nil {
			var err error
			if rd, err = l.m.hub.Subscribe(l.key, hub.ReaderInfo{Protocol: Protocol}); err != nil {
				l.cancel(errSourceEnded)
				return nil
			}
		}
		began := time.Now()
		res := l.runOnce(rd, fresh)
		rd.Close()
		rd, fresh = nil, false
		if l.ctx.Err() != nil {
			return nil
		}
		if errors.Is(res.err, errSourceEnded) {
			l.cancel(res.err)
			return nil
		}
		if time.Since(began) >= l.m.cfg.BackoffMax {
			b.Reset() // it ran well for a while: this is a new failure
		}
		d := b.Next()
		l.mu.Lock()
		l.restarts++
		n := l.restarts
		l.mu.Unlock()
		l.log.Warn("ffmpeg restarting", "err", res.err, "exit", res.exit, "stderr", res.stderr,
			"restarts", n, "backoff", d)
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-l.ctx.Done():
			t.Stop()
			return nil
		}
	}
}

// runResult is how one ffmpeg run ended.
type runResult struct {
	err    error
	exit   string // the process's exit status ("exit status 1", "signal: killed")
	stderr string // its last stderr lines
}

// run is one ffmpeg process of a ladder and the goroutines around it.
type run struct {
	l      *ladder
	id     uint64
	origin int64 // source time fed as tsPad (timestamps stay small in ffmpeg)
	ctx    context.Context
	cancel context.CancelCauseFunc
	exited chan struct{} // closed once the process has been waited for
	wg     sync.WaitGroup

	lastFed atomic.Int64 // unix nanos of the last write to ffmpeg's stdin
	writing atomic.Int64 // unix nanos of the start of a write in progress, 0 none
	lastOut atomic.Int64 // unix nanos of the last packet read from an output
	stderr  stderrTail
}

// sourceTime maps a timestamp of ffmpeg's output back to the source's time.
func (r *run) sourceTime(ts int64) int64 { return ts - tsPad + r.origin }

// runOnce feeds one ffmpeg from rd until it ends, and says why it did.
func (l *ladder) runOnce(rd *hub.Reader, fresh bool) runResult {
	l.runs++
	r := &run{l: l, id: l.runs, exited: make(chan struct{})}
	r.ctx, r.cancel = context.WithCancelCause(l.ctx)
	defer r.cancel(nil)

	initial, hasAudio, hasVideo, err := gateTracks(r.ctx, rd, fresh)
	if err != nil {
		return runResult{err: readerCause(err)}
	}
	r.origin = firstMediaTime(initial)
	if fresh {
		r.origin = 0 // the hub starts a new stream's timeline at 0
	}
	if !l.baseSet {
		l.base, l.baseSet = r.origin, true
	}
	for _, o := range l.outs {
		o.beginRun()
	}
	args, ok := ffmpegArgs(l.rungs, hasVideo, hasAudio)
	if !ok {
		return runResult{err: fmt.Errorf("%w (video %t, audio %t)", errNoTracks, hasVideo, hasAudio)}
	}

	p, err := startProcess(l.m.path, args, len(l.outs))
	if err != nil {
		return runResult{err: err}
	}
	pid := p.cmd.Process.Pid
	l.setPID(pid)
	defer l.setPID(0)
	l.log.Debug("ffmpeg started", "pid", pid, "origin_ms", r.origin)
	now := time.Now().UnixNano()
	r.lastFed.Store(now)
	r.lastOut.Store(now)

	// Kill the group as soon as the run is cancelled (a stop, a failure
	// seen by a goroutine); Wait then returns.
	stopKill := context.AfterFunc(r.ctx, func() { _ = killGroup(p.cmd) })
	defer stopKill()
	waited := false
	defer func() {
		if !waited {
			// A panic between the start and the wait (a bug of ours):
			// leave nothing running or unreaped all the same.
			r.cancel(errors.New("transcode: supervisor failed"))
			_ = p.cmd.Wait()
			_ = killGroup(p.cmd)
			p.close()
			r.wg.Wait()
		}
	}()
	r.goGuarded(func() error { return r.feed(p.stdin, rd, initial, hasAudio, hasVideo) })
	for i, o := range l.outs {
		r.goGuarded(func() error { return r.readOutput(o, p.outs[i]) })
	}
	r.goGuarded(func() error { return r.readProgress(p.progress) })
	r.goGuarded(func() error { return r.readStderr(p.stderr) })
	r.wg.Add(1)
	go r.watchdog()

	waitErr := p.cmd.Wait()
	waited = true
	close(r.exited)
	// ffmpeg starts no children, but a wrapper might, and they share the
	// group: end them too. The group's id cannot be reused while one of
	// them is alive, and killing an empty group fails harmlessly.
	_ = killGroup(p.cmd)
	exit := p.cmd.ProcessState.String()
	r.cancel(fmt.Errorf("%w: %s", errExited, exit))
	if waitErr != nil {
		l.log.Debug("ffmpeg ended", "pid", pid, "err", waitErr)
	}
	// Let the goroutines drain what ffmpeg wrote last (its last stderr
	// lines say why it failed), then cut the pipes.
	drained := make(chan struct{})
	go func() {
		r.wg.Wait()
		close(drained)
	}()
	t := time.NewTimer(exitGrace)
	select {
	case <-drained:
	case <-t.C:
	}
	t.Stop()
	p.close()
	<-drained
	return runResult{err: context.Cause(r.ctx), exit: exit, stderr: r.stderr.String()}
}

func (l *ladder) setPID(pid int) {
	l.mu.Lock()
	l.pid = pid
	if pid == 0 {
		l.speed = 0
	}
	l.mu.Unlock()
}

func (l *ladder) setSpeed(s float64) {
	l.mu.Lock()
	l.speed = s
	l.mu.Unlock()
}

// goGuarded runs f on a goroutine of the run through the panic guard; an
// error (a recovered panic included) ends the run.
func (r *run) goGuarded(f func() error) {
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		err := r.l.m.cfg.Panics.Run(component, f)
		if err != nil {
			guard.Log(r.l.log, err)
			r.cancel(err)
		}
	}()
}

// afterExitOr waits for ffmpeg to exit after one of its pipes closed, and
// kills it with cause if it does not within exitGrace.
func (r *run) afterExitOr(cause error) {
	t := time.NewTimer(exitGrace)
	defer t.Stop()
	select {
	case <-r.exited:
	case <-r.ctx.Done():
	case <-t.C:
		r.cancel(cause)
	}
}

// watchdog kills an ffmpeg that has been fed for StallTimeout without
// writing anything, or that has not read its input for that long (a write
// to its stdin blocked). A source that sends nothing (in its reconnect
// grace) stalls nothing.
func (r *run) watchdog() {
	defer r.wg.Done()
	stall := r.l.m.cfg.StallTimeout
	t := time.NewTicker(min(time.Second, stall/4))
	defer t.Stop()
	for {
		select {
		case <-r.exited:
			return
		case <-r.ctx.Done():
			return
		case <-t.C:
			if time.Duration(r.lastFed.Load()-r.lastOut.Load()) > stall {
				r.cancel(fmt.Errorf("%w: fed for %s without output", errStalled, stall))
				return
			}
			if w := r.writing.Load(); w != 0 && time.Since(time.Unix(0, w)) > stall {
				r.cancel(fmt.Errorf("%w: input not read for %s", errStalled, stall))
				return
			}
		}
	}
}

// readerCause classifies the error a source reader ended with.
func readerCause(err error) error {
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, hub.ErrClosed):
		return errSourceEnded
	case errors.Is(err, hub.ErrSlowReader):
		return errTooSlow
	}
	return err
}

// firstMediaTime returns the time of the first audio or video frame of
// pkts (the source's cached keyframe for a late joiner), or of the last
// packet if there is none.
func firstMediaTime(pkts []*av.Packet) int64 {
	for _, p := range pkts {
		if p.IsMedia() && !p.Header {
			return p.DTS
		}
	}
	if len(pkts) > 0 {
		return pkts[len(pkts)-1].DTS
	}
	return 0
}
