package memory

import (
	"fmt"
	"slices"
)

// slowStepMS marks a step as slow enough to be worth a reflection line.
const slowStepMS = 30_000

// Reflect draws the lessons of a completed episode from its steps and
// outcome. The lines are short sentences an agent can read back later.
func Reflect(o Outcome, steps []Step, c Complexity) Reflection {
	r := Reflection{WhatWorked: []string{}, WhatToImprove: []string{}, Insights: []string{}}
	stats := toolStats(steps)

	for _, t := range stats.order {
		s := stats.byTool[t]
		if s.ok > 0 {
			r.WhatWorked = append(r.WhatWorked, fmt.Sprintf("%s succeeded %d of %d times", t, s.ok, s.total))
		}
		if s.failed > 0 {
			r.WhatToImprove = append(r.WhatToImprove,
				fmt.Sprintf("%s failed %d of %d times; last error: %s", t, s.failed, s.total, s.lastErr))
		}
	}
	for _, rec := range recoveries(steps) {
		r.WhatWorked = append(r.WhatWorked, fmt.Sprintf("recovered from a %s failure with %s", rec[0], rec[1]))
	}
	r.WhatWorked = append(r.WhatWorked, outcomeWorked(o)...)
	r.WhatToImprove = append(r.WhatToImprove, outcomeToImprove(o)...)
	r.WhatToImprove = append(r.WhatToImprove, slowSteps(steps)...)
	if budget := stepBudget(c); len(steps) > budget {
		r.WhatToImprove = append(r.WhatToImprove,
			fmt.Sprintf("took %d steps where %d are expected for this complexity", len(steps), budget))
	}
	r.Insights = insights(steps, stats)
	return r
}

type toolStat struct {
	total, ok, failed int
	lastErr           string
}

type toolStatSet struct {
	order  []string
	byTool map[string]*toolStat
}

func toolStats(steps []Step) toolStatSet {
	set := toolStatSet{byTool: map[string]*toolStat{}}
	for _, s := range steps {
		st, ok := set.byTool[s.Tool]
		if !ok {
			st = &toolStat{}
			set.byTool[s.Tool] = st
			set.order = append(set.order, s.Tool)
		}
		st.total++
		if s.Result.Status == StepSuccess {
			st.ok++
			continue
		}
		st.failed++
		st.lastErr = s.Result.Error
		if st.lastErr == "" {
			st.lastErr = string(s.Result.Status)
		}
	}
	return set
}

func outcomeWorked(o Outcome) []string {
	switch o.Status {
	case OutcomeSuccess:
		if o.Verdict != "" {
			return []string{"succeeded: " + o.Verdict}
		}
		return []string{"the task succeeded"}
	case OutcomePartialSuccess:
		if len(o.Completed) > 0 {
			return []string{fmt.Sprintf("completed %v", o.Completed)}
		}
	}
	return nil
}

func outcomeToImprove(o Outcome) []string {
	switch o.Status {
	case OutcomeFailure:
		return []string{"the task failed: " + o.Reason}
	case OutcomePartialSuccess:
		if len(o.Failed) > 0 {
			return []string{fmt.Sprintf("did not complete %v", o.Failed)}
		}
	}
	return nil
}

func slowSteps(steps []Step) []string {
	var out []string
	for _, s := range steps {
		if s.LatencyMS >= slowStepMS {
			out = append(out, fmt.Sprintf("step %d (%s) took %d ms", s.Seq, s.Tool, s.LatencyMS))
		}
	}
	return out
}

func insights(steps []Step, stats toolStatSet) []string {
	if len(steps) == 0 {
		return []string{"no steps were logged, so only the outcome was scored"}
	}
	var tokens, latency int64
	for _, s := range steps {
		tokens += s.Tokens
		latency += s.LatencyMS
	}
	most := slices.MaxFunc(stats.order, func(a, b string) int {
		return stats.byTool[a].total - stats.byTool[b].total
	})
	return []string{
		fmt.Sprintf("%d steps with %d distinct tools; %s was used most (%d times)",
			len(steps), len(stats.order), most, stats.byTool[most].total),
		fmt.Sprintf("spent %d tokens and %d ms in tools", tokens, latency),
	}
}
