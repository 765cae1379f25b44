package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"gopkg.in/natefinch/lumberjack.v2"

	"github.com/memorymcp/memory-mcp-operator/internal/identity"
	"github.com/memorymcp/memory-mcp-operator/internal/runtimeconfig"
)

// Forwarder receives every written line for shipping. Forward may block
// briefly for backpressure; an error means the line was not accepted and
// exists only in the local destination.
type Forwarder interface {
	Forward(line []byte) error
}

// Options configure a Logger.
type Options struct {
	// Stdout is where destination "stdout" writes. The stdio transport
	// points it at stderr so audit lines never mix with the protocol stream.
	// Defaults to os.Stdout.
	Stdout io.Writer
	// Registerer receives the audit metrics; nil registers nothing.
	Registerer prometheus.Registerer
	// Log reports the logger's own failures; defaults to slog.Default().
	Log *slog.Logger
	// Now is the clock; defaults to time.Now.
	Now func() time.Time
}

// Logger is the audit log. It is safe for concurrent use and reconfigured
// live with Configure.
type Logger struct {
	stdout  io.Writer
	log     *slog.Logger
	now     func() time.Time
	metrics *Metrics

	state     atomic.Pointer[state]
	forwarder atomic.Pointer[forwarderBox]
	mu        sync.Mutex // serialises writes so lines never interleave
	bufs      sync.Pool
}

type forwarderBox struct{ f Forwarder }

// state is one configuration of the logger, swapped as a whole.
type state struct {
	level   Level
	stdout  bool
	file    *lumberjack.Logger
	redact  redactor
	fileCfg runtimeconfig.AuditFile
}

// New returns a logger writing info and above to stdout until Configure is
// called.
func New(opts Options) (*Logger, error) {
	l := &Logger{stdout: opts.Stdout, log: opts.Log, now: opts.Now}
	if l.stdout == nil {
		l.stdout = os.Stdout
	}
	if l.log == nil {
		l.log = slog.Default()
	}
	if l.now == nil {
		l.now = time.Now
	}
	m, err := NewMetrics(opts.Registerer)
	if err != nil {
		return nil, err
	}
	l.metrics = m
	l.bufs.New = func() any { return new(bytes.Buffer) }
	l.state.Store(&state{level: LevelInfo, stdout: true, redact: newRedactor(nil, false)})
	return l, nil
}

// Metrics returns the logger's counters, for layers that count refusals
// they do not audit themselves.
func (l *Logger) Metrics() *Metrics { return l.metrics }

// SetForwarder sets where written lines are shipped; nil stops shipping.
func (l *Logger) SetForwarder(f Forwarder) {
	if f == nil {
		l.forwarder.Store(nil)
		return
	}
	l.forwarder.Store(&forwarderBox{f: f})
}

// Configure applies the audit section of a runtime config. The file is
// reopened only when its settings changed, so a config change mid-stream
// loses no lines.
func (l *Logger) Configure(cfg runtimeconfig.Audit) error {
	level, err := ParseLevel(cfg.Level)
	if err != nil {
		return err
	}
	old := l.state.Load()
	next := &state{
		level:   level,
		stdout:  cfg.Destination == "stdout" || cfg.Destination == "both",
		redact:  newRedactor(cfg.RedactedFields, level == LevelDebug),
		fileCfg: cfg.File,
	}
	if cfg.Destination == "file" || cfg.Destination == "both" {
		next.file = old.file
		if old.file == nil || old.fileCfg != cfg.File {
			next.file = newFile(cfg.File)
		}
	}

	l.mu.Lock()
	l.state.Store(next)
	l.mu.Unlock()
	if old.file != nil && old.file != next.file {
		if err := old.file.Close(); err != nil {
			return fmt.Errorf("closing previous audit file: %w", err)
		}
	}
	return nil
}

func newFile(cfg runtimeconfig.AuditFile) *lumberjack.Logger {
	return &lumberjack.Logger{Filename: cfg.Path, MaxSize: cfg.MaxSizeMiB, MaxBackups: cfg.MaxBackups}
}

