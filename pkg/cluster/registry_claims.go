package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"time"
	"unicode/utf8"
)

// Claim replacement policies; a positive value is an epoch (Claim).
const (
	ReplaceNone int64 = 0
	ReplaceAny  int64 = -1
)

// Owner is the holder of a stream key.
type Owner struct {
	Node  string
	URL   string
	Epoch int64 // fencing epoch, from one counter for all keys
	Since time.Time
	Idle  bool
}

// BusyError is returned by Claim when another node holds the key;
// errors.Is(err, ErrBusy) is true.
type BusyError struct{ Owner Owner }

func (e *BusyError) Error() string {
	return fmt.Sprintf("%v: node %q at epoch %d", ErrBusy, e.Owner.Node, e.Owner.Epoch)
}

// Is makes errors.Is(err, ErrBusy) true.
func (e *BusyError) Is(target error) bool { return target == ErrBusy }

// Claim claims key for node, reachable at url. replace says what it may
// replace:
//   - ReplaceNone: only a free key, a key this node already holds, or an
//     idle claim of another node;
//   - ReplaceAny: any holder (a takeover);
//   - N > 0: only a claim at epoch N (compare-and-swap, for an owner that
//     the caller saw at epoch N and found dead), or a free key.
//
// Whatever replace says, a key this node already holds is renewed and
// keeps its epoch and since, with its url updated and idle cleared; a new
// claim or a takeover gets the next epoch. A corrupt stored claim counts as
// free. Claim returns this node's Owner and, when another node's claim was
// replaced, that previous owner. A key held by another node and not
// replaceable gives a *BusyError with the current owner.
func (r *Registry) Claim(ctx context.Context, key, node, url string, replace int64) (Owner, *Owner, error) {
	var own Owner
	var prev *Owner
	err := r.do(ctx, "claim", func(ctx context.Context) error {
		if err := checkKey(key); err != nil {
			return err
		}
		if err := checkNode(node); err != nil {
			return err
		}
		if len(url) > MaxKeyLen || !utf8.ValidString(url) {
			return fmt.Errorf("cluster: url %.64q is longer than %d bytes or not UTF-8", url, MaxKeyLen)
		}
		if replace < ReplaceAny {
			return fmt.Errorf("cluster: claim replace %d is not -1, 0 or an epoch", replace)
		}
		res, err := scriptClaim.Run(ctx, r.c,
			[]string{r.streamKey(key), r.prefix + "epoch", r.prefix + "streams"},
			key, node, url, replace, nowMS(), r.lease.Milliseconds(), r.channel(), MaxValueLen,
		).StringSlice()
		if err != nil {
			return r.unavailable("claim", key, err)
		}
		if len(res) != 3 {
			return fmt.Errorf("claim %q: unexpected reply %q: %w", key, res, ErrUnavailable)
		}
		o, err := decodeOwner(res[1])
		if err != nil {
			return fmt.Errorf("claim %q: %w", key, err)
		}
		if res[0] == "busy" {
			return &BusyError{Owner: o}
		}
		own = o
		if res[2] != "" {
			if p, err := decodeOwner(res[2]); err == nil {
				prev = &p
			}
		}
		return nil
	})
	return own, prev, err
}

