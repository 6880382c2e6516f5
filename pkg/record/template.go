package record

import (
	"errors"
	"fmt"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/ripplemedia/ripple/pkg/hub"
)

// Placeholders of a path template.
const (
	phApp    = "app"    // the key's app, nested apps included ("live/eu")
	phStream = "stream" // the key's stream name
	phTime   = "time"   // UTC start time, 20261207T153000Z
	phDate   = "date"   // UTC start date, 2026-12-07
	phExt    = "ext"    // Format.Ext
)

// Layouts of {time} and {date}.
const (
	timeLayout = "20060102T150405Z"
	dateLayout = "2006-01-02"
)

// Patterns each placeholder matches in a file name: hub names
// (hub.ValidName), the layouts above, the extensions.
var phPattern = map[string]string{
	phApp:    `[A-Za-z0-9._~-]+(?:/[A-Za-z0-9._~-]+)*`,
	phStream: `[A-Za-z0-9._~-]+`,
	phTime:   `[0-9]{8}T[0-9]{6}Z`,
	phDate:   `[0-9]{4}-[0-9]{2}-[0-9]{2}`,
	phExt:    `mp4|flv`,
}

// part is a literal or a placeholder of a template.
type part struct {
	lit string
	ph  string // placeholder name; "" for a literal
}

// template is a parsed path template. It splits into the recordings root
// (the directory before the first placeholder: where files are looked
// for and served from) and the name template below it.
type template struct {
	raw  string
	root string // OS path, "" for Root itself; may be absolute
	name []part // the name below root, '/'-separated
	// cut is where the collision suffix ("-1", "-2", ...) goes: before
	// name[cut:], the part holding the final element's last literal '.'
	// (cutAt is its index in that literal), or at the end.
	cut, cutAt int
	re         *regexp.Regexp
	groups     map[string][]int // placeholder → its capture groups
	seqGroup   int              // capture group of the collision suffix
}

// ValidateTemplate reports whether s is a usable path template: '/'
// separated, with the placeholders {app}, {stream} (both required),
// {time} (UTC start, 20261207T153000Z), {date} (2026-12-07) and {ext}
// ("mp4" or "flv"). The part before the first placeholder may be absolute
// or hold ".." (the operator's choice); below it every element must be a
// plain name, so that what {app} and {stream} add never leaves it. Every
// name must map back to one stream key: {app} ends its element, and
// {stream} ends its element or is followed in it by {time} or {date}.
func ValidateTemplate(s string) error {
	_, err := parseTemplate(s)
	return err
}

func parseTemplate(s string) (*template, error) {
	t := &template{raw: s, groups: make(map[string][]int)}
	if s == "" {
		return nil, errors.New("record: empty path template")
	}
	if strings.ContainsAny(s, "\\\x00") {
		return nil, fmt.Errorf("record: path template %q: use '/' as the separator", s)
	}
	first := strings.IndexByte(s, '{')
	if first < 0 {
		return nil, fmt.Errorf("record: path template %q has no {app} and {stream}", s)
	}
	slash := strings.LastIndexByte(s[:first], '/')
	root, rest := "", s
	if slash >= 0 {
		root, rest = s[:slash+1], s[slash+1:]
		root = filepath.FromSlash(path.Clean(root))
	}
	t.root = root
	parts, err := splitParts(rest)
	if err != nil {
		return nil, fmt.Errorf("record: path template %q: %w", s, err)
	}
	t.name = parts
	seen := map[string]bool{}
	for _, p := range parts {
		if p.ph != "" {
			seen[p.ph] = true
		}
	}
	if !seen[phApp] || !seen[phStream] {
		return nil, fmt.Errorf("record: path template %q must hold {app} and {stream}", s)
	}
	if err := checkBounded(parts); err != nil {
		return nil, fmt.Errorf("record: path template %q: %w", s, err)
	}
	if err := t.checkElements(); err != nil {
		return nil, fmt.Errorf("record: path template %q: %w", s, err)
	}
	t.findCut()
	if err := t.compile(); err != nil {
		return nil, fmt.Errorf("record: path template %q: %w", s, err)
	}
	return t, nil
}

