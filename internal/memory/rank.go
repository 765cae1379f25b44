package memory

import (
	"cmp"
	"math"
	"slices"
	"strings"
	"time"
)

// Weights balance the signals of a ranked query. They need not sum to one;
// scores are only compared with each other.
type Weights struct {
	Lexical  float64
	Semantic float64
	Context  float64
	Recency  float64
	Reward   float64
}

// DefaultWeights favour what the caller asked for over how good or recent
// an episode is; SemanticWeights apply when embeddings are configured.
var (
	DefaultWeights  = Weights{Lexical: 0.55, Context: 0.2, Recency: 0.1, Reward: 0.15}
	SemanticWeights = Weights{Lexical: 0.35, Semantic: 0.25, Context: 0.15, Recency: 0.1, Reward: 0.15}
)

// RecencyHalfLife is the age at which an episode's recency score halves.
const RecencyHalfLife = 30 * 24 * time.Hour

// openEpisodeReward stands in for the reward of an episode that has not
// completed: below an average success, above a failure.
const openEpisodeReward = 0.25

// QueryContext is what the caller knows about its current task.
type QueryContext struct {
	Domain   string
	TaskType string
	Context  Context
	Tags     []string
}

// Candidate is an episode found by a store, with its lexical score (higher
// is better, on the store's own scale) and, when embeddings are on, its
// cosine similarity to the query.
type Candidate struct {
	Summary
	Lexical  float64
	Semantic float64
}

// ScoreParts explains a ranked score.
type ScoreParts struct {
	Lexical  float64 `json:"lexical"`
	Semantic float64 `json:"semantic,omitempty"`
	Context  float64 `json:"context"`
	Recency  float64 `json:"recency"`
	Reward   float64 `json:"reward"`
}

// Ranked is a candidate with its final score.
type Ranked struct {
	Summary
	Score float64    `json:"score"`
	Parts ScoreParts `json:"score_parts"`
}

// Rank scores candidates and sorts them best first; ties go to the newer
// episode so results are stable.
func Rank(cands []Candidate, q QueryContext, now time.Time, w Weights) []Ranked {
	maxLex := 0.0
	for _, c := range cands {
		maxLex = math.Max(maxLex, c.Lexical)
	}
	out := make([]Ranked, 0, len(cands))
	for _, c := range cands {
		p := ScoreParts{
			Context:  ContextMatch(q, c.Summary),
			Recency:  Recency(now.Sub(c.CreatedAt), RecencyHalfLife),
			Reward:   openEpisodeReward,
			Semantic: c.Semantic,
		}
		if maxLex > 0 {
			p.Lexical = c.Lexical / maxLex
		}
		if c.RewardTotal != nil {
			p.Reward = *c.RewardTotal
		}
		score := w.Lexical*p.Lexical + w.Semantic*p.Semantic + w.Context*p.Context +
			w.Recency*p.Recency + w.Reward*p.Reward
		out = append(out, Ranked{Summary: c.Summary, Score: round4(score), Parts: roundParts(p)})
	}
	slices.SortStableFunc(out, func(a, b Ranked) int {
		if c := cmp.Compare(b.Score, a.Score); c != 0 {
			return c
		}
		return b.CreatedAt.Compare(a.CreatedAt)
	})
	return out
}

func roundParts(p ScoreParts) ScoreParts {
	return ScoreParts{round4(p.Lexical), round4(p.Semantic), round4(p.Context),
		round4(p.Recency), round4(p.Reward)}
}

// ContextMatch is the share of the attributes the caller gave that the
// episode matches; tags count by their Jaccard overlap. A caller that gave
// no context matches everything equally (zero), so context cannot reorder.
func ContextMatch(q QueryContext, s Summary) float64 {
	var asked, matched float64
	for _, pair := range [][2]string{
		{q.Domain, s.Domain},
		{q.TaskType, s.TaskType},
		{q.Context.Language, s.Context.Language},
		{q.Context.Framework, s.Context.Framework},
		{string(q.Context.Complexity), string(s.Context.Complexity)},
	} {
		if pair[0] == "" {
			continue
		}
		asked++
		if strings.EqualFold(pair[0], pair[1]) {
			matched++
		}
	}
	if len(q.Tags) > 0 {
		asked++
		matched += Jaccard(NormalizeTags(q.Tags), s.Tags)
	}
	if asked == 0 {
		return 0
	}
	return matched / asked
}

// Jaccard is |a∩b| / |a∪b| for two sorted, de-duplicated lists.
func Jaccard(a, b []string) float64 {
	if len(a) == 0 && len(b) == 0 {
		return 0
	}
	inter := 0
	for _, x := range a {
		if _, ok := slices.BinarySearch(b, x); ok {
			inter++
		}
	}
	return float64(inter) / float64(len(a)+len(b)-inter)
}

// Recency decays exponentially with age; future timestamps (clock skew
// between replicas) count as brand new.
func Recency(age, halfLife time.Duration) float64 {
	if age <= 0 {
		return 1
	}
	return math.Exp2(-float64(age) / float64(halfLife))
}

// Cosine is the cosine similarity of two vectors, zero when either is
// empty, zero-length, or their dimensions differ.
func Cosine(a, b []float32) float64 {
	if len(a) == 0 || len(a) != len(b) {
		return 0
	}
	var dot, na, nb float64
	for i := range a {
		x, y := float64(a[i]), float64(b[i])
		dot += x * y
		na += x * x
		nb += y * y
	}
	if na == 0 || nb == 0 {
		return 0
	}
	return dot / math.Sqrt(na*nb)
}
