package mcptools

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/memorymcp/memory-mcp-operator/internal/memory"
)

// ContextInput describes the circumstances of a task.
type ContextInput struct {
	Language   string   `json:"language,omitempty" jsonschema:"programming language, e.g. go"`
	Framework  string   `json:"framework,omitempty" jsonschema:"framework or library, e.g. net/http"`
	Complexity string   `json:"complexity,omitempty" jsonschema:"one of low, medium, high"`
	Tags       []string `json:"tags,omitempty" jsonschema:"free labels; case-insensitive"`
}

func (c *ContextInput) model() (memory.Context, []string) {
	if c == nil {
		return memory.Context{}, nil
	}
	return memory.Context{Language: c.Language, Framework: c.Framework,
		Complexity: memory.Complexity(c.Complexity)}, c.Tags
}

// CreateEpisodeInput starts an episode.
type CreateEpisodeInput struct {
	TaskDescription string        `json:"task_description" jsonschema:"what the agent is trying to do, in plain words; used for search"`
	Domain          string        `json:"domain,omitempty" jsonschema:"area of work, e.g. backend or infrastructure"`
	TaskType        string        `json:"task_type,omitempty" jsonschema:"kind of task, e.g. bugfix, feature, refactor"`
	Context         *ContextInput `json:"context,omitempty" jsonschema:"circumstances that make past episodes comparable"`
}

// EpisodeIDInput names one episode.
type EpisodeIDInput struct {
	EpisodeID string `json:"episode_id" jsonschema:"id returned by create_episode"`
}

// StepResultInput is the result of a step.
type StepResultInput struct {
	Status string `json:"status" jsonschema:"one of success, error, timeout"`
	Output string `json:"output,omitempty" jsonschema:"short summary of what the tool returned"`
	Error  string `json:"error,omitempty" jsonschema:"error message when status is error or timeout"`
}

// AddStepInput logs a step.
type AddStepInput struct {
	EpisodeID  string          `json:"episode_id" jsonschema:"id returned by create_episode"`
	Tool       string          `json:"tool" jsonschema:"name of the tool the agent invoked"`
	Action     string          `json:"action,omitempty" jsonschema:"what the agent did with the tool"`
	Parameters map[string]any  `json:"parameters,omitempty" jsonschema:"arguments passed to the tool"`
	Result     StepResultInput `json:"result" jsonschema:"how the invocation ended"`
	LatencyMS  int64           `json:"latency_ms,omitempty" jsonschema:"wall time of the invocation in milliseconds"`
	Tokens     int64           `json:"tokens,omitempty" jsonschema:"tokens spent on the step"`
}

// OutcomeInput is how an episode ended.
type OutcomeInput struct {
	Status    string   `json:"status" jsonschema:"one of success, partial_success, failure"`
	Verdict   string   `json:"verdict,omitempty" jsonschema:"for success: how the result was verified"`
	Artifacts []string `json:"artifacts,omitempty" jsonschema:"for success: files, commits or URLs produced"`
	Completed []string `json:"completed,omitempty" jsonschema:"for partial_success: sub-goals reached"`
	Failed    []string `json:"failed,omitempty" jsonschema:"for partial_success: sub-goals missed"`
	Reason    string   `json:"reason,omitempty" jsonschema:"for failure (required): why it failed"`
}

// CompleteInput completes an episode.
type CompleteInput struct {
	EpisodeID string       `json:"episode_id" jsonschema:"id returned by create_episode"`
	Outcome   OutcomeInput `json:"outcome" jsonschema:"how the episode ended"`
}

// CompleteOutput is what completion computed.
type CompleteOutput struct {
	EpisodeID  string            `json:"episode_id"`
	Reward     memory.Reward     `json:"reward"`
	Reflection memory.Reflection `json:"reflection"`
}

// StepOutput acknowledges a stored step.
type StepOutput struct {
	EpisodeID string `json:"episode_id"`
	Seq       int    `json:"seq"`
}

