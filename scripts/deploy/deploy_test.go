// Package deploy checks the deployment examples in this directory: the
// Kubernetes manifests parse, their Ripple configs load (with the pod's env
// applied), the probes, preStop and grace period fit Ripple's shutdown,
// Services select the pods, the cluster's Redis and advertised address
// resolve; and the nginx example passes `nginx -t`.
package deploy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/ripplemedia/ripple/pkg/config"
)

// The parts of the Kubernetes objects the checks read.
type object struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	Metadata   struct {
		Name   string            `yaml:"name"`
		Labels map[string]string `yaml:"labels"`
	} `yaml:"metadata"`
	Data map[string]string `yaml:"data"` // ConfigMap
	Spec struct {
		// Deployment (and PodDisruptionBudget: selector)
		Replicas *int          `yaml:"replicas"`
		Selector labelSelector `yaml:"selector"`
		Strategy struct {
			Type string `yaml:"type"`
		} `yaml:"strategy"`
		Template struct {
			Metadata struct {
				Labels map[string]string `yaml:"labels"`
			} `yaml:"metadata"`
			Spec podSpec `yaml:"spec"`
		} `yaml:"template"`
		// Service (its selector is a plain map, unlike a Deployment's)
		Type  string        `yaml:"type"`
		Ports []servicePort `yaml:"ports"`
		// NetworkPolicy
		PodSelector labelSelector `yaml:"podSelector"`
		PolicyTypes []string      `yaml:"policyTypes"`
		Ingress     []struct {
			From []struct {
				PodSelector *labelSelector `yaml:"podSelector"`
			} `yaml:"from"`
			Ports []struct {
				Port any `yaml:"port"` // a name or a number
			} `yaml:"ports"`
		} `yaml:"ingress"`
	} `yaml:"spec"`
	raw map[string]any
}

type labelSelector struct {
	MatchLabels map[string]string `yaml:"matchLabels"`
}

type podSpec struct {
	TerminationGracePeriodSeconds *int        `yaml:"terminationGracePeriodSeconds"`
	Containers                    []container `yaml:"containers"`
	Volumes                       []struct {
		Name      string `yaml:"name"`
		ConfigMap struct {
			Name string `yaml:"name"`
		} `yaml:"configMap"`
	} `yaml:"volumes"`
}

type container struct {
	Name  string   `yaml:"name"`
	Image string   `yaml:"image"`
	Args  []string `yaml:"args"`
	Env   []envVar `yaml:"env"`
	Ports []struct {
		Name          string `yaml:"name"`
		ContainerPort int    `yaml:"containerPort"`
	} `yaml:"ports"`
	ReadinessProbe *probe `yaml:"readinessProbe"`
	LivenessProbe  *probe `yaml:"livenessProbe"`
	Lifecycle      struct {
		PreStop *struct {
			Sleep *struct {
				Seconds int `yaml:"seconds"`
			} `yaml:"sleep"`
			Exec *struct {
				Command []string `yaml:"command"`
			} `yaml:"exec"`
		} `yaml:"preStop"`
	} `yaml:"lifecycle"`
	VolumeMounts []struct {
		Name      string `yaml:"name"`
		MountPath string `yaml:"mountPath"`
	} `yaml:"volumeMounts"`
}

type envVar struct {
	Name      string  `yaml:"name"`
	Value     *string `yaml:"value"`
	ValueFrom *struct {
		FieldRef *struct {
			FieldPath string `yaml:"fieldPath"`
		} `yaml:"fieldRef"`
		SecretKeyRef *struct {
			Name string `yaml:"name"`
			Key  string `yaml:"key"`
		} `yaml:"secretKeyRef"`
	} `yaml:"valueFrom"`
}

type probe struct {
	HTTPGet *struct {
		Path string `yaml:"path"`
		Port any    `yaml:"port"` // a name or a number
	} `yaml:"httpGet"`
}

type servicePort struct {
	Name       string `yaml:"name"`
	Port       int    `yaml:"port"`
	TargetPort any    `yaml:"targetPort"`
}

