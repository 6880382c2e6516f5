package config

import (
	"encoding"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"time"

	"github.com/go-viper/mapstructure/v2"
)

var (
	durationType        = reflect.TypeFor[time.Duration]()
	byteSizeType        = reflect.TypeFor[ByteSize]()
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// decodeHook converts file, environment and flag values for Unmarshal.
// Durations must carry a unit: a bare 5 would otherwise decode as 5ns.
// The enumerated keys (enum.go) are decoded from their text here, once; a
// value of another YAML type (level: 5) is checked as its text, never
// converted to the underlying integer.
var decodeHook = mapstructure.DecodeHookFuncType(func(from, to reflect.Type, data any) (any, error) {
	switch to {
	case durationType:
		return toDuration(data)
	case byteSizeType:
		return toByteSize(data)
	}
	if from != to && reflect.PointerTo(to).Implements(textUnmarshalerType) {
		return fromText(to, data)
	}
	switch to.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		// mapstructure truncates floats silently.
		if f, ok := data.(float64); ok && f != math.Trunc(f) {
			return nil, fmt.Errorf("%v is not a whole number", f)
		}
	}
	return data, nil
})

// fromText decodes data with the UnmarshalText of type to.
func fromText(to reflect.Type, data any) (any, error) {
	s, ok := data.(string)
	if !ok {
		s = fmt.Sprint(data)
	}
	v := reflect.New(to)
	if err := v.Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(s)); err != nil {
		return nil, err
	}
	return v.Elem().Interface(), nil
}

func toDuration(data any) (any, error) {
	switch v := data.(type) {
	case string:
		d, err := time.ParseDuration(v)
		if err != nil {
			return nil, fmt.Errorf("invalid duration %q (want a number with a unit, like \"5s\" or \"500ms\")", v)
		}
		return d, nil
	case time.Duration:
		return v, nil
	case int, int64, uint64, float64:
		if reflect.ValueOf(v).IsZero() {
			return time.Duration(0), nil
		}
		return nil, fmt.Errorf("duration %v has no unit (write \"%vs\" for seconds)", v, v)
	default:
		return data, nil // let mapstructure report the type
	}
}

func toByteSize(data any) (any, error) {
	switch v := data.(type) {
	case string:
		return ParseByteSize(v)
	case float64:
		if v != math.Trunc(v) || v > math.MaxInt64 || v < math.MinInt64 {
			return nil, fmt.Errorf("size %v is not a whole number of bytes", v)
		}
		return ByteSize(v), nil
	default:
		return data, nil // integers: Validate checks the range
	}
}

// decodeError rewrites a mapstructure error as "config: KEY: problem",
// naming the first offending key.
func decodeError(prefix string, err error) error {
	var de *mapstructure.DecodeError
	if !errors.As(err, &de) {
		return fmt.Errorf("config: %w", err)
	}
	inner := de.Unwrap()
	var (
		pe *mapstructure.ParseError
		ue *mapstructure.UnconvertibleTypeError
	)
	switch {
	case errors.As(inner, &pe):
		return fmt.Errorf("config: %s%s: %s is not %s", prefix, de.Name(), quote(pe.Value), typeName(pe.Expected.Type()))
	case errors.As(inner, &ue):
		return fmt.Errorf("config: %s%s: %s is not %s", prefix, de.Name(), quote(ue.Value), typeName(ue.Expected.Type()))
	default:
		return fmt.Errorf("config: %s%s: %w", prefix, de.Name(), inner)
	}
}

func quote(v any) string {
	if s, ok := v.(string); ok {
		return strconv.Quote(s)
	}
	return fmt.Sprint(v)
}

func typeName(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Bool:
		return "a boolean (true or false)"
	case reflect.String:
		return "a string"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Map, reflect.Struct:
		return "a mapping"
	default:
		return "a " + t.String()
	}
}

// decodeApps decodes the apps section, names as written in the file.
func decodeApps(raw map[string]map[string]any) (map[string]App, error) {
	apps := make(map[string]App, len(raw))
	names := make([]string, 0, len(raw))
	for name := range raw {
		names = append(names, name)
	}
	slices.Sort(names) // the first error is deterministic
	for _, name := range names {
		var a App
		dec, err := mapstructure.NewDecoder(&mapstructure.DecoderConfig{
			DecodeHook:       decodeHook,
			WeaklyTypedInput: true, // as viper does for the other sections
			Result:           &a,
		})
		if err != nil {
			return nil, fmt.Errorf("config: apps: %w", err)
		}
		if err := dec.Decode(raw[name]); err != nil {
			return nil, decodeError("apps."+name+".", err)
		}
		apps[name] = a
	}
	return apps, nil
}
