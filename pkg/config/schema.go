package config

import (
	"fmt"
	"reflect"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// schema describes one level of Config, derived from its mapstructure tags,
// so that the struct is the only list of keys: a YAML key the struct does not
// know is an error, never silently ignored.
type schema struct {
	fields map[string]*schema // a section: key → child
	elem   *schema            // a named map (apps): any name → elem
	list   bool               // a list of scalars (apps.NAME.forward)
	items  *schema            // a list of mappings (apps.NAME.transcode): each item
}

func (s *schema) leaf() bool { return s.fields == nil && s.elem == nil }

var configSchema = schemaOf(reflect.TypeFor[Config]())

func schemaOf(t reflect.Type) *schema {
	switch t.Kind() {
	case reflect.Struct:
		s := &schema{fields: make(map[string]*schema, t.NumField())}
		for i := range t.NumField() {
			f := t.Field(i)
			s.fields[f.Tag.Get("mapstructure")] = schemaOf(f.Type)
		}
		return s
	case reflect.Map:
		return &schema{elem: schemaOf(t.Elem())}
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Struct {
			return &schema{list: true, items: schemaOf(t.Elem())}
		}
		return &schema{list: true}
	default:
		return &schema{}
	}
}

// Keys returns every scalar key settable from defaults, file, environment
// and flags, dotted and sorted. Keys below named maps (apps) are not listed.
func Keys() []string {
	var keys []string
	var walk func(s *schema, prefix string)
	walk = func(s *schema, prefix string) {
		for name, child := range s.fields {
			switch {
			case child.leaf():
				keys = append(keys, prefix+name)
			case child.fields != nil:
				walk(child, prefix+name+".")
			}
		}
	}
	walk(configSchema, "")
	slices.Sort(keys)
	return keys
}

// EnvName returns the environment variable that sets key.
func EnvName(key string) string {
	return EnvPrefix + "_" + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

// parseYAML checks a YAML document against the schema and returns its scalar
// keys as a nested map for viper, and the apps section apart (names kept as
// written). Errors carry the file name, line and dotted key.
func parseYAML(name string, b []byte) (map[string]any, map[string]map[string]any, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, nil, fmt.Errorf("config: %s: %w", name, err)
	}
	if len(doc.Content) == 0 { // empty file
		return map[string]any{}, nil, nil
	}
	p := parser{name: name}
	out, err := p.section(doc.Content[0], configSchema, "")
	if err != nil {
		return nil, nil, err
	}
	if out == nil {
		return map[string]any{}, nil, nil
	}
	var apps map[string]map[string]any
	if raw, ok := out["apps"].(map[string]any); ok {
		apps = make(map[string]map[string]any, len(raw))
		for app, v := range raw {
			m, _ := v.(map[string]any) // nil for "live:" with no overrides
			apps[app] = m
		}
	}
	delete(out, "apps")
	return out, apps, nil
}

type parser struct{ name string }

func (p *parser) errorf(n *yaml.Node, format string, args ...any) error {
	return fmt.Errorf("config: %s:%d: %s", p.name, n.Line, fmt.Sprintf(format, args...))
}

type pair struct {
	k, v   *yaml.Node
	merged bool // came from a "<<" merge key: explicit keys override it
}

// section checks a mapping against s; a null node is an empty section.
func (p *parser) section(n *yaml.Node, s *schema, prefix string) (map[string]any, error) {
	n = resolve(n)
	if isNull(n) {
		return nil, nil
	}
	if n.Kind != yaml.MappingNode {
		return nil, p.errorf(n, "%s: expected a mapping, got %s", orRoot(prefix), kindName(n))
	}
	ps, err := p.pairs(n)
	if err != nil {
		return nil, err
	}
	out := make(map[string]any, len(ps))
	seen := make(map[string]int, len(ps))
	for _, kv := range ps {
		if kv.k.Kind != yaml.ScalarNode {
			return nil, p.errorf(kv.k, "%s: keys must be strings, got %s", orRoot(prefix), kindName(kv.k))
		}
		key := kv.k.Value
		path := join(prefix, key)
		if !kv.merged {
			if line, dup := seen[key]; dup {
				return nil, p.errorf(kv.k, "%s: duplicate key (first at line %d)", path, line)
			}
			seen[key] = kv.k.Line
		}
		child := s.elem
		if child == nil {
			var ok bool
			if child, ok = s.fields[key]; !ok {
				return nil, p.errorf(kv.k, "%s: unknown key%s", path, suggest(key, s.fields))
			}
		}
		if !child.leaf() {
			sub, err := p.section(kv.v, child, path)
			if err != nil {
				return nil, err
			}
			if sub != nil || s.elem != nil { // keep "live:" as an app without overrides
				out[key] = sub
			}
			continue
		}
		v := resolve(kv.v)
		if child.items != nil {
			val, err := p.sections(v, child.items, path)
			if err != nil {
				return nil, err
			}
			out[key] = val
			continue
		}
		if child.list {
			val, err := p.list(v, path)
			if err != nil {
				return nil, err
			}
			out[key] = val
			continue
		}
		if v.Kind != yaml.ScalarNode {
			return nil, p.errorf(v, "%s: expected a value, got %s", path, kindName(v))
		}
		if isNull(v) {
			return nil, p.errorf(v, "%s: no value", path)
		}
		var val any
		if err := v.Decode(&val); err != nil {
			return nil, p.errorf(v, "%s: %v", path, err)
		}
		out[key] = val
	}
	return out, nil
}

// sections decodes a list of mappings, each checked against s; an empty
// list or null is no items.
func (p *parser) sections(n *yaml.Node, s *schema, path string) ([]any, error) {
	if isNull(n) {
		return []any{}, nil
	}
	if n.Kind != yaml.SequenceNode {
		return nil, p.errorf(n, "%s: expected a list, got %s", path, kindName(n))
	}
	out := make([]any, 0, len(n.Content))
	for i, item := range n.Content {
		m, err := p.section(item, s, fmt.Sprintf("%s[%d]", path, i))
		if err != nil {
			return nil, err
		}
		if m == nil {
			return nil, p.errorf(item, "%s[%d]: expected a mapping, got %s", path, i, kindName(resolve(item)))
		}
		out = append(out, m)
	}
	return out, nil
}

// list decodes a list of scalars; an empty list or null is no items.
func (p *parser) list(n *yaml.Node, path string) ([]any, error) {
	if isNull(n) {
		return []any{}, nil
	}
	if n.Kind != yaml.SequenceNode {
		return nil, p.errorf(n, "%s: expected a list, got %s", path, kindName(n))
	}
	out := make([]any, 0, len(n.Content))
	for i, item := range n.Content {
		item = resolve(item)
		if item.Kind != yaml.ScalarNode || isNull(item) {
			return nil, p.errorf(item, "%s[%d]: expected a value, got %s", path, i, kindName(item))
		}
		var val any
		if err := item.Decode(&val); err != nil {
			return nil, p.errorf(item, "%s[%d]: %v", path, i, err)
		}
		out = append(out, val)
	}
	return out, nil
}

// pairs lists a mapping's key/value pairs, merged ("<<", YAML 1.1 merge key)
// ones first so that explicit keys override them.
func (p *parser) pairs(n *yaml.Node) ([]pair, error) {
	var merged, own []pair
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode || k.Tag != "!!merge" {
			own = append(own, pair{k: k, v: v})
			continue
		}
		v = resolve(v)
		srcs := []*yaml.Node{v}
		if v.Kind == yaml.SequenceNode {
			srcs = v.Content
		}
		for _, src := range srcs {
			src = resolve(src)
			if src.Kind != yaml.MappingNode {
				return nil, p.errorf(src, "merge key: expected a mapping, got %s", kindName(src))
			}
			ps, err := p.pairs(src)
			if err != nil {
				return nil, err
			}
			for _, kv := range ps {
				kv.merged = true
				merged = append(merged, kv)
			}
		}
	}
	return append(merged, own...), nil
}

