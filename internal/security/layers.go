// Package security assembles the memory server's security layers — input
// limits, blocklists, authentication, scopes, rate limits, disabled tools and
// audit — behind one constructor, for the server to wrap its /mcp handler
// and its mcp.Server with.
//
// The layers run in this order; each refusal is audited and counted:
//
//	size limits and input validation → source and client blocklist →
//	authentication → scopes → rate limit → disabled tools → tool → audit
package security

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/memorymcp/memory-mcp-operator/internal/audit"
	"github.com/memorymcp/memory-mcp-operator/internal/audit/ship"
	"github.com/memorymcp/memory-mcp-operator/internal/auth"
	"github.com/memorymcp/memory-mcp-operator/internal/guard"
	"github.com/memorymcp/memory-mcp-operator/internal/identity"
	"github.com/memorymcp/memory-mcp-operator/internal/ratelimit"
	"github.com/memorymcp/memory-mcp-operator/internal/runtimeconfig"
	"github.com/memorymcp/memory-mcp-operator/internal/toolclass"
)

// Options configure the layers.
type Options struct {
	// Registerer receives every metric of the layers; nil registers none.
	Registerer prometheus.Registerer
	// AuditStdout is where the audit destination "stdout" writes; the stdio
	// transport must set os.Stderr. Defaults to os.Stdout.
	AuditStdout io.Writer
	// Log reports the layers' own failures; defaults to slog.Default().
	Log *slog.Logger
	// Classify says which tools write; defaults to toolclass.Memory.
	Classify toolclass.Classifier
	// KnownTool says whether a tool name may be a metric label; defaults to
	// the names of toolclass.Memory.
	KnownTool func(tool string) bool
	// ResourceURL is the public URL of the MCP endpoint and MetadataURL the
	// public URL of auth.MetadataPath (RFC 9728).
	ResourceURL, MetadataURL string
	// Limits bound request bodies; defaults to guard.DefaultLimits.
	Limits *guard.Limits
	// LocalClient is the identity of requests that reach the MCP
	// middleware without HTTP, that is over stdio, whose parent process is
	// trusted. Nil refuses such requests.
	LocalClient *identity.Client
	// Ship tunes audit shipping (backoff, batch size); Registerer and Log
	// are taken from these options.
	Ship ship.Options
	// Now is the clock; defaults to time.Now.
	Now func() time.Time
}

// Layers are the assembled security layers. Apply and ApplyCredentials may
// be called at any time, from any goroutine. Each layer swaps its part of a
// config at once, so no check sees half a blocklist or half a bucket change.
//
// Limitation: the layers swap one after another, so a request checked while
// Apply runs may pass the earlier layers under the previous config and the
// later ones under the next. One snapshot of every layer's part, loaded
// once per request, would lift this.
type Layers struct {
	opts    Options
	log     *slog.Logger
	audit   *audit.Logger
	ship    *ship.Manager
	auth    *auth.Authenticator
	policy  *guard.Policy
	limiter *ratelimit.Limiter
	limits  atomic.Pointer[inputLimits]
	metrics *toolMetrics
	checked string // marks requests the HTTP middleware already checked
	cancel  context.CancelFunc
}

