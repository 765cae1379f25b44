// Package bm25 is an in-memory inverted index ranked with Okapi BM25.
//
// The SQLite store keeps one next to its database: a single replica owns
// all writes, so the index is exact, and scoring postings in Go is an
// order of magnitude faster than FTS5 through the pure-Go SQLite driver.
//
// # Notes
//
// Document ids are dense, increasing integers (the store's row ids), so
// posting lists stay sorted by appending and scores accumulate in a flat
// array. Removing a document drops its postings too, because SQLite gives
// the id of a deleted newest row to the next insert: a tombstone would
// come back to life with the new document's first Add.
package bm25

import (
	"cmp"
	"container/heap"
	"math"
	"slices"
	"sync"
)

// Standard BM25 parameters.
const (
	k1 = 1.2
	b  = 0.75
)

type posting struct {
	doc uint32
	tf  uint32
}

// Index is safe for concurrent use.
type Index struct {
	mu       sync.RWMutex
	postings map[string][]posting
	// docLen is indexed by document id; zero marks an absent or removed
	// document. A flat slice keeps the per-posting lookup cheap.
	docLen   []uint32
	live     int
	totalLen uint64
	scratch  sync.Pool
}

// New returns an empty index.
func New() *Index {
	return &Index{postings: map[string][]posting{}}
}

// Hit is a scored document.
type Hit struct {
	Doc   uint32
	Score float64
}

// Add indexes text under doc, adding to what doc already holds.
func (ix *Index) Add(doc uint32, text string) {
	toks := Tokens(text)
	if len(toks) == 0 {
		return
	}
	counts := map[string]uint32{}
	for _, t := range toks {
		counts[t]++
	}
	ix.mu.Lock()
	defer ix.mu.Unlock()
	for term, tf := range counts {
		ix.postings[term] = addPosting(ix.postings[term], doc, tf)
	}
	if int(doc) >= len(ix.docLen) {
		ix.docLen = append(ix.docLen, make([]uint32, int(doc)+1-len(ix.docLen))...)
	}
	if ix.docLen[doc] == 0 {
		ix.live++
	}
	ix.docLen[doc] += uint32(len(toks))
	ix.totalLen += uint64(len(toks))
}

// addPosting inserts or increments doc's posting, keeping ps sorted.
func addPosting(ps []posting, doc, tf uint32) []posting {
	if n := len(ps); n == 0 || ps[n-1].doc < doc {
		return append(ps, posting{doc, tf})
	}
	i, found := slices.BinarySearchFunc(ps, doc, comparePosting)
	if found {
		ps[i].tf += tf
		return ps
	}
	return slices.Insert(ps, i, posting{doc, tf})
}

func comparePosting(p posting, doc uint32) int { return cmp.Compare(p.doc, doc) }

// Remove drops doc and its postings, so that doc can be indexed afresh.
// It visits every term, which is fine for deletes but not for a hot path;
// an absent doc costs nothing.
func (ix *Index) Remove(doc uint32) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	// Note: a doc has postings exactly when its length is not zero.
	if int(doc) >= len(ix.docLen) || ix.docLen[doc] == 0 {
		return
	}
	for term, ps := range ix.postings {
		i, found := slices.BinarySearchFunc(ps, doc, comparePosting)
		switch {
		case !found:
		case len(ps) == 1:
			delete(ix.postings, term)
		default:
			ix.postings[term] = slices.Delete(ps, i, i+1)
		}
	}
	ix.totalLen -= uint64(ix.docLen[doc])
	ix.docLen[doc] = 0
	ix.live--
}

// Len returns the number of live documents.
func (ix *Index) Len() int {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return ix.live
}

// Search returns the limit best documents for the query's terms, best
// first; documents matching no term are left out.
func (ix *Index) Search(query string, limit int) []Hit {
	terms := slices.Compact(slices.Sorted(slices.Values(Tokens(query))))
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	n := ix.live
	if n == 0 || limit <= 0 {
		return nil
	}
	avg := float64(ix.totalLen) / float64(n)
	scores := ix.scores()
	defer ix.scratch.Put(scores)
	var touched []uint32
	for _, t := range terms {
		ps := ix.postings[t]
		idf := math.Log(1 + (float64(n)-float64(len(ps))+0.5)/(float64(len(ps))+0.5))
		for _, p := range ps {
			dl := ix.docLen[p.doc]
			if dl == 0 {
				continue
			}
			if (*scores)[p.doc] == 0 {
				touched = append(touched, p.doc)
			}
			tf := float64(p.tf)
			(*scores)[p.doc] += idf * tf * (k1 + 1) / (tf + k1*(1-b+b*float64(dl)/avg))
		}
	}
	return topHits(*scores, touched, limit)
}

// scores returns a zeroed accumulator covering every document id.
func (ix *Index) scores() *[]float64 {
	s, _ := ix.scratch.Get().(*[]float64)
	if s == nil || len(*s) < len(ix.docLen) {
		buf := make([]float64, len(ix.docLen)+len(ix.docLen)/4)
		return &buf
	}
	return s
}

// topHits selects the best touched documents with a bounded min-heap,
// O(n log limit) rather than sorting every match, and zeroes the touched
// slots so the accumulator can be reused.
func topHits(scores []float64, touched []uint32, limit int) []Hit {
	h := make(hitHeap, 0, min(limit, len(touched)))
	for _, d := range touched {
		hit := Hit{Doc: d, Score: scores[d]}
		scores[d] = 0
		switch {
		case len(h) < limit:
			heap.Push(&h, hit)
		case better(hit, h[0]):
			h[0] = hit
			heap.Fix(&h, 0)
		}
	}
	slices.SortFunc(h, func(a, b Hit) int {
		if better(a, b) {
			return -1
		}
		return 1
	})
	return h
}

// better orders hits by score, then by newer document, so results are
// stable between runs.
func better(a, b Hit) bool {
	if a.Score != b.Score {
		return a.Score > b.Score
	}
	return a.Doc > b.Doc
}

// hitHeap is a min-heap: its root is the worst hit kept so far.
type hitHeap []Hit

func (h hitHeap) Len() int           { return len(h) }
func (h hitHeap) Less(i, j int) bool { return better(h[j], h[i]) }
func (h hitHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *hitHeap) Push(x any)        { *h = append(*h, x.(Hit)) }
func (h *hitHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