// Renew extends the leases of node's claims (key → epoch) in one script
// call per 1,000 claims. lost lists, sorted, the keys no longer held by
// node at that epoch (expired, taken over, released, invalid); they are not
// recreated.
func (r *Registry) Renew(ctx context.Context, node string, claims map[string]int64) (lost []string, err error) {
	err = r.do(ctx, "renew", func(ctx context.Context) error {
		if err := checkNode(node); err != nil {
			return err
		}
		keys := make([]string, 0, len(claims))
		for k := range claims {
			if checkKey(k) != nil {
				lost = append(lost, k)
				continue
			}
			keys = append(keys, k)
		}
		slices.Sort(keys)
		now, lease := nowMS(), r.lease.Milliseconds()
		for chunk := range slices.Chunk(keys, renewChunk) {
			rkeys := make([]string, 0, 1+len(chunk))
			rkeys = append(rkeys, r.prefix+"streams")
			args := make([]any, 0, 4+2*len(chunk))
			args = append(args, node, now, lease, MaxValueLen)
			for _, k := range chunk {
				rkeys = append(rkeys, r.streamKey(k))
				args = append(args, claims[k], k)
			}
			idx, err := scriptRenew.Run(ctx, r.c, rkeys, args...).Int64Slice()
			if err != nil {
				return r.unavailable("renew", "", err)
			}
			for _, i := range idx {
				if i >= 1 && int(i) <= len(chunk) {
					lost = append(lost, chunk[i-1])
				}
			}
		}
		slices.Sort(lost)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return lost, nil
}

// SetIdle sets or clears the idle flag of node's claim of key at epoch
// (an idle claim may be taken by another node with ReplaceNone). A change
// is announced; setting the flag it already has is not. ErrLost if the
// claim is not node's at epoch.
func (r *Registry) SetIdle(ctx context.Context, key, node string, epoch int64, idle bool) error {
	return r.do(ctx, "idle", func(ctx context.Context) error {
		if err := checkKey(key); err != nil {
			return err
		}
		flag := "0"
		if idle {
			flag = "1"
		}
		n, err := scriptIdle.Run(ctx, r.c, []string{r.streamKey(key)},
			node, epoch, flag, MaxValueLen, r.channel(), key).Int64()
		if err != nil {
			return r.unavailable("idle", key, err)
		}
		if n != 1 {
			return fmt.Errorf("idle %q: %w", key, ErrLost)
		}
		return nil
	})
}

// Release deletes node's claim of key if it is still node's at epoch, and
// announces it. Otherwise, including when the key is already free, it
// returns ErrLost and changes nothing.
func (r *Registry) Release(ctx context.Context, key, node string, epoch int64) error {
	return r.do(ctx, "release", func(ctx context.Context) error {
		if err := checkKey(key); err != nil {
			return err
		}
		n, err := scriptRelease.Run(ctx, r.c, []string{r.streamKey(key), r.prefix + "streams"},
			node, epoch, MaxValueLen, r.channel(), key).Int64()
		if err != nil {
			return r.unavailable("release", key, err)
		}
		if n != 1 {
			return fmt.Errorf("release %q: %w", key, ErrLost)
		}
		return nil
	})
}

// Lookup returns the owner of key: ErrNotFound when it is free, ErrCorrupt
// when the stored claim is unreadable.
func (r *Registry) Lookup(ctx context.Context, key string) (Owner, error) {
	var o Owner
	err := r.do(ctx, "lookup", func(ctx context.Context) error {
		if err := checkKey(key); err != nil {
			return err
		}
		vals, err := r.read(ctx, "lookup", r.prefix+"streams", "stream:", []string{key})
		if err != nil {
			return err
		}
		switch v := vals[0]; {
		case v.absent:
			return fmt.Errorf("lookup %q: %w", key, ErrNotFound)
		case v.err != nil:
			return fmt.Errorf("lookup %q: %w", key, v.err)
		}
		if o, err = decodeOwner(vals[0].v); err != nil {
			return fmt.Errorf("lookup %q: %w", key, err)
		}
		return nil
	})
	return o, err
}

// Owners returns every live claim, at most MaxOwners of them; corrupt
// claims are left out.
func (r *Registry) Owners(ctx context.Context) (map[string]Owner, error) {
	var out map[string]Owner
	err := r.do(ctx, "owners", func(ctx context.Context) error {
		keys, err := r.c.ZRange(ctx, r.prefix+"streams", 0, MaxOwners-1).Result()
		if err != nil {
			return r.unavailable("owners", "", err)
		}
		keys = slices.DeleteFunc(keys, func(k string) bool { return checkKey(k) != nil })
		vals, err := r.read(ctx, "owners", r.prefix+"streams", "stream:", keys)
		if err != nil {
			return err
		}
		out = make(map[string]Owner, len(keys))
		for i, v := range vals {
			if v.absent || v.err != nil {
				continue
			}
			if o, err := decodeOwner(v.v); err == nil {
				out[keys[i]] = o
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// claimJSON is the stored claim. Numbers decode as float64, as Lua sees
// them, so that both sides agree on what is valid (see luaLoad).
type claimJSON struct {
	Node  string  `json:"node"`
	URL   string  `json:"url"`
	Epoch float64 `json:"epoch"`
	Since float64 `json:"since"` // unix ms
	Idle  bool    `json:"idle"`
}

// maxExact is 2^53, past which float64 (and Lua) integers are inexact.
const maxExact = 1 << 53

func decodeOwner(s string) (Owner, error) {
	if len(s) > MaxValueLen {
		return Owner{}, fmt.Errorf("claim of %d bytes exceeds %d: %w", len(s), MaxValueLen, ErrCorrupt)
	}
	var c claimJSON
	if err := json.Unmarshal([]byte(s), &c); err != nil {
		return Owner{}, fmt.Errorf("claim: %w (%w)", ErrCorrupt, err)
	}
	if c.Node == "" || !integral(c.Epoch) || c.Epoch < 1 || !integral(c.Since) {
		return Owner{}, fmt.Errorf("claim without node, integer epoch or since: %w", ErrCorrupt)
	}
	return Owner{Node: c.Node, URL: c.URL, Epoch: int64(c.Epoch), Since: time.UnixMilli(int64(c.Since)), Idle: c.Idle}, nil
}

func integral(f float64) bool {
	return f == math.Trunc(f) && f > -maxExact && f < maxExact
}
