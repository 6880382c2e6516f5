package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
)

// NodeInfo is what a node announces in its heartbeat.
type NodeInfo struct {
	ID       string
	URL      string // where other nodes pull its streams (HTTP-FLV base)
	Started  time.Time
	Seen     time.Time // set by Heartbeat to the writer's clock
	Streams  int
	Players  int
	BytesOut uint64
	Pulls    []string // keys this node pulls from others
}

// nodeJSON is the stored NodeInfo; times are unix ms.
type nodeJSON struct {
	ID       string   `json:"id"`
	URL      string   `json:"url"`
	Started  int64    `json:"started"`
	Seen     int64    `json:"seen"`
	Streams  int      `json:"streams"`
	Players  int      `json:"players"`
	BytesOut uint64   `json:"bytesOut"`
	Pulls    []string `json:"pulls,omitempty"`
}

// Heartbeat writes n (with Seen set to now) under its ID for NodeTTL and
// refreshes its index entry. An encoding longer than MaxValueLen (a huge
// Pulls list) is refused before any I/O.
func (r *Registry) Heartbeat(ctx context.Context, n NodeInfo) error {
	return r.do(ctx, "heartbeat", func(ctx context.Context) error {
		if err := checkNode(n.ID); err != nil {
			return err
		}
		now := time.Now()
		b, err := json.Marshal(nodeJSON{
			ID: n.ID, URL: n.URL, Started: n.Started.UnixMilli(), Seen: now.UnixMilli(),
			Streams: n.Streams, Players: n.Players, BytesOut: n.BytesOut, Pulls: n.Pulls,
		})
		if err != nil {
			return fmt.Errorf("heartbeat %q: %w", n.ID, err)
		}
		if len(b) > MaxValueLen {
			return fmt.Errorf("cluster: heartbeat %q: node info of %d bytes exceeds %d", n.ID, len(b), MaxValueLen)
		}
		err = scriptHeartbeat.Run(ctx, r.c, []string{r.prefix + "node:" + n.ID, r.prefix + "nodes"},
			b, r.nodeTTL.Milliseconds(), n.ID, now.Add(r.nodeTTL).UnixMilli()).Err()
		return r.unavailable("heartbeat", n.ID, err)
	})
}

// Leave removes node id's entry, for a clean shutdown. Its claims are
// released separately (Release) or expire.
func (r *Registry) Leave(ctx context.Context, id string) error {
	return r.do(ctx, "leave", func(ctx context.Context) error {
		if err := checkNode(id); err != nil {
			return err
		}
		err := scriptLeave.Run(ctx, r.c, []string{r.prefix + "node:" + id, r.prefix + "nodes"}, id).Err()
		return r.unavailable("leave", id, err)
	})
}

// Nodes returns the live nodes sorted by ID, at most MaxNodes of them;
// corrupt entries are left out.
func (r *Registry) Nodes(ctx context.Context) ([]NodeInfo, error) {
	var out []NodeInfo
	err := r.do(ctx, "nodes", func(ctx context.Context) error {
		ids, err := r.c.ZRange(ctx, r.prefix+"nodes", 0, MaxNodes-1).Result()
		if err != nil {
			return r.unavailable("nodes", "", err)
		}
		ids = slices.DeleteFunc(ids, func(id string) bool { return checkNode(id) != nil })
		vals, err := r.read(ctx, "nodes", r.prefix+"nodes", "node:", ids)
		if err != nil {
			return err
		}
		out = make([]NodeInfo, 0, len(ids))
		for i, v := range vals {
			if v.absent || v.err != nil {
				continue
			}
			var n nodeJSON
			if json.Unmarshal([]byte(v.v), &n) != nil || n.ID != ids[i] {
				continue
			}
			out = append(out, NodeInfo{
				ID: n.ID, URL: n.URL, Started: time.UnixMilli(n.Started), Seen: time.UnixMilli(n.Seen),
				Streams: n.Streams, Players: n.Players, BytesOut: n.BytesOut, Pulls: n.Pulls,
			})
		}
		slices.SortFunc(out, func(a, b NodeInfo) int { return strings.Compare(a.ID, b.ID) })
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
