package record

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ripplemedia/ripple/pkg/access"
	"github.com/ripplemedia/ripple/pkg/hub"
)

// Manager runs one recorder per recorded stream. New builds it, Start
// makes it follow the hub, Shutdown finishes every file, Close stops.
type Manager struct {
	cfg    Config
	hub    *hub.Hub
	log    *slog.Logger
	create func(path string) (diskFile, error) // createFile; tests inject failures
	// onBatch, if set (tests), is called after each batch a recording
	// handled with the highest DTS it has seen.
	onBatch func(key string, dts int64)

	bytes atomic.Uint64
	errs  atomic.Uint64

	mu         sync.Mutex
	started    bool
	closed     bool
	recs       map[string]*recorder   // by key
	apiStopped map[string]bool        // keys StopRecording stopped, until their next publish
	active     map[string]*activeFile // files in progress, by Path
	tpls       map[string]*template   // parsed templates, by their text
	probes     map[string]probeEntry  // durations of files, by Path (list.go)
	unwatch    func()
	sweepStop  chan struct{}
	wg         sync.WaitGroup
	sweepMu    sync.Mutex // one retention pass at a time
	fileMu     sync.Mutex // from a file's creation to its registration; a deletion (retention.go)
}

// activeFile is a file in progress as other goroutines see it.
type activeFile struct {
	rec      Recording
	size     atomic.Int64 // committed bytes
	duration atomic.Int64 // time.Duration
}

// New returns a Manager recording streams of h; Start makes it act. The
// templates of cfg.Templates that do not parse are logged and ignored
// (validate them with ValidateTemplate first).
func New(cfg Config, h *hub.Hub) *Manager {
	cfg = cfg.withDefaults()
	m := &Manager{
		cfg:        cfg,
		hub:        h,
		log:        cfg.Logger.With("proto", access.ProtoRecord),
		create:     createFile,
		recs:       make(map[string]*recorder),
		apiStopped: make(map[string]bool),
		active:     make(map[string]*activeFile),
		tpls:       make(map[string]*template),
		probes:     make(map[string]probeEntry),
		sweepStop:  make(chan struct{}),
	}
	for _, s := range append([]string{DefaultPath}, cfg.Templates...) {
		if _, err := m.template(s); err != nil {
			m.log.Warn("recording path template ignored", "err", err)
		}
	}
	return m
}

// template returns the parsed template s, parsing it once.
func (m *Manager) template(s string) (*template, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if t := m.tpls[s]; t != nil {
		return t, nil
	}
	t, err := parseTemplate(s)
	if err != nil {
		return nil, err
	}
	m.tpls[s] = t
	return t, nil
}

// rootDir is the OS directory of a template's recordings root.
func (m *Manager) rootDir(t *template) string {
	dir := t.root
	if !filepath.IsAbs(dir) {
		dir = filepath.Join(m.cfg.Root, dir)
	}
	if dir == "" {
		return "."
	}
	return dir
}

func (m *Manager) now() time.Time { return m.cfg.Now() }

func (m *Manager) rule(key string) Rule {
	if m.cfg.Rule == nil {
		return Rule{}
	}
	return m.cfg.Rule(key)
}

// Start watches the hub: every stream whose Rule is Enabled is recorded
// from its publish (and those already live now), and the retention rules
// are applied every SweepInterval. Later calls, and calls after Close, do
// nothing.
func (m *Manager) Start() {
	m.mu.Lock()
	if m.started || m.closed {
		m.mu.Unlock()
		return
	}
	m.started = true
	m.mu.Unlock()
	m.unwatch = m.hub.Watch(m.onEvent)
	for _, s := range m.hub.Streams() {
		m.auto(s.Key)
	}
	m.wg.Add(1)
	go m.sweeper()
}

// onEvent runs synchronously in the hub: it only subscribes and starts
// goroutines.
func (m *Manager) onEvent(e hub.Event) {
	switch e.Type {
	case hub.EventPublish:
		if !e.Resumed {
			m.mu.Lock()
			delete(m.apiStopped, e.Key)
			m.mu.Unlock()
		}
		if e.Publisher.Source != "" {
			return // a rendition: its source is recorded
		}
		if m.cfg.SkipPulled && e.Publisher.Protocol == access.ProtoRelay {
			// Pulled from the cluster node that is the stream's origin,
			// which records it: stop what this node recorded while it was.
			m.stopQuietly(e.Key)
			return
		}
		m.auto(e.Key)
	case hub.EventStreamEnd:
		m.mu.Lock()
		delete(m.apiStopped, e.Key)
		m.mu.Unlock()
	}
}

// auto starts recording key if its rule says so and StopRecording did not
// stop it.
func (m *Manager) auto(key string) {
	rule := m.rule(key)
	if !rule.Enabled {
		return
	}
	m.mu.Lock()
	stopped := m.apiStopped[key]
	m.mu.Unlock()
	if stopped {
		return
	}
	if err := m.start(key, rule); err != nil && !errors.Is(err, ErrAlreadyRecording) &&
		!errors.Is(err, ErrNotLive) && !errors.Is(err, ErrClosed) {
		m.log.Warn("recording not started", "stream", key, "err", err)
		app, stream := splitKey(key)
		m.emit(Event{Type: EventError, Recording: Recording{Key: key, App: app, Stream: stream, Format: rule.Format}, Err: err})
	}
}

// StartRecording records the live stream key with its Rule (whether or
// not the rule is Enabled) until the stream ends or StopRecording.
func (m *Manager) StartRecording(key string) error {
	if !hub.ValidKey(key) {
		return ErrNotLive
	}
	m.mu.Lock()
	delete(m.apiStopped, key)
	m.mu.Unlock()
	return m.start(key, m.rule(key))
}

