package bm25

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestStem(t *testing.T) {
	tests := map[string]string{
		"migrations": "migrat", "migrating": "migrat", "migrate": "migrat", "migrated": "migrat",
		"tests": "test", "test": "test", "go": "go", "use": "use", "cache": "cach", "caches": "cach",
	}
	for in, want := range tests {
		if got := Stem(in); got != want {
			t.Errorf("Stem(%q) = %q, want %q", in, got, want)
		}
	}
}

func docs(hits []Hit) []uint32 {
	out := []uint32{}
	for _, h := range hits {
		out = append(out, h.Doc)
	}
	return out
}

func TestSearch(t *testing.T) {
	ix := New()
	ix.Add(1, "migrate the postgres schema")
	ix.Add(2, "style the login page")
	ix.Add(3, "postgres connection pool for the login page")
	ix.Add(4, "rotate postgres credentials")
	ix.Add(2, "stylelint failed")
	ix.Add(5, "a very long description about postgres that goes on and on with many words")

	tests := []struct {
		name  string
		query string
		limit int
		want  []uint32
	}{
		{"rare term", "schema", 10, []uint32{1}},
		{"stemmed", "Migrations", 10, []uint32{1}},
		{"appended text", "stylelint", 10, []uint32{2}},
		{"two terms beat one", "postgres login", 2, []uint32{3, 2}},
		{"shorter document ranks higher", "credentials postgres", 10, []uint32{4, 1, 3, 5}},
		{"no match", "kubernetes", 10, []uint32{}},
		{"stopwords only", "the of and", 10, []uint32{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, docs(ix.Search(tt.query, tt.limit))); diff != "" {
				t.Errorf("Search(%q) (-want +got):\n%s", tt.query, diff)
			}
		})
	}

	ix.Remove(1)
	if got := docs(ix.Search("schema", 10)); len(got) != 0 {
		t.Errorf("removed document still found: %v", got)
	}
	if ix.Len() != 4 {
		t.Errorf("Len = %d, want 4", ix.Len())
	}
}

func TestOutOfOrderAdds(t *testing.T) {
	ix := New()
	ix.Add(7, "alpha")
	ix.Add(3, "alpha")
	ix.Add(5, "alpha")
	ix.Add(3, "alpha")
	got := ix.Search("alpha", 10)
	if got[0].Doc != 3 {
		t.Errorf("doc 3 holds alpha twice and should rank first, got %v", got)
	}
	if len(got) != 3 {
		t.Errorf("got %d hits, want 3", len(got))
	}
}

// TestRemovedIDReused indexes a new document under a removed one's id, as
// SQLite does after the newest episode is deleted.
func TestRemovedIDReused(t *testing.T) {
	ix := New()
	ix.Add(1, "kept")
	ix.Add(2, "zebra crossing")
	ix.Remove(2)
	ix.Add(2, "quiet walrus")

	if got := docs(ix.Search("zebra", 10)); len(got) != 0 {
		t.Errorf("the removed document's word finds %v, want nothing", got)
	}
	if diff := cmp.Diff([]uint32{2}, docs(ix.Search("walrus", 10))); diff != "" {
		t.Errorf("Search(walrus) (-want +got):\n%s", diff)
	}
	if ix.Len() != 2 {
		t.Errorf("Len = %d, want 2", ix.Len())
	}
}
