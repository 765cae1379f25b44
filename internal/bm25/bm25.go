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
// array. Deleted documents are tombstoned: their postings stay until the
// index is rebuilt when the store is reopened.
package bm25

import (
	"cmp"
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
	docLen   map[uint32]uint32
	totalLen uint64
	maxDoc   uint32
	scratch  sync.Pool
}

// New returns an empty index.
func New() *Index {
	return &Index{postings: map[string][]posting{}, docLen: map[uint32]uint32{}}
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
	ix.docLen[doc] += uint32(len(toks))
	ix.totalLen += uint64(len(toks))
	ix.maxDoc = max(ix.maxDoc, doc)
}

// addPosting inserts or increments doc's posting, keeping ps sorted.
func addPosting(ps []posting, doc, tf uint32) []posting {
	if n := len(ps); n == 0 || ps[n-1].doc < doc {
		return append(ps, posting{doc, tf})
	}
	i, found := slices.BinarySearchFunc(ps, doc, func(p posting, d uint32) int { return cmp.Compare(p.doc, d) })
	if found {
		ps[i].tf += tf
		return ps
	}
	return slices.Insert(ps, i, posting{doc, tf})
}

// Remove drops doc from results.
func (ix *Index) Remove(doc uint32) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	ix.totalLen -= uint64(ix.docLen[doc])
	delete(ix.docLen, doc)
}

// Len returns the number of live documents.
func (ix *Index) Len() int {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return len(ix.docLen)
}

// Search returns the limit best documents for the query's terms, best
// first; documents matching no term are left out.
func (ix *Index) Search(query string, limit int) []Hit {
	terms := slices.Compact(slices.Sorted(slices.Values(Tokens(query))))
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	n := len(ix.docLen)
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
			dl, live := ix.docLen[p.doc]
			if !live {
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
	if s == nil || len(*s) <= int(ix.maxDoc) {
		buf := make([]float64, ix.maxDoc+1+ix.maxDoc/4)
		return &buf
	}
	return s
}

// topHits collects the best touched documents and zeroes their slots so
// the accumulator can be reused.
func topHits(scores []float64, touched []uint32, limit int) []Hit {
	hits := make([]Hit, 0, len(touched))
	for _, d := range touched {
		hits = append(hits, Hit{Doc: d, Score: scores[d]})
		scores[d] = 0
	}
	slices.SortFunc(hits, func(a, b Hit) int {
		if c := cmp.Compare(b.Score, a.Score); c != 0 {
			return c
		}
		return cmp.Compare(b.Doc, a.Doc)
	})
	return hits[:min(limit, len(hits))]
}
