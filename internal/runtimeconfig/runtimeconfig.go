// Package runtimeconfig is the contract between the operator and the memory
// server: the document the controller renders from a MemoryMCP into a
// ConfigMap, and the server reads at start and on every change.
//
// Everything an incident responder may change while the server runs lives
// here and is applied without a restart. The controller renders effective
// values — with the emergency profile already folded in when incident mode is
// on — so the server never needs to know the MemoryMCP API.
//
// The document carries a schema version. A server refuses a document whose
// version it does not know, and keeps enforcing the last good one.
package runtimeconfig

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// SchemaVersion is the version of the document this package reads and
// writes.
const SchemaVersion = "memorymcp.io/runtime-config/v1"

// ConfigKey is the ConfigMap key, and the file name under the mount, that
// holds the runtime config.
const ConfigKey = "runtime-config.json"

// Config is the runtime config of one memory server deployment.
type Config struct {
	// SchemaVersion must equal SchemaVersion.
	SchemaVersion string `json:"schemaVersion"`
	// Generation is the MemoryMCP metadata.generation the document was
	// rendered from; servers export the one they enforce.
	Generation int64 `json:"generation"`
	// Incident is set while the emergency profile is active.
	Incident *Incident `json:"incident,omitempty"`
	// RateLimits are the token buckets in force.
	RateLimits RateLimits `json:"rateLimits"`
	// BlockedClients are refused callers.
	BlockedClients Blocklist `json:"blockedClients"`
	// DisabledTools are hidden from tools/list and refused on call.
	DisabledTools []string `json:"disabledTools,omitempty"`
	// Audit configures the audit log and its shipping.
	Audit Audit `json:"audit"`
	// Sandbox limits execute_agent_code.
	Sandbox Sandbox `json:"sandbox"`
	// Auth configures token validation beyond the static bearer tokens.
	Auth Auth `json:"auth"`
}

// Incident describes the active emergency profile.
type Incident struct {
	// Reason the responder gave, recorded in config_change audit events.
	Reason string `json:"reason,omitempty"`
	// NetworkLockdown tells whether ingress is narrowed to the allowed list.
	NetworkLockdown bool `json:"networkLockdown,omitempty"`
}

// RateLimits are token buckets per authenticated client.
type RateLimits struct {
	// Enabled turns rate limiting on.
	Enabled bool `json:"enabled"`
	// Read is the bucket of read tools.
	Read Bucket `json:"read"`
	// Write is the bucket of write tools.
	Write Bucket `json:"write"`
}

// Bucket refills at RequestsPerSecond up to Burst.
type Bucket struct {
	RequestsPerSecond float64 `json:"requestsPerSecond"`
	Burst             int     `json:"burst"`
}

// Blocklist lists refused callers.
type Blocklist struct {
	// Names of refused clients.
	Names []string `json:"names,omitempty"`
	// CIDRs of refused source addresses.
	CIDRs []string `json:"cidrs,omitempty"`
}

// Audit configures the audit log.
type Audit struct {
	// Level is debug, info, warn or error.
	Level string `json:"level"`
	// Destination is stdout, file or both.
	Destination string `json:"destination"`
	// File configures the rotated audit file.
	File AuditFile `json:"file"`
	// RedactedFields are metadata keys replaced before writing, in addition
	// to the built-in secret-like keys.
	RedactedFields []string `json:"redactedFields,omitempty"`
	// Sinks receive every event through the spool.
	Sinks []Sink `json:"sinks,omitempty"`
	// Spool holds events not yet shipped.
	Spool Spool `json:"spool"`
}

// AuditFile configures size-based rotation.
type AuditFile struct {
	Path       string `json:"path"`
	MaxSizeMiB int    `json:"maxSizeMiB"`
	MaxBackups int    `json:"maxBackups"`
}

// Spool is the on-disk queue in front of the sinks.
type Spool struct {
	Dir      string `json:"dir"`
	MaxBytes int64  `json:"maxBytes"`
}

// Sink types.
const (
	SinkSyslog = "syslog"
	SinkHTTP   = "http"
)

// Sink is one shipping destination. Secrets are referenced by the paths the
// controller mounts them at, never embedded.
type Sink struct {
	Name   string      `json:"name"`
	Type   string      `json:"type"`
	Syslog *SyslogSink `json:"syslog,omitempty"`
	HTTP   *HTTPSink   `json:"http,omitempty"`
}