// loadObjects parses every document of every k8s/*.yaml file.
func loadObjects(t *testing.T) []object {
	t.Helper()
	files, err := filepath.Glob("k8s/*.yaml")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	var objs []object
	for _, f := range files {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		dec := yaml.NewDecoder(bytes.NewReader(b))
		for i := 0; ; i++ {
			var node yaml.Node
			err := dec.Decode(&node)
			if errors.Is(err, io.EOF) {
				break
			}
			require.NoError(t, err, "%s document %d", f, i)
			var o object
			require.NoError(t, node.Decode(&o), "%s document %d", f, i)
			require.NoError(t, node.Decode(&o.raw), "%s document %d", f, i)
			require.NotEmpty(t, o.APIVersion, "%s document %d: apiVersion", f, i)
			require.NotEmpty(t, o.Kind, "%s document %d: kind", f, i)
			require.NotEmpty(t, o.Metadata.Name, "%s document %d: metadata.name", f, i)
			objs = append(objs, o)
		}
	}
	return objs
}

func byKind(objs []object, kind string) map[string]object {
	out := make(map[string]object)
	for _, o := range objs {
		if o.Kind == kind {
			out[o.Metadata.Name] = o
		}
	}
	return out
}

// Sample values of the downward-API fields, as the kubelet would give a pod.
var sampleFields = map[string]string{
	"metadata.name":      "ripple-cluster-5f7d9c8b6-x2k8p",
	"metadata.namespace": "default",
	"status.podIP":       "10.244.1.17",
	"status.hostIP":      "192.0.2.10",
	"spec.nodeName":      "node-1",
}

type envEntry struct{ name, value string }

// podEnv emulates the container's environment as the kubelet builds it: the
// entries in order, literal values with $(VAR) references to the entries
// before them expanded, downward-API fields and Secrets replaced by sample
// values. A reference to nothing (a typo, or an entry defined later) fails
// the test: Kubernetes would leave "$(VAR)" in the value as is.
func podEnv(t *testing.T, c container) []envEntry {
	t.Helper()
	var env []envEntry
	defined := map[string]string{}
	for _, e := range c.Env {
		var v string
		switch {
		case e.Value != nil:
			var unresolved []string
			v, unresolved = expandEnv(*e.Value, defined)
			require.Empty(t, unresolved, "env %s: references to no earlier entry", e.Name)
		case e.ValueFrom != nil && e.ValueFrom.FieldRef != nil:
			sample, ok := sampleFields[e.ValueFrom.FieldRef.FieldPath]
			require.True(t, ok, "env %s: no sample value for field %q", e.Name, e.ValueFrom.FieldRef.FieldPath)
			v = sample
		case e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil:
			v = "sample-" + e.ValueFrom.SecretKeyRef.Name + "-" + e.ValueFrom.SecretKeyRef.Key
		default:
			t.Fatalf("env %s: a source podEnv cannot emulate", e.Name)
		}
		env = append(env, envEntry{e.Name, v})
		defined[e.Name] = v
	}
	return env
}

// expandEnv expands $(VAR) in s from vars the way Kubernetes expands env
// values, command and args: "$$" is a literal "$", a reference to a name not
// in vars stays as written (its name is returned in unresolved), a "$" before
// anything else is kept.
func expandEnv(s string, vars map[string]string) (out string, unresolved []string) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '$' || i+1 == len(s) {
			b.WriteByte(s[i])
			continue
		}
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			i++
		case '(':
			end := strings.IndexByte(s[i+2:], ')')
			if end < 0 {
				b.WriteString(s[i:])
				return b.String(), unresolved
			}
			name := s[i+2 : i+2+end]
			if v, ok := vars[name]; ok {
				b.WriteString(v)
			} else {
				b.WriteString(s[i : i+3+end])
				unresolved = append(unresolved, name)
			}
			i += 2 + end
		default:
			b.WriteByte('$')
		}
	}
	return b.String(), unresolved
}

