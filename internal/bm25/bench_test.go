package bm25

import (
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
)

// BenchmarkSearch100k searches 100,000 documents drawn from a Zipf
// vocabulary, so queries often include terms most documents hold.
func BenchmarkSearch100k(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	z := rand.NewZipf(r, 1.1, 1, 4999)
	text := func(n int) string {
		w := make([]string, n)
		for i := range w {
			w[i] = "w" + strconv.FormatUint(z.Uint64(), 36)
		}
		return strings.Join(w, " ")
	}
	ix := New()
	for d := range uint32(100_000) {
		ix.Add(d+1, text(18))
	}
	for b.Loop() {
		ix.Search(text(3), 100)
	}
}