// splitParts splits s into literals and {placeholders}.
func splitParts(s string) ([]part, error) {
	var out []part
	for s != "" {
		i := strings.IndexAny(s, "{}")
		if i < 0 {
			out = append(out, part{lit: s})
			break
		}
		if s[i] == '}' {
			return nil, errors.New("'}' without '{'")
		}
		if i > 0 {
			out = append(out, part{lit: s[:i]})
		}
		j := strings.IndexByte(s[i:], '}')
		if j < 0 {
			return nil, errors.New("'{' without '}'")
		}
		name := s[i+1 : i+j]
		if _, ok := phPattern[name]; !ok {
			return nil, fmt.Errorf("placeholder {%s} unknown (app, stream, time, date, ext)", name)
		}
		out = append(out, part{ph: name})
		s = s[i+j+1:]
	}
	return out, nil
}

// checkBounded makes sure a name maps back to one stream key: {app} (which
// holds '/' for nested apps) must end its element, and {stream} must end
// its element or be followed in it by {time} or {date}. Otherwise names
// like "a-b-1.mp4" would have several readings ("a-b" with the collision
// suffix 1, or "a-b-1"), and the key a name is authorized by could be
// another stream's.
func checkBounded(parts []part) error {
	for i, p := range parts {
		if p.ph != phApp && p.ph != phStream {
			continue
		}
		ok := false
	next:
		for _, q := range parts[i+1:] {
			switch {
			case q.ph == "":
				if strings.HasPrefix(q.lit, "/") {
					ok = true
					break next
				}
				if strings.Contains(q.lit, "/") {
					break next
				}
			case p.ph == phStream && (q.ph == phTime || q.ph == phDate):
				ok = true
				break next
			default:
				break next
			}
		}
		if !ok {
			if p.ph == phApp {
				return errors.New("{app} must end its element (be followed by '/')")
			}
			return errors.New("{stream} must end its element or be followed in it by {time} or {date}")
		}
	}
	return nil
}

// checkElements makes sure every element below the root is a name: none
// empty, "." or ".." (placeholders always expand to something else).
func (t *template) checkElements() error {
	var elem strings.Builder
	dynamic := false
	check := func(last bool) error {
		e := elem.String()
		if !dynamic && (e == "" || e == "." || e == "..") {
			if last && e == "" {
				return errors.New("ends with '/'")
			}
			return fmt.Errorf("element %q below the recordings root", e)
		}
		elem.Reset()
		dynamic = false
		return nil
	}
	for _, p := range t.name {
		if p.ph != "" {
			dynamic = true
			elem.WriteString("{" + p.ph + "}")
			continue
		}
		segs := strings.Split(p.lit, "/")
		for i, seg := range segs {
			if i > 0 {
				if err := check(false); err != nil {
					return err
				}
			}
			elem.WriteString(seg)
		}
	}
	return check(true)
}

// findCut places the collision suffix before the last literal '.' of the
// final element, or at the end.
func (t *template) findCut() {
	t.cut, t.cutAt = len(t.name), 0
	for i := len(t.name) - 1; i >= 0; i-- {
		p := t.name[i]
		if p.ph != "" {
			continue
		}
		if slash := strings.LastIndexByte(p.lit, '/'); slash >= 0 {
			if dot := strings.LastIndexByte(p.lit[slash:], '.'); dot >= 0 {
				t.cut, t.cutAt = i, slash+dot
			}
			return
		}
		if dot := strings.LastIndexByte(p.lit, '.'); dot >= 0 {
			t.cut, t.cutAt = i, dot
			return
		}
	}
}

// compile builds the regexp that matches the names the template makes,
// collision suffixes included.
func (t *template) compile() error {
	var b strings.Builder
	b.WriteString("^")
	group := 0
	suffix := func() {
		group++
		t.seqGroup = group
		b.WriteString(`(?:-([0-9]+))?`)
	}
	for i, p := range t.name {
		if p.ph != "" {
			if i == t.cut {
				suffix()
			}
			group++
			t.groups[p.ph] = append(t.groups[p.ph], group)
			b.WriteString("(" + phPattern[p.ph] + ")")
			continue
		}
		if i == t.cut {
			b.WriteString(regexp.QuoteMeta(p.lit[:t.cutAt]))
			suffix()
			b.WriteString(regexp.QuoteMeta(p.lit[t.cutAt:]))
			continue
		}
		b.WriteString(regexp.QuoteMeta(p.lit))
	}
	if t.cut == len(t.name) {
		suffix()
	}
	b.WriteString("$")
	re, err := regexp.Compile(b.String())
	if err != nil {
		return err
	}
	t.re = re
	return nil
}

// splitKey splits a hub key at its last '/' into app and stream.
func splitKey(key string) (app, stream string) {
	i := strings.LastIndexByte(key, '/')
	if i < 0 {
		return "", key
	}
	return key[:i], key[i+1:]
}