func TestExpandEnv(t *testing.T) {
	vars := map[string]string{"POD_IP": "10.0.0.5", "EMPTY": ""}
	for _, tc := range []struct {
		in, out    string
		unresolved []string
	}{
		{"http://$(POD_IP):8080", "http://10.0.0.5:8080", nil},
		{"$(POD_IP)$(EMPTY)$(POD_IP)", "10.0.0.510.0.0.5", nil},
		{"$$(POD_IP) $$ $x $", "$(POD_IP) $ $x $", nil},
		{"http://$(POD_NAME):8080", "http://$(POD_NAME):8080", []string{"POD_NAME"}},
		{"$(POD_IP", "$(POD_IP", nil},
	} {
		out, unresolved := expandEnv(tc.in, vars)
		require.Equal(t, tc.out, out, tc.in)
		require.Equal(t, tc.unresolved, unresolved, tc.in)
	}
}

// loadConfig runs a ConfigMap's ripple.yaml through config.Load, exactly as
// the container does with -c, in the container's environment env (podEnv).
func loadConfig(t *testing.T, cm object, env []envEntry) config.Config {
	t.Helper()
	body, ok := cm.Data["ripple.yaml"]
	require.True(t, ok, "ConfigMap %s has no ripple.yaml", cm.Metadata.Name)
	path := filepath.Join(t.TempDir(), "ripple.yaml")
	require.NoError(t, os.WriteFile(path, []byte(body), 0o600))
	for _, kv := range os.Environ() { // the machine's RIPPLE_* must not leak in
		if name, _, _ := strings.Cut(kv, "="); strings.HasPrefix(name, config.EnvPrefix+"_") {
			t.Setenv(name, "")
		}
	}
	for _, e := range env {
		t.Setenv(e.name, e.value)
	}
	cfg, err := config.Load(path, nil)
	require.NoError(t, err, "ConfigMap %s: ripple.yaml", cm.Metadata.Name)
	return cfg
}

// containerPorts maps a container's port names to their numbers.
func containerPorts(c container) map[string]int {
	ports := map[string]int{}
	for _, p := range c.Ports {
		ports[p.Name] = p.ContainerPort
	}
	return ports
}

// serviceSelector is a Service's selector (a plain map, unlike a
// Deployment's).
func serviceSelector(svc object) map[string]any {
	sel, _ := svc.raw["spec"].(map[string]any)["selector"].(map[string]any)
	return sel
}

