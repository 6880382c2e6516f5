package cluster

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

const (
	// DefaultPrefix prefixes every registry key and the channel.
	DefaultPrefix = "ripple:"
	// DefaultLease is the claim TTL when Config.Lease is 0.
	DefaultLease = 10 * time.Second
	// DefaultTimeout bounds one operation when Config.Timeout is 0.
	DefaultTimeout = 2 * time.Second

	// MaxKeyLen bounds stream keys and node ids (bytes).
	MaxKeyLen = 1024
	// MaxValueLen bounds a claim or node value read from or written to
	// Redis (bytes); a longer stored value counts as corrupt.
	MaxValueLen = 64 << 10
	// MaxOwners caps how many claims Owners lists; beyond it the listing is
	// truncated (index order: soonest expiry first).
	MaxOwners = 100000
	// MaxNodes caps how many nodes Nodes lists, like MaxOwners.
	MaxNodes = 10000

	// readChunk is how many values one read script call fetches, and
	// renewChunk how many claims one renew script call extends: bounded
	// work per call, so Redis is never blocked for long.
	readChunk  = 500
	renewChunk = 1000
)

var (
	// ErrUnavailable wraps every failure to talk to Redis (network, timeout,
	// closed registry, an error reply).
	ErrUnavailable = errors.New("cluster: registry unavailable")
	// ErrNotFound means the stream key is not claimed.
	ErrNotFound = errors.New("cluster: stream not claimed")
	// ErrBusy means another node holds the stream key (see BusyError).
	ErrBusy = errors.New("cluster: stream claimed by another node")
	// ErrLost means a renew, release or idle change of a claim that is no
	// longer this node's at that epoch (expired, taken over, released).
	ErrLost = errors.New("cluster: claim lost")
	// ErrCorrupt means a stored value is too long, not JSON or incomplete.
	ErrCorrupt = errors.New("cluster: corrupt registry value")
)

// Config configures a Registry. Zero values take the defaults noted.
type Config struct {
	// URL is redis://[user:pass@]host:port/db or rediss://… (TLS);
	// required. Its query options are honoured except the timeouts and
	// retries, which this Config sets.
	URL string
	// Prefix of every key and of the channel; "" means DefaultPrefix.
	Prefix string
	// Lease is a claim's TTL; 0 means DefaultLease.
	Lease time.Duration
	// NodeTTL is a heartbeat's TTL; 0 means Lease.
	NodeTTL time.Duration
	// Timeout bounds each operation (dial, read, write, the whole call);
	// 0 means DefaultTimeout.
	Timeout time.Duration
	// Observe, when set, is called after every operation with its name
	// ("claim", "renew", "release", "idle", "lookup", "owners",
	// "heartbeat", "nodes", "leave", "ping"), its duration and its error.
	// It runs on the caller's goroutine and must be fast.
	Observe func(op string, d time.Duration, err error)
}

// Registry is the origin cluster's shared state in one Redis or Valkey:
// which node holds which stream key (claims with a lease and a fencing
// epoch), which nodes are alive (heartbeats), and a channel announcing every
// ownership change. Data model, under the prefix:
//
//	stream:{key}  claim JSON, PX lease
//	epoch         INCR counter: the fencing epoch of every new claim
//	streams       ZSET key → expiry (unix ms), the listing index
//	node:{id}     NodeInfo JSON, PX node TTL
//	nodes         ZSET id → expiry (unix ms), the listing index
//	owners        pub/sub channel: the stream key of every change
//
// Index entries whose key is gone are removed when listing. Every call is
// bounded by Config.Timeout on top of its context, is not retried (the
// caller retries on its own schedule), and reports any failure to reach
// Redis as ErrUnavailable. Safe for concurrent use.
//
// Epochs only grow while Redis keeps its data. So that they keep growing
// when it does not (a restart without persistence, a failover to a replica
// that missed writes), a missing counter starts at the claiming node's
// clock in unix ms: later epochs then exceed earlier ones as long as the
// cluster made fewer than 1,000 claims a second on average. The registry
// needs one Redis or Valkey (6.0 or later; not Redis Cluster: a script
// touches keys of several slots).
type Registry struct {
	c       *redis.Client
	prefix  string
	lease   time.Duration
	nodeTTL time.Duration
	timeout time.Duration
	observe func(string, time.Duration, error)
}

// NewRegistry checks cfg and builds a Registry; it does no I/O.
func NewRegistry(cfg Config) (*Registry, error) {
	if cfg.URL == "" {
		return nil, errors.New("cluster: redis url is required")
	}
	if cfg.Lease < 0 || cfg.NodeTTL < 0 || cfg.Timeout < 0 {
		return nil, errors.New("cluster: lease, node ttl and timeout must not be negative")
	}
	opt, err := redis.ParseURL(cfg.URL)
	if err != nil {
		// url.Parse errors quote the whole URL, password included.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("cluster: redis url %q: %w", redactURL(cfg.URL), err)
	}
	r := &Registry{
		prefix:  cmp.Or(cfg.Prefix, DefaultPrefix),
		lease:   cmp.Or(cfg.Lease, DefaultLease),
		timeout: cmp.Or(cfg.Timeout, DefaultTimeout),
		observe: cfg.Observe,
	}
	r.nodeTTL = cmp.Or(cfg.NodeTTL, r.lease)
	if r.lease < time.Millisecond || r.nodeTTL < time.Millisecond {
		return nil, errors.New("cluster: lease and node ttl must be at least 1ms")
	}
	opt.DialTimeout, opt.ReadTimeout, opt.WriteTimeout = r.timeout, r.timeout, r.timeout
	opt.PoolTimeout = r.timeout
	opt.ContextTimeoutEnabled = true
	opt.MaxRetries = -1   // no command retries: one attempt per call
	opt.DialerRetries = 1 // no dial retries either
	opt.Protocol = 2      // RESP2: what every Redis, Valkey and proxy speaks
	opt.DisableIdentity = true
	opt.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
	r.c = redis.NewClient(opt)
	return r, nil
}

