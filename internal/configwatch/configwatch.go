// Package configwatch keeps the memory server's runtime config and
// credentials current: read at start, then followed through a Kubernetes
// watch on the one ConfigMap and the one Secret, or, where no API server is
// reachable, through the files the kubelet mounts.
//
// A new document is validated before anything sees it. An invalid one is
// refused and audited, and the last good one stays in force.
package configwatch

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/client-go/kubernetes"

	"github.com/memorymcp/memory-mcp-operator/internal/audit"
	"github.com/memorymcp/memory-mcp-operator/internal/runtimeconfig"
)

// Options say where the documents live. With Client set the API is watched;
// the file paths are the fallback, or the only source without a Client.
type Options struct {
	Client          kubernetes.Interface
	Namespace       string
	ConfigMap       string
	Secret          string
	ConfigFile      string
	CredentialsFile string

	Auditor    audit.Auditor
	Registerer prometheus.Registerer
	Log        *slog.Logger
}

// Watcher holds the documents in force.
type Watcher struct {
	opts    Options
	log     *slog.Logger
	metrics *metrics

	cfg   atomic.Pointer[runtimeconfig.Config]
	creds atomic.Pointer[runtimeconfig.Credentials]
	mu    sync.Mutex // serialises applies, so subscribers see documents in order
	// lastCfg and lastCred are the last documents seen, applied or refused,
	// so a resync or a repeated file event neither reapplies nor re-refuses.
	lastCfg  []byte
	lastCred []byte
	onConfig []func(*runtimeconfig.Config) error
	onCreds  []func(*runtimeconfig.Credentials)
}

// New returns a watcher enforcing runtimeconfig.Default and no credentials
// until Start reads the documents.
func New(opts Options) (*Watcher, error) {
	if opts.Auditor == nil {
		opts.Auditor = audit.Discard
	}
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	m, err := newMetrics(opts.Registerer)
	if err != nil {
		return nil, err
	}
	w := &Watcher{opts: opts, log: opts.Log, metrics: m}
	w.cfg.Store(runtimeconfig.Default())
	w.creds.Store(&runtimeconfig.Credentials{SchemaVersion: runtimeconfig.SchemaVersion})
	return w, nil
}

// Config returns the config in force. Callers must not modify it.
func (w *Watcher) Config() *runtimeconfig.Config { return w.cfg.Load() }

// Credentials returns the credentials in force. Callers must not modify them.
func (w *Watcher) Credentials() *runtimeconfig.Credentials { return w.creds.Load() }

// OnConfig registers fn to receive every config applied from now on.
// Register before Start so the first document read is delivered too.
func (w *Watcher) OnConfig(fn func(*runtimeconfig.Config) error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.onConfig = append(w.onConfig, fn)
}

// OnCredentials registers fn to receive every applied credentials document.
func (w *Watcher) OnCredentials(fn func(*runtimeconfig.Credentials)) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.onCreds = append(w.onCreds, fn)
}

// ApplyConfigData validates and applies a rendered config. An identical
// document is ignored, so resyncs and repeated file events cost nothing.
func (w *Watcher) ApplyConfigData(ctx context.Context, data []byte, source string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.lastCfg != nil && bytes.Equal(w.lastCfg, data) {
		return nil
	}
	w.lastCfg = bytes.Clone(data)
	cfg, err := runtimeconfig.Parse(data)
	if err != nil {
		w.metrics.failures.WithLabelValues("config").Inc()
		w.refused(ctx, "config", source, err)
		return fmt.Errorf("refusing runtime config from %s: %w", source, err)
	}
	prev := w.cfg.Load()
	w.cfg.Store(cfg)
	w.metrics.observe(cfg)
	w.auditConfig(ctx, prev, cfg, source, runtimeconfig.Hash(data))

	for _, fn := range w.onConfig {
		if err := fn(cfg); err != nil {
			w.log.Error("applying runtime config", "generation", cfg.Generation, "error", err)
			w.opts.Auditor.Record(ctx, audit.Event{Level: audit.LevelError, Operation: audit.OpConfigChange,
				Result: audit.ResultFailure, ClientID: "system",
				Metadata: map[string]any{"generation": cfg.Generation, "error": err.Error(), "stage": "apply"}})
		}
	}
	return nil
}