func TestManifests(t *testing.T) {
	objs := loadObjects(t)
	deployments := byKind(objs, "Deployment")
	services := byKind(objs, "Service")
	configMaps := byKind(objs, "ConfigMap")
	pdbs := byKind(objs, "PodDisruptionBudget")

	components := map[string]bool{}
	for name, d := range deployments {
		t.Run(name, func(t *testing.T) {
			spec := d.Spec.Template.Spec
			podLabels := d.Spec.Template.Metadata.Labels
			require.NotEmpty(t, d.Spec.Selector.MatchLabels, "selector")
			require.True(t, matchLabels(d.Spec.Selector.MatchLabels, podLabels), "selector must match the pod template")

			require.Len(t, spec.Containers, 1)
			c := spec.Containers[0]
			ports := containerPorts(c)

			// At least one Service selects these pods, on ports they have.
			selected := 0
			for _, svc := range services {
				if !matches(serviceSelector(svc), podLabels) {
					continue
				}
				selected++
				for _, p := range svc.Spec.Ports {
					name, isName := p.TargetPort.(string)
					require.True(t, isName, "Service %s: targetPort by name", svc.Metadata.Name)
					_, ok := ports[name]
					require.True(t, ok, "Service %s targets port %q the container does not have", svc.Metadata.Name, name)
				}
			}
			require.Positive(t, selected, "no Service selects the pods of %s", name)

			if d.Metadata.Labels["app.kubernetes.io/name"] != "ripple" {
				return // a dependency (Redis): checked from the Ripple side
			}
			components[d.Metadata.Labels["app.kubernetes.io/component"]] = true
			require.Equal(t, map[string]int{"rtmp": 1935, "http": 8080}, ports)

			require.NotNil(t, c.ReadinessProbe, "readinessProbe")
			require.NotNil(t, c.ReadinessProbe.HTTPGet, "readinessProbe.httpGet")
			require.Equal(t, "/readyz", c.ReadinessProbe.HTTPGet.Path)
			require.Equal(t, "http", c.ReadinessProbe.HTTPGet.Port)
			require.NotNil(t, c.LivenessProbe, "livenessProbe")
			require.Equal(t, "/healthz", c.LivenessProbe.HTTPGet.Path,
				"liveness must stay 200 while draining: /healthz, not /readyz")

			// preStop must delay SIGTERM, never replace it: no exec that
			// kills the process (and distroless has no shell anyway).
			pre := c.Lifecycle.PreStop
			require.NotNil(t, pre, "lifecycle.preStop")
			require.NotNil(t, pre.Sleep, "preStop must be a sleep action (the image has no shell)")
			require.Nil(t, pre.Exec)
			require.Positive(t, pre.Sleep.Seconds)

			// The container reads its config from the mounted ConfigMap.
			require.Equal(t, []string{"-c", "/etc/ripple/ripple.yaml"}, c.Args)
			var cmName string
			for _, m := range c.VolumeMounts {
				if m.MountPath == "/etc/ripple" {
					for _, v := range spec.Volumes {
						if v.Name == m.Name {
							cmName = v.ConfigMap.Name
						}
					}
				}
			}
			cm, ok := configMaps[cmName]
			require.True(t, ok, "ConfigMap %q mounted at /etc/ripple is not defined", cmName)
			cfg := loadConfig(t, cm, podEnv(t, c))
			require.Equal(t, ":8080", cfg.HTTP.Listen)
			require.Equal(t, ":1935", cfg.RTMP.Listen)

			// Kubernetes sends SIGKILL after terminationGracePeriodSeconds,
			// counted from the start of preStop.
			require.NotNil(t, spec.TerminationGracePeriodSeconds, "terminationGracePeriodSeconds")
			grace := time.Duration(*spec.TerminationGracePeriodSeconds) * time.Second
			need := time.Duration(pre.Sleep.Seconds)*time.Second + cfg.ShutdownDelay + cfg.ShutdownTimeout
			require.Greater(t, grace, need,
				"terminationGracePeriodSeconds %s must exceed preStop %ds + shutdown_delay %s + shutdown_timeout %s",
				grace, pre.Sleep.Seconds, cfg.ShutdownDelay, cfg.ShutdownTimeout)
			require.Positive(t, cfg.ShutdownDelay, "a shutdown_delay lets load balancers see /readyz fail")

			// Several replicas: node drains take them one at a time.
			if d.Spec.Replicas != nil && *d.Spec.Replicas > 1 {
				covered := false
				for _, pdb := range pdbs {
					covered = covered || matchLabels(pdb.Spec.Selector.MatchLabels, podLabels)
				}
				require.True(t, covered, "no PodDisruptionBudget selects the %d replicas of %s", *d.Spec.Replicas, name)
			}

			if cfg.Cluster.Enabled() {
				checkCluster(t, objs, d, cfg)
			}
		})
	}
	require.True(t, components["origin"], "an origin Deployment")
	require.True(t, components["edge"], "an edge Deployment")
	require.True(t, components["cluster"], "an origin cluster Deployment")
}

