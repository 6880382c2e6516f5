package api

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

type openAPIDoc struct {
	OpenAPI    string                    `yaml:"openapi"`
	Paths      map[string]map[string]any `yaml:"paths"`
	Components struct {
		Schemas map[string]struct {
			Required   []string       `yaml:"required"`
			Properties map[string]any `yaml:"properties"`
		} `yaml:"schemas"`
	} `yaml:"components"`
}

func loadOpenAPI(t *testing.T) openAPIDoc {
	t.Helper()
	var doc openAPIDoc
	require.NoError(t, yaml.Unmarshal(OpenAPI(), &doc))
	require.True(t, strings.HasPrefix(doc.OpenAPI, "3."), "OpenAPI 3")
	return doc
}

// TestOpenAPICoversRoutes checks that every route the API serves is in
// openapi.yaml with its method, and that the file documents nothing else.
func TestOpenAPICoversRoutes(t *testing.T) {
	doc := loadOpenAPI(t)
	a := &API{}
	documented := map[string]bool{}
	for path, ops := range doc.Paths {
		for method := range ops {
			switch method {
			case "parameters", "servers", "summary", "description":
				continue // path item fields, not operations
			}
			documented[strings.ToUpper(method)+" "+path] = true
		}
	}
	served := map[string]bool{}
	for _, rt := range a.routes() {
		method, path, ok := strings.Cut(rt.pattern, " ")
		require.True(t, ok, rt.pattern)
		path = strings.TrimPrefix(path, Prefix)
		// {path...} is app (which may hold "/") + "/" + stream.
		path = strings.Replace(path, "{path...}", "{app}/{stream}", 1)
		// A stream's sub-resources share its {path...} route.
		for _, p := range subResources[method+" "+path] {
			served[method+" "+p] = true
		}
		if method == "POST" && path == "/streams/{app}/{stream}" {
			continue // only its sub-resources take POST
		}
		served[method+" "+path] = true
	}
	// Served by pkg/server next to the API, documented with server "/".
	for _, ops := range []string{"GET /healthz", "GET /readyz", "GET /metrics"} {
		require.True(t, documented[ops], ops)
		delete(documented, ops)
	}
	require.Equal(t, served, documented)
}

// subResources lists the paths a {path...} route also serves by suffix.
var subResources = map[string][]string{
	"GET /streams/{app}/{stream}":    {"/streams/{app}/{stream}/forwards"},
	"POST /streams/{app}/{stream}":   {"/streams/{app}/{stream}/record", "/streams/{app}/{stream}/forwards"},
	"DELETE /streams/{app}/{stream}": {"/streams/{app}/{stream}/record", "/streams/{app}/{stream}/forwards/{id}"},
}

// jsonFields lists the JSON keys of struct type rt, those of embedded
// structs inlined (as encoding/json does), and which are never omitted.
func jsonFields(rt reflect.Type) (fields, required []string) {
	for i := range rt.NumField() {
		f := rt.Field(i)
		tag := f.Tag.Get("json")
		if f.Anonymous && tag == "" {
			fs, rs := jsonFields(f.Type)
			fields, required = append(fields, fs...), append(required, rs...)
			continue
		}
		key, opts, _ := strings.Cut(tag, ",")
		fields = append(fields, key)
		if !strings.Contains(opts, "omitempty") {
			required = append(required, key)
		}
	}
	return fields, required
}

// TestOpenAPIMatchesTypes checks that each schema lists exactly the JSON
// fields of its Go type, and requires those that are never omitted.
func TestOpenAPIMatchesTypes(t *testing.T) {
	doc := loadOpenAPI(t)
	types := map[string]any{
		"Error": Error{}, "Stream": Stream{}, "Publisher": Publisher{}, "Video": Video{}, "Audio": Audio{},
		"GOP": GOP{}, "Client": Client{}, "Summary": Summary{}, "StreamEvent": StreamEvent{},
		"PlayerEvent": PlayerEvent{}, "StatsEvent": StatsEvent{}, "StreamStats": StreamStats{},
		"ResyncEvent": ResyncEvent{}, "Relay": Relay{}, "Recording": Recording{},
		"RecordingState": RecordingState{}, "RecordingEvent": RecordingEvent{}, "TargetRequest": TargetRequest{},
		"ClusterView": ClusterView{}, "Transcode": Transcode{}, "TranscodeRendition": TranscodeRendition{},
	}
	var schemas []string
	for name := range doc.Components.Schemas {
		schemas = append(schemas, name)
	}
	slices.Sort(schemas)
	var want []string
	for name := range types {
		want = append(want, name)
	}
	slices.Sort(want)
	require.Equal(t, want, schemas, "one schema per JSON type")

	for name, v := range types {
		t.Run(name, func(t *testing.T) {
			sc := doc.Components.Schemas[name]
			fields, required := jsonFields(reflect.TypeOf(v))
			var props []string
			for p := range sc.Properties {
				props = append(props, p)
			}
			slices.Sort(fields)
			slices.Sort(props)
			slices.Sort(required)
			got := slices.Clone(sc.Required)
			slices.Sort(got)
			require.Equal(t, fields, props, "properties")
			require.Equal(t, required, got, "required")
		})
	}
}

// TestEventNamesDocumented checks the SSE event names appear in the
// /events description.
func TestEventNamesDocumented(t *testing.T) {
	doc := loadOpenAPI(t)
	get, _ := doc.Paths["/events"]["get"].(map[string]any)
	desc, _ := get["description"].(string)
	for _, name := range []string{EventStreamPublished, EventStreamUnpublished, EventStreamEnded,
		EventPlayerJoined, EventPlayerLeft, EventStats, EventResync,
		EventRecordingStarted, EventRecordingDone, EventRecordingError} {
		require.Contains(t, desc, "`"+name+"`")
	}
}
