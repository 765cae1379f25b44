// Package docs checks that the documentation's relative links lead
// somewhere: to a file of the repository and, when they name one, to a
// heading of it.
package docs

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/memorymcp/memory-mcp-operator/internal/envtestutil"
)

var (
	link    = regexp.MustCompile(`\]\(([^)\s]+)\)`)
	heading = regexp.MustCompile(`(?m)^#+ +(.+)$`)
	strip   = regexp.MustCompile(`[^a-z0-9 _-]`)
	// Code spans hold patterns such as `([-a-z0-9]*)`, not links.
	codeSpan = regexp.MustCompile("`[^`\n]*`")
)

// anchors returns the anchors GitHub derives from a document's headings.
func anchors(doc string) map[string]bool {
	set := map[string]bool{}
	for _, m := range heading.FindAllStringSubmatch(doc, -1) {
		a := strip.ReplaceAllString(strings.ToLower(strings.TrimSpace(m[1])), "")
		set[strings.ReplaceAll(a, " ", "-")] = true
	}
	return set
}

func TestRelativeLinks(t *testing.T) {
	root := envtestutil.RepoRoot()
	docs, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	docs = append(docs, filepath.Join(root, "README.md"),
		filepath.Join(root, "charts", "memory-mcp-operator", "README.md"))
	for _, doc := range docs {
		data, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		text := codeSpan.ReplaceAllString(string(data), "")
		for _, m := range link.FindAllStringSubmatch(text, -1) {
			target := m[1]
			if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			path, anchor, _ := strings.Cut(target, "#")
			file := doc
			if path != "" {
				file = filepath.Join(filepath.Dir(doc), path)
			}
			rel, _ := filepath.Rel(root, doc)
			content, err := os.ReadFile(file)
			if err != nil {
				if _, statErr := os.Stat(file); statErr != nil {
					t.Errorf("%s links %s, which does not exist", rel, target)
				}
				continue
			}
			if anchor != "" && !anchors(string(content))[anchor] {
				t.Errorf("%s links %s, which has no heading #%s", rel, target, anchor)
			}
		}
	}
}
