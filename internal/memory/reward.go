package memory

import "math"

// stepBudget is how many steps a task of a given complexity may take before
// efficiency starts to fall. Unknown complexity gets the medium budget.
func stepBudget(c Complexity) int {
	switch c {
	case ComplexityLow:
		return 5
	case ComplexityHigh:
		return 20
	}
	return 10
}

// ScoreReward computes the reward of a completed episode.
//
// The outcome multiplies the rest, so a failure scores zero however tidy
// its steps were, and a success is rewarded more for being efficient and
// for being hard.
func ScoreReward(o Outcome, steps []Step, c Complexity) Reward {
	r := Reward{
		Outcome:    outcomeComponent(o),
		Efficiency: efficiencyComponent(steps, c),
		Complexity: complexityComponent(c),
	}
	r.Total = round4(r.Outcome * (0.6 + 0.3*r.Efficiency + 0.1*r.Complexity))
	r.Outcome, r.Efficiency = round4(r.Outcome), round4(r.Efficiency)
	return r
}

func outcomeComponent(o Outcome) float64 {
	switch o.Status {
	case OutcomeSuccess:
		return 1
	case OutcomePartialSuccess:
		done, failed := len(o.Completed), len(o.Failed)
		if done+failed == 0 {
			return 0.55
		}
		return 0.3 + 0.5*float64(done)/float64(done+failed)
	}
	return 0
}

// efficiencyComponent rewards steps that succeeded and a step count within
// budget. An episode that logged no steps gets a neutral score rather than
// a penalty: agents that only report outcomes must still be able to
// complete their episodes.
func efficiencyComponent(steps []Step, c Complexity) float64 {
	if len(steps) == 0 {
		return 0.5
	}
	ok := 0
	for _, s := range steps {
		if s.Result.Status == StepSuccess {
			ok++
		}
	}
	ratio := float64(ok) / float64(len(steps))
	budget := stepBudget(c)
	over := math.Max(0, float64(len(steps)-budget)) / float64(budget)
	return 0.7*ratio + 0.3/(1+over)
}

func complexityComponent(c Complexity) float64 {
	switch c {
	case ComplexityLow:
		return 0.2
	case ComplexityHigh:
		return 1
	}
	return 0.5
}

func round4(f float64) float64 { return math.Round(f*1e4) / 1e4 }