// checkCluster checks a Deployment of clustered origins (cfg, loaded in its
// pod's environment): the nodes pull from each other at the advertised pod
// address, encoders and players each have a Service, the Redis of redis_url
// is a Service of these manifests backed by exactly one Redis pod, and
// network policies let the traffic through.
func checkCluster(t *testing.T, objs []object, d object, cfg config.Config) {
	t.Helper()
	podLabels := d.Spec.Template.Metadata.Labels
	ports := containerPorts(d.Spec.Template.Spec.Containers[0])
	require.NotNil(t, d.Spec.Replicas)
	require.GreaterOrEqual(t, *d.Spec.Replicas, 2, "a cluster of one is an origin")

	// Each node advertises its own pod address on its HTTP port: a
	// Service address would send the pulls to any node.
	adv, err := url.Parse(cfg.Cluster.AdvertiseURL)
	require.NoError(t, err)
	require.Equal(t, "http", adv.Scheme, "cluster.advertise_url")
	require.Equal(t, sampleFields["status.podIP"], adv.Hostname(),
		"cluster.advertise_url %s must be the pod IP (downward API status.podIP)", cfg.Cluster.AdvertiseURL)
	require.Equal(t, fmt.Sprint(ports["http"]), adv.Port(),
		"cluster.advertise_url %s must use the container's http port", cfg.Cluster.AdvertiseURL)
	require.Equal(t, sampleFields["metadata.name"], cfg.Cluster.NodeID, "cluster.node_id from the pod name")
	require.True(t, allowed(objs, podLabels, podLabels, "http", ports["http"]),
		"a NetworkPolicy keeps the nodes from pulling from each other on port %d", ports["http"])

	// A publisher moving to another pod (or waiting out a crashed pod's
	// lease) must find its players still attached.
	require.Greater(t, cfg.Hub.ReconnectGrace, cfg.Cluster.Lease, "hub.reconnect_grace must exceed cluster.lease")
	if cfg.HLS.Enabled {
		require.True(t, cfg.HLS.OnDemand, "an HLS player on a node must start the pull (hls.on_demand)")
	}

	// One Service for encoders (RTMP load balancer), one for players.
	var rtmpLB, httpSvc bool
	for _, svc := range byKind(objs, "Service") {
		if !matches(serviceSelector(svc), podLabels) {
			continue
		}
		for _, p := range svc.Spec.Ports {
			switch p.TargetPort {
			case "rtmp":
				rtmpLB = rtmpLB || svc.Spec.Type == "LoadBalancer"
			case "http":
				httpSvc = true
				affinity, _ := svc.raw["spec"].(map[string]any)["sessionAffinity"].(string)
				require.Equal(t, "ClientIP", affinity,
					"Service %s: every node muxes its own HLS, keep a player on one node", svc.Metadata.Name)
			}
		}
	}
	require.True(t, rtmpLB, "a LoadBalancer Service for RTMP")
	require.True(t, httpSvc, "a Service for HTTP players")

	// redis_url names a Service of these manifests, on one of its ports.
	u, err := url.Parse(cfg.Cluster.RedisURL)
	require.NoError(t, err)
	host, port, err := net.SplitHostPort(u.Host)
	require.NoError(t, err, "cluster.redis_url %s: give the port explicitly", cfg.Cluster.RedisURL)
	svc, ok := byKind(objs, "Service")[host]
	require.True(t, ok, "cluster.redis_url %s: no Service %q", cfg.Cluster.RedisURL, host)
	var target string
	for _, p := range svc.Spec.Ports {
		if fmt.Sprint(p.Port) == port {
			target, _ = p.TargetPort.(string)
		}
	}
	require.NotEmpty(t, target, "cluster.redis_url %s: Service %s has no port %s", cfg.Cluster.RedisURL, host, port)

	// Backed by one Redis pod: two would be two registries behind one
	// address, and one key could be claimed on both.
	var backends []object
	for _, r := range byKind(objs, "Deployment") {
		if matches(serviceSelector(svc), r.Spec.Template.Metadata.Labels) {
			backends = append(backends, r)
		}
	}
	require.Len(t, backends, 1, "Service %s must select one Deployment", host)
	r := backends[0]
	require.NotNil(t, r.Spec.Replicas)
	require.Equal(t, 1, *r.Spec.Replicas, "Deployment %s: one registry", r.Metadata.Name)
	require.Equal(t, "Recreate", r.Spec.Strategy.Type,
		"Deployment %s: a rolling update would run two registries at once", r.Metadata.Name)
	redisPorts := containerPorts(r.Spec.Template.Spec.Containers[0])
	require.True(t, allowed(objs, r.Spec.Template.Metadata.Labels, podLabels, target, redisPorts[target]),
		"a NetworkPolicy keeps the nodes from Redis")
}

