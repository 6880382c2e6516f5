package config

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

// readmeTables are the README tables of keys and their defaults, by header
// row, with the prefix their keys are written under.
var readmeTables = map[string]string{
	"| key | default | meaning |":                 "",
	"| key (`auth.hooks.`) | default | meaning |": "auth.hooks.",
}

var backticked = regexp.MustCompile("`([^`]+)`")

// readmeDefaults returns the defaults the README's key tables document,
// as written ("32 MiB", "0s", "" for "empty"). A row lists keys separated
// by " / " or ", " and as many defaults (or one for all) separated the
// same way. Rows of per-app keys and brace patterns are left out.
func readmeDefaults(t *testing.T, readme string) map[string]string {
	t.Helper()
	out := make(map[string]string)
	prefix, in := "", false
	for line := range strings.SplitSeq(readme, "\n") {
		if p, ok := readmeTables[strings.TrimSpace(line)]; ok {
			prefix, in = p, true
			continue
		}
		if !in {
			continue
		}
		if !strings.HasPrefix(line, "|") {
			in = false
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")
		if len(cells) < 3 || strings.HasPrefix(strings.TrimSpace(cells[0]), "---") {
			continue
		}
		keyCell, defCell := strings.TrimSpace(cells[0]), strings.TrimSpace(cells[1])
		if strings.ContainsAny(keyCell, "{") || strings.Contains(keyCell, "NAME") {
			continue
		}
		sep := ", "
		if strings.Contains(keyCell, " / ") {
			sep = " / "
		}
		var keys []string
		for _, m := range backticked.FindAllStringSubmatch(keyCell, -1) {
			keys = append(keys, prefix+m[1])
		}
		var defs []string
		for part := range strings.SplitSeq(defCell, sep) {
			if strings.HasPrefix(part, "empty") {
				defs = append(defs, "")
				continue
			}
			m := backticked.FindStringSubmatch(part)
			require.NotNil(t, m, "README row %q: default %q has no `value`", keyCell, part)
			defs = append(defs, m[1])
		}
		if len(defs) == 1 {
			for len(defs) < len(keys) {
				defs = append(defs, defs[0])
			}
		}
		require.Len(t, defs, len(keys), "README row %q: %d keys, defaults %q", keyCell, len(keys), defCell)
		for i, k := range keys {
			out[k] = defs[i]
		}
	}
	return out
}

// TestREADMEDefaults checks that the defaults the README's configuration
// tables state are the effective ones: a file setting every documented key
// to its documented default loads to exactly what Load gives with no file
// (as TestExampleFile does for ripple.example.yaml).
func TestREADMEDefaults(t *testing.T) {
	clearEnv(t)
	b, err := os.ReadFile("../../README.md")
	require.NoError(t, err)
	documented := readmeDefaults(t, string(b))
	require.Greater(t, len(documented), 40, "the README's key tables were not found")

	file := make(map[string]any)
	for key, v := range documented {
		require.Contains(t, Keys(), key, "the README documents an unknown key")
		m := file
		parts := strings.Split(key, ".")
		for _, p := range parts[:len(parts)-1] {
			if _, ok := m[p]; !ok {
				m[p] = make(map[string]any)
			}
			m = m[p].(map[string]any)
		}
		m[parts[len(parts)-1]] = v
	}
	y, err := yaml.Marshal(file)
	require.NoError(t, err)
	got, err := Load(writeFile(t, string(y)), nil)
	require.NoError(t, err, "the README's defaults:\n%s", y)
	want, err := Load("", nil)
	require.NoError(t, err)
	require.Equal(t, want, got)
}