// ApplyCredentialsData validates and applies a credentials document.
func (w *Watcher) ApplyCredentialsData(ctx context.Context, data []byte, source string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.lastCred != nil && bytes.Equal(w.lastCred, data) {
		return nil
	}
	w.lastCred = bytes.Clone(data)
	creds, err := runtimeconfig.ParseCredentials(data)
	if err != nil {
		w.metrics.failures.WithLabelValues("credentials").Inc()
		w.refused(ctx, "credentials", source, err)
		return fmt.Errorf("refusing credentials from %s: %w", source, err)
	}
	w.creds.Store(creds)
	for _, fn := range w.onCreds {
		fn(creds)
	}
	w.opts.Auditor.Record(ctx, audit.Event{Level: audit.LevelInfo, Operation: audit.OpConfigChange,
		Result: audit.ResultSuccess, ClientID: "system",
		Metadata: map[string]any{"document": "credentials", "source": source, "clients": len(creds.Clients)}})
	return nil
}

func (w *Watcher) refused(ctx context.Context, doc, source string, err error) {
	w.log.Error("refusing invalid document; the last good one stays in force",
		"document", doc, "source", source, "error", err)
	w.opts.Auditor.Record(ctx, audit.Event{Level: audit.LevelError, Operation: audit.OpConfigChange,
		Result: audit.ResultFailure, ClientID: "system",
		Metadata: map[string]any{"document": doc, "source": source, "error": err.Error()}})
}

// auditConfig records the change, and separately any switch of incident
// mode with the responder's reason, which is what an incident review
// searches for.
func (w *Watcher) auditConfig(ctx context.Context, prev, cfg *runtimeconfig.Config, source, hash string) {
	w.opts.Auditor.Record(ctx, audit.Event{Level: audit.LevelInfo, Operation: audit.OpConfigChange,
		Result: audit.ResultSuccess, ClientID: "system", Metadata: map[string]any{
			"document": "config", "source": source, "generation": cfg.Generation,
			"previous_generation": prev.Generation, "hash": hash}})
	if prev.IncidentMode() == cfg.IncidentMode() {
		return
	}
	md := map[string]any{"document": "config", "generation": cfg.Generation, "incident_mode": cfg.IncidentMode()}
	if cfg.Incident != nil {
		md["reason"] = cfg.Incident.Reason
	} else if prev.Incident != nil {
		md["previous_reason"] = prev.Incident.Reason
	}
	w.opts.Auditor.Record(ctx, audit.Event{Level: audit.LevelWarn, Operation: audit.OpConfigChange,
		Result: audit.ResultSuccess, ClientID: "system", Metadata: md})
}

type metrics struct {
	generation prometheus.Gauge
	incident   prometheus.Gauge
	failures   *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		generation: prometheus.NewGauge(prometheus.GaugeOpts{Name: "memory_mcp_config_generation",
			Help: "Generation of the runtime config in force."}),
		incident: prometheus.NewGauge(prometheus.GaugeOpts{Name: "memory_mcp_incident_mode",
			Help: "1 while the incident profile is in force."}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "memory_mcp_config_refusals_total",
			Help: "Runtime documents refused as invalid."}, []string{"document"}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.generation, m.incident, m.failures} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("registering config metrics: %w", err)
		}
	}
	return m, nil
}

func (m *metrics) observe(cfg *runtimeconfig.Config) {
	m.generation.Set(float64(cfg.Generation))
	if cfg.IncidentMode() {
		m.incident.Set(1)
	} else {
		m.incident.Set(0)
	}
}