func (ts *Toolset) addEpisodeTools() {
	e := ts.deps.Engine
	addTool(ts, &mcp.Tool{Name: CreateEpisode, Description: "Start recording an attempt at a task. " +
		"Call it before working, then log each tool call with add_episode_step and finish with " +
		"complete_episode. Returns the episode with its id."},
		func(ctx context.Context, in CreateEpisodeInput) (any, error) {
			c, tags := in.Context.model()
			return e.CreateEpisode(ctx, &memory.Episode{TaskDescription: in.TaskDescription,
				Domain: in.Domain, TaskType: in.TaskType, Context: c, Tags: tags})
		})
	addTool(ts, &mcp.Tool{Name: AddEpisodeStep, Description: "Log one tool invocation of an open " +
		"episode. The step is stored durably before this returns; invalid steps are refused with " +
		"the field to fix. Steps cannot be added after complete_episode."},
		func(ctx context.Context, in AddStepInput) (any, error) {
			st, err := stepFrom(in)
			if err != nil {
				return nil, err
			}
			st, err = e.AddStep(ctx, in.EpisodeID, st)
			if err != nil {
				return nil, err
			}
			return StepOutput{EpisodeID: in.EpisodeID, Seq: st.Seq}, nil
		})
	addTool(ts, &mcp.Tool{Name: CompleteEpisode, Description: "Finish an episode with its outcome. " +
		"Computes a reward in [0,1], a reflection (what worked, what to improve) and merges the " +
		"episode's patterns into memory. Works for episodes with any number of steps."},
		func(ctx context.Context, in CompleteInput) (any, error) {
			ep, err := e.Complete(ctx, in.EpisodeID, outcomeFrom(in.Outcome))
			if err != nil {
				return nil, err
			}
			return CompleteOutput{EpisodeID: ep.ID, Reward: *ep.Reward, Reflection: *ep.Reflection}, nil
		})
	addTool(ts, &mcp.Tool{Name: GetEpisode, Description: "Return one episode with its steps, " +
		"outcome, reward and reflection."},
		func(ctx context.Context, in EpisodeIDInput) (any, error) { return e.Get(ctx, in.EpisodeID) })
	addTool(ts, &mcp.Tool{Name: GetEpisodeTimeline, Description: "Return an episode's steps in " +
		"order with their offset from the start and the gap since the previous step, to see " +
		"where time went."},
		func(ctx context.Context, in EpisodeIDInput) (any, error) { return e.Timeline(ctx, in.EpisodeID) })
	ts.addTagTools()
}

func stepFrom(in AddStepInput) (memory.Step, error) {
	st := memory.Step{Tool: in.Tool, Action: in.Action, LatencyMS: in.LatencyMS, Tokens: in.Tokens,
		Result: memory.StepResult{Status: memory.StepStatus(in.Result.Status),
			Output: in.Result.Output, Error: in.Result.Error}}
	if in.Parameters != nil {
		raw, err := json.Marshal(in.Parameters)
		if err != nil {
			return st, &memory.ValidationError{Field: "parameters", Reason: fmt.Sprintf("not encodable: %v", err)}
		}
		st.Parameters = raw
	}
	return st, nil
}

func outcomeFrom(in OutcomeInput) memory.Outcome {
	return memory.Outcome{Status: memory.OutcomeStatus(in.Status), Verdict: in.Verdict,
		Artifacts: in.Artifacts, Completed: in.Completed, Failed: in.Failed, Reason: in.Reason}
}

// TagsInput changes an episode's tags.
type TagsInput struct {
	EpisodeID string   `json:"episode_id" jsonschema:"id returned by create_episode"`
	Tags      []string `json:"tags" jsonschema:"tags to add or remove; case-insensitive"`
}

// TagsOutput is an episode's tags after a change.
type TagsOutput struct {
	EpisodeID string   `json:"episode_id"`
	Tags      []string `json:"tags"`
}

// SearchTagsInput searches by tags.
type SearchTagsInput struct {
	Tags     []string `json:"tags" jsonschema:"tags to look for"`
	MatchAll bool     `json:"match_all,omitempty" jsonschema:"true: episodes with every tag; false (default): with any"`
	Limit    int      `json:"limit,omitempty" jsonschema:"maximum results, default 20, at most 200"`
}

// EpisodesOutput lists episode summaries.
type EpisodesOutput struct {
	Episodes []memory.Summary `json:"episodes"`
}

func (ts *Toolset) addTagTools() {
	e := ts.deps.Engine
	addTool(ts, &mcp.Tool{Name: AddEpisodeTags, Description: "Add tags to an episode; " +
		"adding a tag it already has changes nothing. Returns the episode's tags.",
		Annotations: &mcp.ToolAnnotations{IdempotentHint: true}},
		func(ctx context.Context, in TagsInput) (any, error) {
			tags, err := e.AddTags(ctx, in.EpisodeID, in.Tags)
			return TagsOutput{EpisodeID: in.EpisodeID, Tags: tags}, err
		})
	addTool(ts, &mcp.Tool{Name: RemoveEpisodeTags, Description: "Remove tags from an episode; " +
		"tags it lacks are ignored. Returns the episode's tags.",
		Annotations: &mcp.ToolAnnotations{IdempotentHint: true}},
		func(ctx context.Context, in TagsInput) (any, error) {
			tags, err := e.RemoveTags(ctx, in.EpisodeID, in.Tags)
			return TagsOutput{EpisodeID: in.EpisodeID, Tags: tags}, err
		})
	addTool(ts, &mcp.Tool{Name: SearchEpisodesByTags, Description: "List episodes carrying the " +
		"given tags, newest first. Use query_memory to rank by relevance instead."},
		func(ctx context.Context, in SearchTagsInput) (any, error) {
			eps, err := e.SearchByTags(ctx, in.Tags, in.MatchAll, in.Limit)
			return EpisodesOutput{Episodes: eps}, err
		})
}
