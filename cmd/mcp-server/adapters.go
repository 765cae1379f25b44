package main

import (
	"context"
	"sync"
	"time"

	"github.com/memorymcp/memory-mcp-operator/internal/audit"
	"github.com/memorymcp/memory-mcp-operator/internal/identity"
	"github.com/memorymcp/memory-mcp-operator/internal/mcptools"
	"github.com/memorymcp/memory-mcp-operator/internal/runtimeconfig"
	"github.com/memorymcp/memory-mcp-operator/internal/sandbox"
)

// toolAuditor records the tools' own events (delete_episode,
// execute_agent_code, bulk_episodes, …) in the audit log under the tool's
// name, which is the operation name the security operations guide uses.
type toolAuditor struct{ audit audit.Auditor }

// Record implements mcptools.Auditor.
func (a toolAuditor) Record(ctx context.Context, ev mcptools.Event) {
	a.audit.Record(ctx, auditEvent(ev))
}

// auditEvent maps a tool event onto the audit contract: a refusal is
// "denied" at warn, like the security layers' refusals, and a failed call
// is a warning too, since it is what a responder looks at first.
func auditEvent(ev mcptools.Event) audit.Event {
	e := audit.Event{Level: audit.LevelInfo, Operation: ev.Operation, Result: ev.Result,
		Metadata: ev.Metadata}
	switch ev.Result {
	case mcptools.ResultRefused:
		e.Level, e.Result = audit.LevelWarn, audit.ResultDenied
	case mcptools.ResultFailure:
		e.Level, e.Result = audit.LevelWarn, audit.ResultFailure
	case mcptools.ResultSuccess:
		e.Result = audit.ResultSuccess
	}
	return e
}

// codeRunner runs execute_agent_code in the sandbox, and turns what the
// sandbox reports into security events: a module reaching for imports the
// sandbox does not provide, and a client that keeps hitting limits, which
// is how probing the sandbox's bounds looks from outside.
type codeRunner struct {
	runner *sandbox.Runner
	audit  audit.Auditor
	hits   *limitHits
}

func newCodeRunner(r *sandbox.Runner, a audit.Auditor, now func() time.Time) *codeRunner {
	return &codeRunner{runner: r, audit: a,
		hits: &limitHits{window: limitHitWindow, threshold: limitHitThreshold, now: now,
			byClient: map[string][]time.Time{}}}
}

// A client hitting sandbox limits this often is audited as a security
// violation: one timeout is a bug in an agent program, several in a few
// minutes are a search for the edges of the sandbox.
const (
	limitHitThreshold = 3
	limitHitWindow    = 10 * time.Minute
)

// Run implements mcptools.CodeRunner.
func (c *codeRunner) Run(ctx context.Context, module, input []byte,
	timeout time.Duration) (mcptools.CodeResult, error) {
	res, err := c.runner.RunWithOptions(ctx, module, input, sandbox.RunOptions{Timeout: timeout})
	out := codeResult(res)
	switch {
	case sandbox.IsSecurityViolation(err):
		c.violation(ctx, out, err.Error())
	case countsAsProbe(out.LimitHit) && c.hits.add(identity.ClientID(ctx)):
		c.violation(ctx, out, "repeated sandbox limit hits")
	}
	return out, err
}

// countsAsProbe leaves out the concurrency limit: a busy server is not the
// caller's doing.
func countsAsProbe(limit string) bool {
	return limit != "" && limit != string(sandbox.LimitConcurrency)
}

func codeResult(res *sandbox.Result) mcptools.CodeResult {
	if res == nil {
		return mcptools.CodeResult{ExitCode: -1}
	}
	return mcptools.CodeResult{Output: res.Stdout, Stderr: res.Stderr, ExitCode: res.ExitCode,
		Duration: res.Duration, ModuleHash: res.ModuleHash, LimitHit: string(res.LimitHit),
		Truncated: res.LimitHit == sandbox.LimitOutput}
}

func (c *codeRunner) violation(ctx context.Context, res mcptools.CodeResult, reason string) {
	md := map[string]any{"tool": mcptools.ExecuteAgentCode, "module_hash": res.ModuleHash,
		"reason": reason}
	if res.LimitHit != "" {
		md["limit_hit"] = res.LimitHit
	}
	c.audit.Record(ctx, audit.Event{Level: audit.LevelWarn, Operation: audit.OpSecurityViolation,
		Result: audit.ResultDenied, Metadata: md})
}

// limitHits counts each client's limit hits in a sliding window.
type limitHits struct {
	window    time.Duration
	threshold int
	now       func() time.Time

	mu        sync.Mutex
	byClient  map[string][]time.Time
	lastSweep time.Time
}

// add records a hit and reports whether the client reached the threshold.
// The count then starts over, so a client in a loop raises one violation
// per threshold hits, not one per hit.
func (h *limitHits) add(client string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	now := h.now()
	h.sweep(now)
	recent := h.recent(client, now)
	recent = append(recent, now)
	if len(recent) >= h.threshold {
		delete(h.byClient, client)
		return true
	}
	h.byClient[client] = recent
	return false
}

// recent returns the client's hits still inside the window.
func (h *limitHits) recent(client string, now time.Time) []time.Time {
	recent := h.byClient[client][:0]
	for _, t := range h.byClient[client] {
		if now.Sub(t) < h.window {
			recent = append(recent, t)
		}
	}
	return recent
}

// sweep forgets, once per window, the clients with no hit left inside it,
// so clients that stay under the threshold do not pile up: the map holds
// at most the clients seen in the last two windows.
func (h *limitHits) sweep(now time.Time) {
	if now.Sub(h.lastSweep) < h.window {
		return
	}
	h.lastSweep = now
	for client, hits := range h.byClient {
		if now.Sub(hits[len(hits)-1]) >= h.window {
			delete(h.byClient, client)
		}
	}
}

// sandboxLimits maps the runtime config onto the runner's limits. The
// queue timeout is not part of the contract and keeps its default.
func sandboxLimits(sb runtimeconfig.Sandbox) sandbox.Limits {
	l := sandbox.DefaultLimits()
	l.MemoryBytes, l.Timeout = sb.MemoryBytes, sb.Timeout.Duration
	l.MaxOutputBytes, l.MaxModuleBytes = sb.MaxOutputBytes, sb.MaxModuleBytes
	l.MaxConcurrency = sb.MaxConcurrency
	return l
}
