package config

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestDiff(t *testing.T) {
	base, err := Default()
	require.NoError(t, err)
	base.Apps = map[string]App{"live": {PublishPolicy: PolicyReject}}

	tests := []struct {
		name   string
		change func(c *Config)
		want   []string
	}{
		{"nothing", func(*Config) {}, nil},
		{"scalar", func(c *Config) { c.Log.Level = LogDebug }, []string{"log.level"}},
		{"byte size", func(c *Config) { c.RTMP.ChunkSize = 128 }, []string{"rtmp.chunk_size"}},
		{"duration", func(c *Config) { c.ShutdownTimeout = time.Minute }, []string{"shutdown_timeout"}},
		{"sorted", func(c *Config) {
			c.HTTP.Listen = ":1"
			c.Log.Format = LogJSON
			c.Hub.PublishPolicy = PolicyTakeover
		}, []string{"http.listen", "hub.publish_policy", "log.format"}},
		{"app field", func(c *Config) {
			c.Apps = map[string]App{"live": {PublishPolicy: PolicyTakeover}}
		}, []string{"apps.live.publish_policy"}},
		{"app added", func(c *Config) {
			c.Apps = map[string]App{"live": {PublishPolicy: PolicyReject}, "edge": {}}
		}, []string{"apps.edge"}},
		{"app removed", func(c *Config) { c.Apps = nil }, []string{"apps.live"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			next := base
			next.Apps = map[string]App{}
			for k, v := range base.Apps {
				next.Apps[k] = v
			}
			tc.change(&next)
			require.Equal(t, tc.want, Diff(base, next))
			// Symmetric: the same keys changed going back.
			require.Equal(t, tc.want, Diff(next, base))
		})
	}
}

func TestDiffEveryKey(t *testing.T) {
	// Changing any one key Keys lists is reported as exactly that key: Diff
	// and the schema walk the same mapstructure tags.
	base, err := Default()
	require.NoError(t, err)
	for _, key := range Keys() {
		t.Run(key, func(t *testing.T) {
			next := base
			f := fieldByKey(t, reflect.ValueOf(&next).Elem(), key)
			switch f.Kind() {
			case reflect.String:
				f.SetString(f.String() + "x")
			case reflect.Bool:
				f.SetBool(!f.Bool())
			case reflect.Int, reflect.Int64, reflect.Int32:
				f.SetInt(f.Int() + 1)
			case reflect.Uint, reflect.Uint64, reflect.Uint32, reflect.Uint8: // uint8: the enum keys
				f.SetUint(f.Uint() + 1)
			case reflect.Float64:
				f.SetFloat(f.Float() + 1)
			case reflect.Slice:
				f.Set(reflect.Append(f, reflect.Zero(f.Type().Elem())))
			default:
				t.Fatalf("key %s: kind %s not covered by this test", key, f.Kind())
			}
			require.Equal(t, []string{key}, Diff(base, next))
		})
	}
}

// fieldByKey returns the settable field of v (a Config) at a dotted key.
func fieldByKey(t *testing.T, v reflect.Value, key string) reflect.Value {
	t.Helper()
	for part := range strings.SplitSeq(key, ".") {
		found := false
		for i := range v.NumField() {
			if v.Type().Field(i).Tag.Get("mapstructure") == part {
				v, found = v.Field(i), true
				break
			}
		}
		require.True(t, found, "key %s: no field %s", key, part)
	}
	return v
}
