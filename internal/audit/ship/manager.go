package ship

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/memorymcp/memory-mcp-operator/internal/runtimeconfig"
)

// Options configure a Manager.
type Options struct {
	Registerer prometheus.Registerer
	Log        *slog.Logger
	// Backoff between failed sends; defaults to 200ms doubling to 30s.
	Backoff Backoff
	// BatchSize caps the events per send; defaults to 500.
	BatchSize int
	// BlockFor is how long a full spool blocks the writer; defaults to 200ms.
	BlockFor time.Duration
	// ProbeFor is the syslog close-detection window; see SyslogSink.
	ProbeFor time.Duration
	// Now is the clock; defaults to time.Now.
	Now func() time.Time
}

// Manager runs one spool and shipper per configured sink and is the audit
// logger's Forwarder. Each sink has its own spool, so a slow sink never
// holds back another.
type Manager struct {
	opts    Options
	metrics *Metrics
	ctx     context.Context

	mu      sync.RWMutex
	running map[string]*running
}

type running struct {
	cfg    runtimeconfig.Sink
	spool  *Spool
	cancel context.CancelFunc
	done   chan struct{}
	// spoolErr is why the spool could not be opened; spool is nil then.
	spoolErr error
}

// NewManager returns a manager with no sinks; shippers live until ctx ends.
func NewManager(ctx context.Context, opts Options) (*Manager, error) {
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	if opts.Backoff == (Backoff{}) {
		opts.Backoff = Backoff{Initial: 200 * time.Millisecond, Max: 30 * time.Second}
	}
	if opts.BatchSize == 0 {
		opts.BatchSize = 500
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	m, err := NewMetrics(opts.Registerer)
	if err != nil {
		return nil, fmt.Errorf("registering shipping metrics: %w", err)
	}
	return &Manager{opts: opts, metrics: m, ctx: ctx, running: map[string]*running{}}, nil
}

// Forward appends line to every sink's spool.
func (m *Manager) Forward(line []byte) error {
	m.mu.RLock()
	defer m.mu.RUnlock()
	now := m.opts.Now()
	var errs []error
	for name, r := range m.running {
		if r.spool == nil {
			errs = append(errs, fmt.Errorf("sink %s has no spool: %w", name, r.spoolErr))
			continue
		}
		if err := r.spool.Append(trimNewline(line), now); err != nil {
			errs = append(errs, fmt.Errorf("sink %s: %w", name, err))
		}
	}
	return errors.Join(errs...)
}

func trimNewline(b []byte) []byte {
	if n := len(b); n > 0 && b[n-1] == '\n' {
		return b[:n-1]
	}
	return b
}

// Configure starts, restarts and stops shippers to match cfg. A sink whose
// settings did not change keeps running; its spool keeps its backlog across
// restarts because it lives in a folder named after the sink.
func (m *Manager) Configure(cfg runtimeconfig.Audit) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	want := map[string]runtimeconfig.Sink{}
	for _, s := range cfg.Sinks {
		want[s.Name] = s
	}
	for name, r := range m.running {
		if s, ok := want[name]; !ok || !reflect.DeepEqual(s, r.cfg) || r.spool == nil {
			m.stop(name, r)
		}
	}
	var errs []error
	for name, s := range want {
		if _, ok := m.running[name]; ok {
			continue
		}
		// Each sink gets an equal share of the spool budget, so the total
		// stays within Spool.MaxBytes.
		budget := cfg.Spool
		budget.MaxBytes /= int64(len(want))
		if err := m.start(s, budget); err != nil {
			errs = append(errs, fmt.Errorf("starting audit sink %s: %w", name, err))
		}
	}
	return errors.Join(errs...)
}

func (m *Manager) stop(name string, r *running) {
	if r.spool == nil {
		delete(m.running, name)
		return
	}
	r.cancel()
	<-r.done
	if err := r.spool.Close(); err != nil {
		m.opts.Log.Error("closing audit spool", "sink", name, "error", err)
	}
	delete(m.running, name)
}