// start subscribes a recorder to key and runs it.
func (m *Manager) start(key string, rule Rule) error {
	rule = rule.withDefaults()
	rule.Enabled = true
	tp, err := m.template(rule.Path)
	if err != nil {
		return err
	}
	m.mu.Lock()
	err = m.startableLocked(key)
	m.mu.Unlock()
	if err != nil {
		return err
	}
	rd, err := m.hub.Subscribe(key, hub.ReaderInfo{Protocol: access.ProtoRecord})
	if err != nil {
		return ErrNotLive
	}
	m.mu.Lock()
	if err := m.startableLocked(key); err != nil {
		m.mu.Unlock()
		rd.Close()
		return err
	}
	app, stream := splitKey(key)
	r := &recorder{
		m: m, key: key, app: app, stream: stream, rule: rule, tpl: tp, rootDir: m.rootDir(tp),
		log:    m.log.With("stream", key),
		stopCh: make(chan struct{}),
		done:   make(chan struct{}),
	}
	r.rd.Store(rd)
	m.recs[key] = r
	m.wg.Add(1)
	m.mu.Unlock()
	go func() {
		defer m.wg.Done()
		r.run(rd)
	}()
	return nil
}

// startableLocked says why key cannot start recording now, if it cannot.
func (m *Manager) startableLocked(key string) error {
	if m.closed {
		return ErrClosed
	}
	if r := m.recs[key]; r != nil && r.live() {
		return ErrAlreadyRecording
	}
	return nil
}

// live reports whether r still records its stream: not stopped, and its
// stream has not ended (a recorder finishing the file of an ended stream
// gives way to the recorder of the key's next stream).
func (r *recorder) live() bool {
	select {
	case <-r.stopCh:
		return false
	case <-r.done:
		return false
	default:
	}
	if r.ending.Load() {
		return false
	}
	rd := r.rd.Load()
	return rd == nil || !errors.Is(rd.Err(), io.EOF)
}

// forget forgets r once it has ended.
func (m *Manager) forget(r *recorder) {
	m.mu.Lock()
	if m.recs[r.key] == r {
		delete(m.recs, r.key)
	}
	m.mu.Unlock()
}

// StopRecording stops recording key: the file in progress is finished
// (EventDone) before it returns. A stream recorded by its Rule stays
// unrecorded until it is published again (a publisher resuming within the
// reconnect grace does not count).
func (m *Manager) StopRecording(key string) error {
	m.mu.Lock()
	r := m.recs[key]
	if r == nil || !r.live() {
		m.mu.Unlock()
		return ErrNotRecording
	}
	m.apiStopped[key] = true
	m.mu.Unlock()
	r.stop()
	<-r.done
	return nil
}

// stopQuietly ends key's recording without marking it stopped by the API
// (a later publish here records again). Called from hub events: the wait
// for the recorder happens on a goroutine of its own.
func (m *Manager) stopQuietly(key string) {
	m.mu.Lock()
	r := m.recs[key]
	m.mu.Unlock()
	if r != nil && r.live() {
		r.stop()
	}
}

// Recording reports whether key is being recorded (a file is open, or
// one starts at the stream's next keyframe).
func (m *Manager) Recording(key string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	r := m.recs[key]
	return r != nil && r.live()
}

// Stats returns the counters.
func (m *Manager) Stats() Stats {
	m.mu.Lock()
	n := len(m.active)
	m.mu.Unlock()
	return Stats{Active: n, Bytes: m.bytes.Load(), Errors: m.errs.Load()}
}

func (m *Manager) emit(e Event) {
	if m.cfg.OnEvent != nil {
		m.cfg.OnEvent(e)
	}
}

// addActive registers a file in progress.
func (m *Manager) addActive(rec Recording) *activeFile {
	a := &activeFile{rec: rec}
	m.mu.Lock()
	m.active[rec.Path] = a
	m.mu.Unlock()
	return a
}

// done unregisters a file in progress, remembering its duration.
func (m *Manager) done(a *activeFile, rec Recording) {
	m.mu.Lock()
	if m.active[rec.Path] == a {
		delete(m.active, rec.Path)
	}
	m.mu.Unlock()
	m.remember(rec)
}

// Shutdown stops every recording, each finishing its file (the last
// fragment written, the FLV metadata completed, EventDone), and returns
// once they have, or with ctx's cause when ctx ends first (Close then
// waits for them).
func (m *Manager) Shutdown(ctx context.Context) error {
	m.stopAll()
	done := make(chan struct{})
	go func() {
		m.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// Close stops every recording (each finishes its file) and waits.
// Idempotent; the error is always nil (io.Closer).
func (m *Manager) Close() error {
	m.stopAll()
	m.wg.Wait()
	return nil
}

func (m *Manager) stopAll() {
	m.mu.Lock()
	first := !m.closed
	m.closed = true
	started := m.started
	recs := make([]*recorder, 0, len(m.recs))
	for _, r := range m.recs {
		recs = append(recs, r)
	}
	m.mu.Unlock()
	if first {
		if started {
			m.unwatch()
		}
		close(m.sweepStop)
	}
	for _, r := range recs {
		r.stop()
	}
}

// sweeper applies the retention rules every SweepInterval.
func (m *Manager) sweeper() {
	defer m.wg.Done()
	t := time.NewTicker(m.cfg.SweepInterval)
	defer t.Stop()
	for {
		select {
		case <-m.sweepStop:
			return
		case <-t.C:
			m.cfg.Panics.Do(componentRecord, m.log, m.sweep)
		}
	}
}
