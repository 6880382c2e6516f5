// Package deploy checks the deployment examples in this directory: the
// Kubernetes manifests parse, their Ripple configs load, the probes, preStop
// and grace period fit Ripple's shutdown, Services select the pods; and the
// nginx example passes `nginx -t`.
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
		// Deployment
		Replicas *int `yaml:"replicas"`
		Selector struct {
			MatchLabels map[string]string `yaml:"matchLabels"`
		} `yaml:"selector"`
		Template struct {
			Metadata struct {
				Labels map[string]string `yaml:"labels"`
			} `yaml:"metadata"`
			Spec podSpec `yaml:"spec"`
		} `yaml:"template"`
		// Service (its selector is a plain map, unlike a Deployment's)
		Type  string        `yaml:"type"`
		Ports []servicePort `yaml:"ports"`
	} `yaml:"spec"`
	raw map[string]any
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

// loadConfig runs a ConfigMap's ripple.yaml through config.Load, exactly as
// the container does with -c.
func loadConfig(t *testing.T, cm object) config.Config {
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
	cfg, err := config.Load(path, nil)
	require.NoError(t, err, "ConfigMap %s: ripple.yaml", cm.Metadata.Name)
	return cfg
}

func TestManifests(t *testing.T) {
	objs := loadObjects(t)
	deployments := byKind(objs, "Deployment")
	services := byKind(objs, "Service")
	configMaps := byKind(objs, "ConfigMap")

	components := map[string]bool{}
	for name, d := range deployments {
		t.Run(name, func(t *testing.T) {
			components[d.Metadata.Labels["app.kubernetes.io/component"]] = true
			spec := d.Spec.Template.Spec
			podLabels := d.Spec.Template.Metadata.Labels
			for k, v := range d.Spec.Selector.MatchLabels {
				require.Equal(t, v, podLabels[k], "selector %s must match the pod template", k)
			}

			require.Len(t, spec.Containers, 1)
			c := spec.Containers[0]
			ports := map[string]int{}
			for _, p := range c.Ports {
				ports[p.Name] = p.ContainerPort
			}
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
			cfg := loadConfig(t, cm)
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

			// At least one Service selects these pods, on ports they have.
			selected := 0
			for _, svc := range services {
				sel, _ := svc.raw["spec"].(map[string]any)["selector"].(map[string]any)
				if !matches(sel, podLabels) {
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
		})
	}
	require.True(t, components["origin"], "an origin Deployment")
	require.True(t, components["edge"], "an edge Deployment")
}

// TestEdgeOriginsResolve: every upstream URL in the edge's config names a
// Service of these manifests and one of its ports.
func TestEdgeOriginsResolve(t *testing.T) {
	objs := loadObjects(t)
	services := byKind(objs, "Service")
	cm, ok := byKind(objs, "ConfigMap")["ripple-edge"]
	require.True(t, ok)
	cfg := loadConfig(t, cm)
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
