package mcptools

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/memorymcp/memory-mcp-operator/internal/embeddings"
	"github.com/memorymcp/memory-mcp-operator/internal/memory"
	"github.com/memorymcp/memory-mcp-operator/internal/store"
)

// DeleteInput deletes an episode.
type DeleteInput struct {
	EpisodeID string `json:"episode_id" jsonschema:"id of the episode to delete"`
	Confirm   bool   `json:"confirm,omitempty" jsonschema:"must be true; deletion cannot be undone"`
}

// BulkInput names episodes to export.
type BulkInput struct {
	EpisodeIDs []string `json:"episode_ids" jsonschema:"between 1 and 100 episode ids"`
}

// BulkOutput is an export.
type BulkOutput struct {
	Episodes []*memory.Episode `json:"episodes"`
	Missing  []string          `json:"missing"`
}

// EmbeddingsInput configures semantic similarity.
type EmbeddingsInput struct {
	Enabled   bool   `json:"enabled" jsonschema:"false turns semantic similarity off; the other fields are then ignored"`
	BaseURL   string `json:"base_url,omitempty" jsonschema:"root of an OpenAI-compatible API; /v1/embeddings is appended"`
	Model     string `json:"model,omitempty" jsonschema:"embedding model name"`
	APIKeyEnv string `json:"api_key_env,omitempty" jsonschema:"NAME of the server environment variable holding the API key, ending in _API_KEY (e.g. OPENAI_API_KEY); never the key itself"`
}

// EmbeddingsOutput shows the active configuration, without any key.
type EmbeddingsOutput struct {
	Enabled bool               `json:"enabled"`
	Config  *embeddings.Config `json:"config,omitempty"`
}

// ExecuteInput runs an agent program.
type ExecuteInput struct {
	ModuleBase64 string         `json:"module_base64" jsonschema:"WebAssembly module (WASI preview 1), base64-encoded"`
	Input        map[string]any `json:"input,omitempty" jsonschema:"JSON object passed to the module on stdin"`
	TimeoutMS    int64          `json:"timeout_ms,omitempty" jsonschema:"time limit in milliseconds, default 5000, at most 60000"`
}

// ExecuteOutput is an agent program's result.
type ExecuteOutput struct {
	Output     string          `json:"output"`
	OutputJSON json.RawMessage `json:"output_json,omitempty"`
	Stderr     string          `json:"stderr,omitempty"`
	ExitCode   int             `json:"exit_code"`
	DurationMS int64           `json:"duration_ms"`
	Truncated  bool            `json:"truncated,omitempty"`
}

// Execution time limits.
const (
	defaultTimeout = 5 * time.Second
	maxTimeout     = 60 * time.Second
)

