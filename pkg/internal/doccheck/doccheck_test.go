package doccheck

import (
	"errors"
	"fmt"
	"go/scanner"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestCitationsResolve walks the repository and checks every citation of a
// design note and every link between notes (see the package comment).
func TestCitationsResolve(t *testing.T) {
	root := repoRoot(t)
	notes, err := loadNotes(filepath.Join(root, "docs"))
	require.NoError(t, err)
	require.Contains(t, notes, "architecture.md", "docs/ was not found where expected")

	var problems []string
	files := 0
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if skipDir(rel, d.Name()) {
				return filepath.SkipDir
			}
			return nil
		}
		kind := kindOf(rel)
		if kind == "" {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		files++
		for _, s := range texts(rel, kind, b) {
			problems = append(problems, check(notes, rel, kind, s)...)
		}
		return nil
	})
	require.NoError(t, err)
	require.Greater(t, files, 100, "too few files scanned: is %s the repository root?", root)
	require.Empty(t, problems, "citations that point nowhere:\n%s", strings.Join(problems, "\n"))
}

// TestCheckCatches makes sure the check is not vacuous: each kind of bad
// citation is reported, good ones are not.
func TestCheckCatches(t *testing.T) {
	notes := map[string]map[string]bool{
		"architecture.md": {"1": true, "3": true, "3.4": true},
		"interop.md":      {"4": true},
	}
	for _, tc := range []struct {
		name, kind, text string
		bad              bool
	}{
		{"existing section", "go", "flush points (docs/architecture.md §3.4)", false},
		{"existing note", "go", "see docs/interop.md", false},
		{"spec citation", "go", "StreamEOF (RTMP 1.0 §7.1.7)", false},
		{"missing note", "go", "see docs/design.md", true},
		{"missing section", "go", "see docs/interop.md §9", true},
		{"style guide", "go", "cached for all players (style §3.2)", true},
		{"style guide, long form", "go", "in order (style guide §4)", true},
		{"interop notes", "go", "end of stream (interop notes §4)", true},
		{"interop note", "go", "thresholds (interop note §7)", true},
		{"bare notes", "go", "by design (notes §6)", true},
		{"rtmp-interop notes", "sh", "# rtmp-interop notes §1", true},
		{"issue section", "yaml", "# issue 5 §6", true},
		{"the interop notes", "go", "the peers the interop notes name", true},
		{"note link", "md", "see [interop.md](interop.md) §4", false},
		{"note link, missing section", "md", "see [interop.md](interop.md) §5", true},
		{"note link, missing note", "md", "see [perf](perf.md)", true},
		{"external link", "md", "see [spec](https://example.com/x.md)", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rel := "pkg/x/x." + tc.kind
			if tc.kind == "md" {
				rel = "docs/x.md"
			}
			got := check(notes, rel, tc.kind, text{line: 1, s: tc.text})
			if tc.bad {
				require.Len(t, got, 1)
			} else {
				require.Empty(t, got)
			}
		})
	}
}

// repoRoot returns the directory holding go.mod above the test's directory.
func repoRoot(t *testing.T) string {
	dir, err := os.Getwd()
	require.NoError(t, err)
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		require.NotEqual(t, dir, parent, "no go.mod above the test directory")
		dir = parent
	}
}

// skipDir leaves out what is not the project's own prose: VCS data, fuzz
// corpora and golden files, installed player libraries.
func skipDir(rel, name string) bool {
	switch {
	case rel == ".":
		return false
	case name == ".git", name == "testdata", name == "node_modules":
		return true
	case rel == "web/vendor":
		return true
	}
	return false
}

// kindOf says how a file is read: Go comments only, or the whole text.
func kindOf(rel string) string {
	switch filepath.Ext(rel) {
	case ".go":
		return "go"
	case ".md":
		return "md"
	case ".sh":
		return "sh"
	case ".yaml", ".yml":
		return "yaml"
	case ".js", ".html", ".conf":
		return "text"
	}
	if filepath.Base(rel) == "Dockerfile" || strings.HasPrefix(rel, ".ci/") {
		return "text"
	}
	return ""
}

// text is one piece of prose and the line it starts on.
type text struct {
	line int
	s    string
}