func resolve(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.Tag == "!!null" }

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return fmt.Sprintf("%q", n.Value)
	default:
		return "an alias"
	}
}

func join(prefix, key string) string {
	if prefix == "" {
		return key
	}
	return prefix + "." + key
}

func orRoot(prefix string) string {
	if prefix == "" {
		return "top level"
	}
	return prefix
}

// flatten turns nested sections into dotted keys.
func flatten(m map[string]any, prefix string) map[string]any {
	out := make(map[string]any)
	for k, v := range m {
		if sub, ok := v.(map[string]any); ok {
			for sk, sv := range flatten(sub, join(prefix, k)) {
				out[sk] = sv
			}
			continue
		}
		out[join(prefix, k)] = v
	}
	return out
}

// suggest names the closest sibling key for a likely typo.
func suggest(key string, fields map[string]*schema) string {
	best, bestDist := "", 3 // more than 2 edits is not a typo
	for name := range fields {
		if d := editDistance(key, name); d < bestDist || (d == bestDist && name < best) {
			best, bestDist = name, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %s?)", best)
}

// editDistance is the optimal-string-alignment distance between a and b:
// insertions, deletions, substitutions and adjacent transpositions ("rmtp")
// each cost 1. Keys are short, so the full table is fine.
func editDistance(a, b string) int {
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}
