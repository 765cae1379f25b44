package mcptools

import (
	"context"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/memorymcp/memory-mcp-operator/internal/engine"
	"github.com/memorymcp/memory-mcp-operator/internal/memory"
	"github.com/memorymcp/memory-mcp-operator/internal/store"
)

// QueryInput asks for relevant episodes.
type QueryInput struct {
	Query         string        `json:"query,omitempty" jsonschema:"describe the task; words are matched against descriptions and steps"`
	Domain        string        `json:"domain,omitempty" jsonschema:"prefer episodes of this domain"`
	TaskType      string        `json:"task_type,omitempty" jsonschema:"prefer episodes of this task type"`
	Context       *ContextInput `json:"context,omitempty" jsonschema:"prefer episodes with this context"`
	CompletedOnly bool          `json:"completed_only,omitempty" jsonschema:"leave out episodes that have no outcome yet"`
	Limit         int           `json:"limit,omitempty" jsonschema:"maximum results, default 10, at most 100"`
}

func (in QueryInput) queryContext() memory.QueryContext {
	c, tags := in.Context.model()
	return memory.QueryContext{Domain: in.Domain, TaskType: in.TaskType, Context: c, Tags: tags}
}

// QueryOutput lists ranked episodes.
type QueryOutput struct {
	Results []memory.Ranked `json:"results"`
}

// PatternsInput selects patterns.
type PatternsInput struct {
	Kind           string `json:"kind,omitempty" jsonschema:"one of tool_sequence, error_recovery, decision_point, context; empty for all"`
	Domain         string `json:"domain,omitempty" jsonschema:"only patterns seen in this domain"`
	MinOccurrences int    `json:"min_occurrences,omitempty" jsonschema:"only patterns seen in at least this many episodes"`
	Limit          int    `json:"limit,omitempty" jsonschema:"maximum patterns, default 50, at most 500"`
}

// SearchPatternsInput searches patterns by text.
type SearchPatternsInput struct {
	Query  string `json:"query" jsonschema:"text contained in the pattern, e.g. a tool name"`
	Kind   string `json:"kind,omitempty" jsonschema:"one of tool_sequence, error_recovery, decision_point, context"`
	Domain string `json:"domain,omitempty" jsonschema:"only patterns seen in this domain"`
	Limit  int    `json:"limit,omitempty" jsonschema:"maximum patterns, default 50, at most 500"`
}

// RecommendInput describes the task to get advice for.
type RecommendInput struct {
	Domain   string        `json:"domain,omitempty" jsonschema:"domain of the task; advice from other domains is used when this one has none"`
	TaskType string        `json:"task_type,omitempty" jsonschema:"task type, for context"`
	Context  *ContextInput `json:"context,omitempty" jsonschema:"context of the task"`
	Limit    int           `json:"limit,omitempty" jsonschema:"maximum recommendations, default 5, at most 50"`
}

// RecommendOutput lists advice.
type RecommendOutput struct {
	Recommendations []memory.Heuristic `json:"recommendations"`
}

func validKind(k string) error {
	switch memory.PatternKind(k) {
	case "", memory.PatternToolSequence, memory.PatternErrorRecovery,
		memory.PatternDecisionPoint, memory.PatternContext:
		return nil
	}
	return &memory.ValidationError{Field: "kind",
		Reason: "must be one of tool_sequence, error_recovery, decision_point, context"}
}

func (ts *Toolset) addPatternTools() {
	e := ts.deps.Engine
	addTool(ts, &mcp.Tool{Name: QueryMemory, Description: "Find past episodes relevant to a " +
		"task, best first. Ranks by text relevance (BM25), context match, recency and reward " +
		"(and semantic similarity when embeddings are configured); each result shows its score parts."},
		func(ctx context.Context, in QueryInput) (any, error) {
			res, err := e.QueryMemory(ctx, engine.Query{Text: in.Query, Context: in.queryContext(),
				CompletedOnly: in.CompletedOnly, Limit: in.Limit})
			return QueryOutput{Results: res}, err
		})
	addTool(ts, &mcp.Tool{Name: AnalyzePatterns, Description: "List patterns merged across " +
		"completed episodes (tool sequences, error recoveries, decision points, contexts) with " +
		"occurrence counts and success rates, and the heuristics they support."},
		func(ctx context.Context, in PatternsInput) (any, error) {
			if err := validKind(in.Kind); err != nil {
				return nil, err
			}
			return e.AnalyzePatterns(ctx, store.PatternFilter{Kind: memory.PatternKind(in.Kind),
				Domain: in.Domain, MinOccurrences: in.MinOccurrences, Limit: in.Limit})
		})
	addTool(ts, &mcp.Tool{Name: SearchPatterns, Description: "Find patterns whose key or " +
		"description contains the query text, e.g. a tool name, most frequent first."},
		func(ctx context.Context, in SearchPatternsInput) (any, error) {
			if err := validKind(in.Kind); err != nil {
				return nil, err
			}
			if in.Query == "" {
				return nil, &memory.ValidationError{Field: "query", Reason: "must not be empty"}
			}
			return e.AnalyzePatterns(ctx, store.PatternFilter{Kind: memory.PatternKind(in.Kind),
				Domain: in.Domain, KeyContains: in.Query, Limit: in.Limit})
		})
	addTool(ts, &mcp.Tool{Name: RecommendPatterns, Description: "Get advice for a task: the " +
		"most confident heuristics that led to success, with their evidence episodes."},
		func(ctx context.Context, in RecommendInput) (any, error) {
			c, tags := in.Context.model()
			hs, err := e.Recommend(ctx, memory.QueryContext{Domain: in.Domain, TaskType: in.TaskType,
				Context: c, Tags: tags}, in.Limit)
			return RecommendOutput{Recommendations: hs}, err
		})
}
