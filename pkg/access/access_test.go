package access

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestMatchApp(t *testing.T) {
	apps := map[string]bool{"live": true, "live/x": true, "edge": true}
	has := func(a string) bool { return apps[a] }
	for _, tc := range []struct {
		key, app string
		ok       bool
	}{
		{"live/cam1", "live", true},
		{"live/x/cam1", "live/x", true},
		{"live/y/cam1", "live", true},
		{"live/x/y/z/cam1", "live/x", true},
		{"livex/cam1", "", false},
		{"other/live/cam1", "", false},
		{"edge/a", "edge", true},
		{"cam1", "", false},
	} {
		app, ok := MatchApp(tc.key, has)
		require.Equal(t, tc.ok, ok, tc.key)
		require.Equal(t, tc.app, app, tc.key)
	}
}

func TestSplit(t *testing.T) {
	app, stream := Request{Key: "live/x/cam1"}.Split()
	require.Equal(t, "live/x", app)
	require.Equal(t, "cam1", stream)
}

func TestCheckQuery(t *testing.T) {
	require.NoError(t, CheckQuery(strings.Repeat("a", MaxQuery)))
	err := CheckQuery(strings.Repeat("a", MaxQuery+1))
	var e *QueryTooLongError
	require.ErrorAs(t, err, &e)
	require.Equal(t, 414, e.HTTPStatus())
	require.Contains(t, err.Error(), "4097")
}
