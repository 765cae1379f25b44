package mcptools

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/memorymcp/memory-mcp-operator/internal/embeddings"
	"github.com/memorymcp/memory-mcp-operator/internal/engine"
	"github.com/memorymcp/memory-mcp-operator/internal/identity"
	"github.com/memorymcp/memory-mcp-operator/internal/memory"
)

// HealthFunc reports the readiness checks by name; an empty map of errors
// means healthy.
type HealthFunc func(ctx context.Context) map[string]error

// Deps are what the tools call into. Engine is required.
type Deps struct {
	Engine *engine.Engine
	// Auditor defaults to NopAuditor.
	Auditor Auditor
	// Runner is nil when the sandbox is disabled.
	Runner CodeRunner
	// Health backs health_check; nil reports only the store ping.
	Health HealthFunc
	// NewEmbedder builds the client configure_embeddings installs;
	// defaults to embeddings.New with a default HTTP client.
	NewEmbedder func(embeddings.Config) engine.Embedder
	Logger      *slog.Logger
}

// Toolset is the set of tools on one MCP server. Tools can be hidden and
// shown again while the server runs; the SDK notifies sessions each time.
type Toolset struct {
	deps    Deps
	server  *mcp.Server
	adders  map[string]func()
	started time.Time

	mu       sync.Mutex
	disabled map[string]bool
	counts   map[string]*callCount
}

type callCount struct{ ok, failed int64 }

// Register adds every tool in the catalog to s.
func Register(s *mcp.Server, d Deps) (*Toolset, error) {
	if d.Engine == nil {
		return nil, errors.New("mcptools: Deps.Engine is required")
	}
	if d.Auditor == nil {
		d.Auditor = NopAuditor{}
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	if d.NewEmbedder == nil {
		d.NewEmbedder = func(c embeddings.Config) engine.Embedder { return embeddings.New(c, nil) }
	}
	ts := &Toolset{deps: d, server: s, adders: map[string]func(){}, started: time.Now(),
		disabled: map[string]bool{}, counts: map[string]*callCount{}}
	ts.addEpisodeTools()
	ts.addPatternTools()
	ts.addAdminTools()
	for _, t := range catalog {
		if ts.adders[t.Name] == nil {
			return nil, fmt.Errorf("mcptools: catalog tool %s has no handler", t.Name)
		}
		ts.adders[t.Name]()
	}
	return ts, nil
}

// SetDisabled hides exactly the named tools and shows every other one.
// Unknown names are ignored, so a runtime config naming a tool this
// version lacks does not stop the rest from applying.
func (ts *Toolset) SetDisabled(names []string) {
	want := map[string]bool{}
	for _, n := range names {
		if _, ok := ts.adders[n]; ok {
			want[n] = true
		}
	}
	ts.mu.Lock()
	defer ts.mu.Unlock()
	var hide []string
	for _, t := range catalog {
		switch {
		case want[t.Name] && !ts.disabled[t.Name]:
			hide = append(hide, t.Name)
		case !want[t.Name] && ts.disabled[t.Name]:
			ts.adders[t.Name]()
		}
	}
	if len(hide) > 0 {
		ts.server.RemoveTools(hide...)
	}
	ts.disabled = want
}

// Disabled reports whether a tool is hidden.
func (ts *Toolset) Disabled(name string) bool {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return ts.disabled[name]
}

// addTool registers a typed handler under the catalog entry for t.Name,
// wrapped with metrics, logging and error translation.
func addTool[In any](ts *Toolset, t *mcp.Tool, h func(context.Context, In) (any, error)) {
	info, ok := Lookup(t.Name)
	if !ok {
		panic("mcptools: tool " + t.Name + " is missing from the catalog")
	}
	t.Annotations = annotations(info, t.Annotations)
	wrapped := func(ctx context.Context, _ *mcp.CallToolRequest, in In) (*mcp.CallToolResult, any, error) {
		start := time.Now()
		out, err := h(ctx, in)
		ts.observe(ctx, t.Name, time.Since(start), err)
		if err != nil {
			return nil, nil, userError(err)
		}
		return nil, out, nil
	}
	ts.adders[t.Name] = func() { mcp.AddTool(ts.server, t, wrapped) }
}

func annotations(info ToolInfo, a *mcp.ToolAnnotations) *mcp.ToolAnnotations {
	if a == nil {
		a = &mcp.ToolAnnotations{}
	}
	a.ReadOnlyHint = info.Class == Read
	if info.Class == Write {
		a.DestructiveHint = &info.Destructive
	}
	if a.OpenWorldHint == nil {
		closed := false
		a.OpenWorldHint = &closed
	}
	return a
}

func (ts *Toolset) observe(ctx context.Context, tool string, d time.Duration, err error) {
	result := "success"
	if err != nil {
		result = "error"
	}
	ts.mu.Lock()
	c := ts.counts[tool]
	if c == nil {
		c = &callCount{}
		ts.counts[tool] = c
	}
	if err != nil {
		c.failed++
	} else {
		c.ok++
	}
	ts.mu.Unlock()

	level := slog.LevelDebug
	if err != nil && !isCallerError(err) {
		level = slog.LevelError
	}
	ts.deps.Logger.Log(ctx, level, "tool call", "tool", tool, "client_id", identity.ClientID(ctx),
		"duration_ms", d.Milliseconds(), "result", result, "error", errString(err))
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// isCallerError reports errors the caller can fix by changing the call.
func isCallerError(err error) bool {
	var ve *memory.ValidationError
	return errors.As(err, &ve) || errors.Is(err, memory.ErrNotFound) ||
		errors.Is(err, memory.ErrAlreadyCompleted) || errors.Is(err, errRefused)
}

// errRefused marks refusals whose message already says what to do.
var errRefused = errors.New("refused")

type refusal struct{ msg string }

func (r *refusal) Error() string { return r.msg }
func (r *refusal) Is(target error) bool {
	return target == errRefused
}

func refuse(format string, args ...any) error {
	return &refusal{msg: fmt.Sprintf(format, args...)}
}

// userError rewrites an error into a message that tells the agent what to
// change. Storage failures are reported without their internals, which
// are logged instead.
func userError(err error) error {
	var ve *memory.ValidationError
	switch {
	case errors.Is(err, errRefused):
		return err
	case errors.As(err, &ve):
		return fmt.Errorf("%w; fix the arguments and call again", err)
	case errors.Is(err, memory.ErrNotFound):
		return fmt.Errorf("%w; check episode_id (query_memory and search_episodes_by_tags list ids)", err)
	case errors.Is(err, memory.ErrAlreadyCompleted):
		return fmt.Errorf("%w; start a new episode with create_episode to record more", err)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return errors.New("the call was cancelled or timed out before it finished; retry")
	}
	return errors.New("the memory store failed to complete the call; retry later, " +
		"and if it persists check health_check")
}
