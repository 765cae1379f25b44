package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/memorymcp/memory-mcp-operator/internal/auth"
	"github.com/memorymcp/memory-mcp-operator/internal/configwatch"
	"github.com/memorymcp/memory-mcp-operator/internal/engine"
	"github.com/memorymcp/memory-mcp-operator/internal/guard"
	"github.com/memorymcp/memory-mcp-operator/internal/runtimeconfig"
	"github.com/memorymcp/memory-mcp-operator/internal/sandbox"
	"github.com/memorymcp/memory-mcp-operator/internal/security"
	"github.com/memorymcp/memory-mcp-operator/internal/server"
)

// stack is everything around the memory tools: one metrics registry, the
// security layers, the sandbox, and the runtime config that drives them.
type stack struct {
	reg      *prometheus.Registry
	layers   *security.Layers
	sandbox  *sandbox.Runner
	runner   *codeRunner
	auditDir string
	// loaded turns true once a runtime config from a source is in force.
	loaded atomic.Bool
}

func newStack(ctx context.Context, cfg config, log *slog.Logger, auditOut io.Writer) (*stack, error) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	resource := publicURL(cfg)
	opts := security.Options{Registerer: reg, AuditStdout: auditOut, Log: log,
		ResourceURL: resource, MetadataURL: metadataURL(resource)}
	if cfg.transport == "stdio" {
		local := server.LocalClient
		opts.LocalClient = &local
	}
	layers, err := security.NewLayers(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("building the security layers: %w", err)
	}

	metrics := sandbox.NewMetrics()
	sb, err := sandbox.New(sandboxLimits(runtimeconfig.Default().Sandbox), sandbox.WithMetrics(metrics))
	if err == nil {
		err = metrics.Register(reg)
	}
	if err != nil {
		return nil, errors.Join(fmt.Errorf("building the sandbox: %w", err), layers.Close())
	}
	return &stack{reg: reg, layers: layers, sandbox: sb, auditDir: cfg.auditDir,
		runner: newCodeRunner(sb, layers.Auditor(), time.Now)}, nil
}

func (s *stack) close(log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), server.ShutdownTimeout)
	defer cancel()
	if err := errors.Join(s.sandbox.Close(ctx), s.layers.Close()); err != nil {
		log.Error("closing the security layers", "error", err)
	}
}

// serverOptions plugs the stack into the server. The security layers own
// the per-tool metrics, since they also see the calls they refuse.
func (s *stack) serverOptions(e *engine.Engine, log *slog.Logger) server.Options {
	return server.Options{Engine: e, Logger: log, Version: version,
		HTTPMiddleware: []func(http.Handler) http.Handler{s.layers.HTTPMiddleware()},
		MCPMiddleware:  []mcp.Middleware{s.layers.MCPMiddleware()},
		Auditor:        toolAuditor{audit: s.layers.Auditor()},
		Runner:         s.runner,
		Gatherer:       s.reg,
		// The HTTP middleware reads each body within the runtime config's
		// limit, which grows with the sandbox's module size limit; a second,
		// fixed bound behind it would refuse modules the config allows.
		MaxRequestBodyBytes: -1,
		ReadinessChecks: []server.Check{{Name: "config", Check: func(context.Context) error {
			if !s.loaded.Load() {
				return errors.New("runtime config not read yet")
			}
			return nil
		}}},
		Routes: map[string]http.Handler{auth.MetadataPath: s.layers.Authenticator().MetadataHandler()},
	}
}

// noSourceWarning is logged when HTTP is served without any source.
const noSourceWarning = "no runtime config or credentials source: running on the default " +
	"config with no client credentials, so every HTTP call is refused as unauthenticated; " +
	"set --config-file and --credentials-file, or --config-map and --credentials-secret"

