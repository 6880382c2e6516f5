//go:build e2e

package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/ripplemedia/ripple/pkg/internal/redistest"
)

// bcClusterInterval is how often the page asks a cluster node for
// /api/v1/cluster (clusterInterval in web/app.js).
const bcClusterInterval = 5 * time.Second

// bcClusterWait bounds what the page shows of the registry: a node's
// heartbeat comes every lease/3 (default lease 10 s) and the page reads it
// every bcClusterInterval; slack for a race-built server on a loaded machine.
const bcClusterWait = 30 * time.Second

// bcNode starts a Ripple node of the cluster coordinated through redisURL.
// Its advertise URL is derived from its bound loopback HTTP address.
func bcNode(t *testing.T, redisURL, id string) *server {
	t.Helper()
	yaml := fmt.Sprintf("cluster:\n  redis_url: %q\n  node_id: %q\n", redisURL, id)
	return startWithConfig(t, id, yaml, false)
}

// bcPageProblems returns what a tab logged as uncaught exceptions, and
// console.error calls too when withErrors.
func bcPageProblems(tb *tab, withErrors bool) []string {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	var out []string
	for _, l := range tb.console {
		if strings.HasPrefix(l, "exception:") || (withErrors && strings.HasPrefix(l, "console.error:")) {
			out = append(out, l)
		}
	}
	return out
}

// bcJS quotes s as a JavaScript string literal (Go's quoting is a subset
// of JSON's for the keys and ids used here).
func bcJS(s string) string { return fmt.Sprintf("%q", s) }