// texts returns the comments of a Go file, or every line of another file.
func texts(rel, kind string, b []byte) []text {
	if kind != "go" {
		var out []text
		for i, l := range strings.Split(string(b), "\n") {
			out = append(out, text{line: i + 1, s: l})
		}
		return out
	}
	fset := token.NewFileSet()
	f := fset.AddFile(rel, -1, len(b))
	var sc scanner.Scanner
	sc.Init(f, b, func(token.Position, string) {}, scanner.ScanComments)
	var out []text
	for {
		pos, tok, lit := sc.Scan()
		if tok == token.EOF {
			return out
		}
		if tok != token.COMMENT {
			continue
		}
		// One text per comment line, so a citation's line is exact.
		for i, l := range strings.Split(lit, "\n") {
			out = append(out, text{line: fset.Position(pos).Line + i, s: l})
		}
	}
}

var (
	// A citation of a note by its path, with an optional section.
	noteCite = regexp.MustCompile(`docs/([A-Za-z0-9_.-]+\.md)(?:\s*§\s*(\d+(?:\.\d+)*))?`)
	// A Markdown link to a note (inside docs/ and the README), with an
	// optional section right after it.
	noteLink = regexp.MustCompile(`\]\(([A-Za-z0-9_./-]+\.md)\)(?:\s*§\s*(\d+(?:\.\d+)*))?`)
	// Citations of documents that are not in the repository.
	outside = regexp.MustCompile(`(?i)\b(?:style(?: guide)?\s*§|(?:rtmp-)?interop(?: notes?)?\s*§|notes?\s*§|issue\s+\d+\s*§|interop notes\b)`)
	// A numbered heading: "## 3. Title", "### 3.4 Title".
	heading = regexp.MustCompile(`^#{1,6}\s+(\d+(?:\.\d+)*)\.?\s`)
)

// check reports the bad citations in s, a piece of file rel.
func check(notes map[string]map[string]bool, rel, kind string, s text) []string {
	var out []string
	bad := func(format string, args ...any) {
		out = append(out, fmt.Sprintf("%s:%d: %s", rel, s.line, fmt.Sprintf(format, args...)))
	}
	for _, m := range noteCite.FindAllStringSubmatch(s.s, -1) {
		if msg := resolve(notes, m[1], m[2]); msg != "" {
			bad("%s: %s", m[0], msg)
		}
	}
	if kind == "md" {
		for _, m := range noteLink.FindAllStringSubmatch(s.s, -1) {
			name, ok := linkedNote(rel, m[1])
			if !ok {
				continue // a link to a Markdown file outside docs/
			}
			if msg := resolve(notes, name, m[2]); msg != "" {
				bad("%s: %s", m[0], msg)
			}
		}
	}
	if !strings.HasPrefix(rel, "docs/") || kind != "md" {
		if m := outside.FindString(s.s); m != "" {
			bad("%q cites a document that is not in the repository; cite docs/ or the spec", m)
		}
	}
	return out
}

// linkedNote maps a relative Markdown link in rel to a note name under
// docs/, if that is where it points.
func linkedNote(rel, link string) (string, bool) {
	if strings.Contains(link, "://") {
		return "", false
	}
	p := filepath.ToSlash(filepath.Join(filepath.Dir(rel), link))
	name, ok := strings.CutPrefix(p, "docs/")
	if !ok || strings.Contains(name, "/") {
		return "", false
	}
	return name, true
}

// resolve explains why note name with section sec (may be empty) does not
// exist, or returns "".
func resolve(notes map[string]map[string]bool, name, sec string) string {
	secs, ok := notes[name]
	switch {
	case !ok:
		return "no such file under docs/"
	case sec != "" && !secs[sec]:
		have := make([]string, 0, len(secs))
		for k := range secs {
			have = append(have, k)
		}
		slices.Sort(have)
		return fmt.Sprintf("docs/%s has no section %s (it has %s)", name, sec, strings.Join(have, ", "))
	}
	return ""
}

// loadNotes reads the numbered headings of every note under dir.
func loadNotes(dir string) (map[string]map[string]bool, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	notes := make(map[string]map[string]bool)
	for _, e := range entries {
		if e.IsDir() || filepath.Ext(e.Name()) != ".md" {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		secs := make(map[string]bool)
		for _, l := range strings.Split(string(b), "\n") {
			if m := heading.FindStringSubmatch(l); m != nil {
				secs[m[1]] = true
			}
		}
		notes[e.Name()] = secs
	}
	if len(notes) == 0 {
		return nil, errors.New("no notes under " + dir)
	}
	return notes, nil
}