// expand returns the name (below the root, '/'-separated) of a file of
// key started at start; seq > 0 adds the collision suffix "-seq".
func (t *template) expand(key string, start time.Time, f Format, seq int) (string, error) {
	if !hub.ValidKey(key) {
		return "", fmt.Errorf("record: stream key %q is not valid", key)
	}
	app, stream := splitKey(key)
	start = start.UTC()
	var b strings.Builder
	for i, p := range t.name {
		lit := p.lit
		if i == t.cut && seq > 0 {
			b.WriteString(lit[:t.cutAt])
			b.WriteString("-" + strconv.Itoa(seq))
			lit = lit[t.cutAt:]
		}
		switch p.ph {
		case "":
			b.WriteString(lit)
		case phApp:
			b.WriteString(app)
		case phStream:
			b.WriteString(stream)
		case phTime:
			b.WriteString(start.Format(timeLayout))
		case phDate:
			b.WriteString(start.Format(dateLayout))
		case phExt:
			b.WriteString(f.Ext())
		}
	}
	if t.cut == len(t.name) && seq > 0 {
		b.WriteString("-" + strconv.Itoa(seq))
	}
	name := b.String()
	// Defense in depth: the values are hub names, which cannot hold "..",
	// but a name must never leave the root whatever they hold.
	if !localName(name) {
		return "", fmt.Errorf("record: name %q leaves the recordings root", name)
	}
	return name, nil
}

// localName reports whether name is a clean, relative '/'-separated path
// that stays within its root.
func localName(name string) bool {
	return name != "" && !strings.ContainsAny(name, "\\\x00") && path.Clean(name) == name &&
		filepath.IsLocal(filepath.FromSlash(name))
}

// match is what a name tells about its file.
type match struct {
	key, app, stream string
	start            time.Time
	format           Format
	formatKnown      bool
	seq              int // the collision suffix, 0 if none
}

// match parses a name the template made; ok is false for other names.
func (t *template) match(name string) (m match, ok bool) {
	sub := t.re.FindStringSubmatch(name)
	if sub == nil {
		return m, false
	}
	get := func(ph string) (string, bool) {
		gs := t.groups[ph]
		if len(gs) == 0 {
			return "", false
		}
		v := sub[gs[0]]
		for _, g := range gs[1:] {
			if sub[g] != v {
				return "", false // a repeated placeholder must repeat its value
			}
		}
		return v, true
	}
	var okApp, okStream bool
	m.app, okApp = get(phApp)
	m.stream, okStream = get(phStream)
	if !okApp || !okStream {
		return m, false
	}
	m.key = m.app + "/" + m.stream
	if !hub.ValidKey(m.key) {
		return m, false
	}
	if v := sub[t.seqGroup]; v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 || v[0] == '0' {
			return m, false // not a suffix expand writes
		}
		m.seq = n
	}
	if len(t.groups[phTime]) > 0 {
		v, ok := get(phTime)
		if !ok {
			return m, false
		}
		m.start, _ = time.Parse(timeLayout, v)
	} else if len(t.groups[phDate]) > 0 {
		v, ok := get(phDate)
		if !ok {
			return m, false
		}
		m.start, _ = time.Parse(dateLayout, v)
	}
	if len(t.groups[phExt]) > 0 {
		v, ok := get(phExt)
		if !ok {
			return m, false
		}
		m.format, m.formatKnown = formatOfExt(v)
	} else {
		m.format, m.formatKnown = formatOfExt(strings.TrimPrefix(path.Ext(name), "."))
	}
	return m, true
}

func formatOfExt(ext string) (Format, bool) {
	switch ext {
	case "mp4":
		return FormatFMP4, true
	case "flv":
		return FormatFLV, true
	}
	return FormatFMP4, false
}

// keyDir is the deepest directory (below the root, '/'-separated, "" for
// the root) that holds every file of key: the leading elements made of
// literals, {app} and {stream} only.
func (t *template) keyDir(key string) string {
	app, stream := splitKey(key)
	var dir, elem strings.Builder
	for _, p := range t.name {
		switch p.ph {
		case phApp:
			elem.WriteString(app)
			continue
		case phStream:
			elem.WriteString(stream)
			continue
		case "":
		default:
			return dir.String()
		}
		segs := strings.Split(p.lit, "/")
		for i, seg := range segs {
			if i > 0 {
				if dir.Len() > 0 {
					dir.WriteByte('/')
				}
				dir.WriteString(elem.String())
				elem.Reset()
			}
			elem.WriteString(seg)
		}
	}
	return dir.String()
}
