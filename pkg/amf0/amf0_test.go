package amf0

import (
	"bytes"
	"encoding/binary"
	"math"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// Wire builders, written from the spec independently of the encoder.

func cat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

func wNum(f float64) []byte {
	return binary.BigEndian.AppendUint64([]byte{0x00}, math.Float64bits(f))
}

func wBool(v byte) []byte { return []byte{0x01, v} }

func wStr(s string) []byte {
	return append(binary.BigEndian.AppendUint16([]byte{0x02}, uint16(len(s))), s...)
}

func wLong(marker byte, s string) []byte {
	return append(binary.BigEndian.AppendUint32([]byte{marker}, uint32(len(s))), s...)
}

func wKey(k string) []byte {
	return append(binary.BigEndian.AppendUint16(nil, uint16(len(k))), k...)
}

var wEnd = []byte{0x00, 0x00, 0x09}

func wObj(props ...[]byte) []byte { return cat([]byte{0x03}, cat(props...), wEnd) }

func wECMA(count uint32, props ...[]byte) []byte {
	return cat(binary.BigEndian.AppendUint32([]byte{0x08}, count), cat(props...), wEnd)
}

func wStrict(count uint32, vals ...[]byte) []byte {
	return cat(binary.BigEndian.AppendUint32([]byte{0x0A}, count), cat(vals...))
}

func prop(k string, v []byte) []byte { return cat(wKey(k), v) }

// nestedObjects returns depth objects nested under key "a", innermost empty.
func nestedObjects(depth int) ([]byte, any) {
	b := wObj()
	var v any = Object{}
	for i := 1; i < depth; i++ {
		b = wObj(prop("a", b))
		v = Object{{Key: "a", Value: v}}
	}
	return b, v
}

type codecCase struct {
	name string
	wire []byte
	val  any
	// decodeOnly: the wire form is not what Append produces for val (a
	// lenient or lossy decode).
	decodeOnly bool
}

func codecCases() []codecCase {
	long := strings.Repeat("x", 70000)
	deep, deepVal := nestedObjects(MaxDepth)
	return []codecCase{
		{name: "number zero", wire: wNum(0), val: 0.0},
		{name: "number", wire: wNum(1935.5), val: 1935.5},
		{name: "number negative infinity", wire: wNum(math.Inf(-1)), val: math.Inf(-1)},
		{name: "true", wire: wBool(1), val: true},
		{name: "false", wire: wBool(0), val: false},
		{name: "boolean any nonzero", wire: wBool(7), val: true, decodeOnly: true},
		{name: "empty string", wire: wStr(""), val: ""},
		{name: "string", wire: wStr("connect"), val: "connect"},
		{name: "utf8 string", wire: wStr("héllo ✓"), val: "héllo ✓"},
		{name: "string 65535", wire: wStr(long[:65535]), val: long[:65535]},
		{name: "long string", wire: wLong(0x0C, long), val: long},
		{name: "short long string", wire: wLong(0x0C, "abc"), val: "abc", decodeOnly: true},
		{name: "xml document", wire: wLong(0x0F, "<a/>"), val: "<a/>", decodeOnly: true},
		{name: "null", wire: []byte{0x05}, val: nil},
		{name: "undefined", wire: []byte{0x06}, val: Undefined{}},
		{name: "unsupported marker", wire: []byte{0x0D}, val: Undefined{}, decodeOnly: true},
		{name: "reference", wire: []byte{0x07, 0x00, 0x01}, val: Undefined{}, decodeOnly: true},
		{name: "empty object", wire: wObj(), val: Object{}},
		{
			name: "connect object",
			wire: wObj(prop("app", wStr("live")), prop("tcUrl", wStr("rtmp://h/live")), prop("fpad", wBool(0)),
				prop("audioCodecs", wNum(3575)), prop("nested", wObj(prop("x", []byte{0x05})))),
			val: Object{{"app", "live"}, {"tcUrl", "rtmp://h/live"}, {"fpad", false},
				{"audioCodecs", 3575.0}, {"nested", Object{{"x", nil}}}},
		},
		{
			name: "typed object",
			wire: cat([]byte{0x10}, wKey("flash.Foo"), prop("a", wNum(1)), wEnd),
			val:  Object{{"a", 1.0}}, decodeOnly: true,
		},
		{
			name: "empty key property",
			wire: wObj(prop("", wNum(2))),
			val:  Object{{"", 2.0}},
		},
		{
			name: "ecma array",
			wire: wECMA(2, prop("duration", wNum(0)), prop("encoder", wStr("Lavf"))),
			val:  ECMAArray{{"duration", 0.0}, {"encoder", "Lavf"}},
		},
		{name: "empty ecma array", wire: wECMA(0), val: ECMAArray{}},
		{
			name: "ecma array count too small",
			wire: wECMA(0, prop("width", wNum(1280)), prop("height", wNum(720))),
			val:  ECMAArray{{"width", 1280.0}, {"height", 720.0}}, decodeOnly: true,
		},
		{
			name: "ecma array count huge",
			wire: wECMA(0xFFFFFFFF, prop("a", wBool(1))),
			val:  ECMAArray{{"a", true}}, decodeOnly: true,
		},
		{
			name: "strict array",
			wire: wStrict(3, wNum(1), wStr("a"), []byte{0x05}),
			val:  StrictArray{1.0, "a", nil},
		},
		{name: "empty strict array", wire: wStrict(0), val: StrictArray{}},
		{
			name: "fourCcList",
			wire: wStrict(2, wStr("hvc1"), wStr("av01")),
			val:  StrictArray{"hvc1", "av01"},
		},
		{
			name: "date",
			wire: cat([]byte{0x0B}, wNum(1.7e12)[1:], []byte{0xFF, 0xC4}),
			val:  Date{Millis: 1.7e12, TZ: -60},
		},
		{name: "max depth", wire: deep, val: deepVal},
	}
}

type errorCase struct {
	name string
	wire []byte
	is   error  // errors.Is target, or nil
	msg  string // substring of the message
}

func errorCases() []errorCase {
	tooDeep, _ := nestedObjects(MaxDepth + 1)
	deepArray := []byte{}
	for range MaxDepth + 1 {
		deepArray = append(deepArray, 0x0A, 0, 0, 0, 1)
	}
	deepArray = append(deepArray, 0x05)
	// MaxValues empty-key null properties: with the object itself that is
	// one value over the budget (the 568 MiB-per-8 MiB attack shape).
	manyProps := []byte{0x03}
	for range MaxValues {
		manyProps = append(manyProps, 0x00, 0x00, 0x05)
	}
	manyProps = append(manyProps, 0x00, 0x00, 0x09)
	manyElems := append([]byte{0x0A}, binary.BigEndian.AppendUint32(nil, MaxValues)...)
	manyElems = append(manyElems, bytes.Repeat([]byte{0x05}, MaxValues)...)
	return []errorCase{
		{name: "empty", wire: nil, is: ErrTruncated, msg: "marker needs 1 bytes at offset 0"},
		{name: "number truncated", wire: wNum(1)[:5], is: ErrTruncated, msg: "number needs 8 bytes at offset 1, 4 left"},
		{name: "boolean truncated", wire: []byte{0x01}, is: ErrTruncated},
		{name: "string truncated", wire: wStr("hello")[:4], is: ErrTruncated, msg: "string needs 5 bytes"},
		{name: "long string length huge", wire: []byte{0x0C, 0xFF, 0xFF, 0xFF, 0xFF, 'a'}, is: ErrTruncated, msg: "long string of 4294967295 bytes"},
		{name: "strict array count huge", wire: []byte{0x0A, 0xFF, 0xFF, 0xFF, 0xFF, 0x05}, is: ErrTruncated, msg: "strict array of 4294967295 values"},
		{name: "object without end", wire: []byte{0x03, 0x00, 0x01, 'a', 0x05}, is: ErrTruncated},
		{name: "object empty key at end", wire: []byte{0x03, 0x00, 0x00}, is: ErrTruncated, msg: "object end marker"},
		{name: "ecma array count truncated", wire: []byte{0x08, 0x00, 0x00}, is: ErrTruncated},
		{name: "date truncated", wire: cat([]byte{0x0B}, wNum(1)[1:]), is: ErrTruncated, msg: "date time zone"},
		{name: "reference truncated", wire: []byte{0x07, 0x00}, is: ErrTruncated},
		{name: "amf3", wire: []byte{0x11, 0x01}, is: ErrAMF3, msg: "amf0: AMF3 value (marker 0x11) not supported"},
		{name: "amf3 in object", wire: []byte{0x03, 0x00, 0x01, 'a', 0x11, 0x00, 0x00, 0x09}, is: ErrAMF3},
		{name: "object end at top", wire: []byte{0x09}, msg: "amf0: unexpected object end marker at offset 0"},
		{name: "movieclip", wire: []byte{0x04}, msg: "amf0: unsupported marker 0x04 at offset 0"},
		{name: "recordset", wire: []byte{0x0E}, msg: "unsupported marker 0x0e"},
		{name: "unknown marker", wire: []byte{0x42}, msg: "unsupported marker 0x42"},
		{name: "too deep objects", wire: tooDeep, is: ErrDepth, msg: "depth 65"},
		{name: "too deep arrays", wire: deepArray, is: ErrDepth, msg: "exceeds 64"},
		{name: "too many object properties", wire: manyProps, is: ErrTooMany, msg: "amf0: too many values: more than 65536 at offset"},
		{name: "too many array elements", wire: manyElems, is: ErrTooMany, msg: "more than 65536"},
	}
}

func TestDecode(t *testing.T) {
	for _, c := range codecCases() {
		t.Run(c.name, func(t *testing.T) {
			// Trailing bytes belong to the next value and are not consumed.
			v, n, err := Decode(append(append([]byte{}, c.wire...), 0x05))
			require.NoError(t, err)
			require.Equal(t, len(c.wire), n)
			require.Equal(t, c.val, v)
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	for _, c := range errorCases() {
		t.Run(c.name, func(t *testing.T) {
			v, n, err := Decode(c.wire)
			require.Error(t, err)
			require.Nil(t, v)
			require.Zero(t, n)
			if c.is != nil {
				require.ErrorIs(t, err, c.is)
			}
			require.Contains(t, err.Error(), c.msg)
		})
	}
}

func TestAppend(t *testing.T) {
	for _, c := range codecCases() {
		if c.decodeOnly {
			continue
		}
		t.Run(c.name, func(t *testing.T) {
			prefix := []byte{0xAA}
			b, err := Append(prefix, c.val)
			require.NoError(t, err)
			require.Equal(t, c.wire, b[1:])
			require.Equal(t, byte(0xAA), b[0])
		})
	}
}

func TestAppendGoTypes(t *testing.T) {
	want := wNum(42)
	for _, v := range []any{42, int8(42), int16(42), int32(42), int64(42), uint(42), uint8(42),
		uint16(42), uint32(42), uint64(42), float32(42)} {
		b, err := Append(nil, v)
		require.NoError(t, err, "%T", v)
		require.Equal(t, want, b, "%T", v)
	}
}

func TestAppendErrors(t *testing.T) {
	_, deep := nestedObjects(MaxDepth + 1)
	deepArray := any(StrictArray{})
	for range MaxDepth {
		deepArray = StrictArray{deepArray}
	}
	cases := []struct {
		name string
		val  any
		msg  string
	}{
		{"map", map[string]any{"a": 1}, "amf0: cannot encode Go type map[string]interface {}"},
		{"struct in object", Object{{"a", struct{}{}}}, "cannot encode Go type struct {}"},
		{"slice of any", []any{1}, "cannot encode Go type []interface {}"},
		{"key too long", Object{{strings.Repeat("k", 65536), 1}}, "amf0: property key of 65536 bytes exceeds 65535"},
		{"too deep object", deep, "depth 65 exceeds 64"},
		{"too deep array", deepArray, "depth 65 exceeds 64"},
		{"too deep ecma", ECMAArray{{"a", deep}}, "exceeds 64"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			prefix := []byte{1, 2, 3}
			b, err := Append(prefix, "ok", c.val)
			require.ErrorContains(t, err, c.msg)
			require.ErrorContains(t, err, "value 1: ")
			require.Equal(t, prefix, b, "partial encoding must be dropped")
		})
	}
}

func TestDecodeAll(t *testing.T) {
	// A connect command as ffmpeg sends it, then a trailing optional argument.
	cmd := cat(wStr("connect"), wNum(1), wObj(prop("app", wStr("live"))), []byte{0x05})
	vals, err := DecodeAll(cmd)
	require.NoError(t, err)
	require.Equal(t, []any{"connect", 1.0, Object{{"app", "live"}}, nil}, vals)

	vals, err = DecodeAll(nil)
	require.NoError(t, err)
	require.Empty(t, vals)

	// The well-formed prefix survives a bad tail.
	vals, err = DecodeAll(cat(wStr("onMetaData"), []byte{0x11}))
	require.ErrorIs(t, err, ErrAMF3)
	require.ErrorContains(t, err, "value 1: ")
	require.Equal(t, []any{"onMetaData"}, vals)
}

// TestDecodeAllValueBudget: the budget spans the whole call, so a body of
// top-level nulls (788 MiB allocated for 8 MiB before the budget) stops at
// MaxValues, and exactly MaxValues values still decode.
func TestDecodeAllValueBudget(t *testing.T) {
	tests := []struct {
		name    string
		n       int
		wantErr bool
	}{
		{"at the limit", MaxValues, false},
		{"one over", MaxValues + 1, true},
		{"8 MiB of nulls", 8 << 20, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			vals, err := DecodeAll(bytes.Repeat([]byte{0x05}, tt.n))
			if !tt.wantErr {
				require.NoError(t, err)
				require.Len(t, vals, tt.n)
				return
			}
			require.ErrorIs(t, err, ErrTooMany)
			require.ErrorContains(t, err, "more than 65536")
			require.Len(t, vals, MaxValues)
		})
	}
}

func TestAccessors(t *testing.T) {
	o := Object{{"app", "live"}, {"objectEncoding", 0.0}, {"app", "shadowed"}, {"fpad", false}}
	v, ok := o.Get("app")
	require.True(t, ok)
	require.Equal(t, "live", v)
	_, ok = o.Get("missing")
	require.False(t, ok)
	require.Equal(t, "live", o.String("app"))
	require.Equal(t, "", o.String("fpad"))
	require.Equal(t, "", o.String("missing"))
	n, ok := o.Number("objectEncoding")
	require.True(t, ok)
	require.Equal(t, 0.0, n)
	_, ok = o.Number("app")
	require.False(t, ok)

	a := ECMAArray{{"width", 1280.0}, {"encoder", "obs"}}
	v, ok = a.Get("encoder")
	require.True(t, ok)
	require.Equal(t, "obs", v)
	require.Equal(t, "obs", a.String("encoder"))
	w, ok := a.Number("width")
	require.True(t, ok)
	require.Equal(t, 1280.0, w)
}

func FuzzDecode(f *testing.F) {
	for _, c := range codecCases() {
		if len(c.wire) < 4096 {
			f.Add(c.wire)
		}
	}
	for _, c := range errorCases() {
		f.Add(c.wire)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		v, n, err := Decode(b)
		if err != nil {
			require.Zero(t, n)
			return
		}
		require.Positive(t, n)
		require.LessOrEqual(t, n, len(b))
		// Whatever decodes re-encodes, and the encoding is a fixed point
		// (byte comparison, so NaN payloads are fine).
		e1, err := Append(nil, v)
		require.NoError(t, err)
		v2, n2, err := Decode(e1)
		require.NoError(t, err)
		require.Equal(t, len(e1), n2)
		e2, err := Append(nil, v2)
		require.NoError(t, err)
		require.Equal(t, e1, e2)
	})
}

// TestInfallibleAppenders: the piecewise appenders write what Append writes
// for the same values.
func TestInfallibleAppenders(t *testing.T) {
	long := strings.Repeat("l", 70000)
	tests := []struct {
		name string
		got  []byte
		val  any
	}{
		{"number", AppendNumber(nil, -1.5), -1.5},
		{"true", AppendBool(nil, true), true},
		{"false", AppendBool(nil, false), false},
		{"null", AppendNull(nil), nil},
		{"string", AppendString(nil, "hello"), "hello"},
		{"long string", AppendString(nil, long), long},
		{"object", AppendObjectEnd(AppendString(AppendKey(AppendNumber(AppendKey(AppendObjectStart(nil), "a"), 1), "b"), "x")),
			Object{{"a", 1.0}, {"b", "x"}}},
		{"empty object", AppendObjectEnd(AppendObjectStart(nil)), Object{}},
		{"strict array", AppendString(AppendNull(AppendStrictArrayStart(nil, 2)), "z"), StrictArray{nil, "z"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want, err := Append(nil, tt.val)
			require.NoError(t, err)
			require.Equal(t, want, tt.got)
		})
	}
	// A key too long for the 16-bit field is cut, never an error.
	b := AppendKey(nil, strings.Repeat("k", 70000))
	require.Len(t, b, 2+65535)
	require.Equal(t, []byte{0xFF, 0xFF}, b[:2])
}
