package memory

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// PatternKind classifies what a pattern describes.
type PatternKind string

// Pattern kinds.
const (
	PatternToolSequence  PatternKind = "tool_sequence"
	PatternErrorRecovery PatternKind = "error_recovery"
	PatternDecisionPoint PatternKind = "decision_point"
	PatternContext       PatternKind = "context"
)

// maxSequenceTools bounds the key of a tool sequence so that long episodes
// still merge with short ones that began the same way.
const maxSequenceTools = 8

// Observation is one pattern seen in one completed episode. Stores merge
// observations with the same kind, domain and key into a Pattern.
type Observation struct {
	Kind        PatternKind
	Domain      string
	Key         string
	Description string
	Success     bool
	EpisodeID   string
	At          time.Time
}

// Pattern is the merge of every observation with one kind, domain and key.
type Pattern struct {
	Kind        PatternKind `json:"kind"`
	Domain      string      `json:"domain,omitempty"`
	Key         string      `json:"key"`
	Description string      `json:"description"`
	Occurrences int         `json:"occurrences"`
	Successes   int         `json:"successes"`
	SuccessRate float64     `json:"success_rate"`
	Evidence    []string    `json:"evidence"`
	LastSeen    time.Time   `json:"last_seen"`
}

// ExtractPatterns lists the patterns a completed episode shows. Each
// pattern appears at most once per episode, so occurrence counts are
// counts of episodes.
func ExtractPatterns(e *Episode, o Outcome, at time.Time) []Observation {
	success := o.Status == OutcomeSuccess
	var out []Observation
	add := func(kind PatternKind, key, desc string) {
		for _, prev := range out {
			if prev.Kind == kind && prev.Key == key {
				return
			}
		}
		out = append(out, Observation{Kind: kind, Domain: e.Domain, Key: key,
			Description: desc, Success: success, EpisodeID: e.ID, At: at})
	}

	if seq := toolSequence(e.Steps); len(seq) >= 2 {
		key := strings.Join(seq, " > ")
		add(PatternToolSequence, key, "tools used in order: "+key)
	}
	for _, rec := range recoveries(e.Steps) {
		add(PatternErrorRecovery, rec[0]+" -> "+rec[1],
			fmt.Sprintf("after %s failed, %s succeeded", rec[0], rec[1]))
	}
	for i := 1; i < len(e.Steps); i++ {
		prev, cur := e.Steps[i-1], e.Steps[i]
		if prev.Result.Status == StepSuccess && prev.Tool != cur.Tool {
			add(PatternDecisionPoint, prev.Tool+" -> "+cur.Tool,
				fmt.Sprintf("after %s succeeded, moved on to %s", prev.Tool, cur.Tool))
		}
	}
	if key := contextKey(e); key != "" {
		add(PatternContext, key, "tasks with "+key)
	}
	return out
}

// toolSequence collapses repeated invocations of one tool, so retries do
// not make otherwise identical sequences look different.
func toolSequence(steps []Step) []string {
	var seq []string
	for _, s := range steps {
		if len(seq) > 0 && seq[len(seq)-1] == s.Tool {
			continue
		}
		if len(seq) == maxSequenceTools {
			break
		}
		seq = append(seq, s.Tool)
	}
	return seq
}

// recoveries returns [failed tool, recovering tool] pairs: a failed or
// timed-out step directly followed by a successful one.
func recoveries(steps []Step) [][2]string {
	var out [][2]string
	for i := 1; i < len(steps); i++ {
		prev, cur := steps[i-1], steps[i]
		if prev.Result.Status != StepSuccess && cur.Result.Status == StepSuccess {
			out = append(out, [2]string{prev.Tool, cur.Tool})
		}
	}
	return out
}

func contextKey(e *Episode) string {
	var parts []string
	for _, kv := range [][2]string{
		{"task_type", e.TaskType},
		{"language", e.Context.Language},
		{"framework", e.Context.Framework},
		{"complexity", string(e.Context.Complexity)},
	} {
		if kv[1] != "" {
			parts = append(parts, kv[0]+"="+strings.ToLower(kv[1]))
		}
	}
	return strings.Join(parts, " ")
}

// Heuristic is advice derived from a pattern with enough evidence.
type Heuristic struct {
	Statement   string      `json:"statement"`
	Kind        PatternKind `json:"kind"`
	Domain      string      `json:"domain,omitempty"`
	Key         string      `json:"key"`
	Confidence  float64     `json:"confidence"`
	SuccessRate float64     `json:"success_rate"`
	Occurrences int         `json:"occurrences"`
	Evidence    []string    `json:"evidence"`
}

// Heuristics turns patterns seen in at least minOccurrences episodes into
// advice. Confidence is the lower bound of the Wilson score interval of the
// success rate (or of the failure rate, for advice to avoid something), so
// a pattern seen twice never outranks one seen fifty times at the same rate.
func Heuristics(patterns []Pattern, minOccurrences int) []Heuristic {
	var out []Heuristic
	for _, p := range patterns {
		if p.Occurrences < minOccurrences || p.Occurrences == 0 {
			continue
		}
		rate := float64(p.Successes) / float64(p.Occurrences)
		good := rate >= 0.5
		hits := p.Successes
		if !good {
			hits = p.Occurrences - p.Successes
		}
		out = append(out, Heuristic{
			Statement:   statement(p, good),
			Kind:        p.Kind,
			Domain:      p.Domain,
			Key:         p.Key,
			Confidence:  round4(WilsonLowerBound(hits, p.Occurrences)),
			SuccessRate: round4(rate),
			Occurrences: p.Occurrences,
			Evidence:    p.Evidence,
		})
	}
	return out
}

func statement(p Pattern, good bool) string {
	verb := "prefer"
	if !good {
		verb = "avoid"
	}
	where := ""
	if p.Domain != "" {
		where = " in " + p.Domain
	}
	tally := fmt.Sprintf("(%d of %d episodes succeeded)", p.Successes, p.Occurrences)
	switch p.Kind {
	case PatternToolSequence:
		return fmt.Sprintf("%s the tool sequence %s%s %s", verb, p.Key, where, tally)
	case PatternErrorRecovery:
		return fmt.Sprintf("%s recovering with %s%s %s", verb, p.Key, where, tally)
	case PatternDecisionPoint:
		return fmt.Sprintf("%s the transition %s%s %s", verb, p.Key, where, tally)
	}
	return fmt.Sprintf("expect %s for tasks with %s%s %s",
		map[bool]string{true: "success", false: "trouble"}[good], p.Key, where, tally)
}

// WilsonLowerBound is the lower end of the 95% Wilson score interval for
// hits successes in n trials.
func WilsonLowerBound(hits, n int) float64 {
	if n == 0 {
		return 0
	}
	const z = 1.959964
	p := float64(hits) / float64(n)
	nf := float64(n)
	denom := 1 + z*z/nf
	centre := p + z*z/(2*nf)
	margin := z * math.Sqrt(p*(1-p)/nf+z*z/(4*nf*nf))
	return math.Max(0, (centre-margin)/denom)
}

// Recommend keeps the positive heuristics (those advising to prefer
// something) and returns the limit most confident ones.
func Recommend(hs []Heuristic, limit int) []Heuristic {
	out := []Heuristic{}
	for _, h := range hs {
		if h.SuccessRate >= 0.5 {
			out = append(out, h)
		}
	}
	slices.SortStableFunc(out, func(a, b Heuristic) int {
		return cmp.Compare(b.Confidence, a.Confidence)
	})
	return out[:min(limit, len(out))]
}