func (ts *Toolset) addAdminTools() {
	e := ts.deps.Engine
	addTool(ts, &mcp.Tool{Name: DeleteEpisode, Description: "Delete an episode, its steps and " +
		"tags for good. Refused unless confirm is true. Pattern counts keep its contribution."},
		func(ctx context.Context, in DeleteInput) (any, error) {
			if !in.Confirm {
				ts.audit(ctx, DeleteEpisode, ResultRefused, map[string]any{"episode_id": in.EpisodeID,
					"reason": "confirm not set"})
				return nil, refuse("deleting %s needs confirm: true; deletion cannot be undone", in.EpisodeID)
			}
			err := e.Delete(ctx, in.EpisodeID)
			ts.audit(ctx, DeleteEpisode, resultOf(err), map[string]any{"episode_id": in.EpisodeID})
			return map[string]any{"deleted": in.EpisodeID}, err
		})
	addTool(ts, &mcp.Tool{Name: BulkEpisodes, Description: "Export up to 100 episodes by id " +
		"with their steps; ids not found are listed in missing."},
		func(ctx context.Context, in BulkInput) (any, error) {
			eps, missing, err := e.BulkGet(ctx, in.EpisodeIDs)
			ts.audit(ctx, BulkEpisodes, resultOf(err), map[string]any{"operation": "export",
				"requested": len(in.EpisodeIDs), "returned": len(eps)})
			return BulkOutput{Episodes: eps, Missing: missing}, err
		})
	addTool(ts, &mcp.Tool{Name: ConfigureEmbeddings, Description: "Turn semantic similarity on " +
		"or off for query_memory. The API key is read from the server environment variable named " +
		"by api_key_env; pass the variable's name, never the key.",
		Annotations: &mcp.ToolAnnotations{IdempotentHint: true, OpenWorldHint: ptr(true)}},
		ts.configureEmbeddings)
	addTool(ts, &mcp.Tool{Name: HealthCheck, Description: "Report whether storage and the " +
		"server's other dependencies are healthy, with counts of stored episodes."},
		ts.healthCheck)
	addTool(ts, &mcp.Tool{Name: GetMetrics, Description: "Report tool call counts and errors " +
		"since start, and what the store holds."},
		ts.getMetrics)
	addTool(ts, &mcp.Tool{Name: ExecuteAgentCode, Description: "Run a WebAssembly (WASI preview 1) " +
		"module in a sandbox without filesystem or network; input is given as JSON on stdin and " +
		"stdout is returned. Refused when the sandbox is disabled."},
		ts.executeAgentCode)
}

func ptr[T any](v T) *T { return &v }

func resultOf(err error) string {
	if err != nil {
		return ResultFailure
	}
	return ResultSuccess
}

func (ts *Toolset) audit(ctx context.Context, op, result string, md map[string]any) {
	ts.deps.Auditor.Record(ctx, Event{Operation: op, Result: result, Metadata: md})
}

func (ts *Toolset) configureEmbeddings(ctx context.Context, in EmbeddingsInput) (any, error) {
	e := ts.deps.Engine
	if !in.Enabled {
		e.SetEmbedder(nil, embeddings.Config{})
		ts.audit(ctx, ConfigureEmbeddings, ResultSuccess, map[string]any{"enabled": false})
		return EmbeddingsOutput{Enabled: false}, nil
	}
	cfg := embeddings.Config{BaseURL: in.BaseURL, Model: in.Model, APIKeyEnv: in.APIKeyEnv}
	md := map[string]any{"enabled": true, "base_url": cfg.BaseURL, "model": cfg.Model,
		"api_key_env": cfg.APIKeyEnv}
	if err := cfg.Validate(); err != nil {
		md["error"] = err.Error()
		ts.audit(ctx, ConfigureEmbeddings, ResultRefused, md)
		return nil, refuse("embeddings not configured: %v", err)
	}
	e.SetEmbedder(ts.deps.NewEmbedder(cfg), cfg)
	ts.audit(ctx, ConfigureEmbeddings, ResultSuccess, md)
	return EmbeddingsOutput{Enabled: true, Config: &cfg}, nil
}

// HealthOutput is the result of health_check.
type HealthOutput struct {
	Status     string            `json:"status"`
	Checks     map[string]string `json:"checks"`
	Store      *store.Stats      `json:"store,omitempty"`
	Embeddings bool              `json:"embeddings"`
	Sandbox    bool              `json:"sandbox"`
	UptimeS    int64             `json:"uptime_s"`
}

func (ts *Toolset) healthCheck(ctx context.Context, _ struct{}) (any, error) {
	out := HealthOutput{Status: "healthy", Checks: map[string]string{},
		Sandbox: ts.deps.Runner != nil, UptimeS: int64(time.Since(ts.started).Seconds())}
	_, out.Embeddings = ts.deps.Engine.EmbeddingConfig()
	checks := ts.deps.Health
	if checks == nil {
		checks = func(ctx context.Context) map[string]error {
			return map[string]error{"storage": ts.deps.Engine.Store().Ping(ctx)}
		}
	}
	for name, err := range checks(ctx) {
		out.Checks[name] = "ok"
		if err != nil {
			out.Checks[name], out.Status = err.Error(), "unhealthy"
		}
	}
	if st, err := ts.deps.Engine.Store().Stats(ctx); err == nil {
		out.Store = &st
	}
	return out, nil
}