// TestBrowserCluster opens node B's page of a two-node origin cluster while
// a stream is published on node A: the Cluster section lists both nodes
// (B as this node) and the stream with its owner; its Watch button plays
// the stream on B (B pulls it from A), after which the live list on B marks
// the stream "on node node-a" and the cluster list shows it pulled by
// node-b. While Redis is down the page warns about it. The page of a server
// outside a cluster keeps the section hidden and asks /api/v1/cluster once,
// not on a timer.
func TestBrowserCluster(t *testing.T) {
	t.Parallel()
	const key = "live/bcluster"
	rds := redistest.Start(t)
	a := bcNode(t, rds.URL, "node-a")
	b := bcNode(t, rds.URL, "node-b")
	pub := publishForever(t, a, key, mediaPath(t, "h264_aac_gop1s.mp4"))
	a.waitLive(t, key, pub)

	br := startBrowser(t)

	// Outside a cluster: the section stays hidden. This tab stays open
	// while the cluster part runs, which is what shows that it does not
	// poll (checked at the end).
	solo := startServer(t)
	plain := br.newTab(t, "no cluster")
	plain.do(t, "open the page", pageTimeout, chromedp.Navigate(solo.pageURL()))
	opened := time.Now()
	plain.poll(t, "the cluster check answered", 10*time.Second, `window.ripple.clusterChecks > 0`)
	require.False(t, eval[bool](t, plain, "cluster enabled", pageTimeout, `window.ripple.cluster.enabled`))
	require.True(t, eval[bool](t, plain, "section hidden", pageTimeout,
		`document.getElementById('cluster-section').hidden`))

	tb := br.newTab(t, "node-b")
	tb.do(t, "open node B's page", pageTimeout, chromedp.Navigate(b.pageURL()))
	requireLocalLibs(t, tb)
	t.Logf("visibility: node-b tab %s, no-cluster tab %s",
		eval[string](t, tb, "visibility", pageTimeout, `document.visibilityState`),
		eval[string](t, plain, "visibility", pageTimeout, `document.visibilityState`))

	nodeRow := func(id string) string {
		return `document.querySelector('#cluster-nodes tr[data-node=` + bcJS(id) + `]')`
	}
	clusterRow := `document.querySelector('#cluster-streams tr[data-cluster-stream=` + bcJS(key) + `]')`
	liveRow := `document.querySelector('#streams tr[data-stream=` + bcJS(key) + `]')`

	tb.poll(t, "the cluster section shows", 10*time.Second, `!document.getElementById('cluster-section').hidden`)
	require.Equal(t, "This node: node-b. Registry up.",
		eval[string](t, tb, "cluster state", pageTimeout, `document.getElementById('cluster-state').textContent`))
	require.True(t, eval[bool](t, tb, "no registry warning", pageTimeout, `document.getElementById('cluster-warning').hidden`))
	tb.poll(t, "both nodes listed", bcClusterWait, nodeRow("node-a")+` && `+nodeRow("node-b"))
	require.Equal(t, "http://"+a.HTTPAddr, eval[string](t, tb, "node-a's URL", pageTimeout, nodeRow("node-a")+`.querySelector('.url').textContent`))
	require.Equal(t, "http://"+b.HTTPAddr, eval[string](t, tb, "node-b's URL", pageTimeout, nodeRow("node-b")+`.querySelector('.url').textContent`))
	require.True(t, eval[bool](t, tb, "node-b is this node", pageTimeout,
		`!`+nodeRow("node-b")+`.querySelector('.self-marker').hidden && `+nodeRow("node-a")+`.querySelector('.self-marker').hidden`))
	tb.poll(t, "node-a reports its stream", bcClusterWait, nodeRow("node-a")+`.querySelector('.streams').textContent === '1'`)

	tb.poll(t, "the stream is listed", bcClusterWait, clusterRow)
	require.Equal(t, "node-a", eval[string](t, tb, "owner", pageTimeout, clusterRow+`.querySelector('.owner .id').textContent`))
	require.Equal(t, "live", eval[string](t, tb, "state", pageTimeout, clusterRow+`.querySelector('.state').textContent`))
	require.Equal(t, "–", eval[string](t, tb, "pulled by", pageTimeout, clusterRow+`.querySelector('.pulled').textContent`))
	// Nothing plays it on B yet, so B does not pull it.
	require.False(t, eval[bool](t, tb, "not live on B", pageTimeout, `!!`+liveRow))

	tb.do(t, "press Watch in the cluster list", pageTimeout,
		chromedp.Click(chromedp.CSS(`#cluster-streams tr[data-cluster-stream="`+key+`"] button`)))
	res := eval[playResult](t, tb, "watch playback", browserPlayTimeout+5*time.Second,
		fmt.Sprintf(watchPlayback, playAdvance.Seconds(), browserPlayTimeout.Milliseconds()))
	t.Logf("%s with %s: first frame after %.0f ms, currentTime %.2f → %.2f s in %.0f ms wall",
		res.URL, res.Engine, res.FirstFrameMS, res.Start, res.End, res.AdvanceMS)
	if len(res.Errors) > 0 {
		t.Logf("player errors: %s", describeErrors(res.Errors))
	}
	require.True(t, res.OK, "%s (state: %+v)", res.Reason, res)
	require.Equal(t, "ws", res.Protocol, "the form's default protocol")
	require.Contains(t, res.URL, "//"+b.HTTPAddr+"/"+key+".flv", "played from node B")
	require.Positive(t, res.Width, "no decoded video")
	require.Equal(t, key, eval[string](t, tb, "stream selected in the form", pageTimeout,
		`document.getElementById('app').value + '/' + document.getElementById('stream').value`))

	// B plays it through a pull from A: its live list has the stream,
	// marked as living on node-a.
	var st struct {
		Publisher struct {
			Protocol string `json:"protocol"`
		} `json:"publisher"`
	}
	b.apiGet(t, "/api/v1/streams/"+key, &st)
	require.Equal(t, "relay", st.Publisher.Protocol, "node B pulls the stream")
	tb.poll(t, "the live list marks the stream's node", bcClusterWait,
		liveRow+`?.querySelector('.on-node:not([hidden])')?.textContent === 'on node node-a'`)
	tb.poll(t, "the cluster list shows node-b pulling", bcClusterWait,
		clusterRow+`.querySelector('.pulled').textContent === '1 (node-b)'`)
	tb.screenshot(t, "cluster.png")
	tb.do(t, "phone viewport", pageTimeout, chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile))
	tb.screenshot(t, "cluster-phone.png")
	tb.do(t, "desktop viewport", pageTimeout, chromedp.EmulateReset())

	// Redis goes away: the page says so (and keeps the lists it had);
	// when it is back, the warning goes.
	warning := `document.getElementById('cluster-warning')`
	rds.Kill()
	tb.poll(t, "the registry warning shows", bcClusterWait, `!`+warning+`.hidden && `+warning+`.textContent.includes('registry')`)
	t.Logf("registry down: %s", eval[string](t, tb, "warning", pageTimeout, warning+`.textContent`))
	require.Equal(t, "This node: node-b. Registry down.",
		eval[string](t, tb, "cluster state", pageTimeout, `document.getElementById('cluster-state').textContent`))
	require.True(t, eval[bool](t, tb, "lists kept", pageTimeout, `!!`+clusterRow+` && !!`+nodeRow("node-a")))
	tb.screenshot(t, "cluster-registry-down.png")
	rds.Restart(t)
	tb.poll(t, "the registry warning goes", bcClusterWait, warning+`.hidden`)
	require.Equal(t, "This node: node-b. Registry up.",
		eval[string](t, tb, "cluster state", pageTimeout, `document.getElementById('cluster-state').textContent`))
	require.Empty(t, bcPageProblems(tb, false), "node B's page threw")

	// The page outside a cluster asked once in all this time. Node B's
	// page, opened after it, is the clock: once it has refreshed twice on
	// its timer, a page polling at the same interval would have asked again.
	tb.poll(t, "node B's page refreshed twice on its timer", 3*bcClusterInterval, `window.ripple.clusterChecks >= 3`)
	waited := time.Since(opened)

	// A hidden page stops asking; shown again, it asks at once and resumes.
	// (Headless tabs stay visible: the test stands in for the browser.)
	require.True(t, eval[bool](t, tb, "polling", pageTimeout, `window.ripple.clusterPolling`))
	require.False(t, eval[bool](t, tb, "hide the page", pageTimeout, `(() => {
  Object.defineProperty(document, 'hidden', { configurable: true, get: () => true });
  document.dispatchEvent(new Event('visibilitychange'));
  return window.ripple.clusterPolling;
})()`))
	checks := eval[int](t, tb, "checks", pageTimeout, `window.ripple.clusterChecks`)
	require.True(t, eval[bool](t, tb, "show the page", pageTimeout, `(() => {
  Object.defineProperty(document, 'hidden', { configurable: true, get: () => false });
  document.dispatchEvent(new Event('visibilitychange'));
  return window.ripple.clusterPolling;
})()`))
	tb.poll(t, "shown again, the page asks at once", 10*time.Second, fmt.Sprintf(`window.ripple.clusterChecks > %d`, checks))
	require.Equal(t, 1, eval[int](t, plain, "cluster requests", pageTimeout,
		`performance.getEntriesByType('resource').filter((e) => new URL(e.name).pathname === '/api/v1/cluster').length`),
		"requests of /api/v1/cluster in %s", waited.Round(time.Second))
	require.Equal(t, 1, eval[int](t, plain, "cluster checks", pageTimeout, `window.ripple.clusterChecks`))
	require.True(t, eval[bool](t, plain, "section still hidden", pageTimeout,
		`document.getElementById('cluster-section').hidden`))
	require.Empty(t, bcPageProblems(plain, true), "the page outside a cluster logged errors")
}