// SyslogSink ships RFC 5424 messages over TCP, octet-counted.
type SyslogSink struct {
	Address string `json:"address"`
	AppName string `json:"appName,omitempty"`
	TLS     *TLS   `json:"tls,omitempty"`
}

// HTTP sink formats.
const (
	FormatNDJSON        = "ndjson"
	FormatElasticsearch = "elasticsearch"
)

// HTTPSink posts batches of events.
type HTTPSink struct {
	URL    string `json:"url"`
	Format string `json:"format"`
	Index  string `json:"index,omitempty"`
	// AuthorizationFile holds the Authorization header value.
	AuthorizationFile string `json:"authorizationFile,omitempty"`
	TLS               *TLS   `json:"tls,omitempty"`
}

// TLS configures a TLS client from mounted files.
type TLS struct {
	CAFile     string `json:"caFile,omitempty"`
	CertFile   string `json:"certFile,omitempty"`
	KeyFile    string `json:"keyFile,omitempty"`
	ServerName string `json:"serverName,omitempty"`
}

// Sandbox limits execute_agent_code.
type Sandbox struct {
	Enabled        bool     `json:"enabled"`
	MemoryBytes    int64    `json:"memoryBytes"`
	Timeout        Duration `json:"timeout"`
	MaxOutputBytes int64    `json:"maxOutputBytes"`
	MaxModuleBytes int64    `json:"maxModuleBytes"`
	MaxConcurrency int      `json:"maxConcurrency"`
}

// Auth configures OAuth 2.0 access tokens.
type Auth struct {
	OIDC *OIDC `json:"oidc,omitempty"`
}

// OIDC accepts JWT access tokens from an issuer.
type OIDC struct {
	Issuer        string `json:"issuer"`
	Audience      string `json:"audience"`
	JWKSURL       string `json:"jwksURL"`
	ClientIDClaim string `json:"clientIDClaim"`
}

// Duration is a time.Duration written as a Go duration string, such as
// "5s", so the document stays readable in a ConfigMap.
type Duration struct {
	time.Duration
}

// MarshalJSON writes d as a duration string.
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(d.String())
}

// UnmarshalJSON reads a duration string.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration must be a string such as \"5s\": %w", err)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	d.Duration = v
	return nil
}

// Default is the config a server enforces before it has read any document,
// and when it runs without an operator.
func Default() *Config {
	return &Config{
		SchemaVersion: SchemaVersion,
		RateLimits: RateLimits{
			Enabled: true,
			Read:    Bucket{RequestsPerSecond: 50, Burst: 100},
			Write:   Bucket{RequestsPerSecond: 10, Burst: 20},
		},
		Audit: Audit{
			Level:       "info",
			Destination: "stdout",
			File:        AuditFile{Path: "/var/lib/memory-mcp/audit/audit.log", MaxSizeMiB: 100, MaxBackups: 5},
			Spool:       Spool{Dir: "/var/lib/memory-mcp/audit/spool", MaxBytes: 256 << 20},
		},
		Sandbox: Sandbox{
			Enabled:        true,
			MemoryBytes:    64 << 20,
			Timeout:        Duration{5 * time.Second},
			MaxOutputBytes: 1 << 20,
			MaxModuleBytes: 10 << 20,
			MaxConcurrency: 4,
		},
	}
}

// Parse reads and validates a document. Unknown fields are refused, so a
// typo in a hand-edited ConfigMap is an error rather than a silently ignored
// limit.
func Parse(data []byte) (*Config, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var c Config
	if err := dec.Decode(&c); err != nil {
		return nil, &InvalidError{Errs: []error{fmt.Errorf("decoding: %w", err)}}
	}
	if dec.More() {
		return nil, &InvalidError{Errs: []error{errors.New("trailing data after the document")}}
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

// Marshal writes c as indented JSON. The output is deterministic, so equal
// configs give equal bytes and equal hashes.
func Marshal(c *Config) ([]byte, error) {
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encoding runtime config: %w", err)
	}
	return append(b, '\n'), nil
}

// Hash is a short digest of a rendered document.
func Hash(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:8])
}

// IncidentMode reports whether the emergency profile is active.
func (c *Config) IncidentMode() bool {
	return c.Incident != nil
}
