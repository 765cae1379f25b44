package security

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"time"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/memorymcp/memory-mcp-operator/internal/audit"
	"github.com/memorymcp/memory-mcp-operator/internal/auth"
	"github.com/memorymcp/memory-mcp-operator/internal/guard"
	"github.com/memorymcp/memory-mcp-operator/internal/identity"
	"github.com/memorymcp/memory-mcp-operator/internal/ratelimit"
	"github.com/memorymcp/memory-mcp-operator/internal/toolclass"
)

// MCPMiddleware is the receiving middleware for the mcp.Server. It puts
// the authenticated client on the context of every handler, hides disabled
// tools from tools/list, and for tools/call runs the checks the HTTP layer
// could not (all of them over stdio), refuses disabled tools, and counts,
// times and audits the call.
func (l *Layers) MCPMiddleware() mcp.Middleware {
	return func(next mcp.MethodHandler) mcp.MethodHandler {
		return func(ctx context.Context, method string, req mcp.Request) (mcp.Result, error) {
			c, mark := l.clientOf(req)
			if c != nil {
				ctx = identity.WithClient(ctx, c)
			}
			switch method {
			case "tools/list":
				return l.listTools(ctx, next, method, req)
			case "tools/call":
				return l.callTool(ctx, next, req, c, mark)
			}
			return next(ctx, method, req)
		}
	}
}

// clientOf returns the client the authenticator put in the SDK's token
// info and the checked header's value, or the local client when the
// request did not come over HTTP.
func (l *Layers) clientOf(req mcp.Request) (*identity.Client, string) {
	extra := req.GetExtra()
	if extra != nil && extra.Header != nil {
		return auth.ClientFromTokenInfo(extra.TokenInfo), extra.Header.Get(checkedHeader)
	}
	return l.opts.LocalClient, ""
}

func (l *Layers) listTools(ctx context.Context, next mcp.MethodHandler, method string,
	req mcp.Request) (mcp.Result, error) {
	res, err := next(ctx, method, req)
	list, ok := res.(*mcp.ListToolsResult)
	if err != nil || !ok {
		return res, err
	}
	list.Tools = slices.DeleteFunc(slices.Clone(list.Tools),
		func(t *mcp.Tool) bool { return l.policy.Disabled(t.Name) })
	return list, nil
}

func (l *Layers) callTool(ctx context.Context, next mcp.MethodHandler, req mcp.Request,
	c *identity.Client, mark string) (mcp.Result, error) {
	params, _ := req.GetParams().(*mcp.CallToolParamsRaw)
	if params == nil {
		return next(ctx, "tools/call", req)
	}
	tool := params.Name
	md := map[string]any{"tool": guard.Clip(tool)}
	checked := mark == l.checkedMark(tool)
	if err := l.checkMCPCall(ctx, c, tool, params.Arguments, checked); err != nil {
		op := audit.OpSecurityViolation
		var le *ratelimit.LimitedError
		if errors.As(err, &le) {
			op = audit.OpRateLimitViolation
		}
		l.refuse(ctx, op, err, md)
		l.countRefusal(tool)
		return nil, rpcError(err)
	}

	start := l.opts.Now()
	res, err := next(ctx, "tools/call", req)
	l.observe(ctx, tool, res, err, l.opts.Now().Sub(start))
	return res, err
}

// checkMCPCall runs, in the documented order, the checks for one call. The
// checks HTTP already made are skipped so a call is counted in its bucket
// once.
func (l *Layers) checkMCPCall(ctx context.Context, c *identity.Client, tool string,
	args json.RawMessage, checked bool) error {
	if c == nil {
		return errors.New("unauthenticated call refused: connect with a bearer token or an access token")
	}
	class := l.opts.Classify(tool)
	if !checked {
		if err := guard.CheckJSON(args, l.limits.Load().forTool(tool)); len(args) > 0 && err != nil {
			return err
		}
		if err := l.policy.CheckClient(c); err != nil {
			return err
		}
		if err := guard.CheckScope(c, tool, class); err != nil {
			return err
		}
		if err := l.limiter.Allow(c.ID, class); err != nil {
			return err
		}
	}
	return l.policy.CheckTool(tool)
}

// rpcError turns a typed refusal into the JSON-RPC error the client sees.
func rpcError(err error) error {
	var le *ratelimit.LimitedError
	var ie *guard.InputError
	switch {
	case errors.As(err, &le):
		data, _ := json.Marshal(map[string]int{"retry_after_seconds": le.RetryAfterSeconds()})
		return &jsonrpc.Error{Code: CodeRateLimited, Message: err.Error(), Data: data}
	case errors.As(err, &ie):
		return &jsonrpc.Error{Code: jsonrpc.CodeInvalidParams, Message: err.Error()}
	}
	return &jsonrpc.Error{Code: CodeForbidden, Message: err.Error()}
}

func (l *Layers) observe(ctx context.Context, tool string, res mcp.Result, err error, d time.Duration) {
	result, outcome := "ok", audit.ResultSuccess
	if r, ok := res.(*mcp.CallToolResult); err != nil || (ok && r.IsError) {
		result, outcome = "error", audit.ResultFailure
	}
	label := l.toolLabel(tool)
	l.metrics.calls.WithLabelValues(label, result).Inc()
	l.metrics.duration.WithLabelValues(label).Observe(d.Seconds())

	// Reads are frequent and harmless: recorded at debug, which incident
	// mode turns on. Writes are always recorded.
	level := audit.LevelInfo
	if l.opts.Classify(tool) == toolclass.Read {
		level = audit.LevelDebug
	}
	l.audit.Record(ctx, audit.Event{Level: level, Operation: audit.OpToolCall, Result: outcome,
		Metadata: map[string]any{"tool": guard.Clip(tool), "duration_ms": d.Milliseconds()}})
}

func (l *Layers) countRefusal(tool string) {
	l.metrics.calls.WithLabelValues(l.toolLabel(tool), "refused").Inc()
}

// toolLabel keeps the metric's cardinality bounded: names a client made up
// are counted as "other".
func (l *Layers) toolLabel(tool string) string {
	if l.opts.KnownTool(tool) {
		return tool
	}
	return "other"
}
