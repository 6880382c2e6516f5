package rtmp

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ripplemedia/ripple/pkg/amf0"
)

func mustAMF(t testing.TB, vals ...any) []byte {
	t.Helper()
	b, err := amf0.Append(nil, vals...)
	require.NoError(t, err)
	return b
}

// commandCases feeds TestDecodeCommand and the FuzzDecodeCommand seeds.
func commandCases(t testing.TB) []struct {
	name    string
	payload []byte
	want    command
	err     bool
} {
	connectObj := amf0.Object{{Key: "app", Value: "live"}, {Key: "tcUrl", Value: "rtmp://h/live"}}
	return []struct {
		name    string
		payload []byte
		want    command
		err     bool
	}{
		{name: "connect", payload: mustAMF(t, "connect", 1.0, connectObj),
			want: command{Name: "connect", TxnID: 1, Obj: connectObj}},
		{name: "createStream", payload: mustAMF(t, "createStream", 4.0, nil),
			want: command{Name: "createStream", TxnID: 4}},
		{name: "publish", payload: mustAMF(t, "publish", 5.0, nil, "cam1?token=x", "live"),
			want: command{Name: "publish", TxnID: 5, Args: []any{"cam1?token=x", "live"}}},
		{name: "play ffmpeg", payload: mustAMF(t, "play", 4.0, nil, "cam1", -2000.0),
			want: command{Name: "play", TxnID: 4, Args: []any{"cam1", -2000.0}}},
		{name: "name only", payload: mustAMF(t, "onMetaData"), want: command{Name: "onMetaData"}},
		// A trailing value the decoder rejects (AMF3 switch) ends the
		// arguments instead of failing the command.
		{name: "avmplus tail", payload: append(mustAMF(t, "connect", 1.0, nil, "x"), 0x11, 0x0A),
			want: command{Name: "connect", TxnID: 1, Args: []any{"x"}}},
		// Arguments past maxCommandArgs are not decoded.
		{name: "many args", payload: append(mustAMF(t, "play", 2.0, nil), bytes.Repeat([]byte{0x05}, 1000)...),
			want: command{Name: "play", TxnID: 2, Args: make([]any, maxCommandArgs)}},
		{name: "empty", payload: nil, err: true},
		{name: "garbage", payload: []byte{0xFF, 0x00, 0x13}, err: true},
		{name: "number name", payload: mustAMF(t, 1.0, 2.0), err: true},
		{name: "string txn", payload: mustAMF(t, "connect", "1"), err: true},
		{name: "truncated txn", payload: append(mustAMF(t, "connect"), 0x00, 0x3F), err: true},
	}
}

