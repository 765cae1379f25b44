package bm25

import (
	"strings"
	"unicode"
)

var stopwords = map[string]bool{
	"a": true, "an": true, "and": true, "are": true, "as": true, "at": true,
	"be": true, "by": true, "for": true, "from": true, "in": true, "into": true,
	"is": true, "it": true, "of": true, "on": true, "or": true, "that": true,
	"the": true, "this": true, "to": true, "was": true, "with": true,
}

// Tokens splits text into lower-case, stemmed words of letters and
// digits, without stopwords, in order and with repeats.
func Tokens(text string) []string {
	words := strings.FieldsFunc(strings.ToLower(text), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	})
	out := words[:0]
	for _, w := range words {
		if len(w) < 2 || stopwords[w] {
			continue
		}
		out = append(out, Stem(w))
	}
	return out
}

// suffixes are stripped longest first; the remaining stem must keep at
// least three letters, so short words stay intact.
var suffixes = []string{"ings", "ions", "ing", "ion", "ies", "ed", "es", "ly", "s", "e"}

// Stem reduces inflected forms to a shared stem ("migrations",
// "migrating", "migrate" → "migrat"). It is deliberately light: it only
// needs to map a query's words and a document's words the same way.
func Stem(w string) string {
	for _, s := range suffixes {
		if strings.HasSuffix(w, s) && len(w)-len(s) >= 3 {
			return w[:len(w)-len(s)]
		}
	}
	return w
}
