package config

import (
	"maps"
	"reflect"
	"slices"
)

// Diff returns the dotted keys whose values differ between a and b, sorted:
// "log.level", "apps.live.publish_policy". A whole app added or removed is
// reported as "apps.NAME"; a named-map section of another helper's making
// (a map of structs) is walked the same way. Lists and other maps are
// compared as one value under their key. Diff is what a reload (SIGHUP)
// uses to decide which components must take the new configuration and
// which changed keys only take effect after a restart.
func Diff(a, b Config) []string {
	var out []string
	diffValue(reflect.ValueOf(a), reflect.ValueOf(b), "", &out)
	slices.Sort(out)
	return out
}

func diffValue(a, b reflect.Value, key string, out *[]string) {
	switch a.Kind() {
	case reflect.Struct:
		t := a.Type()
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			name := f.Tag.Get("mapstructure")
			if name == "" || name == "-" {
				continue
			}
			diffValue(a.Field(i), b.Field(i), join(key, name), out)
		}
	case reflect.Map:
		if a.Type().Elem().Kind() != reflect.Struct || a.Type().Key().Kind() != reflect.String {
			if !reflect.DeepEqual(a.Interface(), b.Interface()) {
				*out = append(*out, key)
			}
			return
		}
		names := make(map[string]struct{})
		for _, k := range a.MapKeys() {
			names[k.String()] = struct{}{}
		}
		for _, k := range b.MapKeys() {
			names[k.String()] = struct{}{}
		}
		for _, name := range slices.Sorted(maps.Keys(names)) {
			k := reflect.ValueOf(name).Convert(a.Type().Key())
			av, bv := a.MapIndex(k), b.MapIndex(k)
			if !av.IsValid() || !bv.IsValid() {
				*out = append(*out, key+"."+name)
				continue
			}
			diffValue(av, bv, key+"."+name, out)
		}
	default:
		if !reflect.DeepEqual(a.Interface(), b.Interface()) {
			*out = append(*out, key)
		}
	}
}