func TestDecodeCommand(t *testing.T) {
	for _, tt := range commandCases(t) {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decodeCommand(tt.payload)
			if tt.err {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

func FuzzDecodeCommand(f *testing.F) {
	for _, tt := range commandCases(f) {
		f.Add(tt.payload)
	}
	f.Fuzz(func(_ *testing.T, b []byte) {
		c, err := decodeCommand(b)
		if err != nil {
			return
		}
		// Whatever decodes must survive the accessors the session uses.
		_ = c.object().String("app")
		_ = c.info().String("code")
		_, _ = c.stringArg(0)
		_ = statusOf(&c)
		_ = wantsEnhanced(c.object())
	})
}

func decodeMsg(t *testing.T, m *Message) command {
	t.Helper()
	require.Equal(t, TypeCommandAMF0, m.TypeID)
	c, err := decodeCommand(m.Payload)
	require.NoError(t, err)
	return c
}

func TestConnectResult(t *testing.T) {
	t.Run("legacy", func(t *testing.T) {
		c := decodeMsg(t, connectResult(1, 0, false))
		require.Equal(t, "_result", c.Name)
		require.Equal(t, 1.0, c.TxnID)
		props := c.object()
		require.Equal(t, fmsVersion, props.String("fmsVer"))
		_, ok := props.Get("fourCcList")
		require.False(t, ok, "no E-RTMP properties unless the client asked")
		info := c.info()
		require.Equal(t, "status", info.String("level"))
		require.Equal(t, codeConnectSuccess, info.String("code"))
		enc, ok := info.Number("objectEncoding")
		require.True(t, ok)
		require.Equal(t, 0.0, enc)
	})
	t.Run("enhanced", func(t *testing.T) {
		c := decodeMsg(t, connectResult(1, 3, true))
		props := c.object()
		list, ok := props.Get("fourCcList")
		require.True(t, ok)
		require.Equal(t, amf0.StrictArray{"avc1", "hvc1", "av01", "vp09"}, list)
		vmap, ok := props.Get("videoFourCcInfoMap")
		require.True(t, ok)
		hvc, ok := vmap.(amf0.Object).Number("hvc1")
		require.True(t, ok)
		require.Equal(t, float64(fourCCCanForward), hvc)
		enc, _ := c.info().Number("objectEncoding")
		require.Equal(t, 3.0, enc)
	})
}

func TestWantsEnhanced(t *testing.T) {
	tests := []struct {
		name string
		obj  amf0.Object
		want bool
	}{
		{"none", amf0.Object{{Key: "app", Value: "live"}}, false},
		{"v1 fourCcList", amf0.Object{{Key: "fourCcList", Value: amf0.StrictArray{"hvc1"}}}, true},
		{"v2 info map", amf0.Object{{Key: "videoFourCcInfoMap", Value: amf0.Object{{Key: "*", Value: 7.0}}}}, true},
		{"v2 capsEx", amf0.Object{{Key: "capsEx", Value: 1.0}}, true},
		{"nil object", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, wantsEnhanced(tt.obj))
		})
	}
}

func TestStatusMessages(t *testing.T) {
	c := decodeMsg(t, onStatusMessage(1, levelError, codePublishBadName, "busy"))
	require.Equal(t, "onStatus", c.Name)
	require.Equal(t, 0.0, c.TxnID)
	require.Nil(t, c.Obj)
	se := statusOf(&c)
	require.NotNil(t, se)
	require.Equal(t, codePublishBadName, se.Code)
	require.Equal(t, "busy", se.Description)

	ok := decodeMsg(t, onStatusMessage(1, levelStatus, codePlayStart, "go"))
	require.Nil(t, statusOf(&ok))

	r := decodeMsg(t, resultMessage(4, 1.0))
	require.Equal(t, "_result", r.Name)
	require.Equal(t, []any{1.0}, r.Args)
}

// TestFixedCommandsEncode: the replies written with the infallible
// appenders are byte for byte what amf0.Append makes of the same values, so
// dropping the error path changed nothing on the wire.
func TestFixedCommandsEncode(t *testing.T) {
	status := func(level, code, desc string, extra ...amf0.Property) amf0.Object {
		return append(amf0.Object{{Key: "level", Value: level}, {Key: "code", Value: code}, {Key: "description", Value: desc}}, extra...)
	}
	props := amf0.Object{{Key: "fmsVer", Value: fmsVersion}, {Key: "capabilities", Value: 31.0}, {Key: "mode", Value: 1.0}}
	vmap, amap := amf0.Object{}, amf0.Object{}
	list := amf0.StrictArray{}
	for _, f := range videoFourCCs {
		list = append(list, f)
		vmap = append(vmap, amf0.Property{Key: f, Value: 4.0})
	}
	for _, f := range audioFourCCs {
		amap = append(amap, amf0.Property{Key: f, Value: 4.0})
	}
	enhanced := append(append(amf0.Object{}, props...), amf0.Property{Key: "fourCcList", Value: list},
		amf0.Property{Key: "videoFourCcInfoMap", Value: vmap}, amf0.Property{Key: "audioFourCcInfoMap", Value: amap},
		amf0.Property{Key: "capsEx", Value: 0.0})
	long := strings.Repeat("x", 70000) // a description past the short-string limit
	tests := []struct {
		name string
		msg  *Message
		vals []any
	}{
		{"onStatus", onStatusMessage(1, levelError, codePublishBadName, "busy"),
			[]any{"onStatus", 0.0, nil, status(levelError, codePublishBadName, "busy")}},
		{"onStatus long description", onStatusMessage(1, levelStatus, codePlayStart, long),
			[]any{"onStatus", 0.0, nil, status(levelStatus, codePlayStart, long)}},
		{"result", resultMessage(4, 1.0), []any{"_result", 4.0, nil, 1.0}},
		{"result no args", resultMessage(5), []any{"_result", 5.0, nil}},
		{"connect legacy", connectResult(1, 0, false),
			[]any{"_result", 1.0, props, status(levelStatus, codeConnectSuccess, "Connection succeeded.", amf0.Property{Key: "objectEncoding", Value: 0.0})}},
		{"connect enhanced", connectResult(2, 3, true),
			[]any{"_result", 2.0, enhanced, status(levelStatus, codeConnectSuccess, "Connection succeeded.", amf0.Property{Key: "objectEncoding", Value: 3.0})}},
		{"sample access", sampleAccessMessage(1), []any{sampleAccessName, true, true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, mustAMF(t, tt.vals...), tt.msg.Payload)
		})
	}
}

func TestCommandMessageError(t *testing.T) {
	_, err := commandMessage(0, "connect", 1, map[string]any{"app": "live"})
	require.ErrorContains(t, err, `rtmp: encode command "connect": value 0: amf0: cannot encode Go type`)
	m, err := commandMessage(3, "play", 4, nil, "cam")
	require.NoError(t, err)
	require.Equal(t, mustAMF(t, "play", 4.0, nil, "cam"), m.Payload)
	require.Equal(t, uint32(3), m.StreamID)
}

func TestDataName(t *testing.T) {
	tests := []struct {
		name string
		b    []byte
		want string
	}{
		{"setDataFrame", mustAMF(t, "@setDataFrame", "onMetaData"), "@setDataFrame"},
		{"onMetaData", mustAMF(t, "onMetaData", amf0.ECMAArray{}), "onMetaData"},
		{"number", mustAMF(t, 1.0), ""},
		{"truncated", []byte{0x02, 0x00, 0x09, 'o', 'n'}, ""},
		{"empty", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, dataName(tt.b))
		})
	}
}