// NewLayers builds the layers with runtimeconfig.Default applied. Shipping
// and bucket sweeps run until ctx ends or Close is called.
func NewLayers(ctx context.Context, opts Options) (*Layers, error) {
	opts = withDefaults(opts)
	al, err := audit.New(audit.Options{Stdout: opts.AuditStdout, Registerer: opts.Registerer,
		Log: opts.Log, Now: opts.Now})
	if err != nil {
		return nil, fmt.Errorf("creating the audit log: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	shipOpts := opts.Ship
	shipOpts.Registerer, shipOpts.Log = opts.Registerer, opts.Log
	sm, err := ship.NewManager(ctx, shipOpts)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("creating audit shipping: %w", err)
	}
	al.SetForwarder(sm)
	tm, err := newToolMetrics(opts.Registerer)
	if err != nil {
		cancel()
		return nil, err
	}
	l := &Layers{opts: opts, log: opts.Log, audit: al, ship: sm, policy: guard.NewPolicy(),
		limiter: ratelimit.New(ratelimit.Options{Now: opts.Now}), metrics: tm,
		checked: nonce(), cancel: cancel}
	l.auth = auth.New(auth.Options{Auditor: al, ResourceURL: opts.ResourceURL,
		MetadataURL: opts.MetadataURL, Now: opts.Now})
	l.limits.Store(&inputLimits{base: *opts.Limits, code: *opts.Limits})
	go l.limiter.Run(ctx, time.Minute)
	if err := l.Apply(runtimeconfig.Default()); err != nil {
		cancel()
		return nil, err
	}
	return l, nil
}

func withDefaults(opts Options) Options {
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	if opts.Classify == nil {
		opts.Classify = toolclass.FromTable(toolclass.Memory)
	}
	if opts.KnownTool == nil {
		opts.KnownTool = func(tool string) bool { _, ok := toolclass.Memory[tool]; return ok }
	}
	if opts.Limits == nil {
		lim := guard.DefaultLimits()
		opts.Limits = &lim
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return opts
}

func nonce() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
	return hex.EncodeToString(b)
}

// Auditor is the audit log, for tools to record delete_episode,
// execute_agent_code, bulk_episodes and the like.
func (l *Layers) Auditor() audit.Auditor { return l.audit }

// Authenticator exposes the metadata handler and token verification.
func (l *Layers) Authenticator() *auth.Authenticator { return l.auth }

// Policy exposes the blocklist and disabled tools, for example to remove
// disabled tools from the mcp.Server with guard.HiddenTools.
func (l *Layers) Policy() *guard.Policy { return l.policy }

// Apply enforces a validated runtime config. Every part is applied even if
// one fails; the errors are joined.
func (l *Layers) Apply(cfg *runtimeconfig.Config) error {
	var errs []error
	if err := l.audit.Configure(cfg.Audit); err != nil {
		errs = append(errs, fmt.Errorf("configuring the audit log: %w", err))
	}
	if err := l.ship.Configure(cfg.Audit); err != nil {
		errs = append(errs, fmt.Errorf("configuring audit shipping: %w", err))
	}
	l.auth.ApplyConfig(cfg.Auth)
	l.policy.Apply(cfg)
	l.limiter.Apply(cfg.RateLimits)
	l.limits.Store(limitsFor(*l.opts.Limits, cfg.Sandbox))
	return errors.Join(errs...)
}

// codeTool is the one tool whose arguments carry a WebAssembly module.
const codeTool = "execute_agent_code"

// inputLimits are the input limits in force: base for every request, code
// for calls of codeTool, whose base64 module may be as large as the
// sandbox accepts. Raising base instead would let every tool take strings
// of that size.
type inputLimits struct {
	base, code guard.Limits
}

// forTool returns the limits of a call of tool.
func (il *inputLimits) forTool(tool string) guard.Limits {
	if tool == codeTool {
		return il.code
	}
	return il.base
}

// limitsFor derives the limits of codeTool from base and the sandbox's
// module size limit.
func limitsFor(base guard.Limits, sb runtimeconfig.Sandbox) *inputLimits {
	code := base
	if sb.Enabled {
		module := int(sb.MaxModuleBytes*4/3 + 4)
		code.MaxStringBytes = max(base.MaxStringBytes, module)
		code.MaxBodyBytes = max(base.MaxBodyBytes, int64(module)+64<<10)
	}
	return &inputLimits{base: base, code: code}
}

// ApplyCredentials replaces the accepted bearer token hashes.
func (l *Layers) ApplyCredentials(c *runtimeconfig.Credentials) {
	l.auth.ApplyCredentials(c)
}

// Close stops shipping (unshipped events stay in the spool) and closes the
// audit file.
func (l *Layers) Close() error {
	l.ship.Close()
	l.cancel()
	return l.audit.Close()
}

// refuse audits and counts a refusal.
func (l *Layers) refuse(ctx context.Context, op string, err error, md map[string]any) {
	if md == nil {
		md = map[string]any{}
	}
	md["reason"] = err.Error()
	l.audit.Record(ctx, audit.Event{Level: audit.LevelWarn, Operation: op,
		Result: audit.ResultDenied, Metadata: md})
}