// MetricsOutput is the result of get_metrics.
type MetricsOutput struct {
	UptimeS int64                    `json:"uptime_s"`
	Tools   map[string]ToolCallCount `json:"tools"`
	Store   store.Stats              `json:"store"`
}

// ToolCallCount counts the calls of one tool.
type ToolCallCount struct {
	Calls  int64 `json:"calls"`
	Errors int64 `json:"errors"`
}

func (ts *Toolset) getMetrics(ctx context.Context, _ struct{}) (any, error) {
	st, err := ts.deps.Engine.Store().Stats(ctx)
	if err != nil {
		return nil, err
	}
	out := MetricsOutput{UptimeS: int64(time.Since(ts.started).Seconds()),
		Tools: map[string]ToolCallCount{}, Store: st}
	ts.mu.Lock()
	for name, c := range ts.counts {
		out.Tools[name] = ToolCallCount{Calls: c.ok + c.failed, Errors: c.failed}
	}
	ts.mu.Unlock()
	return out, nil
}

func (ts *Toolset) executeAgentCode(ctx context.Context, in ExecuteInput) (any, error) {
	if ts.deps.Runner == nil {
		ts.audit(ctx, ExecuteAgentCode, ResultRefused, map[string]any{"reason": "sandbox disabled"})
		return nil, refuse("the code sandbox is disabled on this server; " +
			"ask its operator to enable it, or do the computation without execute_agent_code")
	}
	module, input, timeout, err := executeArgs(in)
	if err != nil {
		ts.audit(ctx, ExecuteAgentCode, ResultRefused, map[string]any{"reason": err.Error()})
		return nil, err
	}
	res, err := ts.deps.Runner.Run(ctx, module, input, timeout)
	md := map[string]any{"module_bytes": len(module), "module_hash": res.ModuleHash,
		"timeout_ms": timeout.Milliseconds(), "exit_code": res.ExitCode,
		"duration_ms": res.Duration.Milliseconds()}
	if res.LimitHit != "" {
		md["limit_hit"] = res.LimitHit
	}
	if err != nil {
		md["error"] = err.Error()
		ts.audit(ctx, ExecuteAgentCode, ResultFailure, md)
		return nil, refuse("the module did not run to completion: %v", err)
	}
	ts.audit(ctx, ExecuteAgentCode, ResultSuccess, md)
	out := ExecuteOutput{Output: string(res.Output), Stderr: string(res.Stderr),
		ExitCode: res.ExitCode, DurationMS: res.Duration.Milliseconds(), Truncated: res.Truncated}
	if json.Valid(res.Output) {
		out.OutputJSON = res.Output
	}
	return out, nil
}

func executeArgs(in ExecuteInput) (module, input []byte, timeout time.Duration, err error) {
	module, err = base64.StdEncoding.DecodeString(in.ModuleBase64)
	if err != nil || len(module) == 0 {
		return nil, nil, 0, &memory.ValidationError{Field: "module_base64",
			Reason: "must be a non-empty, standard base64 encoding of a .wasm file"}
	}
	if in.Input == nil {
		in.Input = map[string]any{}
	}
	if input, err = json.Marshal(in.Input); err != nil {
		return nil, nil, 0, &memory.ValidationError{Field: "input", Reason: "must be a JSON object"}
	}
	timeout = time.Duration(in.TimeoutMS) * time.Millisecond
	switch {
	case in.TimeoutMS == 0:
		timeout = defaultTimeout
	case in.TimeoutMS < 0 || timeout > maxTimeout:
		return nil, nil, 0, &memory.ValidationError{Field: "timeout_ms",
			Reason: "must be between 1 and 60000"}
	}
	return module, input, timeout, nil
}