// Enabled reports whether events at level are written.
func (l *Logger) Enabled(level Level) bool {
	return level >= l.state.Load().level
}

// Record writes e. Timestamp and client ID are filled from the clock and the
// authenticated client when unset; the caller's metadata map is not changed.
func (l *Logger) Record(ctx context.Context, e Event) {
	l.metrics.count(e)
	st := l.state.Load()
	if e.Level < st.level {
		return
	}
	if e.Timestamp.IsZero() {
		e.Timestamp = l.now()
	}
	if e.ClientID == "" {
		e.ClientID = identity.ClientID(ctx)
	}
	e.Timestamp = e.Timestamp.UTC()
	e.Metadata = st.redact.apply(e.Metadata)

	buf := l.bufs.Get().(*bytes.Buffer)
	defer l.bufs.Put(buf)
	buf.Reset()
	if err := json.NewEncoder(buf).Encode(e); err != nil {
		// A value JSON cannot hold (NaN, a channel) loses the metadata, not
		// the event: who did what, and its result, are still recorded.
		l.log.Error("encoding audit event metadata", "operation", e.Operation, "error", err)
		e.Metadata = map[string]any{"metadata_error": err.Error()}
		buf.Reset()
		if err := json.NewEncoder(buf).Encode(e); err != nil {
			l.metrics.writeFailures.Inc()
			l.log.Error("encoding audit event", "operation", e.Operation, "error", err)
			return
		}
	}
	line := escapeControls(buf.Bytes())
	l.write(st, line)
	l.forward(line)
}

// escapeControls escapes DEL and the C1 controls, which encoding/json
// writes raw: some line readers take U+0085 for a line end, so an agent's
// text could otherwise split one record in two. Outside strings the
// encoder writes only ASCII, so every such character is inside a string.
func escapeControls(line []byte) []byte {
	if bytes.IndexByte(line, 0x7f) < 0 && bytes.IndexByte(line, 0xc2) < 0 {
		return line
	}
	out := make([]byte, 0, len(line)+16)
	for i := 0; i < len(line); i++ {
		switch c := line[i]; {
		case c == 0x7f:
			out = append(out, `\u007f`...)
		case c == 0xc2 && i+1 < len(line) && line[i+1] >= 0x80 && line[i+1] <= 0x9f:
			out = fmt.Appendf(out, `\u%04x`, line[i+1])
			i++
		default:
			out = append(out, c)
		}
	}
	return out
}

func (l *Logger) write(st *state, line []byte) {
	l.mu.Lock()
	defer l.mu.Unlock()
	// Note: the state may have been swapped since Record loaded it; writing
	// with the loaded one keeps the event's redaction and destinations
	// consistent, and a closed lumberjack file reopens itself.
	var errs []error
	if st.stdout {
		if _, err := l.stdout.Write(line); err != nil {
			errs = append(errs, fmt.Errorf("stdout: %w", err))
		}
	}
	if st.file != nil {
		if _, err := st.file.Write(line); err != nil {
			errs = append(errs, fmt.Errorf("file: %w", err))
		}
	}
	if len(errs) > 0 {
		l.metrics.writeFailures.Inc()
		l.log.Error("writing audit event", "error", errors.Join(errs...))
	}
}

func (l *Logger) forward(line []byte) {
	box := l.forwarder.Load()
	if box == nil {
		return
	}
	if err := box.f.Forward(line); err != nil {
		// The line is in the local destination already: the spool refused
		// it after blocking, so it is counted and reported, not lost.
		l.metrics.spoolOverflow.Inc()
		l.log.Error("audit event not shipped, kept in the local audit log only", "error", err)
	}
}

// Close closes the audit file.
func (l *Logger) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if f := l.state.Load().file; f != nil {
		if err := f.Close(); err != nil {
			return fmt.Errorf("closing audit file: %w", err)
		}
	}
	return nil
}