// Close closes the connections. Cancel every Watch first; calls after Close
// fail with ErrUnavailable.
func (r *Registry) Close() error {
	return r.c.Close()
}

// Ping checks that Redis answers.
func (r *Registry) Ping(ctx context.Context) error {
	return r.do(ctx, "ping", func(ctx context.Context) error {
		return r.unavailable("ping", "", r.c.Ping(ctx).Err())
	})
}

// stored is one value read by read: absent, or its text, or why it is
// unreadable.
type stored struct {
	v      string
	absent bool
	err    error // ErrCorrupt-wrapped
}

// read fetches the values at prefix+kind+member for members through
// scriptRead, in chunks, removing index entries whose key is gone.
func (r *Registry) read(ctx context.Context, op, index, kind string, members []string) ([]stored, error) {
	out := make([]stored, 0, len(members))
	for chunk := range slices.Chunk(members, readChunk) {
		keys := make([]string, 0, 1+len(chunk))
		keys = append(keys, index)
		args := make([]any, 0, 1+len(chunk))
		args = append(args, MaxValueLen)
		for _, m := range chunk {
			keys = append(keys, r.prefix+kind+m)
			args = append(args, m)
		}
		res, err := scriptRead.Run(ctx, r.c, keys, args...).Slice()
		if err != nil {
			return nil, r.unavailable(op, "", err)
		}
		if len(res) != len(chunk) {
			return nil, fmt.Errorf("%s: %d replies for %d keys: %w", op, len(res), len(chunk), ErrUnavailable)
		}
		for _, v := range res {
			switch v := v.(type) {
			case string:
				out = append(out, stored{v: v})
			case int64:
				switch v {
				case 0:
					out = append(out, stored{absent: true})
				case -1:
					out = append(out, stored{err: fmt.Errorf("value longer than %d bytes: %w", MaxValueLen, ErrCorrupt)})
				default:
					out = append(out, stored{err: fmt.Errorf("value is not a string: %w", ErrCorrupt)})
				}
			default:
				out = append(out, stored{err: fmt.Errorf("unexpected reply %T: %w", v, ErrCorrupt)})
			}
		}
	}
	return out, nil
}

// do runs one operation under the Timeout and reports it to Observe. An
// unavailable error that happened after the deadline or a cancellation
// also carries that context error, whatever go-redis made of it (often an
// i/o timeout).
func (r *Registry) do(ctx context.Context, op string, f func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	start := time.Now()
	err := f(ctx)
	if errors.Is(err, ErrUnavailable) {
		cerr := ctx.Err()
		if dl, ok := ctx.Deadline(); cerr == nil && ok && !time.Now().Before(dl) {
			cerr = context.DeadlineExceeded // the socket deadline fired first
		}
		if cerr != nil && !errors.Is(err, cerr) {
			err = fmt.Errorf("%w (%w)", err, cerr)
		}
	}
	if r.observe != nil {
		r.observe(op, time.Since(start), err)
	}
	return err
}

// unavailable wraps a go-redis error (nil stays nil) so that errors.Is
// finds both ErrUnavailable and the cause.
func (r *Registry) unavailable(op, key string, err error) error {
	if err == nil {
		return nil
	}
	if key != "" {
		return fmt.Errorf("%s %q: %w (%w)", op, key, ErrUnavailable, err)
	}
	return fmt.Errorf("%s: %w (%w)", op, ErrUnavailable, err)
}

func (r *Registry) streamKey(key string) string { return r.prefix + "stream:" + key }
func (r *Registry) channel() string             { return r.prefix + "owners" }

func checkKey(key string) error {
	if key == "" || len(key) > MaxKeyLen {
		return fmt.Errorf("cluster: stream key length %d is not in 1..%d", len(key), MaxKeyLen)
	}
	return nil
}

// checkNode also requires UTF-8: node ids travel inside JSON values.
func checkNode(id string) error {
	if id == "" || len(id) > MaxKeyLen {
		return fmt.Errorf("cluster: node id length %d is not in 1..%d", len(id), MaxKeyLen)
	}
	if !utf8.ValidString(id) {
		return fmt.Errorf("cluster: node id %q is not UTF-8", id)
	}
	return nil
}

func nowMS() int64 { return time.Now().UnixMilli() }

// redactURL hides the password of a URL, even one url.Parse rejects.
func redactURL(s string) string {
	if u, err := url.Parse(s); err == nil {
		return u.Redacted()
	}
	i := strings.Index(s, "://")
	if i < 0 {
		return s
	}
	rest := s[i+3:]
	auth := rest
	if j := strings.IndexAny(rest, "/?#"); j >= 0 {
		auth = rest[:j]
	}
	at := strings.LastIndexByte(auth, '@')
	if at < 0 {
		return s
	}
	user, _, hasPass := strings.Cut(auth[:at], ":")
	if !hasPass {
		return s
	}
	return s[:i+3] + user + ":xxxxx" + rest[at:]
}

// Lease is the TTL of the claims this registry makes.
func (r *Registry) Lease() time.Duration { return r.lease }