// allowed reports whether the NetworkPolicies of objs let pods labelled from
// reach pods labelled to on the container port portName/portNum: true when
// no policy selects the target, else when one of the policies selecting it
// has an ingress rule admitting the source on that port. Only matchLabels
// pod selectors are understood (empty ones select every pod); other peers
// (namespaces, IP blocks) admit nothing here.
func allowed(objs []object, to, from map[string]string, portName string, portNum int) bool {
	selects := func(sel map[string]string, labels map[string]string) bool {
		return len(sel) == 0 || matchLabels(sel, labels)
	}
	selecting := 0
	for _, np := range byKind(objs, "NetworkPolicy") {
		// Without policyTypes a policy restricts ingress (and egress when
		// it has egress rules, which do not matter here).
		if len(np.Spec.PolicyTypes) > 0 && !slices.Contains(np.Spec.PolicyTypes, "Ingress") {
			continue
		}
		if !selects(np.Spec.PodSelector.MatchLabels, to) {
			continue
		}
		selecting++
		for _, rule := range np.Spec.Ingress {
			peerOK := len(rule.From) == 0
			for _, f := range rule.From {
				peerOK = peerOK || (f.PodSelector != nil && selects(f.PodSelector.MatchLabels, from))
			}
			portOK := len(rule.Ports) == 0
			for _, p := range rule.Ports {
				portOK = portOK || p.Port == portName || p.Port == portNum
			}
			if peerOK && portOK {
				return true
			}
		}
	}
	return selecting == 0
}

// TestEdgeOriginsResolve: every upstream URL in the edge's config names a
// Service of these manifests and one of its ports.
func TestEdgeOriginsResolve(t *testing.T) {
	objs := loadObjects(t)
	services := byKind(objs, "Service")
	cm, ok := byKind(objs, "ConfigMap")["ripple-edge"]
	require.True(t, ok)
	cfg := loadConfig(t, cm, nil)
	var origins []string
	for _, a := range cfg.Apps {
		origins = append(origins, a.Edge.Origins...)
	}
	require.NotEmpty(t, origins, "the edge config has an edge app")
	require.True(t, cfg.HLS.OnDemand, "on an edge, HLS viewers must start pulls (hls.on_demand)")
	for _, o := range origins {
		u, err := url.Parse(o)
		require.NoError(t, err)
		host, port, err := net.SplitHostPort(u.Host)
		require.NoError(t, err, "%s: give the port explicitly", o)
		svc, ok := services[host]
		require.True(t, ok, "%s: no Service %q", o, host)
		found := false
		for _, p := range svc.Spec.Ports {
			found = found || fmt.Sprint(p.Port) == port
		}
		require.True(t, found, "%s: Service %s has no port %s", o, host, port)
	}
}

// matchLabels reports whether labels carry every label of a non-empty
// matchLabels selector.
func matchLabels(selector, labels map[string]string) bool {
	if len(selector) == 0 {
		return false
	}
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}

