package memory

import (
	"strings"
	"unicode"
)

// MaxQueryTerms bounds the terms a query sends to the full-text index; a
// longer query costs more than it adds to the ranking.
const MaxQueryTerms = 16

var stopwords = map[string]bool{
	"a": true, "an": true, "and": true, "are": true, "as": true, "at": true,
	"be": true, "by": true, "for": true, "from": true, "in": true, "into": true,
	"is": true, "it": true, "of": true, "on": true, "or": true, "that": true,
	"the": true, "this": true, "to": true, "with": true,
}

// Terms splits text into lower-case words of letters and digits, without
// stopwords or duplicates, in first-seen order. Both stores build their
// full-text queries from these terms, which also keeps query syntax
// (quotes, operators) out of the index's parser.
func Terms(text string) []string {
	seen := map[string]bool{}
	var out []string
	words := strings.FieldsFunc(strings.ToLower(text), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	})
	for _, w := range words {
		if len(w) < 2 || stopwords[w] || seen[w] {
			continue
		}
		seen[w] = true
		out = append(out, w)
		if len(out) == MaxQueryTerms {
			break
		}
	}
	return out
}

// SearchText is the text of an episode the full-text index holds.
func SearchText(e *Episode) string {
	parts := []string{e.TaskDescription, e.Domain, e.TaskType,
		e.Context.Language, e.Context.Framework}
	return strings.Join(parts, " ")
}

// StepSearchText is the text a step adds to its episode's index entry.
func StepSearchText(s *Step) string {
	return strings.Join([]string{s.Tool, s.Action, s.Result.Error}, " ")
}