// start opens the sink's spool and runs its shipper. A sink that cannot be
// set up yet is still started: its events are spooled and the shipper
// retries the setup with backoff. The setup error is returned so the
// config change reports it.
func (m *Manager) start(cfg runtimeconfig.Sink, sp runtimeconfig.Spool) error {
	spool, err := OpenSpool(filepath.Join(sp.Dir, cfg.Name), SpoolOptions{MaxBytes: sp.MaxBytes,
		BlockFor: m.opts.BlockFor, OnCorrupt: m.corruptReporter(cfg.Name)})
	if err != nil {
		// Forward reports every event for this sink as unshipped until a
		// later Configure opens the spool.
		// Limitation: the open is not retried with backoff as a sink setup
		// is; a retry loop that stop could cancel without waiting under
		// m.mu would lift it.
		m.running[cfg.Name] = &running{cfg: cfg, spoolErr: err}
		return err
	}
	sink, sinkErr := m.newSink(cfg)
	ctx, cancel := context.WithCancel(m.ctx)
	r := &running{cfg: cfg, spool: spool, cancel: cancel, done: make(chan struct{})}
	s := &shipper{name: cfg.Name, spool: spool, sink: sink, batch: m.opts.BatchSize,
		newSink: func() (Sink, error) { return m.newSink(cfg) },
		backoff: m.opts.Backoff, metrics: m.metrics, log: m.opts.Log, now: m.opts.Now}
	go func() {
		defer close(r.done)
		s.run(ctx)
	}()
	m.running[cfg.Name] = r
	if sinkErr != nil {
		return fmt.Errorf("events are spooled and the setup retried: %w", sinkErr)
	}
	return nil
}

// corruptReporter counts and logs the spool records a sink skips.
func (m *Manager) corruptReporter(sink string) func(int64, error) {
	return func(end int64, err error) {
		m.metrics.corrupt.WithLabelValues(sink).Inc()
		m.opts.Log.Error("skipping a corrupt audit spool record; the event is in the local audit log only",
			"sink", sink, "spool_offset", end, "error", err)
	}
}

func (m *Manager) newSink(cfg runtimeconfig.Sink) (Sink, error) {
	switch {
	case cfg.Type == runtimeconfig.SinkSyslog && cfg.Syslog != nil:
		tc, err := tlsConfig(cfg.Syslog.TLS)
		if err != nil {
			return nil, err
		}
		host, _ := os.Hostname()
		app := cfg.Syslog.AppName
		if app == "" {
			app = "memory-mcp"
		}
		return &SyslogSink{Address: cfg.Syslog.Address, AppName: app, Hostname: printable(host),
			TLS: tc, ProbeFor: m.opts.ProbeFor}, nil
	case cfg.Type == runtimeconfig.SinkHTTP && cfg.HTTP != nil:
		tc, err := tlsConfig(cfg.HTTP.TLS)
		if err != nil {
			return nil, err
		}
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.TLSClientConfig = tc
		return &HTTPSink{URL: cfg.HTTP.URL, Format: cfg.HTTP.Format, Index: cfg.HTTP.Index,
			AuthorizationFile: cfg.HTTP.AuthorizationFile,
			Client:            &http.Client{Transport: tr, Timeout: 30 * time.Second}}, nil
	}
	return nil, fmt.Errorf("sink type %q is not supported", cfg.Type)
}

// tlsConfig builds a client TLS config from mounted files; nil means
// plain TCP.
func tlsConfig(t *runtimeconfig.TLS) (*tls.Config, error) {
	if t == nil {
		return nil, nil
	}
	c := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: t.ServerName}
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("reading sink CA: %w", err)
		}
		c.RootCAs = x509.NewCertPool()
		if !c.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("sink CA file %s holds no PEM certificate", t.CAFile)
		}
	}
	if t.CertFile != "" || t.KeyFile != "" {
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("loading sink client certificate: %w", err)
		}
		c.Certificates = []tls.Certificate{cert}
	}
	return c, nil
}

// Close stops every shipper; unshipped events stay in their spools.
func (m *Manager) Close() {
	m.mu.Lock()
	defer m.mu.Unlock()
	for name, r := range m.running {
		m.stop(name, r)
	}
}