func matches(selector map[string]any, labels map[string]string) bool {
	if len(selector) == 0 {
		return false
	}
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// TestNginxExample checks the nginx example with `nginx -t`, wrapped in a
// minimal main config (the example is an http-context include), and that
// the streaming locations keep the settings streaming needs.
func TestNginxExample(t *testing.T) {
	conf, err := os.ReadFile("nginx/ripple.conf")
	require.NoError(t, err)
	text := string(conf)

	for _, loc := range []string{`location ~ \.flv$`, `location = /api/v1/events`} {
		block := locationBlock(t, text, loc)
		require.Contains(t, block, "proxy_buffering off;", loc)
		require.Contains(t, block, "proxy_read_timeout", loc)
	}
	require.Contains(t, text, "proxy_http_version 1.1;")
	require.Contains(t, text, "proxy_set_header Upgrade $http_upgrade;")

	nginx, err := exec.LookPath("nginx")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("nginx not found (scripts/test.sh installs it): %v", err)
		}
		t.Skipf("nginx not installed: %v", err)
	}
	dir := t.TempDir()
	// The cache directory of the example is a system path: point it into
	// the temporary prefix so the check runs unprivileged.
	text = strings.ReplaceAll(text, "/var/cache/nginx/ripple", filepath.Join(dir, "cache"))
	site := filepath.Join(dir, "ripple.conf")
	require.NoError(t, os.WriteFile(site, []byte(text), 0o600))
	main := fmt.Sprintf(`pid %[1]s/nginx.pid;
error_log %[1]s/error.log;
events {}
http {
    access_log off;
    client_body_temp_path %[1]s/body;
    proxy_temp_path %[1]s/proxy;
    fastcgi_temp_path %[1]s/fastcgi;
    uwsgi_temp_path %[1]s/uwsgi;
    scgi_temp_path %[1]s/scgi;
    include %[2]s;
}
`, dir, site)
	mainPath := filepath.Join(dir, "nginx.conf")
	require.NoError(t, os.WriteFile(mainPath, []byte(main), 0o600))
	out, err := exec.Command(nginx, "-t", "-p", dir, "-c", mainPath).CombinedOutput()
	require.NoError(t, err, "nginx -t:\n%s", out)
	require.Contains(t, string(out), "test is successful")
}

// locationBlock returns the body of the location that starts with head.
func locationBlock(t *testing.T, conf, head string) string {
	t.Helper()
	i := strings.Index(conf, head)
	require.GreaterOrEqual(t, i, 0, "no %q in the nginx example", head)
	open := strings.Index(conf[i:], "{")
	require.GreaterOrEqual(t, open, 0)
	depth := 0
	for j := i + open; j < len(conf); j++ {
		switch conf[j] {
		case '{':
			depth++
		case '}':
			depth--
			if depth == 0 {
				return conf[i+open : j+1]
			}
		}
	}
	t.Fatalf("unterminated block %q", head)
	return ""
}

// TestDockerfile checks the image's documented properties without a Docker
// daemon: multi-stage, static build, distroless non-root final stage, both
// ports, and a HEALTHCHECK that runs the binary the image actually holds.
func TestDockerfile(t *testing.T) {
	b, err := os.ReadFile("../../Dockerfile")
	require.NoError(t, err)
	// Join continuation lines, drop comments.
	var lines []string
	cur := ""
	for _, l := range strings.Split(string(b), "\n") {
		l = strings.TrimSpace(l)
		if strings.HasPrefix(l, "#") || l == "" {
			continue
		}
		if strings.HasSuffix(l, "\\") {
			cur += strings.TrimSuffix(l, "\\") + " "
			continue
		}
		lines = append(lines, cur+l)
		cur = ""
	}
	var froms []string
	final := map[string][]string{} // instruction -> lines, of the last stage
	for _, l := range lines {
		instr, rest, _ := strings.Cut(l, " ")
		instr = strings.ToUpper(instr)
		if instr == "FROM" {
			froms = append(froms, rest)
			final = map[string][]string{}
		}
		final[instr] = append(final[instr], rest)
	}
	require.Len(t, froms, 2, "a build stage and a runtime stage")
	require.Contains(t, froms[0], " AS build")
	require.Contains(t, froms[1], "distroless/static")
	require.Contains(t, string(b), "CGO_ENABLED=0", "a static binary: distroless/static has no libc")

	require.Equal(t, []string{"nonroot:nonroot"}, final["USER"])
	require.Equal(t, []string{"1935 8080"}, final["EXPOSE"])
	require.Len(t, final["COPY"], 1)
	bin := strings.Fields(final["COPY"][0])[2]
	require.Equal(t, []string{`["` + bin + `"]`}, final["ENTRYPOINT"])
	require.Len(t, final["HEALTHCHECK"], 1)
	require.Contains(t, final["HEALTHCHECK"][0], `CMD ["`+bin+`", "healthcheck"]`,
		"exec form: the image has no shell")
}