// follow reads the runtime config and credentials and keeps applying them.
// Without any source the server runs on runtimeconfig.Default with no
// credentials, which over HTTP refuses every call as unauthenticated.
func (s *stack) follow(ctx context.Context, cfg config, srv *server.Server, log *slog.Logger) error {
	client, err := kubeClient(cfg, log)
	if err != nil {
		return err
	}
	if client == nil && cfg.configFile == "" && cfg.credentialsFile == "" {
		if cfg.transport == "http" {
			log.Warn(noSourceWarning)
		}
		return s.apply(srv, runtimeconfig.Default())
	}
	w, err := configwatch.New(configwatch.Options{Client: client, Namespace: cfg.namespace,
		ConfigMap: cfg.configMap, Secret: cfg.credentialsSecret, ConfigFile: cfg.configFile,
		CredentialsFile: cfg.credentialsFile, Auditor: s.layers.Auditor(), Registerer: s.reg,
		Log: log})
	if err != nil {
		return err
	}
	w.OnConfig(func(c *runtimeconfig.Config) error { return s.apply(srv, c) })
	w.OnCredentials(s.layers.ApplyCredentials)
	if err := w.Start(ctx); err != nil {
		return fmt.Errorf("reading the runtime config: %w", err)
	}
	if !hasConfigSource(cfg, client) {
		// Only credentials are followed: the default config is the one in
		// force for good, so it is applied, and the server becomes ready.
		log.Info("no runtime config source: running on the default config")
		return s.apply(srv, runtimeconfig.Default())
	}
	return nil
}

// hasConfigSource reports whether a runtime config document is followed:
// a file, or a ConfigMap when the API is reachable.
func hasConfigSource(cfg config, client kubernetes.Interface) bool {
	return cfg.configFile != "" || (client != nil && cfg.configMap != "")
}

// apply enforces one runtime config everywhere it matters. Every part is
// applied even when another fails, so a bad sandbox limit cannot keep a
// rate limit from tightening.
func (s *stack) apply(srv *server.Server, cfg *runtimeconfig.Config) error {
	cfg = rebaseAudit(cfg, s.auditDir)
	errs := []error{s.layers.Apply(cfg)}
	if cfg.Sandbox.Enabled {
		if err := s.sandbox.UpdateLimits(sandboxLimits(cfg.Sandbox)); err != nil {
			errs = append(errs, fmt.Errorf("applying sandbox limits: %w", err))
		}
	}
	// HiddenTools adds execute_agent_code when the sandbox is off, so the
	// tool leaves tools/list with the rest of the disabled set.
	srv.SetDisabledTools(guard.HiddenTools(cfg))
	s.loaded.Store(true)
	return errors.Join(errs...)
}

// rebaseAudit moves the audit file and spool under dir, keeping their
// base names; the rendered paths point into the pod's volume.
func rebaseAudit(cfg *runtimeconfig.Config, dir string) *runtimeconfig.Config {
	if dir == "" {
		return cfg
	}
	c := *cfg // the watcher shares cfg with its other subscribers
	c.Audit.File.Path = filepath.Join(dir, filepath.Base(c.Audit.File.Path))
	c.Audit.Spool.Dir = filepath.Join(dir, filepath.Base(c.Audit.Spool.Dir))
	return &c
}

// kubeClient returns a client for the API when an object to watch is named
// and an API is configured: --kubeconfig, else the pod's service account.
// Outside a pod without --kubeconfig it returns nil, and the files are read.
func kubeClient(cfg config, log *slog.Logger) (kubernetes.Interface, error) {
	if cfg.configMap == "" && cfg.credentialsSecret == "" {
		return nil, nil
	}
	var rc *rest.Config
	var err error
	if cfg.kubeconfig != "" {
		rc, err = clientcmd.BuildConfigFromFlags("", cfg.kubeconfig)
	} else {
		rc, err = rest.InClusterConfig()
		if errors.Is(err, rest.ErrNotInCluster) {
			log.Warn("not in a cluster and no --kubeconfig: --config-map and " +
				"--credentials-secret are ignored, the files are read")
			return nil, nil
		}
	}
	if err != nil {
		return nil, fmt.Errorf("loading the API client config: %w", err)
	}
	client, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return nil, fmt.Errorf("building the API client: %w", err)
	}
	return client, nil
}

// publicURL is where clients reach /mcp: --public-url, else the listen
// address with localhost for an unspecified host.
func publicURL(cfg config) string {
	if cfg.publicURL != "" {
		return cfg.publicURL
	}
	host, port, err := net.SplitHostPort(cfg.listenAddr)
	if err != nil {
		return ""
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, port) + "/mcp"
}

// metadataURL is the RFC 9728 metadata document of resource, served at
// auth.MetadataPath on the same origin.
func metadataURL(resource string) string {
	u, err := url.Parse(resource)
	if err != nil || u.Host == "" {
		return ""
	}
	return u.Scheme + "://" + u.Host + auth.MetadataPath
}
